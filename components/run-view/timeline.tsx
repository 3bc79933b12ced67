"use client";
import { useTranslation } from "react-i18next";
import type { StepStatus } from "@/components/pipeline-graph/pipeline-graph";
import type { StepDto } from "@/server/runs/schema";
import { formatDuration, type StepGroup } from "./model";

// The run as a waterfall: one bar per step (its instances' span), placed on the run's time axis;
// the critical path marked. Each row is a button: selecting it opens the step.

export function Timeline({
  groups,
  handlers,
  now,
  critical,
  selected,
  onSelect,
}: {
  groups: StepGroup[];
  handlers: StepDto[];
  now: number;
  critical: Set<string>;
  selected: string | null;
  onSelect(id: string): void;
}) {
  const { t } = useTranslation("runview");
  const rows = [
    ...groups.map((group) => ({
      id: group.id,
      label: group.name,
      status: group.status,
      start: group.startedAt,
      end: group.finishedAt,
    })),
    ...handlers.map((handler) => ({
      id: handler.id,
      label: handler.id,
      status: handler.status as StepStatus,
      start: handler.startedAt ? Date.parse(handler.startedAt) : null,
      end: handler.finishedAt ? Date.parse(handler.finishedAt) : null,
    })),
  ];
  const starts = rows.map((row) => row.start).filter((value): value is number => value !== null);
  const origin = starts.length > 0 ? Math.min(...starts) : now;
  const finish = Math.max(origin + 1_000, ...rows.map((row) => row.end ?? (row.start !== null ? now : origin)));
  const span = finish - origin;
  const sorted = [...rows].sort(
    (a, b) => (a.start ?? Number.POSITIVE_INFINITY) - (b.start ?? Number.POSITIVE_INFINITY),
  );
  return (
    <ol className="timeline" aria-label={t("timelineLabel", { duration: formatDuration(span) })}>
      {sorted.map((row) => {
        const left = row.start === null ? 0 : ((row.start - origin) / span) * 100;
        const width = row.start === null ? 0 : Math.max(0.5, (((row.end ?? now) - row.start) / span) * 100);
        const duration = row.start === null ? null : formatDuration((row.end ?? now) - row.start);
        return (
          <li key={row.id} className={critical.has(row.id) && critical.size > 1 ? "critical" : undefined}>
            <button
              type="button"
              className={`timeline-row${selected === row.id ? " selected" : ""}`}
              aria-pressed={selected === row.id}
              onClick={() => onSelect(row.id)}
            >
              <span className="timeline-label">
                {row.label}
                {critical.has(row.id) && critical.size > 1 ? (
                  <span className="visually-hidden"> ({t("critical")})</span>
                ) : null}
              </span>
              <span className="timeline-track">
                {row.start !== null ? (
                  <span
                    className={`timeline-bar bar status-${row.status}`}
                    style={{ left: `${left}%`, width: `${width}%` }}
                  />
                ) : null}
              </span>
              <span className="timeline-duration">
                {t(`status.${row.status}`)}
                {duration ? ` · ${duration}` : ""}
              </span>
            </button>
          </li>
        );
      })}
    </ol>
  );
}

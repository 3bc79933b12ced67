"use client";
import Link from "next/link";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import type { RunSummary } from "@/server/runs/schema";
import { isFinished, runDuration, stepProgress } from "./format";
import { RunStatusBadge } from "./run-status";
import { useFormatDuration, useNow } from "./use-now";

/** Runs as rows: status (icon and word), number, pipeline, trigger, who, when, how long, steps. */
export function RunsTable({
  runs,
  caption,
  showPipeline,
}: {
  runs: RunSummary[];
  caption: string;
  showPipeline: boolean;
}) {
  const { t } = useTranslation("runs");
  const format = useFormat();
  const formatDuration = useFormatDuration();
  const now = useNow(runs.some((run) => !isFinished(run.status)));

  return (
    <div className="runs-table-wrap">
      <table className="data runs-table runs-nowrap">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("list.columns.status")}</th>
            <th scope="col">{t("list.columns.run")}</th>
            {showPipeline ? <th scope="col">{t("list.columns.pipeline")}</th> : null}
            <th scope="col">{t("list.columns.trigger")}</th>
            <th scope="col">{t("list.columns.startedBy")}</th>
            <th scope="col">{t("list.columns.started")}</th>
            <th scope="col">{t("list.columns.duration")}</th>
            <th scope="col">{t("list.columns.steps")}</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => {
            const duration = runDuration(run, now);
            const progress = stepProgress(run.steps);
            const started = run.startedAt ?? null;
            return (
              <tr key={run.id} data-run-id={run.id}>
                <td>
                  <RunStatusBadge status={run.status} />
                  {run.queuedForSlot ? <div className="muted">{t("list.queuedForSlot")}</div> : null}
                </td>
                <td>
                  <Link
                    href={`/runs/${run.id}`}
                    aria-label={t("list.runLabel", { number: run.number, pipeline: run.pipelineName })}
                  >
                    {t("list.runNumber", { number: run.number })}
                  </Link>
                </td>
                {showPipeline ? (
                  <td>
                    <Link href={`/projects/${run.organizationSlug}/${run.projectSlug}/pipelines/${run.pipelineSlug}`}>
                      {run.pipelineName}
                    </Link>
                  </td>
                ) : null}
                <td>{t(`list.trigger.${run.trigger}`, { defaultValue: run.trigger })}</td>
                <td>{run.startedBy?.name || t("list.automation")}</td>
                <td>
                  {started ? (
                    <time dateTime={started} suppressHydrationWarning>
                      {format.dateTime(started)}
                    </time>
                  ) : (
                    <span className="muted">{t("list.notStarted")}</span>
                  )}
                </td>
                <td className="runs-duration">{duration === null ? "—" : formatDuration(duration)}</td>
                <td>
                  {t("list.steps.done", { done: progress.done, total: progress.total })}
                  {progress.notable.map(({ status, count }) => (
                    <span key={status} className={`runs-steps-notable run-status-${status}`}>
                      {" · "}
                      {t("list.steps.notable", { count, status: t(`status.${status}`).toLowerCase() })}
                    </span>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

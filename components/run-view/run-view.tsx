"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { memo, startTransition, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import { PipelineGraph, STATUS_ICON, type StepStatus } from "@/components/pipeline-graph/pipeline-graph";
import { useOnConnect, useRealtime, useSocketEvent } from "@/components/realtime/socket-provider";
import type { RunDetail } from "@/server/runs/schema";
import { collapseStages, criticalPath, formatDuration, groupDuration, groupSteps } from "./model";
import { applyRunUpdate, runKeys, runQuery } from "./queries";
import { RunControls } from "./run-controls";
import "./run-view.css";
import { StepPanel } from "./step-panel";
import { Timeline } from "./timeline";

// A run, live: its DAG with every step's state (or a timeline with the critical path), a
// summary, the controls the user is allowed, and the selected step's details and logs. Updates
// arrive over socket.io (`run:updated`) and patch the cached run at once; a full refetch follows
// to pick up outputs and history.

// The graph re-renders only when what it shows changes: on a big run (thousands of nodes) a
// render hands React Flow new callbacks, and each one it stores notifies every node and the minimap.
const RunGraph = memo(PipelineGraph);
const NO_STAGES: RunDetail["stages"] = [];

export function StatusBadge({ status }: { status: StepStatus | RunDetail["status"] }) {
  const { t } = useTranslation("runview");
  return (
    <span className={`run-status status-${status}`}>
      <span aria-hidden="true">{STATUS_ICON[status as StepStatus] ?? "•"}</span> {t(`status.${status}`)}
    </span>
  );
}

export function RunView({ initial }: { initial: RunDetail }) {
  const { t } = useTranslation(["runview", "errors"]);
  const format = useFormat();
  const queryClient = useQueryClient();
  const runId = initial.id;
  const { data } = useQuery({ ...runQuery(runId), initialData: initial });
  const run = data ?? initial;
  const { state: connection } = useRealtime();

  // Live updates: patch now, refetch the details shortly after (coalesced).
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const scheduleRefetch = useCallback(() => {
    if (refetchTimer.current) return;
    refetchTimer.current = setTimeout(() => {
      refetchTimer.current = null;
      void queryClient.invalidateQueries({ queryKey: runKeys.run(runId) });
    }, 400);
  }, [queryClient, runId]);
  useEffect(
    () => () => {
      if (refetchTimer.current) clearTimeout(refetchTimer.current);
    },
    [],
  );
  useOnConnect(
    (socket) => {
      socket.emit("runs:subscribe", { runId }, () => {});
      // Whatever happened while disconnected: fetch the run as it is now.
      void queryClient.invalidateQueries({ queryKey: runKeys.run(runId) });
      return () => {
        socket.emit("runs:unsubscribe", { runId });
      };
    },
    [runId],
  );
  useSocketEvent("run:updated", (event) => {
    if (event.runId !== runId) return;
    queryClient.setQueryData<RunDetail>(runKeys.run(runId), (old) => (old ? applyRunUpdate(old, event) : old));
    scheduleRefetch();
  });

  const active = run.status === "queued" || run.status === "running" || run.status === "waiting";
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [active]);

  const { groups, handlers } = useMemo(() => groupSteps(run.stepList), [run.stepList]);
  // Big runs start with their stages collapsed (a node per stage, with a status histogram).
  const [stagesCollapsed, setStagesCollapsed] = useState(() => run.stages.length > 0 && groups.length > 200);
  const stageNames = useMemo(() => new Map(run.stages.map((stage) => [stage.id, stage.name])), [run.stages]);
  const shownGroups = useMemo(
    () => (stagesCollapsed ? collapseStages(groups, stageNames) : groups),
    [stagesCollapsed, groups, stageNames],
  );
  const critical = useMemo(() => criticalPath(groups, now), [groups, now]);
  const [tab, setTab] = useState<"graph" | "timeline">("graph");
  const [selected, setSelected] = useState<string | null>(() => {
    const waiting = groups.find((group) => group.status === "waiting" || group.status === "failed");
    return waiting?.id ?? null;
  });
  // What the graph highlights. A click paints the step's details first and moves the highlight
  // right after that frame (re-rendering the graph of a big run costs more than the details, and
  // would delay them); keyboard selection moves both together, as the graph's arrow keys start
  // from its highlight.
  const [graphSelected, setGraphSelected] = useState(selected);
  const latestSelected = useRef(selected);
  const isClicking = useRef(false);
  const [instanceId, setInstanceId] = useState<string | null>(null);
  const selectedGroup = shownGroups.find((group) => group.id === selected) ?? null;
  const selectedHandler = handlers.find((handler) => handler.id === selected) ?? null;
  const panelRef = useRef<HTMLElement>(null);

  const graphSteps = useMemo(
    () =>
      shownGroups.map((group) => ({
        id: group.id,
        needs: group.needs,
        data: {
          label: group.name,
          kind: group.kind,
          detail:
            group.uses ??
            (group.instances[0]?.approval?.environment ? `→ ${group.instances[0]?.approval?.environment}` : null),
          status: group.status,
          statusLabel: t(`status.${group.status}`),
          instances: group.instances.length,
          histogram: group.histogram,
          duration: formatDuration(groupDuration(group, now)),
          stage: stagesCollapsed ? null : group.stage,
          mark: critical.has(group.id) && critical.size > 1 ? ("critical" as const) : null,
        },
      })),
    [shownGroups, stagesCollapsed, now, critical, t],
  );

  const select = useCallback((id: string | null) => {
    setSelected(id);
    setInstanceId(null);
    latestSelected.current = id;
    if (!isClicking.current) {
      setGraphSelected(id);
      return;
    }
    // After the next paint; a later selection (a keyboard one meanwhile) wins.
    requestAnimationFrame(() => setTimeout(() => startTransition(() => setGraphSelected(latestSelected.current)), 0));
  }, []);
  const openStep = useCallback(
    (id: string) => {
      select(id);
      requestAnimationFrame(() => panelRef.current?.focus());
    },
    [select],
  );
  const started = run.startedAt ? Date.parse(run.startedAt) : null;
  const ended = run.finishedAt ? Date.parse(run.finishedAt) : null;
  const duration = started === null ? null : (ended ?? now) - started;
  const counts = run.steps;

  return (
    <div className="run-view stack">
      <header className="page-header run-header">
        <div className="row">
          <h1>
            <Link href={`/projects/${run.organizationSlug}/${run.projectSlug}/pipelines/${run.pipelineSlug}`}>
              {run.pipelineName}
            </Link>{" "}
            <span className="muted">#{run.number}</span>
          </h1>
          <StatusBadge status={run.status} />
          {run.queuedForSlot ? <span className="badge">{t("runview:queuedForSlot")}</span> : null}
        </div>
        <p className="muted">
          {t("runview:summary", {
            trigger: t(`runview:trigger.${run.trigger}`, { defaultValue: run.trigger }),
            who: run.startedBy?.name ?? t("runview:system"),
            when: format.dateTime(run.createdAt),
            version: run.pipelineVersion,
          })}
          {duration !== null ? ` · ${t("runview:duration", { duration: formatDuration(duration) })}` : ""}
          {run.runAttempt > 1 ? ` · ${t("runview:attempt", { attempt: run.runAttempt })}` : ""}
        </p>
        {Object.keys(run.params).length > 0 ? (
          <p className="run-params">
            {Object.entries(run.params).map(([name, value]) => (
              <code key={name}>
                {name}={String(value)}
              </code>
            ))}
          </p>
        ) : null}
        {run.cancellation ? (
          <p className="notice">
            {t(run.cancellation.kind === "timeout" ? "runview:timedOutBecause" : "runview:cancelledBecause", {
              reason: run.cancellation.reason,
            })}
          </p>
        ) : null}
        <RunControls run={run} />
      </header>

      <section aria-label={t("runview:progress")} className="run-progress">
        <div className="run-progress-bar" role="img" aria-label={t("runview:progressLabel", counts)}>
          {(["succeeded", "failed", "timed_out", "running", "waiting", "cancelled", "skipped"] as const).map(
            (status) =>
              counts[status] > 0 ? (
                <span key={status} className={`bar status-${status}`} style={{ flexGrow: counts[status] }} />
              ) : null,
          )}
        </div>
        <p className="muted">
          {(["succeeded", "failed", "running", "waiting", "queued", "skipped", "cancelled", "timed_out"] as const)
            .filter((status) => counts[status] > 0)
            .map((status) => `${counts[status]} ${t(`runview:status.${status}`)}`)
            .join(" · ")}
          {connection !== "connected" ? ` · ${t("runview:offline")}` : ""}
        </p>
      </section>

      <div className="run-body">
        <section className="run-main" aria-label={t("runview:steps")}>
          <div className="tabs" role="tablist" aria-label={t("runview:views")}>
            {(["graph", "timeline"] as const).map((name) => (
              <button
                key={name}
                type="button"
                role="tab"
                id={`run-tab-${name}`}
                aria-selected={tab === name}
                aria-controls={`run-panel-${name}`}
                tabIndex={tab === name ? 0 : -1}
                className={tab === name ? "tab active" : "tab"}
                onClick={() => setTab(name)}
                onKeyDown={(event) => {
                  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
                    const next = name === "graph" ? "timeline" : "graph";
                    setTab(next);
                    document.getElementById(`run-tab-${next}`)?.focus();
                  }
                }}
              >
                {t(`runview:tab.${name}`)}
              </button>
            ))}
          </div>
          {run.stages.length > 0 && tab === "graph" ? (
            <label className="checkbox">
              <input
                type="checkbox"
                checked={stagesCollapsed}
                onChange={(event) => {
                  setStagesCollapsed(event.target.checked);
                  select(null);
                }}
              />
              {t("runview:collapseStages")}
            </label>
          ) : null}
          <div
            role="tabpanel"
            id={`run-panel-${tab}`}
            aria-labelledby={`run-tab-${tab}`}
            className="run-canvas"
            onClickCapture={() => {
              // The graph's click handlers run during this event; reset once it is dispatched.
              isClicking.current = true;
              setTimeout(() => {
                isClicking.current = false;
              }, 0);
            }}
          >
            {tab === "graph" ? (
              <RunGraph
                steps={graphSteps}
                selectedId={graphSelected}
                onSelect={select}
                onOpen={openStep}
                ariaLabel={t("runview:graphLabel")}
                stages={stagesCollapsed ? NO_STAGES : run.stages}
              />
            ) : (
              <Timeline
                groups={groups}
                handlers={handlers}
                now={now}
                critical={critical}
                selected={selected}
                onSelect={select}
              />
            )}
          </div>
          {handlers.length > 0 ? (
            <div className="run-handlers">
              <h2>{t("runview:handlers")}</h2>
              <ul>
                {handlers.map((handler) => (
                  <li key={handler.id}>
                    <button type="button" className="link-button" onClick={() => select(handler.id)}>
                      <StatusBadge status={handler.status} /> {handler.id}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </section>

        <aside
          className="run-panel"
          aria-label={t("runview:stepDetails")}
          ref={panelRef}
          tabIndex={-1}
          onKeyDown={(event) => {
            if (event.key === "Escape") {
              (document.querySelector(".pipeline-graph") as HTMLElement | null)?.focus();
            }
          }}
        >
          {selectedGroup || selectedHandler ? (
            <StepPanel
              run={run}
              instances={
                selectedGroup ? selectedGroup.instances : [selectedHandler as NonNullable<typeof selectedHandler>]
              }
              title={selectedGroup?.name ?? selectedHandler?.id ?? ""}
              instanceId={instanceId}
              onInstance={setInstanceId}
              now={now}
            />
          ) : (
            <p className="muted">{t("runview:pickStep")}</p>
          )}
        </aside>
      </div>
      <p className="visually-hidden" aria-live="polite">
        {t(`runview:status.${run.status}`)}
      </p>
    </div>
  );
}

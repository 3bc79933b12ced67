"use client";
import { type InfiniteData, useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useOnConnect, useSocketEvent } from "@/components/realtime/socket-provider";
import { RUN_STATUS_VALUES, RUN_TRIGGERS, type RunPage, type RunTrigger } from "@/server/runs/schema";
import { isFinished } from "./format";
import { ProblemAlert } from "./problem-alert";
import { type RunFilters, type RunStatus, type RunsScope, runListKeys, runsQuery } from "./queries";
import { RunsTable } from "./runs-table";

interface RunsListProps {
  scope: RunsScope;
  /** The first page as the server rendered it (no filters). */
  initialPage: RunPage;
  /** Page size; the "recent" variant shows one page of this many. */
  limit: number;
  /** "full": filters and "Load more"; "recent": the latest runs and a link to all of them. */
  variant?: "full" | "recent";
  /** The project's pipelines, for the pipeline filter (a project's list). */
  pipelines?: { id: string; name: string }[];
  /** Where "all runs" leads (the recent variant). */
  allRunsHref?: string;
  caption: string;
}

/**
 * A list of runs, newest first: filtered and paginated on the server (keyset cursor), live while
 * runs in it are unfinished (the socket subscribes to each and the list follows `run:updated`).
 */
export function RunsList({
  scope,
  initialPage,
  limit,
  variant = "full",
  pipelines,
  allRunsHref,
  caption,
}: RunsListProps) {
  const { t } = useTranslation("runs");
  const queryClient = useQueryClient();
  const [filters, setFilters] = useState<RunFilters>({});
  const isUnfiltered = !filters.status?.length && !filters.trigger && !filters.pipeline;
  const query = useInfiniteQuery({
    ...runsQuery(scope, filters, limit),
    initialData: isUnfiltered ? { pages: [initialPage], pageParams: [null] } : undefined,
  });
  const runs = useMemo(() => query.data?.pages.flatMap((page) => page.runs) ?? [], [query.data]);

  // Live: subscribe to the unfinished runs shown; their updates patch the list at once and a
  // refetch (coalesced) brings the step counts.
  const shownIds = useMemo(() => new Set(runs.map((run) => run.id)), [runs]);
  const unfinished = runs
    .filter((run) => !isFinished(run.status))
    .map((run) => run.id)
    .sort()
    .join(",");
  useOnConnect(
    (socket) => {
      const ids = unfinished.split(",").filter(Boolean);
      for (const runId of ids) socket.emit("runs:subscribe", { runId }, () => {});
      return () => {
        for (const runId of ids) socket.emit("runs:unsubscribe", { runId });
      };
    },
    [unfinished],
  );
  const refetchTimer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(refetchTimer.current), []);
  useSocketEvent("run:updated", (event) => {
    if (!shownIds.has(event.runId)) return;
    queryClient.setQueriesData<InfiniteData<RunPage>>({ queryKey: runListKeys.all }, (data) =>
      data
        ? {
            ...data,
            pages: data.pages.map((page) => ({
              ...page,
              runs: page.runs.map((run) =>
                run.id === event.runId
                  ? {
                      ...run,
                      status: event.status,
                      phase: event.phase,
                      runAttempt: event.runAttempt,
                      finishedAt: event.finishedAt,
                      startedAt:
                        run.startedAt ?? event.steps.find((step) => step.startedAt)?.startedAt ?? run.startedAt,
                    }
                  : run,
              ),
            })),
          }
        : data,
    );
    window.clearTimeout(refetchTimer.current);
    refetchTimer.current = window.setTimeout(() => {
      void queryClient.invalidateQueries({ queryKey: runListKeys.all });
    }, 750);
  });

  // A run of this project was created (or changed status elsewhere): refetch the list.
  useSocketEvent("runs:changed", () => {
    window.clearTimeout(refetchTimer.current);
    refetchTimer.current = window.setTimeout(() => {
      void queryClient.invalidateQueries({ queryKey: runListKeys.all });
    }, 300);
  });

  const pending = query.isPending;
  return (
    <div className="stack runs-list">
      {variant === "full" ? <RunFiltersForm filters={filters} onChange={setFilters} pipelines={pipelines} /> : null}
      {query.error ? <ProblemAlert error={query.error} prefix={t("list.loadFailed")} /> : null}
      {variant === "full" ? (
        <p className="muted runs-count" aria-live="polite">
          {pending ? t("common:loading") : t("list.shown", { count: runs.length })}
          {query.isFetchingNextPage ? ` · ${t("list.loadingMore")}` : ""}
          {!pending && !query.hasNextPage && runs.length > 0 ? ` · ${t("list.end")}` : ""}
        </p>
      ) : null}
      {!pending && runs.length === 0 && !query.error ? (
        <p className="notice">{isUnfiltered ? t("list.empty") : t("list.emptyFiltered")}</p>
      ) : null}
      {runs.length > 0 ? <RunsTable runs={runs} caption={caption} showPipeline={scope.kind === "project"} /> : null}
      {variant === "full" && query.hasNextPage ? (
        <div>
          <button
            type="button"
            className="button"
            onClick={() => void query.fetchNextPage()}
            disabled={query.isFetchingNextPage}
          >
            {query.isFetchingNextPage ? t("list.loadingMore") : t("list.loadMore")}
          </button>
        </div>
      ) : null}
      {variant === "recent" && allRunsHref ? (
        <p>
          <Link href={allRunsHref}>{t("list.allRuns")}</Link>
        </p>
      ) : null}
    </div>
  );
}

function RunFiltersForm({
  filters,
  onChange,
  pipelines,
}: {
  filters: RunFilters;
  onChange(filters: RunFilters): void;
  pipelines?: { id: string; name: string }[];
}) {
  const { t } = useTranslation("runs");
  const id = useId();
  const statuses = new Set(filters.status ?? []);

  function toggleStatus(status: RunStatus, checked: boolean) {
    const next = RUN_STATUS_VALUES.filter((value) => (value === status ? checked : statuses.has(value)));
    onChange({ ...filters, status: next.length > 0 ? next : undefined });
  }

  return (
    <search className="runs-filters" aria-label={t("list.filters.label")}>
      <fieldset className="runs-filter-status">
        <legend>{t("list.filters.status")}</legend>
        {RUN_STATUS_VALUES.map((status) => (
          <label key={status} className="runs-filter-chip">
            <input
              type="checkbox"
              checked={statuses.has(status)}
              onChange={(event) => toggleStatus(status, event.target.checked)}
            />
            {t(`status.${status}`)}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor={`${id}-trigger`}>{t("list.filters.trigger")}</label>
        <select
          id={`${id}-trigger`}
          value={filters.trigger ?? ""}
          onChange={(event) =>
            onChange({ ...filters, trigger: (event.target.value || undefined) as RunTrigger | undefined })
          }
        >
          <option value="">{t("list.filters.anyTrigger")}</option>
          {RUN_TRIGGERS.map((trigger) => (
            <option key={trigger} value={trigger}>
              {t(`list.trigger.${trigger}`)}
            </option>
          ))}
        </select>
      </div>
      {pipelines ? (
        <div className="field">
          <label htmlFor={`${id}-pipeline`}>{t("list.filters.pipeline")}</label>
          <select
            id={`${id}-pipeline`}
            value={filters.pipeline ?? ""}
            onChange={(event) => onChange({ ...filters, pipeline: event.target.value || undefined })}
          >
            <option value="">{t("list.filters.anyPipeline")}</option>
            {pipelines.map((pipeline) => (
              <option key={pipeline.id} value={pipeline.id}>
                {pipeline.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <button
        type="button"
        className="button"
        onClick={() => onChange({})}
        disabled={!filters.status?.length && !filters.trigger && !filters.pipeline}
      >
        {t("list.filters.clear")}
      </button>
    </search>
  );
}

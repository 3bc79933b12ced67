import { infiniteQueryOptions } from "@tanstack/react-query";
import { ApiError } from "@/components/ui/api-error";
import { apiFetch } from "@/components/ui/api-fetch";
import {
  type RUN_STATUS_VALUES,
  type RunDetail,
  type RunTrigger,
  runPageSchema,
  runSummarySchema,
} from "@/server/runs/schema";

export { ApiError };

// Reads (query option factories) and writes (plain functions for useMutation) of runs, against
// /api/v1. Errors arrive as problem+json and become ApiError: its code maps to errors:code.*,
// its detail is the server's reason (shown as is for refusals), its invalid params go to fields.
// Answers the UI reads are checked against the API's own DTO schemas.

export type RunStatus = (typeof RUN_STATUS_VALUES)[number];

/** Which runs a list shows: one pipeline's, or a whole project's. */
export type RunsScope =
  | { kind: "pipeline"; pipelineId: string }
  | { kind: "project"; organizationSlug: string; projectSlug: string };

export interface RunFilters {
  status?: RunStatus[];
  trigger?: RunTrigger;
  /** Only in a project's list. */
  pipeline?: string;
}

// Lists only: the run view keys single runs under ["runs", id].
export const runListKeys = {
  all: ["run-lists"] as const,
  list: (scope: RunsScope, filters: RunFilters, limit: number) => ["run-lists", scope, filters, limit] as const,
};

function runsPath(scope: RunsScope): string {
  return scope.kind === "pipeline"
    ? `/api/v1/pipelines/${encodeURIComponent(scope.pipelineId)}/runs`
    : `/api/v1/organizations/${encodeURIComponent(scope.organizationSlug)}/projects/${encodeURIComponent(scope.projectSlug)}/runs`;
}

/** The query string of a runs page (exported for the tests: the API's own parameter names). */
export function runListSearch(filters: RunFilters, limit: number, cursor: string | null): URLSearchParams {
  const search = new URLSearchParams({ limit: String(limit) });
  if (filters.status && filters.status.length > 0) search.set("status", filters.status.join(","));
  if (filters.trigger) search.set("trigger", filters.trigger);
  if (filters.pipeline) search.set("pipeline", filters.pipeline);
  if (cursor) search.set("cursor", cursor);
  return search;
}

export function runsQuery(scope: RunsScope, filters: RunFilters, limit: number) {
  return infiniteQueryOptions({
    queryKey: runListKeys.list(scope, filters, limit),
    queryFn: ({ pageParam, signal }) =>
      apiFetch(`${runsPath(scope)}?${runListSearch(filters, limit, pageParam)}`, { signal, schema: runPageSchema }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
}

// ---- Writes (for useMutation) ----

export type ParamValues = Record<string, string | number | boolean>;

export const startRun = (pipelineId: string, params: ParamValues) =>
  apiFetch(`/api/v1/pipelines/${encodeURIComponent(pipelineId)}/runs`, {
    method: "POST",
    // Started by a person from the UI: recorded as a manual run.
    json: { params, trigger: "manual" },
    schema: runSummarySchema,
  });

const runPath = (runId: string, action: string) => `/api/v1/runs/${encodeURIComponent(runId)}/${action}`;

export const approveStep = (runId: string, step: string, comment?: string) =>
  apiFetch<RunDetail>(runPath(runId, "approve"), {
    method: "POST",
    json: comment ? { step, comment } : { step },
  });

export const rejectStep = (runId: string, step: string, comment: string) =>
  apiFetch<RunDetail>(runPath(runId, "reject"), { method: "POST", json: { step, comment } });

export const runManualStep = (runId: string, step: string) =>
  apiFetch<RunDetail>(runPath(runId, "run-step"), { method: "POST", json: { step } });

export const skipManualStep = (runId: string, step: string) =>
  apiFetch<RunDetail>(runPath(runId, "skip-step"), { method: "POST", json: { step } });

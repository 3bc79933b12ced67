import { queryOptions } from "@tanstack/react-query";
import { apiFetch } from "@/components/ui/api-fetch";
import type { RunDetail, StepPatch } from "@/server/runs/schema";

// The run view's reads and controls, against /api/v1 (the server authorizes each one).

export const runKeys = {
  run: (runId: string) => ["runs", runId] as const,
};

export function runQuery(runId: string) {
  return queryOptions({
    queryKey: runKeys.run(runId),
    queryFn: ({ signal }) => apiFetch<RunDetail>(`/api/v1/runs/${runId}`, { signal }),
  });
}

const post = (runId: string, action: string, json: unknown) =>
  apiFetch<RunDetail>(`/api/v1/runs/${runId}/${action}`, { method: "POST", json });

export const runControls = {
  cancel: (runId: string, step?: string) => post(runId, "cancel", step ? { step } : {}),
  rerun: (runId: string, fromStep?: string) => post(runId, "rerun", fromStep ? { fromStep } : {}),
  approve: (runId: string, step: string, comment?: string) =>
    post(runId, "approve", { step, ...(comment ? { comment } : {}) }),
  reject: (runId: string, step: string, comment?: string) =>
    post(runId, "reject", { step, ...(comment ? { comment } : {}) }),
  runStep: (runId: string, step: string) => post(runId, "run-step", { step }),
  skipStep: (runId: string, step: string) => post(runId, "skip-step", { step }),
};

/** A live update applied to the cached run: statuses change within the event's latency. */
export function applyRunUpdate(
  run: RunDetail,
  update: {
    status: RunDetail["status"];
    phase: string;
    runAttempt: number;
    version: number;
    finishedAt: string | null;
    steps: StepPatch[];
  },
): RunDetail {
  if (update.version <= run.version) return run;
  const patches = new Map(update.steps.map((patch) => [patch.id, patch]));
  const stepList = run.stepList.map((step) => {
    const patch = patches.get(step.id);
    return patch ? { ...step, ...patch } : step;
  });
  const steps = { ...run.steps };
  for (const key of Object.keys(steps) as (keyof typeof steps)[]) if (key !== "total") steps[key] = 0;
  for (const step of stepList) steps[step.status] += 1;
  return {
    ...run,
    status: update.status,
    phase: update.phase,
    runAttempt: update.runAttempt,
    version: update.version,
    finishedAt: update.finishedAt,
    stepList,
    steps,
  };
}

import type { StepCounts } from "@/server/runs/schema";

// Pure helpers shared by the runs lists and the approvals inbox (unit-tested in format.test.ts).

export const FINISHED_RUN_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

export function isFinished(status: string): boolean {
  return FINISHED_RUN_STATUSES.has(status);
}

export interface DurationParts {
  hours: number;
  minutes: number;
  seconds: number;
}

/** Whole hours, minutes and seconds of a non-negative span (negative spans count as zero). */
export function splitDuration(ms: number): DurationParts {
  const total = Math.max(0, Math.floor(ms / 1000));
  return { hours: Math.floor(total / 3600), minutes: Math.floor((total % 3600) / 60), seconds: total % 60 };
}

/**
 * The i18n key and values of a span, at the two largest units that matter: `3h 04m`, `4m 05s`,
 * `42s`. Days are shown as hours (a run or a timeout rarely lasts longer than a few days).
 */
export function durationMessage(ms: number): { key: "hours" | "minutes" | "seconds"; values: DurationParts } {
  const values = splitDuration(ms);
  if (values.hours > 0) return { key: "hours", values };
  if (values.minutes > 0) return { key: "minutes", values };
  return { key: "seconds", values };
}

/** How long a run took, or has taken so far (`now`); null before it started. */
export function runDuration(
  run: { startedAt: string | null; finishedAt: string | null },
  now: number | null,
): number | null {
  if (!run.startedAt) return null;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  if (end === null) return null;
  return Math.max(0, end - Date.parse(run.startedAt));
}

/** Two-digit padding for the minutes and seconds of a duration. */
export function pad2(value: number): string {
  return value.toString().padStart(2, "0");
}

const NOTABLE: readonly (keyof StepCounts)[] = ["failed", "timed_out", "running", "waiting", "queued", "cancelled"];

/** Step counts as a list reads them: done of total, then the statuses worth a glance. */
export function stepProgress(steps: StepCounts): {
  done: number;
  total: number;
  notable: { status: keyof StepCounts; count: number }[];
} {
  return {
    done: steps.succeeded + steps.skipped,
    total: steps.total,
    notable: NOTABLE.filter((status) => steps[status] > 0).map((status) => ({ status, count: steps[status] })),
  };
}

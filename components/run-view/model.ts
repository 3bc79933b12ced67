// What the run view draws, derived from a run's steps: one graph node per DAG step (matrix
// instances collapsed, with a status histogram), the handlers apart, durations, and the critical
// path (the chain of steps whose durations add up to the run's length).
import type { StepStatus } from "@/components/pipeline-graph/pipeline-graph";
import type { StepDto } from "@/server/runs/schema";

export interface StepGroup {
  /** The step id (graph node id). */
  id: string;
  name: string;
  kind: StepDto["kind"];
  uses: string | null;
  stage: string | null;
  needs: string[];
  instances: StepDto[];
  status: StepStatus;
  histogram: Partial<Record<StepStatus, number>>;
  startedAt: number | null;
  finishedAt: number | null;
}

// Which status speaks for a group: anything still moving first, then failures.
const PRECEDENCE: StepStatus[] = [
  "running",
  "waiting",
  "failed",
  "timed_out",
  "queued",
  "cancelled",
  "succeeded",
  "skipped",
];

export function groupStatus(histogram: Partial<Record<StepStatus, number>>): StepStatus {
  const present = PRECEDENCE.filter((status) => (histogram[status] ?? 0) > 0);
  // A group that has begun but has queued instances left is running.
  if (present.includes("queued") && present.some((s) => s === "succeeded" || s === "failed")) return "running";
  return present[0] ?? "queued";
}

const time = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/** DAG steps grouped (in run order) and the handler instances apart. */
export function groupSteps(steps: readonly StepDto[]): { groups: StepGroup[]; handlers: StepDto[] } {
  const groups = new Map<string, StepGroup>();
  const handlers: StepDto[] = [];
  for (const step of steps) {
    if (step.role !== "step") {
      handlers.push(step);
      continue;
    }
    let group = groups.get(step.stepId);
    if (!group) {
      group = {
        id: step.stepId,
        name: step.name,
        kind: step.kind,
        uses: step.uses,
        stage: step.stage,
        needs: step.needs,
        instances: [],
        status: "queued",
        histogram: {},
        startedAt: null,
        finishedAt: null,
      };
      groups.set(step.stepId, group);
    }
    group.instances.push(step);
    group.histogram[step.status] = (group.histogram[step.status] ?? 0) + 1;
    const started = time(step.startedAt);
    const finished = time(step.finishedAt);
    if (started !== null) group.startedAt = group.startedAt === null ? started : Math.min(group.startedAt, started);
    if (finished !== null)
      group.finishedAt = group.finishedAt === null ? finished : Math.max(group.finishedAt, finished);
  }
  for (const group of groups.values()) {
    group.status = groupStatus(group.histogram);
    if (group.status === "running" || group.status === "waiting" || group.status === "queued") group.finishedAt = null;
  }
  return { groups: [...groups.values()], handlers };
}

/** Milliseconds a group took (so far, when it is still going). */
export function groupDuration(group: Pick<StepGroup, "startedAt" | "finishedAt">, now: number): number | null {
  if (group.startedAt === null) return null;
  return (group.finishedAt ?? now) - group.startedAt;
}

/**
 * The critical path: the chain through the DAG with the largest sum of durations, walked back
 * from the step that ends it. Steps without a duration count as zero.
 */
export function criticalPath(groups: readonly StepGroup[], now: number): Set<string> {
  const byId = new Map(groups.map((group) => [group.id, group]));
  const total = new Map<string, number>();
  const via = new Map<string, string | null>();
  const visiting = new Set<string>();
  const longest = (id: string): number => {
    const known = total.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const group = byId.get(id);
    let best = 0;
    let bestNeed: string | null = null;
    for (const need of group?.needs ?? []) {
      if (!byId.has(need)) continue;
      const value = longest(need);
      if (value > best || bestNeed === null) {
        best = value;
        bestNeed = need;
      }
    }
    const own = group ? (groupDuration(group, now) ?? 0) : 0;
    total.set(id, best + own);
    via.set(id, bestNeed);
    visiting.delete(id);
    return best + own;
  };
  let end: string | null = null;
  let endValue = -1;
  for (const group of groups) {
    const value = longest(group.id);
    if (value > endValue) {
      endValue = value;
      end = group.id;
    }
  }
  const path = new Set<string>();
  if (endValue <= 0) return path;
  for (let id = end; id !== null && !path.has(id); id = via.get(id) ?? null) path.add(id);
  return path;
}

/** "1m 05s", "42s", "850ms". */
export function formatDuration(ms: number | null): string | null {
  if (ms === null || ms < 0) return null;
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const seconds = Math.floor(ms / 1_000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

export const ACTIVE_RUN_STATUSES = new Set(["queued", "running", "waiting"]);
export const isActiveStep = (status: string) => status === "queued" || status === "running" || status === "waiting";

/**
 * Stages collapsed: one group per stage (its steps' instances and histogram together), steps
 * without a stage as they are; a stage needs another when any of its steps does.
 */
export function collapseStages(groups: readonly StepGroup[], stageNames: ReadonlyMap<string, string>): StepGroup[] {
  const nodeOf = (group: StepGroup) => (group.stage ? `stage:${group.stage}` : group.id);
  const owner = new Map(groups.map((group) => [group.id, nodeOf(group)]));
  const collapsed = new Map<string, StepGroup>();
  for (const group of groups) {
    const id = nodeOf(group);
    const needs = group.needs.map((need) => owner.get(need) ?? need).filter((need) => need !== id);
    const existing = collapsed.get(id);
    if (!existing) {
      collapsed.set(
        id,
        group.stage
          ? {
              ...group,
              id,
              name: stageNames.get(group.stage) ?? group.stage,
              kind: "run",
              uses: null,
              needs: [...new Set(needs)],
              instances: [...group.instances],
              histogram: { ...group.histogram },
            }
          : { ...group, needs },
      );
      continue;
    }
    existing.needs = [...new Set([...existing.needs, ...needs])];
    existing.instances.push(...group.instances);
    for (const [status, count] of Object.entries(group.histogram) as [StepStatus, number][]) {
      existing.histogram[status] = (existing.histogram[status] ?? 0) + count;
    }
    if (group.startedAt !== null) {
      existing.startedAt =
        existing.startedAt === null ? group.startedAt : Math.min(existing.startedAt, group.startedAt);
    }
    existing.finishedAt =
      existing.finishedAt === null || group.finishedAt === null
        ? null
        : Math.max(existing.finishedAt, group.finishedAt);
  }
  for (const group of collapsed.values()) group.status = groupStatus(group.histogram);
  return [...collapsed.values()];
}

// Counters derived from the steps of a run state: unfinished instances per step, unfinished
// needs, outcome flags of finished steps, running slots, the ready queue, and totals the
// phases and the run status are decided by. They are a cache: always rebuildable from the
// steps (buildDerived), kept up to date by account() as steps change, and handed from each
// state to the next so an event does not pay for a rebuild.
import { type GroupDef, needsOfGroup, type RunGraph } from "./graph";
import { type ReadyEntry, ReadyQueue } from "./ready-queue";
import { type InstanceRole, isTerminal, type StepState } from "./types";

/** Outcome flags of a finished DAG step (bits of Derived.flags). */
export const FAILED = 1;
export const CANCELLED = 2;
export const NOT_OK = 4;
export const UPSTREAM_FAILED = 8;
export const UPSTREAM_CANCELLED = 16;

export interface Derived {
  readonly graph: RunGraph;
  /** Non-terminal instances per group. */
  readonly remaining: Int32Array;
  /** The group's completion was propagated to its dependents. */
  readonly completed: Uint8Array;
  /** Needs of a DAG group that are not complete. */
  readonly pendingNeeds: Int32Array;
  /** Outcome flags of complete DAG groups (FAILED, CANCELLED, NOT_OK, UPSTREAM_*). */
  readonly flags: Uint8Array;
  readonly runningPerGroup: Int32Array;
  /** Ready instances, oldest first; entries that stopped being ready are skipped. */
  readonly queue: ReadyQueue;
  /** Ready instances held back by their matrix max-parallel. */
  readonly deferred: Map<number, ReadyEntry[]>;
  running: number;
  ready: number;
  parked: number;
  retrying: number;
  dagPending: number;
  dagFailures: number;
  dagCancelled: number;
  handlerFailures: number;
  /** Handler instances triggered and not finished, per role. */
  readonly live: Record<InstanceRole, number>;
}

const DERIVED = new WeakMap<readonly StepState[], Derived>();

export function isReady(step: StepState): boolean {
  return step.status === "queued" && step.readyAt !== null;
}

export function isUntouched(step: StepState): boolean {
  return step.status === "queued" && step.readyAt === null;
}

export function isFailure(step: StepState): boolean {
  return (step.status === "failed" || step.status === "timed_out") && !step.continuedOnError;
}

export function account(derived: Derived, graph: RunGraph, i: number, step: StepState, sign: 1 | -1): void {
  const g = (graph.instances[i] as { group: number }).group;
  const isDag = i < graph.dagInstances;
  if (!isTerminal(step.status)) {
    (derived.remaining[g] as number) += sign;
    if (isDag) derived.dagPending += sign;
    else if (!isUntouched(step)) derived.live[(graph.groups[g] as GroupDef).role] += sign;
  } else if (isFailure(step)) {
    if (isDag) derived.dagFailures += sign;
    else derived.handlerFailures += sign;
  } else if (step.status === "cancelled" && isDag) {
    derived.dagCancelled += sign;
  }
  if (step.status === "running") {
    derived.running += sign;
    (derived.runningPerGroup[g] as number) += sign;
  } else if (isReady(step)) {
    derived.ready += sign;
  } else if (step.status === "waiting") {
    if (step.waitingFor === "retry") derived.retrying += sign;
    else derived.parked += sign;
  }
}

export function groupFlags(derived: Derived, graph: RunGraph, steps: readonly StepState[], g: number): number {
  const group = graph.groups[g] as GroupDef;
  let flags = 0;
  for (let i = group.first; i < group.end; i++) {
    const step = steps[i] as StepState;
    if (isFailure(step)) flags |= FAILED | NOT_OK;
    else if (step.status === "cancelled") flags |= CANCELLED | NOT_OK;
    else if (step.status !== "succeeded" && !(step.status === "failed" || step.status === "timed_out")) flags |= NOT_OK;
  }
  for (const need of needsOfGroup(graph, g)) {
    const needFlags = derived.flags[need] as number;
    if (needFlags & (FAILED | UPSTREAM_FAILED)) flags |= UPSTREAM_FAILED;
    if (needFlags & (CANCELLED | UPSTREAM_CANCELLED)) flags |= UPSTREAM_CANCELLED;
  }
  return flags;
}

export function buildDerived(graph: RunGraph, steps: readonly StepState[]): Derived {
  const groupCount = graph.groups.length;
  const derived: Derived = {
    graph,
    remaining: new Int32Array(groupCount),
    completed: new Uint8Array(groupCount),
    pendingNeeds: new Int32Array(graph.dagGroups),
    flags: new Uint8Array(graph.dagGroups),
    runningPerGroup: new Int32Array(groupCount),
    queue: new ReadyQueue(),
    deferred: new Map(),
    running: 0,
    ready: 0,
    parked: 0,
    retrying: 0,
    dagPending: 0,
    dagFailures: 0,
    dagCancelled: 0,
    handlerFailures: 0,
    live: { step: 0, "step-on-failure": 0, rollback: 0, "on-failure": 0, finally: 0 },
  };
  if (steps.length !== graph.instances.length) {
    throw new Error(`the run has ${steps.length} steps, its graph ${graph.instances.length}: not the same pipeline`);
  }
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as StepState;
    if (step.id !== graph.instances[i]?.id)
      throw new Error(`step ${i} is "${step.id}", the graph says "${graph.instances[i]?.id}"`);
    account(derived, graph, i, step, 1);
    if (isReady(step)) derived.queue.push({ at: step.readyAt as number, instance: i });
  }
  // DAG groups are in topological order: needs' flags are known when a group is reached.
  for (let g = 0; g < groupCount; g++) {
    if (derived.remaining[g] !== 0) continue;
    derived.completed[g] = 1;
    if (g < graph.dagGroups) derived.flags[g] = groupFlags(derived, graph, steps, g);
  }
  for (let g = 0; g < graph.dagGroups; g++) {
    let pending = 0;
    for (const need of needsOfGroup(graph, g)) if (!derived.completed[need]) pending++;
    derived.pendingNeeds[g] = pending;
  }
  return derived;
}

/** Takes the derived counters of these steps (building them if needed); the caller owns them. */
export function takeDerived(graph: RunGraph, steps: readonly StepState[]): Derived {
  const derived = DERIVED.get(steps);
  if (derived !== undefined && derived.graph === graph) {
    DERIVED.delete(steps);
    return derived;
  }
  return buildDerived(graph, steps);
}

/** Hands the counters over to the state whose steps they describe. */
export function handOver(steps: readonly StepState[], derived: Derived): void {
  DERIVED.set(steps, derived);
}

// The run graph: a validated pipeline compiled once (per pipeline version) into what the state
// machine walks. DAG steps become groups of instances (one per matrix combination) laid out in
// topological order; handlers become extra groups, one per way they can be triggered (finally,
// the run's on-failure, a step's on-failure, a step's rollback). Group adjacency is compressed
// into index arrays so each event touches only the groups it affects.
import { buildDag, topologicalOrder } from "../graph/dag";
import { expandMatrix, type MatrixCombination, matrixInstanceId } from "../graph/matrix";
import {
  type Approval,
  type Gate,
  PIPELINE_LIMITS,
  type Param,
  type Pipeline,
  parseDuration,
  refList,
  type Step,
  type StepKindKey,
  stepKindOf,
} from "../spec/schema";
import { type CompiledCondition, type ConditionCompiler, createConditionCompiler } from "./conditions";
import type { InstanceRole } from "./types";

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly max: number;
  readonly delayMs: number;
  readonly factor: number;
  readonly maxDelayMs: number;
  /** Retry only these exit codes; null: any non-zero code. */
  readonly exitCodes: ReadonlySet<number> | null;
}

export interface Principals {
  readonly users: readonly string[];
  readonly teams: readonly string[];
  readonly roles: readonly string[];
}

export interface GroupDef {
  readonly index: number;
  /** The step or handler id. */
  readonly stepId: string;
  readonly role: InstanceRole;
  /** For step-on-failure and rollback handlers: the DAG group that triggers them; else -1. */
  readonly trigger: number;
  readonly step: Step;
  readonly kind: StepKindKey;
  /** `uses: noop` completes inside the engine, without an executor. */
  readonly inline: boolean;
  /** Instances are `first .. end - 1`. */
  readonly first: number;
  readonly end: number;
  readonly condition: CompiledCondition | null;
  readonly retry: RetryPolicy | null;
  readonly timeoutMs: number | null;
  readonly continueOnError: boolean;
  readonly maxParallel: number;
  readonly failFast: boolean;
  readonly approval: (Omit<Approval, "approvers"> & { approvers: Principals }) | null;
  readonly gate: (Gate & { intervalMs: number; timeoutMs: number | null }) | null;
  readonly manual: { message: string | null; allowed: Principals | null; timeoutMs: number | null } | null;
  /** Handler groups to trigger when an instance of this (DAG) group fails. */
  readonly onFailure: readonly number[];
  /** The rollback handler group of this DAG group, -1 without one. */
  readonly rollback: number;
}

export interface InstanceDef {
  readonly id: string;
  readonly group: number;
  readonly matrix: MatrixCombination | null;
}

export interface RunGraph {
  readonly pipeline: Pipeline;
  readonly instances: readonly InstanceDef[];
  readonly index: ReadonlyMap<string, number>;
  /** Groups `0 .. dagGroups - 1` are DAG steps in topological order, then handler groups. */
  readonly groups: readonly GroupDef[];
  readonly dagGroups: number;
  /** Instances `0 .. dagInstances - 1` belong to DAG steps. */
  readonly dagInstances: number;
  readonly groupByStepId: ReadonlyMap<string, number>;
  /** Needs of group g: `needs[needStart[g] .. needStart[g + 1]]`; dependents likewise. */
  readonly needStart: Int32Array;
  readonly needs: Int32Array;
  readonly dependentStart: Int32Array;
  readonly dependents: Int32Array;
  readonly finallyGroups: readonly number[];
  readonly onFailureGroups: readonly number[];
  readonly rollbackGroups: readonly number[];
  /** Slot-holding (run, uses) instances of a run running at once. */
  readonly maxRunning: number;
  readonly timeoutMs: number | null;
  readonly params: ReadonlyMap<string, Param>;
  readonly conditions: ConditionCompiler;
  /** Lazily filled: every DAG group upstream of g (for conditions that read steps dynamically). */
  readonly ancestorCache: Map<number, readonly number[]>;
}

const DEFAULT_GATE_INTERVAL_MS = 30_000;

function durationMs(text: string | undefined): number | null {
  if (text === undefined) return null;
  const ms = parseDuration(text);
  if (ms === null) throw new Error(`invalid duration "${text}"`);
  return ms;
}

function principals(value: { users?: string[]; teams?: string[]; roles?: string[] } | undefined): Principals {
  return { users: value?.users ?? [], teams: value?.teams ?? [], roles: value?.roles ?? [] };
}

function retryPolicy(step: Step): RetryPolicy | null {
  const retry = step.retry;
  if (retry === undefined) return null;
  if (typeof retry === "number") {
    return retry === 0 ? null : { max: retry, delayMs: 0, factor: 1, maxDelayMs: 0, exitCodes: null };
  }
  if (retry.max === 0) return null;
  const delayMs = durationMs(retry.backoff?.delay) ?? 0;
  const factor = retry.backoff?.factor ?? 2;
  return {
    max: retry.max,
    delayMs,
    factor,
    maxDelayMs: durationMs(retry.backoff?.["max-delay"]) ?? Number.POSITIVE_INFINITY,
    exitCodes: retry["exit-codes"] === undefined ? null : new Set(retry["exit-codes"]),
  };
}

/** Delay before retry number `retry` (1 for the first retry). */
export function retryDelay(policy: RetryPolicy, retry: number): number {
  if (policy.delayMs === 0) return 0;
  return Math.min(policy.maxDelayMs, policy.delayMs * policy.factor ** (retry - 1));
}

function concurrencyCap(pipeline: Pipeline): number {
  const concurrency = pipeline.concurrency;
  if (concurrency === undefined) return Number.POSITIVE_INFINITY;
  if (typeof concurrency === "number") return concurrency;
  return concurrency.steps ?? Number.POSITIVE_INFINITY;
}

export interface CompileOptions {
  /** A lower cap on running steps than the pipeline's (the project's cap, say). */
  maxRunning?: number;
}

/**
 * Compiles a validated pipeline (parsePipeline's `pipeline`). Throws on what validation reports
 * (cycles, unknown references, oversized matrices): never call it with an unvalidated document.
 */
export function compileRunGraph(pipeline: Pipeline, options: CompileOptions = {}): RunGraph {
  const params = new Map(Object.entries(pipeline.params ?? {}));
  const conditions = createConditionCompiler(params);
  const steps = pipeline.steps;
  const { dag, unknownNeeds, duplicateIds } = buildDag(
    steps.map((step) => ({ id: step.id, needs: refList(step.needs) })),
  );
  if (unknownNeeds.length > 0 || duplicateIds.length > 0) throw new Error("the pipeline has invalid needs or ids");
  const { order, complete } = topologicalOrder(dag);
  if (!complete) throw new Error("the step graph has a cycle");

  const handlersById = new Map((pipeline.handlers ?? []).map((handler) => [handler.id, handler]));
  const groups: GroupDef[] = [];
  const instances: InstanceDef[] = [];
  const index = new Map<string, number>();
  const groupByStepId = new Map<string, number>();

  const addGroup = (step: Step, role: InstanceRole, trigger: number, idOf: (instanceId: string) => string): number => {
    const g = groups.length;
    const kind = stepKindOf(step);
    if (kind === undefined) throw new Error(`step "${step.id}" has no kind`);
    const first = instances.length;
    let combinations: (MatrixCombination | null)[] = [null];
    if (step.matrix !== undefined) {
      const expansion = expandMatrix(step.matrix);
      if (!expansion.ok) throw new Error(`the matrix of step "${step.id}" is too large`);
      combinations = expansion.combinations;
    }
    for (const matrix of combinations) {
      const id = idOf(matrix === null ? step.id : matrixInstanceId(step.id, matrix));
      if (index.has(id)) throw new Error(`duplicate instance "${id}"`);
      index.set(id, instances.length);
      instances.push({ id, group: g, matrix });
    }
    if (instances.length > PIPELINE_LIMITS.maxRunInstances) {
      throw new Error(`a run may have at most ${PIPELINE_LIMITS.maxRunInstances} step instances`);
    }
    const approval =
      step.approval === undefined ? null : { ...step.approval, approvers: principals(step.approval.approvers) };
    const gate =
      step.gate === undefined
        ? null
        : {
            ...step.gate,
            intervalMs: durationMs(step.gate.interval) ?? DEFAULT_GATE_INTERVAL_MS,
            timeoutMs: durationMs(step.gate.timeout) ?? durationMs(step.timeout),
          };
    const manualSpec = step.manual === true ? {} : step.manual;
    const manual =
      manualSpec === undefined
        ? null
        : {
            message: manualSpec.message ?? null,
            allowed: manualSpec.allowed === undefined ? null : principals(manualSpec.allowed),
            timeoutMs: durationMs(manualSpec.timeout) ?? durationMs(step.timeout),
          };
    const isHandler = role !== "step";
    groups.push({
      index: g,
      stepId: step.id,
      role,
      trigger,
      step,
      kind,
      inline: kind === "uses" && step.uses === "noop",
      first,
      end: instances.length,
      condition: step.if === undefined ? null : conditions.condition(step.if, { implicitSuccess: !isHandler }),
      retry: kind === "run" || kind === "uses" ? retryPolicy(step) : null,
      timeoutMs:
        kind === "approval"
          ? (durationMs(step.approval?.timeout) ?? durationMs(step.timeout))
          : kind === "gate"
            ? (gate?.timeoutMs ?? null)
            : kind === "manual"
              ? (manual?.timeoutMs ?? null)
              : durationMs(step.timeout),
      continueOnError: step["continue-on-error"] === true,
      maxParallel: step.matrix?.["max-parallel"] ?? Number.POSITIVE_INFINITY,
      failFast: step.matrix !== undefined && step.matrix["fail-fast"] !== false,
      approval,
      gate,
      manual,
      onFailure: [],
      rollback: -1,
    });
    return g;
  };

  for (const node of order) {
    const step = steps[node] as Step;
    groupByStepId.set(
      step.id,
      addGroup(step, "step", -1, (id) => id),
    );
  }
  const dagGroups = groups.length;
  const dagInstances = instances.length;

  const handler = (id: string): Step => {
    const found = handlersById.get(id);
    if (found === undefined) throw new Error(`unknown handler "${id}"`);
    return found;
  };
  const rollbackGroups: number[] = [];
  for (let g = 0; g < dagGroups; g++) {
    const owner = groups[g] as GroupDef & { onFailure: number[]; rollback: number };
    for (const ref of refList(owner.step["on-failure"])) {
      owner.onFailure.push(addGroup(handler(ref), "step-on-failure", g, (id) => `on-failure/${id}@${owner.stepId}`));
    }
    const rollback = owner.step.rollback;
    if (rollback !== undefined) {
      owner.rollback = addGroup(handler(rollback), "rollback", g, (id) => `rollback/${id}@${owner.stepId}`);
      rollbackGroups.push(owner.rollback);
    }
  }
  const onFailureGroups = refList(pipeline["on-failure"]).map((ref) =>
    addGroup(handler(ref), "on-failure", -1, (id) => `on-failure/${id}`),
  );
  const finallyGroups = refList(pipeline.finally).map((ref) =>
    addGroup(handler(ref), "finally", -1, (id) => `finally/${id}`),
  );

  // Group adjacency in group numbering (the DAG's node numbering is document order).
  const groupOfNode = new Int32Array(order.length);
  for (let position = 0; position < order.length; position++) groupOfNode[order[position] as number] = position;
  const needStart = new Int32Array(dagGroups + 1);
  const needList: number[] = [];
  for (let g = 0; g < dagGroups; g++) {
    needStart[g] = needList.length;
    const node = order[g] as number;
    for (let e = dag.needStart[node] ?? 0; e < (dag.needStart[node + 1] ?? 0); e++) {
      needList.push(groupOfNode[dag.needTargets[e] as number] as number);
    }
  }
  needStart[dagGroups] = needList.length;
  const needs = Int32Array.from(needList);
  const dependentStart = new Int32Array(dagGroups + 1);
  for (const target of needs) (dependentStart[target + 1] as number)++;
  for (let g = 0; g < dagGroups; g++) dependentStart[g + 1] = (dependentStart[g + 1] ?? 0) + (dependentStart[g] ?? 0);
  const fill = dependentStart.slice(0, dagGroups);
  const dependents = new Int32Array(needs.length);
  for (let g = 0; g < dagGroups; g++) {
    for (let e = needStart[g] ?? 0; e < (needStart[g + 1] ?? 0); e++) {
      const target = needs[e] as number;
      dependents[fill[target] as number] = g;
      (fill[target] as number)++;
    }
  }

  return {
    pipeline,
    instances,
    index,
    groups,
    dagGroups,
    dagInstances,
    groupByStepId,
    needStart,
    needs,
    dependentStart,
    dependents,
    finallyGroups,
    onFailureGroups,
    rollbackGroups,
    maxRunning: Math.min(concurrencyCap(pipeline), options.maxRunning ?? Number.POSITIVE_INFINITY),
    timeoutMs: durationMs(pipeline.timeout),
    params,
    conditions,
    ancestorCache: new Map(),
  };
}

export function needsOfGroup(graph: RunGraph, g: number): Int32Array {
  return graph.needs.subarray(graph.needStart[g], graph.needStart[g + 1]);
}

export function dependentsOfGroup(graph: RunGraph, g: number): Int32Array {
  return graph.dependents.subarray(graph.dependentStart[g], graph.dependentStart[g + 1]);
}

/** Every DAG group upstream of g (all DAG groups for a handler), cached. */
export function ancestorsOf(graph: RunGraph, g: number): readonly number[] {
  const cached = graph.ancestorCache.get(g);
  if (cached !== undefined) return cached;
  let result: number[];
  if (g >= graph.dagGroups) {
    result = Array.from({ length: graph.dagGroups }, (_, i) => i);
  } else {
    const seen = new Uint8Array(graph.dagGroups);
    const queue = [...needsOfGroup(graph, g)];
    for (const n of queue) seen[n] = 1;
    for (let head = 0; head < queue.length; head++) {
      for (const next of needsOfGroup(graph, queue[head] as number)) {
        if (seen[next]) continue;
        seen[next] = 1;
        queue.push(next);
      }
    }
    result = queue.sort((a, b) => a - b);
  }
  graph.ancestorCache.set(g, result);
  return result;
}

/**
 * Groups a re-run from these groups runs again: them and everything downstream.
 * Returns a mark per DAG group.
 */
export function downstreamGroups(graph: RunGraph, roots: readonly number[]): Uint8Array {
  const marked = new Uint8Array(graph.dagGroups);
  const queue: number[] = [];
  for (const root of roots) {
    if (marked[root]) continue;
    marked[root] = 1;
    queue.push(root);
  }
  for (let head = 0; head < queue.length; head++) {
    for (const next of dependentsOfGroup(graph, queue[head] as number)) {
      if (marked[next]) continue;
      marked[next] = 1;
      queue.push(next);
    }
  }
  return marked;
}

/** Position of an instance in `RunState.steps`; undefined for an unknown id. */
export function stepIndex(graph: RunGraph, instanceId: string): number | undefined {
  return graph.index.get(instanceId);
}

// The step graph: nodes are steps, edges point from a step to the steps it needs. Everything
// here is iterative (no recursion), linear in nodes + edges, and works on index arrays, so a
// pipeline of 10,000 steps or a step with 1,000 needs costs milliseconds, not a stack overflow.
import type { Matrix } from "../spec/schema";
import { PIPELINE_LIMITS } from "../spec/schema";
import { expandMatrix, type MatrixCombination, matrixInstanceId } from "./matrix";

export interface DagInput {
  readonly id: string;
  readonly needs: readonly string[];
}

/**
 * Compressed adjacency: the needs of node i are `needTargets[needStart[i] .. needStart[i + 1])`,
 * its dependents likewise in `dependentTargets`. Duplicate needs are stored once.
 */
export interface Dag {
  readonly ids: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly needStart: Int32Array;
  readonly needTargets: Int32Array;
  readonly dependentStart: Int32Array;
  readonly dependentTargets: Int32Array;
}

export interface UnknownNeed {
  node: number;
  needIndex: number;
  need: string;
}

export interface DuplicateId {
  id: string;
  first: number;
  duplicate: number;
}

export interface BuildDagResult {
  dag: Dag;
  unknownNeeds: UnknownNeed[];
  duplicateIds: DuplicateId[];
}

/**
 * Builds the graph. A duplicate id keeps its first node (the duplicate becomes an isolated node
 * that nothing can need); unknown needs are reported and left out.
 */
export function buildDag(nodes: readonly DagInput[]): BuildDagResult {
  const count = nodes.length;
  const index = new Map<string, number>();
  const duplicateIds: DuplicateId[] = [];
  const ids: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const id = (nodes[i] as DagInput).id;
    ids[i] = id;
    const first = index.get(id);
    if (first === undefined) index.set(id, i);
    else duplicateIds.push({ id, first, duplicate: i });
  }

  const unknownNeeds: UnknownNeed[] = [];
  const needStart = new Int32Array(count + 1);
  const targets: number[] = [];
  const stamp = new Int32Array(count).fill(-1);
  for (let i = 0; i < count; i++) {
    needStart[i] = targets.length;
    const needs = (nodes[i] as DagInput).needs;
    for (let j = 0; j < needs.length; j++) {
      const need = needs[j] as string;
      const target = index.get(need);
      if (target === undefined) {
        unknownNeeds.push({ node: i, needIndex: j, need });
        continue;
      }
      if (stamp[target] === i) continue;
      stamp[target] = i;
      targets.push(target);
    }
  }
  needStart[count] = targets.length;
  const needTargets = Int32Array.from(targets);

  const dependentStart = new Int32Array(count + 1);
  for (const target of needTargets) (dependentStart[target + 1] as number)++;
  for (let i = 0; i < count; i++) dependentStart[i + 1] = (dependentStart[i + 1] ?? 0) + (dependentStart[i] ?? 0);
  const fill = dependentStart.slice(0, count);
  const dependentTargets = new Int32Array(needTargets.length);
  for (let i = 0; i < count; i++) {
    for (let e = needStart[i] ?? 0; e < (needStart[i + 1] ?? 0); e++) {
      const target = needTargets[e] as number;
      dependentTargets[fill[target] as number] = i;
      (fill[target] as number)++;
    }
  }

  return {
    dag: { ids, index, needStart, needTargets, dependentStart, dependentTargets },
    unknownNeeds,
    duplicateIds,
  };
}

/** Convenience for callers that know their input is valid. */
export function createDag(nodes: readonly DagInput[]): Dag {
  return buildDag(nodes).dag;
}

export function needsOf(dag: Dag, node: number): Int32Array {
  return dag.needTargets.subarray(dag.needStart[node], dag.needStart[node + 1]);
}

export function dependentsOf(dag: Dag, node: number): Int32Array {
  return dag.dependentTargets.subarray(dag.dependentStart[node], dag.dependentStart[node + 1]);
}

export interface TopologicalOrder {
  /** Node indexes, every node after all it needs; nodes on or behind a cycle are missing. */
  order: number[];
  /** `rank[node]` is the node's position in `order`, -1 when it is missing. */
  rank: Int32Array;
  complete: boolean;
}

/**
 * Kahn's algorithm. Among steps that are ready at the same time the document order is kept,
 * so the order is deterministic and reads like the file.
 */
export function topologicalOrder(dag: Dag): TopologicalOrder {
  const count = dag.ids.length;
  const pending = new Int32Array(count);
  for (let i = 0; i < count; i++) pending[i] = (dag.needStart[i + 1] ?? 0) - (dag.needStart[i] ?? 0);
  const order: number[] = [];
  for (let i = 0; i < count; i++) if (pending[i] === 0) order.push(i);
  for (let head = 0; head < order.length; head++) {
    const node = order[head] as number;
    for (let e = dag.dependentStart[node] ?? 0; e < (dag.dependentStart[node + 1] ?? 0); e++) {
      const dependent = dag.dependentTargets[e] as number;
      pending[dependent] = (pending[dependent] ?? 0) - 1;
      if (pending[dependent] === 0) order.push(dependent);
    }
  }
  const rank = new Int32Array(count).fill(-1);
  for (let i = 0; i < order.length; i++) rank[order[i] as number] = i;
  return { order, rank, complete: order.length === count };
}

/**
 * One cycle per strongly connected component that has one (Tarjan, iterative). Each cycle is
 * a list of node indexes `[a, b, c]` meaning a needs b, b needs c, c needs a; it starts at the
 * component's first node in document order.
 */
export function findCycles(dag: Dag): number[][] {
  const count = dag.ids.length;
  const indexOf = new Int32Array(count).fill(-1);
  const low = new Int32Array(count);
  const onStack = new Uint8Array(count);
  const component = new Int32Array(count).fill(-1);
  const stack: number[] = [];
  const callNode: number[] = [];
  const callEdge: number[] = [];
  let counter = 0;
  let components = 0;
  const cyclic: number[] = [];

  for (let root = 0; root < count; root++) {
    if (indexOf[root] !== -1) continue;
    callNode.push(root);
    callEdge.push(dag.needStart[root] ?? 0);
    indexOf[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (callNode.length > 0) {
      const depth = callNode.length - 1;
      const node = callNode[depth] as number;
      const edge = callEdge[depth] as number;
      if (edge < (dag.needStart[node + 1] ?? 0)) {
        callEdge[depth] = edge + 1;
        const next = dag.needTargets[edge] as number;
        if (indexOf[next] === -1) {
          indexOf[next] = low[next] = counter++;
          stack.push(next);
          onStack[next] = 1;
          callNode.push(next);
          callEdge.push(dag.needStart[next] ?? 0);
        } else if (onStack[next]) {
          low[node] = Math.min(low[node] ?? 0, indexOf[next] ?? 0);
        }
        continue;
      }
      callNode.pop();
      callEdge.pop();
      if (callNode.length > 0) {
        const parent = callNode[callNode.length - 1] as number;
        low[parent] = Math.min(low[parent] ?? 0, low[node] ?? 0);
      }
      if (low[node] !== indexOf[node]) continue;
      const id = components++;
      let size = 0;
      let member: number;
      do {
        member = stack.pop() as number;
        onStack[member] = 0;
        component[member] = id;
        size++;
      } while (member !== node);
      const selfLoop = needsOf(dag, node).includes(node);
      if (size > 1 || selfLoop) cyclic.push(id);
    }
  }

  const cycles: number[][] = [];
  for (const id of cyclic) {
    let start = -1;
    for (let i = 0; i < count; i++) {
      if (component[i] === id) {
        start = i;
        break;
      }
    }
    cycles.push(shortestCycleThrough(dag, start, component, id));
  }
  cycles.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
  return cycles;
}

/** Breadth-first from `start` along needs inside its component, back to `start`. */
function shortestCycleThrough(dag: Dag, start: number, component: Int32Array, id: number): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] as number;
    for (const next of needsOf(dag, node)) {
      if (component[next] !== id) continue;
      if (next === start) {
        const path = [node];
        let current = node;
        while (current !== start) {
          current = parent.get(current) as number;
          path.push(current);
        }
        return path.reverse();
      }
      if (parent.has(next)) continue;
      parent.set(next, node);
      queue.push(next);
    }
  }
  return [start];
}

/**
 * Answers "does step a need step b, directly or transitively?" quickly and without allocating
 * per question: a breadth-first walk up from `a` that skips every node ranked before `b` in the
 * topological order (none of those can reach `b`).
 */
export function createAncestry(dag: Dag, rank: Int32Array) {
  const count = dag.ids.length;
  const seen = new Int32Array(count);
  const queue = new Int32Array(count);
  let generation = 0;
  return function isAncestor(ancestor: number, node: number): boolean {
    if (ancestor === node) return false;
    // Steps on or behind a cycle have no rank: walk them without pruning.
    const ranked = (rank[ancestor] ?? -1) !== -1 && (rank[node] ?? -1) !== -1;
    const target = ranked ? (rank[ancestor] as number) : -1;
    if (ranked && (rank[node] as number) <= target) return false;
    generation++;
    let tail = 0;
    queue[tail++] = node;
    seen[node] = generation;
    for (let head = 0; head < tail; head++) {
      const current = queue[head] as number;
      for (let e = dag.needStart[current] ?? 0; e < (dag.needStart[current + 1] ?? 0); e++) {
        const next = dag.needTargets[e] as number;
        if (next === ancestor) return true;
        if (seen[next] === generation || (ranked && (rank[next] ?? -1) <= target)) continue;
        seen[next] = generation;
        queue[tail++] = next;
      }
    }
    return false;
  };
}

function walk(dag: Dag, roots: readonly number[], start: Int32Array, targets: Int32Array): Uint8Array {
  const marked = new Uint8Array(dag.ids.length);
  const queue: number[] = [];
  for (const root of roots) {
    if (marked[root]) continue;
    marked[root] = 1;
    queue.push(root);
  }
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] as number;
    for (let e = start[node] ?? 0; e < (start[node + 1] ?? 0); e++) {
      const next = targets[e] as number;
      if (marked[next]) continue;
      marked[next] = 1;
      queue.push(next);
    }
  }
  return marked;
}

function resolve(dag: Dag, ids: string | readonly string[]): number[] {
  const list = typeof ids === "string" ? [ids] : ids;
  return list.map((id) => {
    const node = dag.index.get(id);
    if (node === undefined) throw new Error(`unknown step "${id}"`);
    return node;
  });
}

/** Every step the given steps need, directly or transitively (not the steps themselves). */
export function upstreamOf(dag: Dag, ids: string | readonly string[]): string[] {
  const roots = resolve(dag, ids);
  const marked = walk(dag, roots, dag.needStart, dag.needTargets);
  for (const root of roots) marked[root] = 0;
  return dag.ids.filter((_, i) => marked[i] === 1);
}

/**
 * What a re-run from these steps has to run again: the steps themselves and everything that
 * needs them, directly or transitively, in topological order.
 */
export function downstreamOf(dag: Dag, ids: string | readonly string[]): string[] {
  const marked = walk(dag, resolve(dag, ids), dag.dependentStart, dag.dependentTargets);
  const { order } = topologicalOrder(dag);
  return order.filter((node) => marked[node] === 1).map((node) => dag.ids[node] as string);
}

export interface InstanceInput extends DagInput {
  readonly matrix?: Matrix;
}

/** One concrete unit of work of a run: a step, or one combination of a matrix step. */
export interface StepInstance {
  /** `build`, or `test[node=20,os=linux]` for a matrix combination. */
  id: string;
  stepId: string;
  matrix?: MatrixCombination;
  /**
   * Step ids (not instance ids): an instance waits until every instance of each needed step is
   * done. Keeping the fan-in at step level keeps a 1,024-way matrix feeding another 1,024-way
   * matrix at 2,048 instances and 1 edge instead of a million edges.
   */
  needs: readonly string[];
}

/**
 * Expands matrices into instances, steps in topological order. Throws when a matrix is beyond
 * the limits or the graph is cyclic: validate the pipeline first.
 */
export function expandInstances(steps: readonly InstanceInput[]): StepInstance[] {
  const { dag } = buildDag(steps);
  const { order, complete } = topologicalOrder(dag);
  if (!complete) throw new Error("the step graph has a cycle");
  const instances: StepInstance[] = [];
  for (const node of order) {
    const step = steps[node] as InstanceInput;
    if (step.matrix === undefined) {
      instances.push({ id: step.id, stepId: step.id, needs: step.needs });
    } else {
      const expansion = expandMatrix(step.matrix);
      if (!expansion.ok) throw new Error(`the matrix of step "${step.id}" is too large`);
      for (const combination of expansion.combinations) {
        instances.push({
          id: matrixInstanceId(step.id, combination),
          stepId: step.id,
          matrix: combination,
          needs: step.needs,
        });
      }
    }
    if (instances.length > PIPELINE_LIMITS.maxRunInstances) {
      throw new Error(`a run may have at most ${PIPELINE_LIMITS.maxRunInstances} step instances`);
    }
  }
  return instances;
}

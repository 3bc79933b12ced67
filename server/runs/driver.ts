import "server-only";
import { type CompileOptions, compileRunGraph, type RunGraph } from "@/pipelines/engine/graph";
import { reduce, resume } from "@/pipelines/engine/machine";
import type { Command, RunEventInput, RunState, StepState, Transition } from "@/pipelines/engine/types";
import type { Pipeline } from "@/pipelines/spec/schema";
import type { Database, RawTx } from "@/server/db";
import { AppError } from "@/server/http/errors";
import { getLogger } from "@/server/observability/logger";
import { singleton } from "@/server/observability/singleton";
import { observeTransition } from "./metrics";
import {
  GATE_QUEUE,
  type GateJobData,
  type RunQueue,
  STEP_QUEUE,
  type StepJobData,
  TIMER_QUEUE,
  type TimerJobData,
} from "./queue";
import {
  findProjectCaps,
  findRunVersion,
  findSpecOfVersion,
  type JobRow,
  loadRunState,
  lockRun,
  type RunHeadRow,
  type TransitionWrite,
  writeTransition,
  writeTransitionIfAt,
} from "./repo";

// Applies events to runs: one transaction per batch of events of one run, under the run row's
// lock. The engine (pipelines/engine) is pure; this is where its transitions become durable:
// the run row and the changed step rows are written, and the commands' jobs are inserted, in
// the same transaction; everything else (waking executors, killing processes, live updates)
// happens after commit.

const log = getLogger("runs.driver");

/** Where a run lives; what its effects need after commit. */
export interface RunScope {
  runId: string;
  organizationId: string;
  projectId: string;
  pipelineId: string;
  pipelineVersionId: string;
  number: number;
  startedById: string | null;
}

export interface Committed {
  scope: RunScope;
  graph: RunGraph;
  previous: RunState;
  state: RunState;
  commands: readonly Command[];
  /** Changed instances, by index. */
  changed: readonly number[];
}

export type AfterCommit = (committed: Committed) => void;

interface Cached {
  scope: RunScope;
  graph: RunGraph;
  state: RunState;
}

interface Waiter {
  /** Computes one transition from the run's current state. */
  step(graph: RunGraph, state: RunState): Transition;
  resolve(transition: Transition): void;
  reject(error: unknown): void;
}

/** A small LRU on a Map's insertion order. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
  delete(key: K): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
}

const MAX_EVENTS_PER_TRANSACTION = 1_000;

// Compiled graphs of pipeline versions, shared by everything in the process (a version never
// changes, so entries never go stale; the LRU bounds memory).
const graphs = singleton("runs.graphs", () => new Lru<string, RunGraph>(200));

/** The run graph of a pipeline version, compiled once, under a project's step cap. */
export async function compiledGraph(
  db: Pick<RawTx, "query">,
  versionId: string,
  maxRunning: number | null,
): Promise<RunGraph> {
  const key = `${versionId}:${maxRunning ?? ""}`;
  const cached = graphs.get(key);
  if (cached) return cached;
  const spec = await findSpecOfVersion(db, versionId);
  if (spec === null) throw AppError.notFound("The pipeline version");
  const options: CompileOptions = maxRunning === null ? {} : { maxRunning };
  let graph: RunGraph;
  try {
    graph = compileRunGraph(spec as Pipeline, options);
  } catch (error) {
    throw new AppError("INVALID_STATE", `This pipeline version can no longer run: ${(error as Error).message}`);
  }
  graphs.set(key, graph);
  return graph;
}

export function scopeOf(head: RunHeadRow): RunScope {
  return {
    runId: head.id,
    organizationId: head.organization_id,
    projectId: head.project_id,
    pipelineId: head.pipeline_id,
    pipelineVersionId: head.pipeline_version_id,
    number: head.number,
    startedById: head.started_by_id,
  };
}

interface Outcome {
  base: Cached;
  state: RunState;
  transitions: Transition[];
  commands: Command[];
  /** Changed instances, by index, ascending. */
  changed: number[];
}

function computeOutcome(base: Cached, compute: (state: RunState, graph: RunGraph) => Transition[]): Outcome {
  const transitions = compute(base.state, base.graph);
  const state = transitions.at(-1)?.state ?? base.state;
  const changedIds = new Set<string>();
  const commands: Command[] = [];
  for (const transition of transitions) {
    if (transition.ignored !== null) continue;
    for (const id of transition.changed) changedIds.add(id);
    commands.push(...transition.commands);
  }
  const changed: number[] = [];
  for (const id of changedIds) {
    const idx = base.graph.index.get(id);
    if (idx !== undefined) changed.push(idx);
  }
  changed.sort((a, b) => a - b);
  return { base, state, transitions, commands, changed };
}

/**
 * What a transition writes besides the run and its steps: a job per command that must survive
 * a crash (start a step, fire a timer, sample a gate), a wake-up for the executors of every
 * replica, kill signals, and the rendered message of a step that starts waiting for people.
 */
export function buildWrite(
  base: { scope: RunScope; graph: RunGraph },
  outcome: { state: RunState; changed: readonly number[]; commands: readonly Command[] },
  admitted?: boolean,
): TransitionWrite {
  const { state, commands } = outcome;
  const notices = new Map<number, string | null>();
  const jobs: JobRow[] = [];
  const signals: string[] = [];
  let wake = false;
  for (const command of commands) {
    if (command.type === "start-step") {
      const idx = base.graph.index.get(command.instance);
      if (idx === undefined) continue;
      jobs.push({
        name: STEP_QUEUE,
        data: { runId: base.scope.runId, idx, command } satisfies StepJobData,
        singletonKey: command.key,
        startAfter: null,
      });
      wake = true;
    } else if (command.type === "schedule-timer") {
      jobs.push({
        name: TIMER_QUEUE,
        data: { command } satisfies TimerJobData,
        singletonKey: command.key,
        startAfter: new Date(command.at).toISOString(),
      });
    } else if (command.type === "evaluate-gate") {
      jobs.push({
        name: GATE_QUEUE,
        data: { command } satisfies GateJobData,
        singletonKey: command.key,
        startAfter: null,
      });
    } else if (command.type === "kill-step") {
      signals.push(`kill:${command.key}`);
    } else if (command.type === "notify" && command.kind !== "approval-decided") {
      const idx = base.graph.index.get(command.instance);
      if (idx !== undefined) notices.set(idx, command.message);
    }
  }
  if (wake) signals.push("steps");
  const indices = [...new Set([...outcome.changed, ...notices.keys()])].sort((a, b) => a - b);
  return {
    state,
    changed: indices.map((idx) => ({
      idx,
      step: state.steps[idx] as StepState,
      ...(notices.has(idx) ? { notice: notices.get(idx) ?? null } : {}),
    })),
    jobs,
    signals,
    ...(admitted === undefined ? {} : { admitted }),
  };
}

export class RunDriver {
  /** The last committed state of recently active runs: the engine continues from it cheaply. */
  private readonly runs = new Lru<string, Cached>(1_000);
  private readonly queues = new Map<string, Waiter[]>();

  constructor(
    private readonly db: Database,
    private readonly queue: RunQueue,
    private readonly afterCommit: AfterCommit,
    /** Told the wall time of every committed transaction (benchmarks). */
    private readonly onTransition?: (ms: number, events: number) => void,
  ) {}

  /** The compiled graph of a pipeline version under a project step cap (cached). */
  graphOf(versionId: string, maxRunning: number | null, tx?: Pick<RawTx, "query">): Promise<RunGraph> {
    return compiledGraph(tx ?? this.db, versionId, maxRunning);
  }

  /** Applies one event; events for the same run queue up and share transactions. */
  apply(runId: string, event: RunEventInput): Promise<Transition> {
    return this.enqueue(runId, (graph, state) => reduce(graph, state, event));
  }

  /** Applies several events of one run in order. */
  applyAll(runId: string, events: readonly RunEventInput[]): Promise<Transition[]> {
    return Promise.all(events.map((event) => this.apply(runId, event)));
  }

  /**
   * After a crash of whatever carries out commands: re-issues what a run may be waiting for
   * (start-steps not yet started, pending timers, gate samples), with their original keys.
   */
  resume(runId: string): Promise<Transition> {
    return this.enqueue(runId, (graph, state) => resume(graph, state, Date.now()));
  }

  private enqueue(runId: string, step: Waiter["step"]): Promise<Transition> {
    return new Promise((resolve, reject) => {
      const waiter = { step, resolve, reject };
      const waiting = this.queues.get(runId);
      if (waiting) {
        waiting.push(waiter);
        return;
      }
      this.queues.set(runId, [waiter]);
      void this.drain(runId);
    });
  }

  private async drain(runId: string): Promise<void> {
    const waiting = this.queues.get(runId);
    while (waiting && waiting.length > 0) {
      const batch = waiting.splice(0, MAX_EVENTS_PER_TRANSACTION);
      try {
        const transitions = await this.transact(runId, (state, graph) => {
          const results: Transition[] = [];
          let current = state;
          for (const waiter of batch) {
            const transition = waiter.step(graph, current);
            results.push(transition);
            current = transition.state;
          }
          return results;
        });
        for (let k = 0; k < batch.length; k++) (batch[k] as Waiter).resolve(transitions[k] as Transition);
      } catch (error) {
        // The cached state may be behind what failed to commit; it is only replaced on commit,
        // but a failure in the middle (connection lost at COMMIT) leaves us unsure: reload.
        this.runs.delete(runId);
        for (const waiter of batch) waiter.reject(error);
      }
    }
    this.queues.delete(runId);
  }

  /**
   * Computes and writes one batch. Fast path: from the cached state, written in one statement
   * that applies only if the run is still at that version. Otherwise (no cached state, or the
   * run moved on in another process): lock the row, load, compute, write, in a transaction.
   */
  private async transact(
    runId: string,
    compute: (state: RunState, graph: RunGraph) => Transition[],
  ): Promise<Transition[]> {
    const started = performance.now();
    const cached = this.runs.get(runId);
    const outcome =
      (cached ? await this.transactOptimistic(runId, cached, compute) : null) ??
      (await this.transactLocked(runId, compute));
    const elapsedMs = performance.now() - started;
    observeTransition(elapsedMs / 1_000, outcome.transitions.length);
    const { base, state, commands, changed } = outcome;
    this.runs.set(runId, { ...base, state });
    if (state !== base.state || commands.length > 0) {
      this.onTransition?.(elapsedMs, outcome.transitions.length);
      try {
        this.afterCommit({ scope: base.scope, graph: base.graph, previous: base.state, state, commands, changed });
      } catch (error) {
        log.error({ err: error, runId }, "after-commit effects failed");
      }
    }
    return outcome.transitions;
  }

  private async transactOptimistic(
    runId: string,
    base: Cached,
    compute: (state: RunState, graph: RunGraph) => Transition[],
  ): Promise<Outcome | null> {
    const outcome = computeOutcome(base, compute);
    if (outcome.state.version === base.state.version) {
      // Nothing to write; a re-issue of commands (resume) takes the locked path. An event the
      // cached state ignores may be one whose cause this process has not seen: check.
      if (outcome.commands.length > 0) return null;
      const version = await findRunVersion(this.db, runId);
      if (version === null) throw AppError.notFound("The run");
      return version === base.state.version ? outcome : null;
    }
    const applied = await writeTransitionIfAt(this.db, buildWrite(base, outcome), base.state.version);
    if (!applied) {
      this.runs.delete(runId);
      return null;
    }
    return outcome;
  }

  private async transactLocked(
    runId: string,
    compute: (state: RunState, graph: RunGraph) => Transition[],
  ): Promise<Outcome> {
    return this.db.transaction(async (tx) => {
      const head = await lockRun(tx, runId);
      if (!head) throw AppError.notFound("The run");
      const cached = this.runs.get(runId);
      let base: Cached;
      if (cached && cached.state.version === head.version) {
        base = cached;
      } else {
        const state = await loadRunState(tx, runId);
        if (!state) throw AppError.notFound("The run");
        const caps = await findProjectCaps(tx, head.project_id);
        const graph = await this.graphOf(head.pipeline_version_id, caps?.max_running_steps ?? null, tx);
        base = { scope: scopeOf(head), graph, state };
      }
      const outcome = computeOutcome(base, compute);
      if (outcome.state.version !== base.state.version || outcome.commands.length > 0) {
        await writeTransition(tx, buildWrite(base, outcome), outcome.state.version !== base.state.version);
      }
      return outcome;
    });
  }

  /** Remembers a state committed outside apply() (a new run) so the next event starts from it. */
  remember(scope: RunScope, graph: RunGraph, state: RunState): void {
    this.runs.set(scope.runId, { scope, graph, state });
  }

  /** The index of an instance in a run whose graph this process has (undefined otherwise). */
  indexOf(runId: string, instance: string): number | undefined {
    return this.runs.get(runId)?.graph.index.get(instance);
  }

  forget(runId: string): void {
    this.runs.delete(runId);
  }

  clear(): void {
    this.runs.clear();
  }
}

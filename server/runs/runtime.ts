import "server-only";
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type { RunGraph } from "@/pipelines/engine/graph";
import { reduce } from "@/pipelines/engine/machine";
import type { Command, RunEventInput, RunState, StepState } from "@/pipelines/engine/types";
import type { Database } from "@/server/db";
import { AppError } from "@/server/http/errors";
import { getLogger } from "@/server/observability/logger";
import { singleton } from "@/server/observability/singleton";
import { getRealtime, organizationRoom } from "@/server/realtime/socket-server";
import { resolveProjectSecrets } from "@/server/secrets/service";
import { buildWrite, type Committed, RunDriver } from "./driver";
import { deleteExpiredArtifacts } from "./executor/artifacts";
import { ExecutorHost, type RunInfo } from "./executor/executor-host";
import { killOrphan } from "./executor/local-process";
import { sampleGate } from "./gates";
import { countRunFinished, countStepLost } from "./metrics";
import { GATE_QUEUE, type GateJobData, RunQueue, TIMER_QUEUE, type TimerJobData } from "./queue";
import {
  countAdmittedActive,
  deleteExpiredLogs,
  insertRun,
  listAdmissionWork,
  listAdmittedActiveRunIds,
  listExecutors,
  listQueuedRuns,
  listStrandedRunIds,
  lockAdmission,
  removeExecutor,
  setAdmitted,
  writeTransition,
} from "./repo";
import type { LogLinesEvent, RunUpdatedEvent, StepPatch } from "./schema";

// The runs machinery of one process: the job queue, the driver that applies events, this
// process's executor, local timers, the reconciler that recovers from crashes, and the live
// events. Started once at boot (server/app-server) and by tests; stopped at shutdown.

const log = getLogger("runs");

export interface RunsRuntimeOptions {
  db: Database;
  dataDir: string;
  executorConcurrency: number;
  leaseSeconds: number;
  maxLogBytes: number;
  logRetentionDays: number;
  prometheusUrl?: string;
  /** How long running steps may take to finish at shutdown before they are killed. */
  stopGraceMs?: number;
  /** Reconcile every this many ms (tests shorten it). */
  reconcileIntervalMs?: number;
  /** Told the wall time of every committed transition (benchmarks). */
  onTransition?: (ms: number, events: number) => void;
  /** Work the reconciler also does, every few seconds (schedule triggers). */
  periodic?: readonly (() => Promise<void>)[];
}

/** Timers due within this window are also armed in process, for precision. */
const LOCAL_TIMER_WINDOW_MS = 10 * 60_000;
const TIMER_POLL_MS = 1_000;
const STRANDED_AFTER_MS = 5 * 60_000;
const RETENTION_EVERY_MS = 60 * 60_000;
const PERIODIC_EVERY_MS = 10_000;

export interface NewRunInput {
  organizationId: string;
  projectId: string;
  pipelineId: string;
  pipelineVersionId: string;
  trigger: string;
  startedById: string | null;
  /** The author as the engine knows people (their e-mail). */
  startedBy: string | null;
  graph: RunGraph;
  /** createRun()'s state: every step queued. */
  state: RunState;
  projectMaxActiveRuns: number | null;
}

function waitsForPeople(step: StepState | undefined): boolean {
  return step?.status === "waiting" && (step.waitingFor === "approval" || step.waitingFor === "manual");
}

function waitsForPeopleChanged(before: StepState | undefined, after: StepState | undefined): boolean {
  if (waitsForPeople(before) !== waitsForPeople(after)) return true;
  return waitsForPeople(after) && before?.approvals.length !== after?.approvals.length;
}

export function runRoom(runId: string): string {
  return `run:${runId}`;
}

export function logRoom(runId: string, idx: number, attempt: number): string {
  return `log:${runId}:${idx}:${attempt}`;
}

// Log subscriptions of this process (realtime.ts) get the lines published here from their
// subscription rather than from the room: it sends them after the stored lines it read, in
// order and each once, where a room broadcast could overtake the stored lines or repeat them
// (a chunk may be visible to the subscription's read before the write that stored it returns
// and publishes it). Their sockets are in this process's own room of the log, which the lines
// published here skip, and in the log's room for the lines other replicas publish.
const PROCESS_ROOM_SUFFIX = randomUUID();
const logFollowers = new Map<string, Set<(event: LogLinesEvent) => void>>();

/** The room of a log's subscriptions that this process serves itself. */
export function ownLogRoom(room: string): string {
  return `${room}:${PROCESS_ROOM_SUFFIX}`;
}

/** Hands every batch of lines published here for the log to `deliver`, until the returned function is called. */
export function followLog(room: string, deliver: (event: LogLinesEvent) => void): () => void {
  let followers = logFollowers.get(room);
  if (!followers) {
    followers = new Set();
    logFollowers.set(room, followers);
  }
  followers.add(deliver);
  return () => {
    followers.delete(deliver);
    if (followers.size === 0 && logFollowers.get(room) === followers) logFollowers.delete(room);
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function stepPatch(step: StepState): StepPatch {
  return {
    id: step.id,
    status: step.status,
    attempt: step.attempt,
    waitingFor: step.status === "waiting" ? step.waitingFor : null,
    reason: step.reason,
    exitCode: step.exitCode,
    startedAt: iso(step.startedAt),
    finishedAt: iso(step.finishedAt),
  };
}

export class RunsRuntime {
  readonly queue: RunQueue;
  readonly driver: RunDriver;
  readonly executor: ExecutorHost;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly infos = new Map<string, RunInfo>();
  private timerLoop: NodeJS.Timeout | undefined;
  private reconcileLoop: NodeJS.Timeout | undefined;
  private polling = false;
  private reconciling: Promise<void> | undefined;
  private lastStrandedCheck = 0;
  private lastRetention = 0;
  private lastPeriodic = 0;
  private unlisten: (() => Promise<void>) | undefined;
  private stopped = false;

  constructor(readonly options: RunsRuntimeOptions) {
    this.queue = new RunQueue(options.db);
    this.driver = new RunDriver(
      options.db,
      this.queue,
      (committed) => this.afterCommit(committed),
      options.onTransition,
    );
    this.executor = new ExecutorHost({
      db: options.db,
      queue: this.queue,
      driver: this.driver,
      concurrency: options.executorConcurrency,
      leaseSeconds: options.leaseSeconds,
      dataDir: options.dataDir,
      maxLogBytes: options.maxLogBytes,
      publishLog: (event) => this.publishLog(event),
      runInfo: (runId) => this.runInfo(runId),
      resolveSecrets: resolveProjectSecrets,
    });
  }

  get db(): Database {
    return this.options.db;
  }

  async start(): Promise<void> {
    await this.queue.start();
    this.unlisten = await this.options.db.listen(
      "microstack_runs",
      (payload) => {
        if (payload === "steps") this.executor.wake();
        else if (payload.startsWith("kill:")) this.executor.kill(payload.slice("kill:".length));
      },
      () => this.executor.wake(),
    );
    await this.executor.start();
    this.timerLoop = setInterval(() => void this.pollQueues(), TIMER_POLL_MS);
    this.timerLoop.unref();
    const every = this.options.reconcileIntervalMs ?? Math.max(1_000, (this.options.leaseSeconds * 1000) / 3);
    this.reconcileLoop = setInterval(() => void this.reconcile(), every);
    this.reconcileLoop.unref();
    // At once: a restart after a crash recovers its own runs without waiting a period.
    await this.reconcile();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timerLoop) clearInterval(this.timerLoop);
    if (this.reconcileLoop) clearInterval(this.reconcileLoop);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.reconciling?.catch(() => {});
    await this.executor.stop(this.options.stopGraceMs ?? 1_000);
    await this.unlisten?.().catch(() => {});
    await this.queue.stop();
  }

  /** Applies an event to a run (controls, timers, executors all come through here). */
  apply(runId: string, event: RunEventInput) {
    return this.driver.apply(runId, event);
  }

  // ---- After commit ----

  private afterCommit({ scope, state, previous, commands, changed }: Committed): void {
    let wakeExecutor = false;
    const cancelled: string[] = [];
    for (const command of commands) {
      switch (command.type) {
        case "start-step":
          wakeExecutor = true;
          break;
        case "kill-step":
          this.executor.kill(command.key);
          break;
        case "schedule-timer":
          this.armTimer(command.key, command.at, () =>
            this.fireTimer({
              runId: command.runId,
              kind: command.kind,
              instance: command.instance,
              attempt: command.attempt,
            }),
          );
          break;
        case "cancel-timer":
          this.disarmTimer(command.key);
          cancelled.push(command.key);
          break;
        case "evaluate-gate":
          // Sampled by whichever replica polls the gate queue first (usually this one, now).
          setImmediate(() => void this.pollGates());
          break;
        case "notify":
          break; // the inbox signal below covers every change of what waits for people
        case "run-finished": {
          const seconds = state.startedAt !== null ? (command.at - state.startedAt) / 1_000 : null;
          countRunFinished(command.status, seconds);
          this.infos.delete(scope.runId);
          // A slot is free: admit what waits in the project.
          void this.admitQueued(scope.projectId).catch((error: unknown) =>
            log.warn({ err: error, projectId: scope.projectId }, "admitting queued runs failed"),
          );
          break;
        }
      }
    }
    if (wakeExecutor) this.executor.wake();
    const io = getRealtime();
    if (io) {
      const room = io.to(organizationRoom(scope.organizationId));
      // Inboxes refetch when a step starts or stops waiting for people, or gets an approval.
      if (changed.some((idx) => waitsForPeopleChanged(previous.steps[idx], state.steps[idx]))) {
        room.emit("approvals:changed", { organizationId: scope.organizationId });
      }
      // Run lists refetch when a run of the project changes status.
      if (state.status !== previous.status || previous.version === 0) {
        room.emit("runs:changed", { organizationId: scope.organizationId, projectId: scope.projectId });
      }
    }
    if (cancelled.length > 0) void this.queue.cancelTimers(cancelled).catch(() => {});
    if (state.version !== previous.version) this.publishRun(scope.runId, state, changed);
  }

  private publishRun(runId: string, state: Committed["state"], changed: readonly number[]): void {
    const io = getRealtime();
    if (!io) return;
    const event: RunUpdatedEvent = {
      runId,
      status: state.status,
      phase: state.phase,
      runAttempt: state.runAttempt,
      version: state.version,
      finishedAt: state.phase === "done" ? iso(state.finishedAt) : null,
      steps: changed.map((idx) => stepPatch(state.steps[idx] as StepState)),
    };
    io.to(runRoom(runId)).emit("run:updated", event);
  }

  private publishLog(event: LogLinesEvent): void {
    const io = getRealtime();
    if (!io) return;
    const idx = this.driver.indexOf(event.runId, event.step);
    if (idx === undefined) return;
    const room = logRoom(event.runId, idx, event.attempt);
    for (const deliver of logFollowers.get(room) ?? []) deliver(event);
    io.to(room).except(ownLogRoom(room)).emit("log:lines", event);
  }

  private async runInfo(runId: string): Promise<RunInfo | null> {
    const cached = this.infos.get(runId);
    if (cached) return cached;
    const [row] = await this.options.db.query<{
      number: number;
      project_id: string;
      project_slug: string;
      organization_slug: string;
      pipeline_slug: string;
    }>(
      `SELECT r.number, r.project_id, p.slug AS project_slug, o.slug AS organization_slug, pl.slug AS pipeline_slug
       FROM runs r JOIN projects p ON p.id = r.project_id JOIN organizations o ON o.id = r.organization_id
       JOIN pipelines pl ON pl.id = r.pipeline_id WHERE r.id = $1`,
      [runId],
    );
    if (!row) return null;
    const info: RunInfo = {
      runId,
      number: row.number,
      projectId: row.project_id,
      projectSlug: row.project_slug,
      organizationSlug: row.organization_slug,
      pipelineSlug: row.pipeline_slug,
    };
    if (this.infos.size > 5_000) this.infos.clear();
    this.infos.set(runId, info);
    return info;
  }

  // ---- Timers and gates ----

  private armTimer(key: string, at: number, fire: () => Promise<void>): void {
    const delay = at - Date.now();
    if (delay > LOCAL_TIMER_WINDOW_MS || this.stopped) return;
    this.disarmTimer(key);
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        void fire()
          .then(() => this.queue.cancelTimers([key]))
          .catch((error: unknown) => log.warn({ err: error, key }, "timer failed; the queued copy fires it"));
      },
      Math.max(0, delay),
    );
    timer.unref();
    this.timers.set(key, timer);
  }

  private disarmTimer(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }

  private async fireTimer(timer: {
    runId: string;
    kind: TimerJobData["command"]["kind"];
    instance: string | null;
    attempt: number;
  }): Promise<void> {
    await this.driver.apply(
      timer.runId,
      timer.instance === null
        ? { type: "timer.fired", kind: timer.kind, attempt: timer.attempt, at: Date.now() }
        : { type: "timer.fired", kind: timer.kind, instance: timer.instance, attempt: timer.attempt, at: Date.now() },
    );
  }

  /** Durable timers that came due, and gate samples asked for, from any replica. */
  private async pollQueues(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      for (;;) {
        const jobs = await this.queue.fetch<TimerJobData>(TIMER_QUEUE, 100);
        if (jobs.length === 0) break;
        await Promise.all(
          jobs.map(async (job) => {
            const { command } = job.data;
            this.disarmTimer(command.key);
            await this.fireTimer(command).catch((error: unknown) => {
              if ((error as { code?: string }).code !== "NOT_FOUND") throw error;
            });
          }),
        );
        await this.queue.complete(
          TIMER_QUEUE,
          jobs.map((job) => job.id),
        );
      }
      await this.pollGates();
    } catch (error) {
      log.warn({ err: error }, "timer queue poll failed");
    } finally {
      this.polling = false;
    }
  }

  private async pollGates(): Promise<void> {
    const jobs = await this.queue.fetch<GateJobData>(GATE_QUEUE, 20);
    await Promise.all(
      jobs.map(async (job) => {
        const { command } = job.data;
        const sample = await sampleGate(command.metrics, { prometheusUrl: this.options.prometheusUrl });
        await this.driver
          .apply(command.runId, {
            type: "gate.evaluated",
            instance: command.instance,
            attempt: command.attempt,
            poll: command.poll,
            metrics: sample.metrics,
            ...(sample.error ? { error: sample.error } : {}),
            at: Date.now(),
          })
          .catch((error: unknown) => {
            if ((error as { code?: string }).code !== "NOT_FOUND") throw error;
          });
        await this.queue.complete(GATE_QUEUE, [job.id]);
      }),
    );
  }

  // ---- New runs ----

  /**
   * Stores a new run with its steps and, when the caps allow, starts it in the same
   * transaction; otherwise it queues for a slot. With `cancel-in-progress` the pipeline's
   * active runs are cancelled once the new one is in.
   */
  async createRun(input: NewRunInput): Promise<{ number: number; state: RunState; admitted: boolean }> {
    const { graph } = input;
    const scopeBase = {
      runId: input.state.runId,
      organizationId: input.organizationId,
      projectId: input.projectId,
      pipelineId: input.pipelineId,
      pipelineVersionId: input.pipelineVersionId,
      startedById: input.startedById,
    };
    const cap = runCapOf(graph.pipeline.concurrency);
    const cancelInProgress =
      typeof graph.pipeline.concurrency === "object" && graph.pipeline.concurrency["cancel-in-progress"] === true;
    const outcome = await this.options.db.transaction(async (tx) => {
      const number = await insertRun(tx, {
        id: input.state.runId,
        organizationId: input.organizationId,
        projectId: input.projectId,
        pipelineId: input.pipelineId,
        pipelineVersionId: input.pipelineVersionId,
        trigger: input.trigger,
        startedById: input.startedById,
        params: input.state.params,
        state: input.state,
        steps: graph.instances.map((instance) => ({
          instance: instance.id,
          stepId: (graph.groups[instance.group] as { stepId: string }).stepId,
        })),
      });
      await lockAdmission(tx, input.projectId);
      const projectActive = await countAdmittedActive(tx, { projectId: input.projectId });
      const pipelineActive =
        cap === null ? 0 : await countAdmittedActive(tx, { projectId: input.projectId, pipelineId: input.pipelineId });
      const fitsProject = input.projectMaxActiveRuns === null || projectActive < input.projectMaxActiveRuns;
      const fitsPipeline = cap === null || pipelineActive < cap || cancelInProgress;
      const supersede = cancelInProgress ? await listAdmittedActiveRunIds(tx, input.pipelineId, input.state.runId) : [];
      if (!(fitsProject && fitsPipeline)) {
        return {
          number,
          state: input.state,
          admitted: false,
          commands: [] as Command[],
          changed: [] as number[],
          supersede,
        };
      }
      const started = reduce(graph, input.state, { type: "run.started", at: input.state.createdAt });
      const changed = started.changed.map((id) => graph.index.get(id) as number).sort((a, b) => a - b);
      const scope = { ...scopeBase, number };
      await writeTransition(
        tx,
        buildWrite({ scope, graph }, { state: started.state, changed, commands: started.commands }, true),
      );
      return { number, state: started.state, admitted: true, commands: started.commands, changed, supersede };
    });
    const scope = { ...scopeBase, number: outcome.number };
    this.driver.remember(scope, graph, outcome.state);
    if (!outcome.admitted) {
      getRealtime()
        ?.to(organizationRoom(input.organizationId))
        .emit("runs:changed", { organizationId: input.organizationId, projectId: input.projectId });
    }
    if (outcome.admitted) {
      this.afterCommit({
        scope,
        graph,
        previous: input.state,
        state: outcome.state,
        commands: outcome.commands,
        changed: outcome.changed,
      });
    }
    for (const runId of outcome.supersede) {
      await this.driver
        .apply(runId, {
          type: "control.cancel",
          by: input.startedBy ?? undefined,
          reason: `superseded by run #${outcome.number} (cancel-in-progress)`,
          at: Date.now(),
        })
        .catch((error: unknown) => log.warn({ err: error, runId }, "could not cancel a superseded run"));
    }
    return { number: outcome.number, state: outcome.state, admitted: outcome.admitted };
  }

  // ---- Admission ----

  /**
   * Admits a project's queued runs as far as the caps allow (the pipeline's `concurrency.runs`
   * and the project's max active runs), oldest first, then starts them.
   */
  async admitQueued(projectId: string): Promise<void> {
    const admitted = await this.options.db.transaction(async (tx) => {
      await lockAdmission(tx, projectId);
      const [caps] = await tx.query<{ max_active_runs: number | null }>(
        `SELECT max_active_runs FROM projects WHERE id = $1`,
        [projectId],
      );
      const queued = await listQueuedRuns(tx, projectId, 200);
      let projectActive = await countAdmittedActive(tx, { projectId });
      const pipelineActive = new Map<string, number>();
      const chosen: string[] = [];
      for (const run of queued) {
        if (caps?.max_active_runs != null && projectActive >= caps.max_active_runs) break;
        const graph = await this.driver.graphOf(run.pipeline_version_id, null, tx);
        const limit = runCapOf(graph.pipeline.concurrency);
        let active = pipelineActive.get(run.pipeline_id);
        if (active === undefined) {
          active = await countAdmittedActive(tx, { projectId, pipelineId: run.pipeline_id });
        }
        if (limit !== null && active >= limit) {
          pipelineActive.set(run.pipeline_id, active);
          continue;
        }
        pipelineActive.set(run.pipeline_id, active + 1);
        projectActive++;
        chosen.push(run.id);
      }
      await setAdmitted(tx, chosen);
      return chosen;
    });
    for (const runId of admitted) {
      await this.driver.apply(runId, { type: "run.started", at: Date.now() });
    }
  }

  /** Runs to cancel because a new one of the same pipeline has `cancel-in-progress`. */
  async runsToCancel(pipelineId: string, newRunId: string): Promise<string[]> {
    return listAdmittedActiveRunIds(this.options.db, pipelineId, newRunId);
  }

  // ---- Recovery ----

  /** One pass: dead executors' steps reported lost, queued runs admitted, lost jobs re-issued. */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce()
      .catch((error: unknown) => log.warn({ err: error }, "reconcile pass failed"))
      .finally(() => {
        this.reconciling = undefined;
      });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.stopped) return;
    const db = this.options.db;
    const leaseMs = this.options.leaseSeconds * 1000;
    const hostname = os.hostname();
    const executors = await listExecutors(db);
    const dead = executors.filter(
      (executor) =>
        executor.id !== this.executor.id &&
        (executor.heartbeat_age_ms > leaseMs ||
          // On this host a vanished process is certain at once, no need to wait for the lease.
          (executor.hostname === hostname && !isProcessAlive(executor.pid))),
    );
    const deadIds = dead.map((executor) => executor.id);
    const [orphans] = await Promise.all([
      db.query<{
        run_id: string;
        idx: number;
        attempt: number;
        instance: string;
        executor_id: string;
        pid: number | null;
        key: string;
      }>(
        `SELECT c.run_id, c.idx, c.attempt, s.instance, c.executor_id, c.pid,
                c.run_id || '/' || s.instance || '/' || c.attempt AS key
         FROM run_step_claims c
         JOIN run_steps s ON s.run_id = c.run_id AND s.idx = c.idx
         LEFT JOIN run_executors e ON e.id = c.executor_id
         WHERE s.status = 'running' AND s.attempt = c.attempt AND c.executor_id <> $1
           AND (e.id IS NULL OR e.heartbeat_at < now() - make_interval(secs => $2) OR c.executor_id = ANY($3::uuid[]))
         LIMIT 1000`,
        [this.executor.id, this.options.leaseSeconds, deadIds],
      ),
    ]);
    for (const orphan of orphans) {
      const sameHost = dead.find((executor) => executor.id === orphan.executor_id)?.hostname === hostname;
      if (orphan.pid !== null && sameHost) await killOrphan(orphan.pid, orphan.key);
      countStepLost("executor-gone");
      await this.driver
        .apply(orphan.run_id, {
          type: "step.lost",
          instance: orphan.instance,
          attempt: orphan.attempt,
          detail: "executor lost: the process running it stopped responding",
          at: Date.now(),
        })
        .catch((error: unknown) => log.warn({ err: error, runId: orphan.run_id }, "could not report a lost step"));
    }
    for (const executor of dead) await removeExecutor(db, executor.id);

    const work = await listAdmissionWork(db);
    for (const projectId of work.projectIds) await this.admitQueued(projectId);
    for (const runId of work.unstartedRunIds) {
      await this.driver.apply(runId, { type: "run.started", at: Date.now() }).catch(() => {});
    }

    const now = Date.now();
    if (now - this.lastPeriodic >= PERIODIC_EVERY_MS) {
      this.lastPeriodic = now;
      for (const task of this.options.periodic ?? []) {
        await task().catch((error: unknown) => log.warn({ err: error }, "periodic runs task failed"));
      }
    }
    if (now - this.lastStrandedCheck > 60_000) {
      this.lastStrandedCheck = now;
      for (const runId of await listStrandedRunIds(db, STRANDED_AFTER_MS)) {
        await this.driver.resume(runId).catch(() => {});
      }
    }
    if (now - this.lastRetention > RETENTION_EVERY_MS) {
      this.lastRetention = now;
      const logs = await deleteExpiredLogs(db, this.options.logRetentionDays);
      const artifacts = await deleteExpiredArtifacts(db);
      if (logs + artifacts > 0)
        log.info({ logChunks: logs, artifacts }, "retention: deleted expired logs and artifacts");
    }
  }

  /** Where a run's workspace lives (for tests and cleanup). */
  workspaceOf(runId: string): string {
    return path.join(this.options.dataDir, "workspaces", runId);
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The `concurrency.runs` cap of a pipeline (cancel-in-progress alone means one). */
export function runCapOf(concurrency: unknown): number | null {
  if (concurrency === undefined || concurrency === null || typeof concurrency === "number") return null;
  const value = concurrency as { runs?: number; "cancel-in-progress"?: boolean };
  if (value.runs !== undefined) return value.runs;
  return value["cancel-in-progress"] ? 1 : null;
}

// ---- The process's runtime ----

const holder = singleton("runs.runtime", () => ({ runtime: undefined as RunsRuntime | undefined }));

export async function startRunsRuntime(options: RunsRuntimeOptions): Promise<RunsRuntime> {
  if (holder.runtime) throw new Error("the runs runtime is already started");
  const runtime = new RunsRuntime(options);
  holder.runtime = runtime;
  try {
    await runtime.start();
  } catch (error) {
    holder.runtime = undefined;
    await runtime.stop().catch(() => {});
    throw error;
  }
  return runtime;
}

export async function stopRunsRuntime(): Promise<void> {
  const runtime = holder.runtime;
  holder.runtime = undefined;
  await runtime?.stop();
}

/** The process's runtime; runs cannot start or change without it (scripts don't have one). */
export function getRunsRuntime(): RunsRuntime {
  if (!holder.runtime) throw new AppError("INVALID_STATE", "The run engine is not running in this process");
  return holder.runtime;
}

export function findRunsRuntime(): RunsRuntime | undefined {
  return holder.runtime;
}

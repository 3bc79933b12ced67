import "server-only";
import PgBoss from "pg-boss";
import type { EvaluateGateCommand, ScheduleTimerCommand, StartStepCommand } from "@/pipelines/engine/types";
import type { Database } from "@/server/db";
import { getLogger } from "@/server/observability/logger";

// The durable work queue of runs, on pg-boss (its own `pgboss` schema in the same database):
// steps to start, timers to fire, gates to sample. Jobs are inserted by the statement that
// writes the transition that produced them (repo.ts writes pg-boss' job table the way pg-boss'
// insert does), so a committed transition never loses its commands and a rolled-back one never
// leaves any. pg-boss creates and maintains the queues (expiry, retries, archiving); any
// replica may take any job.

const log = getLogger("runs.queue");

export const STEP_QUEUE = "microstack-run-steps";
export const TIMER_QUEUE = "microstack-run-timers";
export const GATE_QUEUE = "microstack-run-gates";

export interface StepJobData {
  runId: string;
  idx: number;
  command: StartStepCommand;
}
export interface TimerJobData {
  command: ScheduleTimerCommand;
}
export interface GateJobData {
  command: EvaluateGateCommand;
}

export interface QueuedJob<T> {
  id: string;
  data: T;
}

function adapter(run: (sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>) {
  return { executeSql: (text: string, values?: unknown[]) => run(text, values) };
}

export class RunQueue {
  private boss: PgBoss | undefined;

  constructor(private readonly db: Database) {}

  async start(): Promise<void> {
    const boss = new PgBoss({
      db: adapter((sql, params) => this.db.execute(sql, params)),
      schema: "pgboss",
      // pg-boss' own housekeeping (expired jobs back to retry, archiving); no cron scheduling.
      supervise: true,
      schedule: false,
      migrate: true,
      maintenanceIntervalSeconds: 60,
    });
    boss.on("error", (error) => log.warn({ err: error }, "job queue error"));
    await boss.start();
    // `short`: one created job per singleton key, so a command re-issued after a crash (same
    // key) does not queue twice while the first is still waiting.
    await boss.createQueue(STEP_QUEUE, {
      name: STEP_QUEUE,
      policy: "short",
      // Taking a step and starting its process takes seconds; a job still active after this
      // belonged to a replica that died before it could claim the step: deliver it again.
      expireInSeconds: 120,
      retryLimit: 20,
      retryDelay: 2,
      retryBackoff: true,
      retentionMinutes: 60 * 24,
    });
    await boss.createQueue(TIMER_QUEUE, {
      name: TIMER_QUEUE,
      policy: "short",
      expireInSeconds: 120,
      retryLimit: 50,
      retryDelay: 2,
      retryBackoff: true,
      retentionMinutes: 60 * 24 * 30,
    });
    await boss.createQueue(GATE_QUEUE, {
      name: GATE_QUEUE,
      policy: "short",
      expireInSeconds: 300,
      retryLimit: 10,
      retryDelay: 5,
      retryBackoff: true,
      retentionMinutes: 60 * 24,
    });
    this.boss = boss;
  }

  async stop(): Promise<void> {
    const boss = this.boss;
    this.boss = undefined;
    // The database is ours and closed by the caller; pg-boss must not wait for workers (we
    // fetch by hand) nor fail work in progress (the steps' own lease decides about those).
    await boss?.stop({ graceful: false, close: false, wait: true }).catch(() => {});
  }

  async fetch<T>(queue: string, batchSize: number): Promise<QueuedJob<T>[]> {
    if (!this.boss || batchSize <= 0) return [];
    const jobs = await this.boss.fetch<T>(queue, { batchSize });
    return jobs.map((job) => ({ id: job.id, data: job.data }));
  }

  async complete(queue: string, ids: readonly string[]): Promise<void> {
    if (!this.boss || ids.length === 0) return;
    await this.boss.complete(queue, [...ids]);
  }

  async fail(queue: string, id: string, error: unknown): Promise<void> {
    if (!this.boss) return;
    await this.boss.fail(queue, id, { message: error instanceof Error ? error.message : String(error) });
  }

  /** Drops timers that have not fired (cancel-timer); a timer already taken fires stale. */
  async cancelTimers(keys: readonly string[]): Promise<void> {
    if (keys.length === 0 || !this.boss) return;
    await this.db.query(
      `DELETE FROM pgboss.job WHERE name = $1 AND singleton_key = ANY($2::text[]) AND state IN ('created', 'retry')`,
      [TIMER_QUEUE, keys],
    );
  }
}

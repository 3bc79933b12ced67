import "server-only";
import type { RunState, StepState } from "@/pipelines/engine/types";
import { type Database, getDatabase, getPrisma, type RawTx } from "@/server/db";
import type { GramCondition } from "./log-grams";

// The run tables. The hot paths (one engine transition, a log chunk, a claim) are raw SQL in
// one round trip each, batching rows through jsonb; listings go through Prisma.

type Querier = Pick<RawTx, "query">;

const ms = (value: number | null) => (value === null ? null : new Date(value).toISOString());

// ---- Runs and steps ----

/** The run row without its steps; `state` is RunState minus `steps`. */
export interface RunHeadRow {
  id: string;
  organization_id: string;
  project_id: string;
  pipeline_id: string;
  pipeline_version_id: string;
  number: number;
  status: string;
  version: number;
  admitted: boolean;
  started_by_id: string | null;
  created_at: Date;
}

export type RunLevelState = Omit<RunState, "steps">;

export function runLevelState(state: RunState): RunLevelState {
  const { steps: _steps, ...rest } = state;
  return rest;
}

export interface NewRun {
  id: string;
  organizationId: string;
  projectId: string;
  pipelineId: string;
  pipelineVersionId: string;
  trigger: string;
  startedById: string | null;
  params: Record<string, unknown>;
  state: RunState;
  /** Per instance, in graph order. */
  steps: readonly { instance: string; stepId: string }[];
}

/** Numbers the run (locking the pipeline row for the rest of the transaction) and inserts it. */
export async function insertRun(tx: RawTx, run: NewRun): Promise<number> {
  const [counter] = await tx.query<{ run_count: number }>(
    `UPDATE pipelines SET run_count = run_count + 1 WHERE id = $1 RETURNING run_count`,
    [run.pipelineId],
  );
  if (!counter) throw new Error(`pipeline ${run.pipelineId} is gone`);
  const number = counter.run_count;
  await tx.query(
    `INSERT INTO runs (id, organization_id, project_id, pipeline_id, pipeline_version_id, number, status, phase,
       run_attempt, version, trigger, started_by_id, params, state, admitted, step_count, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, false, $15, $16, $16)`,
    [
      run.id,
      run.organizationId,
      run.projectId,
      run.pipelineId,
      run.pipelineVersionId,
      number,
      run.state.status,
      run.state.phase,
      run.state.runAttempt,
      run.state.version,
      run.trigger,
      run.startedById,
      JSON.stringify(run.params),
      JSON.stringify(runLevelState(run.state)),
      run.steps.length,
      new Date(run.state.createdAt).toISOString(),
    ],
  );
  // Thousands of rows in one statement: jsonb_to_recordset over one parameter.
  const BATCH = 5_000;
  for (let start = 0; start < run.steps.length; start += BATCH) {
    const rows = [];
    for (let i = start; i < Math.min(run.steps.length, start + BATCH); i++) {
      const step = run.state.steps[i] as StepState;
      const def = run.steps[i] as { instance: string; stepId: string };
      rows.push({ idx: i, instance: def.instance, step_id: def.stepId, status: step.status, state: step });
    }
    await tx.query(
      `INSERT INTO run_steps (run_id, idx, instance, step_id, status, attempt, waiting_for, state, updated_at)
       SELECT $1, r.idx, r.instance, r.step_id, r.status, 0, NULL, r.state, now()
       FROM jsonb_to_recordset($2::jsonb) AS r(idx int, instance text, step_id text, status text, state jsonb)`,
      [run.id, JSON.stringify(rows)],
    );
  }
  return number;
}

/** Locks the run row for this transaction; null when there is no such run. */
export async function lockRun(tx: RawTx, runId: string): Promise<RunHeadRow | null> {
  const [row] = await tx.query<RunHeadRow>(
    `SELECT id, organization_id, project_id, pipeline_id, pipeline_version_id, number, status, version, admitted,
            started_by_id, created_at
     FROM runs WHERE id = $1 FOR UPDATE`,
    [runId],
  );
  return row ?? null;
}

/** The whole state of a run as the engine holds it. */
export async function loadRunState(tx: Querier, runId: string): Promise<RunState | null> {
  const [head] = await tx.query<{ state: RunLevelState }>(`SELECT state FROM runs WHERE id = $1`, [runId]);
  if (!head) return null;
  const steps = await tx.query<{ state: StepState }>(`SELECT state FROM run_steps WHERE run_id = $1 ORDER BY idx`, [
    runId,
  ]);
  return { ...head.state, steps: steps.map((row) => row.state) };
}

// ---- Writing a transition ----

/** A job row for pg-boss' job table (name, payload, dedup key, when). */
export interface JobRow {
  name: string;
  data: unknown;
  singletonKey: string;
  /** ISO time; null: now. */
  startAfter: string | null;
}

/** Everything one transition writes: the run row, the changed steps, jobs, signals. */
export interface TransitionWrite {
  state: RunState;
  changed: readonly { idx: number; step: StepState; notice?: string | null }[];
  jobs: readonly JobRow[];
  /** NOTIFY payloads on channel microstack_runs, delivered at commit. */
  signals: readonly string[];
  admitted?: boolean;
}

/**
 * Inserts jobs into pg-boss' table the way pg-boss' own insert does (defaults from the queue;
 * ON CONFLICT DO NOTHING, so a re-issued command with the same key does not queue twice while
 * the first waits), as one statement usable inside a larger one.
 */
function jobInsertSql(param: string, condition: string): string {
  return `INSERT INTO pgboss.job (name, data, start_after, singleton_key, expire_in, keep_until,
      retry_limit, retry_delay, retry_backoff, dead_letter, policy)
    SELECT j.name, j.data, COALESCE(j.start_after, now()), j.singleton_key,
      COALESCE(q.expire_seconds, 900) * interval '1 second',
      COALESCE(j.start_after, now()) + COALESCE(q.retention_minutes, 20160) * interval '1 minute',
      COALESCE(q.retry_limit, 2),
      CASE WHEN COALESCE(q.retry_backoff, false) THEN GREATEST(COALESCE(q.retry_delay, 0), 1)
           ELSE COALESCE(q.retry_delay, 0) END,
      COALESCE(q.retry_backoff, false), q.dead_letter, q.policy
    FROM jsonb_to_recordset(${param}) AS j(name text, data jsonb, singleton_key text, start_after timestamptz)
    JOIN pgboss.queue q ON q.name = j.name
    ${condition}
    ON CONFLICT DO NOTHING`;
}

function runParams(state: RunState): unknown[] {
  return [
    state.runId,
    state.status,
    state.phase,
    state.runAttempt,
    state.version,
    JSON.stringify(runLevelState(state)),
    ms(state.startedAt),
    state.phase === "done" ? ms(state.finishedAt) : null,
  ];
}

function stepRows(write: TransitionWrite): string {
  return JSON.stringify(
    write.changed.map(({ idx, step, notice }) => ({
      idx,
      status: step.status,
      attempt: step.attempt,
      waiting_for: step.status === "waiting" ? step.waitingFor : null,
      state: step,
      set_notice: notice !== undefined,
      notice: notice?.slice(0, 10_000) ?? null,
    })),
  );
}

function jobRows(jobs: readonly JobRow[]): string {
  return JSON.stringify(
    jobs.map((job) => ({
      name: job.name,
      data: job.data,
      singleton_key: job.singletonKey,
      start_after: job.startAfter,
    })),
  );
}

const STEP_UPDATE = `UPDATE run_steps AS s
     SET status = r.status, attempt = r.attempt, waiting_for = r.waiting_for, state = r.state, updated_at = now(),
         notice = CASE WHEN r.set_notice THEN r.notice ELSE s.notice END
     FROM jsonb_to_recordset($10::jsonb)
       AS r(idx int, status text, attempt int, waiting_for text, state jsonb, set_notice boolean, notice text)
     WHERE s.run_id = $1 AND s.idx = r.idx`;

/**
 * Writes a transition in ONE statement, if the run is still at `expectedVersion` (optimistic
 * compare and set): the run row, the changed steps, the jobs and the signals all happen, or (the
 * run moved on, in another process) none does and false comes back. One round trip: what keeps
 * an engine transition to a few milliseconds.
 */
export async function writeTransitionIfAt(
  db: Querier,
  write: TransitionWrite,
  expectedVersion: number,
): Promise<boolean> {
  const [row] = await db.query<{ applied: number }>(
    `WITH run AS (
       UPDATE runs SET status = $2, phase = $3, run_attempt = $4, version = $5, state = $6::jsonb,
         started_at = $7, finished_at = $8, updated_at = now()
       WHERE id = $1 AND version = $9 RETURNING id
     ), steps AS (
       ${STEP_UPDATE} AND EXISTS (SELECT 1 FROM run) RETURNING 1
     ), jobs AS (
       ${jobInsertSql("$11::jsonb", "WHERE EXISTS (SELECT 1 FROM run)")} RETURNING 1
     ), signals AS (
       SELECT pg_notify('microstack_runs', n) FROM jsonb_array_elements_text($12::jsonb) AS n
       WHERE EXISTS (SELECT 1 FROM run)
     )
     SELECT (SELECT count(*) FROM run)::int AS applied, (SELECT count(*) FROM signals)::int AS signalled,
       (SELECT count(*) FROM steps)::int AS steps, (SELECT count(*) FROM jobs)::int AS jobs`,
    [...runParams(write.state), expectedVersion, stepRows(write), jobRows(write.jobs), JSON.stringify(write.signals)],
  );
  return (row?.applied ?? 0) === 1;
}

/** Writes a transition inside a transaction that holds the run's row lock. */
export async function writeTransition(tx: RawTx, write: TransitionWrite, versionChanged = true): Promise<void> {
  if (versionChanged) {
    await tx.query(
      `UPDATE runs SET status = $2, phase = $3, run_attempt = $4, version = $5, state = $6::jsonb,
         started_at = $7, finished_at = $8, updated_at = now()${write.admitted === undefined ? "" : ", admitted = $9"}
       WHERE id = $1`,
      [...runParams(write.state), ...(write.admitted === undefined ? [] : [write.admitted])],
    );
  }
  if (write.changed.length > 0) {
    await tx.query(STEP_UPDATE.replace("$10::jsonb", "$2::jsonb"), [write.state.runId, stepRows(write)]);
  }
  await insertJobs(tx, write.jobs);
  for (const signal of write.signals) await tx.query(`SELECT pg_notify('microstack_runs', $1)`, [signal]);
}

export async function insertJobs(tx: Querier, jobs: readonly JobRow[]): Promise<void> {
  if (jobs.length === 0) return;
  await tx.query(jobInsertSql("$1::jsonb", ""), [jobRows(jobs)]);
}

export async function findRunVersion(db: Querier, runId: string): Promise<number | null> {
  const [row] = await db.query<{ version: number }>(`SELECT version FROM runs WHERE id = $1`, [runId]);
  return row?.version ?? null;
}

export async function setAdmitted(tx: RawTx, runIds: readonly string[]): Promise<void> {
  if (runIds.length === 0) return;
  await tx.query(`UPDATE runs SET admitted = true WHERE id = ANY($1::uuid[])`, [runIds]);
}

/** Serializes admission decisions of one project across replicas for this transaction. */
export async function lockAdmission(tx: RawTx, projectId: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('microstack-runs-admit'), hashtext($1))`, [projectId]);
}

export async function countAdmittedActive(
  tx: Querier,
  filter: { projectId: string; pipelineId?: string },
): Promise<number> {
  const [row] = await tx.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM runs
     WHERE project_id = $1 AND status IN ('queued', 'running', 'waiting') AND admitted
       ${filter.pipelineId ? "AND pipeline_id = $2" : ""}`,
    filter.pipelineId ? [filter.projectId, filter.pipelineId] : [filter.projectId],
  );
  return row?.count ?? 0;
}

/** Active, admitted runs of a pipeline other than `exceptRunId`, oldest first. */
export async function listAdmittedActiveRunIds(
  tx: Querier,
  pipelineId: string,
  exceptRunId: string,
): Promise<string[]> {
  const rows = await tx.query<{ id: string }>(
    `SELECT id FROM runs WHERE pipeline_id = $1 AND id <> $2 AND admitted AND status IN ('queued', 'running', 'waiting')
     ORDER BY created_at`,
    [pipelineId, exceptRunId],
  );
  return rows.map((row) => row.id);
}

/** Runs waiting for a slot in a project, oldest first, with what admission needs. */
export async function listQueuedRuns(tx: Querier, projectId: string, limit: number) {
  return tx.query<{ id: string; pipeline_id: string; pipeline_version_id: string }>(
    `SELECT id, pipeline_id, pipeline_version_id FROM runs
     WHERE project_id = $1 AND NOT admitted AND status = 'queued'
     ORDER BY created_at, id LIMIT $2`,
    [projectId, limit],
  );
}

/** Projects with runs waiting for a slot, and admitted runs whose run.started was never applied. */
export async function listAdmissionWork(db: Querier) {
  const queued = await db.query<{ project_id: string }>(
    `SELECT DISTINCT project_id FROM runs WHERE NOT admitted AND status = 'queued'`,
  );
  const unstarted = await db.query<{ id: string }>(
    `SELECT id FROM runs WHERE admitted AND status = 'queued' AND started_at IS NULL AND created_at < now() - interval '5 seconds'`,
  );
  return { projectIds: queued.map((row) => row.project_id), unstartedRunIds: unstarted.map((row) => row.id) };
}

export async function findSpecOfVersion(tx: Querier, versionId: string): Promise<unknown | null> {
  const [row] = await tx.query<{ spec: unknown }>(`SELECT spec FROM pipeline_versions WHERE id = $1`, [versionId]);
  return row?.spec ?? null;
}

export async function findProjectCaps(tx: Querier, projectId: string) {
  const [row] = await tx.query<{ max_active_runs: number | null; max_running_steps: number | null }>(
    `SELECT max_active_runs, max_running_steps FROM projects WHERE id = $1`,
    [projectId],
  );
  return row ?? null;
}

// ---- Step rows for executors ----

export async function findStepRow(db: Querier, runId: string, idx: number) {
  const [row] = await db.query<{ status: string; attempt: number; state: StepState }>(
    `SELECT status, attempt, state FROM run_steps WHERE run_id = $1 AND idx = $2`,
    [runId, idx],
  );
  return row ?? null;
}

export async function findStepIndex(db: Querier, runId: string, instance: string): Promise<number | null> {
  const [row] = await db.query<{ idx: number }>(`SELECT idx FROM run_steps WHERE run_id = $1 AND instance = $2`, [
    runId,
    instance,
  ]);
  return row?.idx ?? null;
}

/**
 * Takes an attempt for an executor: true once per attempt, whoever asks and however often, and
 * only while the step is still running at that attempt (not cancelled meanwhile). The job that
 * delivered it is completed in the same statement: from here on the claim (and its executor's
 * heartbeat) is what recovery looks at.
 */
export async function claimAttempt(
  db: Querier,
  claim: { runId: string; idx: number; attempt: number; executorId: string; queue: string; jobId: string },
): Promise<boolean> {
  const rows = await db.query(
    `WITH done AS (
       UPDATE pgboss.job SET state = 'completed', completed_on = now()
       WHERE name = $5 AND id = $6 AND state = 'active' RETURNING 1
     )
     INSERT INTO run_step_claims (run_id, idx, attempt, executor_id)
     SELECT $1, $2, $3, $4 WHERE EXISTS (
       SELECT 1 FROM run_steps WHERE run_id = $1 AND idx = $2 AND status = 'running' AND attempt = $3)
     ON CONFLICT DO NOTHING RETURNING attempt`,
    [claim.runId, claim.idx, claim.attempt, claim.executorId, claim.queue, claim.jobId],
  );
  return rows.length === 1;
}

export async function setClaimPid(db: Querier, claim: { runId: string; idx: number; attempt: number }, pid: number) {
  await db.query(`UPDATE run_step_claims SET pid = $4 WHERE run_id = $1 AND idx = $2 AND attempt = $3`, [
    claim.runId,
    claim.idx,
    claim.attempt,
    pid,
  ]);
}

/** Attempts an executor holds whose step is still running at that attempt. */
export async function listLiveClaims(db: Querier, executorId: string) {
  return db.query<{ run_id: string; idx: number; attempt: number; instance: string; pid: number | null }>(
    `SELECT c.run_id, c.idx, c.attempt, s.instance, c.pid
     FROM run_step_claims c JOIN run_steps s ON s.run_id = c.run_id AND s.idx = c.idx
     WHERE c.executor_id = $1 AND s.status = 'running' AND s.attempt = c.attempt`,
    [executorId],
  );
}

/** Of the attempts this executor runs, those no longer running at that attempt (to kill). */
export async function listUnwantedAttempts(
  db: Querier,
  attempts: readonly { runId: string; idx: number; attempt: number }[],
): Promise<{ run_id: string; idx: number; attempt: number }[]> {
  if (attempts.length === 0) return [];
  return db.query(
    `SELECT r.run_id, r.idx, r.attempt
     FROM jsonb_to_recordset($1::jsonb) AS r(run_id uuid, idx int, attempt int)
     LEFT JOIN run_steps s ON s.run_id = r.run_id AND s.idx = r.idx
     WHERE s.run_id IS NULL OR s.status <> 'running' OR s.attempt <> r.attempt`,
    [JSON.stringify(attempts.map((a) => ({ run_id: a.runId, idx: a.idx, attempt: a.attempt })))],
  );
}

/** Steps dispatched long ago that no executor claimed (their job may be lost): resume their run. */
export async function listStrandedRunIds(db: Querier, olderThanMs: number): Promise<string[]> {
  const rows = await db.query<{ run_id: string }>(
    `SELECT DISTINCT s.run_id FROM run_steps s
     LEFT JOIN run_step_claims c ON c.run_id = s.run_id AND c.idx = s.idx AND c.attempt = s.attempt
     WHERE s.status = 'running' AND c.run_id IS NULL
       AND (s.state->>'dispatchedAt')::bigint < $1
     LIMIT 100`,
    [Date.now() - olderThanMs],
  );
  return rows.map((row) => row.run_id);
}

// ---- Executors ----

export async function registerExecutor(db: Querier, executor: { id: string; hostname: string; pid: number }) {
  await db.query(
    `INSERT INTO run_executors (id, hostname, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, now(), now())
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
    [executor.id, executor.hostname, executor.pid],
  );
}

export async function heartbeatExecutor(db: Querier, id: string): Promise<boolean> {
  const rows = await db.query(`UPDATE run_executors SET heartbeat_at = now() WHERE id = $1 RETURNING id`, [id]);
  return rows.length === 1;
}

export async function removeExecutor(db: Querier, id: string): Promise<void> {
  await db.query(`DELETE FROM run_executors WHERE id = $1`, [id]);
}

export async function listExecutors(db: Querier) {
  return db.query<{ id: string; hostname: string; pid: number; heartbeat_age_ms: number }>(
    `SELECT id, hostname, pid, (extract(epoch FROM (now() - heartbeat_at)) * 1000)::float8 AS heartbeat_age_ms
     FROM run_executors`,
  );
}

/** Claims of attempts still running whose executor is gone (no row: already reaped). */
export async function listOrphanedClaims(db: Querier, liveExecutorIds: readonly string[]) {
  return db.query<{
    run_id: string;
    idx: number;
    attempt: number;
    instance: string;
    executor_id: string;
    pid: number | null;
  }>(
    `SELECT c.run_id, c.idx, c.attempt, s.instance, c.executor_id, c.pid
     FROM run_step_claims c JOIN run_steps s ON s.run_id = c.run_id AND s.idx = c.idx
     WHERE s.status = 'running' AND s.attempt = c.attempt AND NOT (c.executor_id = ANY($1::uuid[]))
     LIMIT 1000`,
    [liveExecutorIds],
  );
}

// ---- Logs ----

export interface NewLogChunk {
  runId: string;
  idx: number;
  attempt: number;
  firstSeq: number;
  lastSeq: number;
  firstAt: number;
  content: string;
  streams: string;
  offsets: number[];
  bytes: number;
  /** The trigram signature of the chunk's lines (log-grams.ts). */
  grams: Uint8Array;
}

const LOG_CHUNK_COLUMNS = 11;

/** Stores consecutive chunks of a step attempt's log in one statement. */
export async function insertLogChunks(db: Querier, chunks: readonly NewLogChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  const params: unknown[] = [];
  const rows = chunks.map((chunk, i) => {
    params.push(
      chunk.runId,
      chunk.idx,
      chunk.attempt,
      chunk.firstSeq,
      chunk.lastSeq,
      new Date(chunk.firstAt).toISOString(),
      chunk.content,
      chunk.streams,
      chunk.offsets,
      chunk.bytes,
      Buffer.from(chunk.grams.buffer, chunk.grams.byteOffset, chunk.grams.byteLength),
    );
    const at = i * LOG_CHUNK_COLUMNS;
    return `($${at + 1}::uuid, $${at + 2}::int, $${at + 3}::int, $${at + 4}::int, $${at + 5}::int, $${at + 6}::timestamptz, $${at + 7}, $${at + 8}, $${at + 9}::int[], $${at + 10}::int, $${at + 11}::bytea)`;
  });
  await db.query(
    `INSERT INTO run_log_chunks (run_id, idx, attempt, first_seq, last_seq, first_at, content, streams, offsets, bytes, grams)
     VALUES ${rows.join(", ")}`,
    params,
  );
}

export interface LogChunkRow {
  first_seq: number;
  last_seq: number;
  first_at: Date;
  content: string;
  streams: string;
  offsets: number[];
}

/** Chunks holding lines after `afterSeq`, in order, enough for `limit` lines. */
export async function readLogChunks(
  db: Querier,
  key: { runId: string; idx: number; attempt: number },
  afterSeq: number,
  limit: number,
): Promise<LogChunkRow[]> {
  return db.query<LogChunkRow>(
    `SELECT first_seq, last_seq, first_at, content, streams, offsets FROM run_log_chunks
     WHERE run_id = $1 AND idx = $2 AND attempt = $3 AND last_seq > $4 AND first_seq <= $5
     ORDER BY first_seq`,
    [key.runId, key.idx, key.attempt, afterSeq, afterSeq + limit],
  );
}

export async function lastLogSeq(db: Querier, key: { runId: string; idx: number; attempt: number }): Promise<number> {
  const [row] = await db.query<{ last: number | null }>(
    `SELECT max(last_seq) AS last FROM run_log_chunks WHERE run_id = $1 AND idx = $2 AND attempt = $3`,
    [key.runId, key.idx, key.attempt],
  );
  return row?.last ?? 0;
}

// ---- Log search and download ----

export interface LogChunkExtent {
  first_seq: number;
  last_seq: number;
  bytes: number;
}

/** The chunks of a step attempt without their content: where each starts and ends, and its size. */
export async function listLogChunkExtents(
  db: Querier,
  key: { runId: string; idx: number; attempt: number },
): Promise<LogChunkExtent[]> {
  return db.query<LogChunkExtent>(
    `SELECT first_seq, last_seq, bytes FROM run_log_chunks
     WHERE run_id = $1 AND idx = $2 AND attempt = $3 ORDER BY first_seq`,
    [key.runId, key.idx, key.attempt],
  );
}

/**
 * How the database narrows the chunks a search reads. It must keep every chunk that holds a
 * match (it may keep more): `contains` is strpos, `regex`/`iregex` a PostgreSQL ARE with `~`/`~*`.
 */
export interface LogChunkFilter {
  /**
   * Trigrams every matching line has (see log-grams.ts): a chunk with a signature lacking them
   * is skipped without its text being read, and one having them is read without a text test.
   */
  grams: GramCondition | null;
  match: { op: "contains" | "regex" | "iregex"; pattern: string } | null;
  /** Only chunks with a line of this stream code (o, e, s). */
  streamCode: string | null;
}

export interface LogChunkContent {
  first_seq: number;
  last_seq: number;
  content: string;
  streams: string;
}

const MATCH_SQL = { contains: "strpos(content, $6) > 0", regex: "content ~ $6", iregex: "content ~* $6" } as const;

/** A trigram condition on the signature column (hashes are unsigned 32-bit integers). */
function gramConditionSql(condition: GramCondition): string {
  if (typeof condition === "number") {
    if (!Number.isInteger(condition) || condition < 0 || condition > 0xffffffff) throw new Error("bad trigram hash");
    return `get_bit(grams, ${condition} % (octet_length(grams) * 8)) = 1`;
  }
  if ("and" in condition) return `(${condition.and.map(gramConditionSql).join(" AND ")})`;
  return `(${condition.or.map(gramConditionSql).join(" OR ")})`;
}

/**
 * Chunks starting between two sequence numbers that may hold a match, in order. A chunk with an
 * escape character always passes the text filter: what a line displays (and search matches)
 * is its text without escape sequences, which the stored text need not contain as such.
 * On PostgreSQL the statement is bounded by `timeoutMs` (a pathological pattern is cancelled).
 */
export async function findLogChunksBetween(
  db: Pick<Database, "kind" | "query" | "transaction">,
  key: { runId: string; idx: number; attempt: number },
  range: { fromSeq: number; toSeq: number },
  filter: LogChunkFilter,
  timeoutMs: number,
): Promise<LogChunkContent[]> {
  const params: unknown[] = [key.runId, key.idx, key.attempt, range.fromSeq, range.toSeq];
  let where = "";
  if (filter.match) {
    params.push(filter.match.pattern);
    const text = `strpos(content, chr(27)) > 0 OR ${MATCH_SQL[filter.match.op]}`;
    where += filter.grams === null ? ` AND (${text})` : ` AND (grams IS NOT NULL OR ${text})`;
  }
  if (filter.grams !== null) where += ` AND (grams IS NULL OR ${gramConditionSql(filter.grams)})`;
  if (filter.streamCode) {
    params.push(filter.streamCode);
    where += ` AND strpos(streams, $${params.length}) > 0`;
  }
  const sql = `SELECT first_seq, last_seq, content, streams FROM run_log_chunks
     WHERE run_id = $1 AND idx = $2 AND attempt = $3 AND first_seq >= $4 AND first_seq <= $5${where}
     ORDER BY first_seq`;
  if (db.kind !== "postgres") return db.query<LogChunkContent>(sql, params);
  return db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
    return tx.query<LogChunkContent>(sql, params);
  });
}

/** Deletes logs of runs finished before the retention of their project (or the default). */
export async function deleteExpiredLogs(db: Querier, defaultRetentionDays: number): Promise<number> {
  const rows = await db.query<{ count: number }>(
    `WITH expired AS (
       DELETE FROM run_log_chunks c USING runs r, projects p
       WHERE c.run_id = r.id AND p.id = r.project_id AND r.finished_at IS NOT NULL
         AND r.finished_at < now() - make_interval(days => COALESCE(p.log_retention_days, $1))
       RETURNING 1)
     SELECT count(*)::int AS count FROM expired`,
    [defaultRetentionDays],
  );
  return rows[0]?.count ?? 0;
}

// ---- Artifacts ----

export async function insertArtifact(
  db: Querier,
  artifact: {
    id: string;
    runId: string;
    instance: string;
    attempt: number;
    name: string;
    files: number;
    bytes: number;
    storePath: string;
    expiresAt: number | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO run_artifacts (id, run_id, instance, attempt, name, files, bytes, store_path, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (run_id, instance, attempt, name) DO UPDATE
       SET files = EXCLUDED.files, bytes = EXCLUDED.bytes, store_path = EXCLUDED.store_path, expires_at = EXCLUDED.expires_at`,
    [
      artifact.id,
      artifact.runId,
      artifact.instance,
      artifact.attempt,
      artifact.name,
      artifact.files,
      artifact.bytes,
      artifact.storePath,
      ms(artifact.expiresAt),
    ],
  );
}

export async function findArtifacts(
  db: Querier,
  runId: string,
  sources: readonly { instance: string; attempt: number }[],
  name: string | null,
) {
  if (sources.length === 0) return [];
  return db.query<{ instance: string; attempt: number; name: string; store_path: string; expires_at: Date | null }>(
    `SELECT a.instance, a.attempt, a.name, a.store_path, a.expires_at
     FROM run_artifacts a JOIN jsonb_to_recordset($2::jsonb) AS s(instance text, attempt int)
       ON a.instance = s.instance AND a.attempt = s.attempt
     WHERE a.run_id = $1 AND ($3::text IS NULL OR a.name = $3)
     ORDER BY a.instance, a.name`,
    [runId, JSON.stringify(sources), name],
  );
}

export async function listExpiredArtifacts(db: Querier, limit: number) {
  return db.query<{ id: string; store_path: string }>(
    `SELECT id, store_path FROM run_artifacts WHERE expires_at IS NOT NULL AND expires_at < now() LIMIT $1`,
    [limit],
  );
}

export async function deleteArtifactRows(db: Querier, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`DELETE FROM run_artifacts WHERE id = ANY($1::uuid[])`, [ids]);
}

// ---- Reads for the API (Prisma) ----

const runSelect = {
  id: true,
  number: true,
  organizationId: true,
  projectId: true,
  pipelineId: true,
  pipelineVersionId: true,
  status: true,
  phase: true,
  runAttempt: true,
  version: true,
  trigger: true,
  startedById: true,
  params: true,
  admitted: true,
  stepCount: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  pipeline: {
    select: { slug: true, name: true, project: { select: { slug: true, organization: { select: { slug: true } } } } },
  },
  pipelineVersion: { select: { version: true } },
} as const;

export async function findRunById(runId: string) {
  const prisma = await getPrisma();
  return prisma.run.findUnique({ where: { id: runId }, select: { ...runSelect, state: true } });
}

export type RunRow = NonNullable<Awaited<ReturnType<typeof findRunById>>>;
export type RunListRow = Omit<RunRow, "state">;

export async function listRunsWhere(filter: {
  projectId?: string;
  pipelineId?: string;
  statuses?: readonly string[];
  trigger?: string;
  startedById?: string;
  before?: { createdAt: Date; id: string };
  limit: number;
}) {
  const prisma = await getPrisma();
  return prisma.run.findMany({
    where: {
      ...(filter.projectId ? { projectId: filter.projectId } : {}),
      ...(filter.pipelineId ? { pipelineId: filter.pipelineId } : {}),
      ...(filter.statuses?.length ? { status: { in: [...filter.statuses] } } : {}),
      ...(filter.trigger ? { trigger: filter.trigger } : {}),
      ...(filter.startedById ? { startedById: filter.startedById } : {}),
      ...(filter.before
        ? {
            OR: [
              { createdAt: { lt: filter.before.createdAt } },
              { createdAt: filter.before.createdAt, id: { lt: filter.before.id } },
            ],
          }
        : {}),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: filter.limit + 1,
    select: runSelect,
  });
}

/** Step counts by status for each run. */
export async function countStepsByStatus(runIds: readonly string[]) {
  if (runIds.length === 0) return [];
  const db = await getDatabase();
  return db.query<{ run_id: string; status: string; count: number }>(
    `SELECT run_id, status, count(*)::int AS count FROM run_steps WHERE run_id = ANY($1::uuid[]) GROUP BY run_id, status`,
    [runIds],
  );
}

export async function listStepStates(runId: string): Promise<StepState[]> {
  return (await listStepRows(runId)).steps.map((row) => row.state);
}

/**
 * Step states with the rendered notice of what they wait for, and the run's version read in the
 * same statement (one snapshot): a caller that read the run row before compares the two and
 * reads again when a transition landed in between, so a run never shows a step's new status next
 * to its own old one.
 */
export async function listStepRows(
  runId: string,
): Promise<{ steps: { state: StepState; notice: string | null }[]; runVersion: number | null }> {
  const db = await getDatabase();
  const rows = await db.query<{ state: StepState | null; notice: string | null; run_version: number | null }>(
    `SELECT s.state, s.notice, r.version AS run_version
     FROM runs r LEFT JOIN run_steps s ON s.run_id = r.id
     WHERE r.id = $1 ORDER BY s.idx`,
    [runId],
  );
  return {
    steps: rows.flatMap(({ state, notice }) => (state ? [{ state, notice }] : [])),
    runVersion: rows[0]?.run_version ?? null,
  };
}

/** Steps waiting for a person (approvals, manual steps) in these projects, newest first. */
export async function listWaitingSteps(projectIds: readonly string[], limit: number) {
  if (projectIds.length === 0) return [];
  const db = await getDatabase();
  return db.query<{
    run_id: string;
    idx: number;
    instance: string;
    step_id: string;
    waiting_for: string;
    notice: string | null;
    state: StepState;
    updated_at: Date;
  }>(
    `SELECT s.run_id, s.idx, s.instance, s.step_id, s.waiting_for, s.notice, s.state, s.updated_at
     FROM run_steps s JOIN runs r ON r.id = s.run_id
     WHERE s.waiting_for IN ('approval', 'manual') AND s.status = 'waiting' AND r.project_id = ANY($1::uuid[])
     ORDER BY s.updated_at DESC LIMIT $2`,
    [projectIds, limit],
  );
}

export async function findUserNames(ids: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (unique.length === 0) return new Map();
  const prisma = await getPrisma();
  const users = await prisma.user.findMany({ where: { id: { in: unique } }, select: { id: true, name: true } });
  return new Map(users.map((user) => [user.id, user.name]));
}

export type { Database };

// ---- Triggers ----

/** Pipelines whose current version has schedule triggers. */
export async function listScheduledPipelines(db: Querier) {
  return db.query<{
    pipeline_id: string;
    schedules: { cron: string; timezone?: string; params?: Record<string, unknown> }[];
  }>(
    `SELECT p.id AS pipeline_id, v.spec->'triggers'->'schedule' AS schedules
     FROM pipelines p JOIN pipeline_versions v ON v.pipeline_id = p.id AND v.version = p.current_version
     WHERE jsonb_typeof(v.spec->'triggers'->'schedule') = 'array'`,
  );
}

/**
 * Records that a schedule's fire at `fireAt` is being handled: "fire" once (whichever replica
 * gets the row first), "seen" when it already was, "first" when the schedule was never seen
 * (nothing fires for a time before it existed).
 */
export async function claimScheduleFire(
  db: Querier,
  pipelineId: string,
  scheduleKey: string,
  fireAt: number,
): Promise<"fire" | "seen" | "first"> {
  const rows = await db.query<{ inserted: boolean }>(
    `INSERT INTO pipeline_schedule_fires (pipeline_id, schedule_key, last_fire_at) VALUES ($1, $2, $3)
     ON CONFLICT (pipeline_id, schedule_key) DO UPDATE SET last_fire_at = EXCLUDED.last_fire_at
       WHERE pipeline_schedule_fires.last_fire_at < EXCLUDED.last_fire_at
     RETURNING (xmax = 0) AS inserted`,
    [pipelineId, scheduleKey, new Date(fireAt).toISOString()],
  );
  const row = rows[0];
  if (!row) return "seen";
  return row.inserted ? "first" : "fire";
}

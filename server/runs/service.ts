import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { z } from "zod";
import type { GroupDef, RunGraph } from "@/pipelines/engine/graph";
import { createRun } from "@/pipelines/engine/machine";
import { resolveParams } from "@/pipelines/engine/params";
import { evaluateWebhook, findWebhook, lastFireTime } from "@/pipelines/engine/triggers";
import { isTerminal, type RunEventInput, type StepState, type Transition } from "@/pipelines/engine/types";
import { recordAuditEvent } from "@/server/audit/service";
import type { Actor } from "@/server/auth/schema";
import { allowedScopes, describeMemberIn } from "@/server/authz/service";
import { getDatabase } from "@/server/db";
import { AppError } from "@/server/http/errors";
import { uuidV7 } from "@/server/ids";
import { findRunnablePipeline, type RunnablePipeline } from "@/server/pipelines/service";
import { resolveProjectSecrets } from "@/server/secrets/service";
import { findProjectRef, findProjectRefOfId } from "@/server/projects/service";
import { compiledGraph } from "./driver";
import { planLogSearch, runLogSearch } from "./log-search";
import { linesOfChunks } from "./logs";
import { countRunStarted } from "./metrics";
import { assertCanListRuns, assertCanOnRun, assertCanRunPipeline, canOnRun, type RunScopeRef } from "./policy";
import {
  claimScheduleFire,
  countStepsByStatus,
  findRunById,
  findLogChunksBetween,
  findUserNames,
  lastLogSeq,
  listLogChunkExtents,
  listRunsWhere,
  listScheduledPipelines,
  listStepRows,
  listStepStates,
  listWaitingSteps,
  readLogChunks,
  type RunListRow,
  type RunRow,
} from "./repo";
import { getRunsRuntime, type RunsRuntimeOptions, startRunsRuntime as startRuntime } from "./runtime";
import {
  type ApprovalInput,
  approvalInputSchema,
  type CancelRunInput,
  cancelRunInputSchema,
  type LogDownloadQuery,
  type LogPage,
  type LogQuery,
  logDownloadQuerySchema,
  logQuerySchema,
  type LogSearchQuery,
  type LogSearchResult,
  logSearchQuerySchema,
  type PendingAction,
  type RerunInput,
  type RunDetail,
  type RunPage,
  type RunSummary,
  type RunTrigger,
  rerunInputSchema,
  runListQuerySchema,
  type StartRunInput,
  type StepControlInput,
  type StepCounts,
  type StepDto,
  type WebhookDelivery,
  startRunInputSchema,
  stepControlInputSchema,
} from "./schema";

export { stopRunsRuntime } from "./runtime";

/** Starts the run engine of this process, with the schedule triggers it fires. */
export function startRunsRuntime(options: RunsRuntimeOptions) {
  return startRuntime({ ...options, periodic: [...(options.periodic ?? []), fireDueSchedules] });
}

function parse<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw AppError.fromZod(parsed.error, prefix);
  return parsed.data;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function scopeOfRow(row: RunListRow): RunScopeRef {
  return {
    id: row.id,
    organizationId: row.organizationId,
    projectId: row.projectId,
    pipelineId: row.pipelineId,
    startedById: row.startedById,
  };
}

async function runFor(actor: Actor, runId: string, action: Parameters<typeof assertCanOnRun>[1]) {
  const row = await findRunById(runId);
  if (!row) throw AppError.notFound("The run");
  await assertCanOnRun(actor, action, scopeOfRow(row));
  return row;
}

function audit(
  actor: Actor,
  action: string,
  run: { id: string; organizationId: string; projectId: string },
  details: Record<string, z.core.util.JSONType> = {},
  outcome: "success" | "denied" = "success",
) {
  return recordAuditEvent({
    actor: { type: "user", id: actor.id, label: actor.email },
    organizationId: run.organizationId,
    projectId: run.projectId,
    action,
    target: { type: "run", id: run.id },
    outcome,
    details,
  });
}

/** Why the engine refused a control, as the API answers it. */
function refusal(transition: Transition): AppError | null {
  const ignored = transition.ignored;
  if (ignored === null) return null;
  switch (ignored.code) {
    case "not-found":
      return new AppError("NOT_FOUND", ignored.message.charAt(0).toUpperCase() + ignored.message.slice(1));
    case "forbidden":
      return new AppError("FORBIDDEN", ignored.message.charAt(0).toUpperCase() + ignored.message.slice(1));
    case "invalid-state":
    case "stale":
      return new AppError("INVALID_STATE", ignored.message.charAt(0).toUpperCase() + ignored.message.slice(1));
  }
}

// ---- DTOs ----

function emptyCounts(total: number): StepCounts {
  return {
    total,
    queued: 0,
    waiting: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    cancelled: 0,
    timed_out: 0,
  };
}

function toSummary(row: RunListRow, counts: StepCounts, names: Map<string, string>): RunSummary {
  return {
    id: row.id,
    number: row.number,
    organizationId: row.organizationId,
    organizationSlug: row.pipeline.project.organization.slug,
    projectId: row.projectId,
    projectSlug: row.pipeline.project.slug,
    pipelineId: row.pipelineId,
    pipelineSlug: row.pipeline.slug,
    pipelineName: row.pipeline.name,
    pipelineVersion: row.pipelineVersion.version,
    status: row.status as RunSummary["status"],
    phase: row.phase,
    runAttempt: row.runAttempt,
    trigger: row.trigger,
    startedBy: row.startedById ? { id: row.startedById, name: names.get(row.startedById) ?? "" } : null,
    params: row.params as RunSummary["params"],
    queuedForSlot: !row.admitted && row.status === "queued",
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    steps: counts,
  };
}

/** Step counts of one run from the steps already read with it (the same snapshot). */
function countsOfSteps(total: number, steps: readonly { state: StepState }[]): StepCounts {
  const counts = emptyCounts(total);
  for (const { state } of steps) {
    if (state.status in counts) counts[state.status as keyof Omit<StepCounts, "total">]++;
  }
  return counts;
}

async function countsFor(rows: readonly RunListRow[]): Promise<Map<string, StepCounts>> {
  const counts = new Map(rows.map((row) => [row.id, emptyCounts(row.stepCount)]));
  for (const { run_id, status, count } of await countStepsByStatus(rows.map((row) => row.id))) {
    const entry = counts.get(run_id);
    if (entry && status in entry) entry[status as keyof Omit<StepCounts, "total">] = count;
  }
  return counts;
}

function stepDto(
  graph: RunGraph,
  idx: number,
  step: StepState,
  notice: string | null,
  people: Map<string, string>,
): StepDto {
  const instance = graph.instances[idx] as RunGraph["instances"][number];
  const group = graph.groups[instance.group] as GroupDef;
  const def = group.step;
  const needs: string[] = [];
  for (let k = graph.needStart[instance.group] ?? 0; k < (graph.needStart[instance.group + 1] ?? 0); k++) {
    needs.push((graph.groups[graph.needs[k] as number] as GroupDef).stepId);
  }
  const approval = group.approval;
  return {
    id: step.id,
    stepId: group.stepId,
    name: def.name ?? group.stepId,
    kind: group.kind,
    uses: def.uses ?? null,
    role: group.role,
    stage: def.stage ?? null,
    needs,
    matrix: instance.matrix ? { ...instance.matrix } : null,
    status: step.status,
    attempt: step.attempt,
    waitingFor: step.status === "waiting" ? step.waitingFor : null,
    reason: step.reason,
    exitCode: step.exitCode,
    continuedOnError: step.continuedOnError,
    startedAt: iso(step.startedAt),
    finishedAt: iso(step.finishedAt),
    deadlineAt: iso(step.deadlineAt),
    retryAt: iso(step.retryAt),
    outputs: { ...step.outputs },
    actor: step.actor,
    approvals: step.approvals.map((record) => ({
      by: record.by,
      byName: people.get(record.by) ?? record.by,
      decision: record.decision,
      comment: record.comment,
      at: new Date(record.at).toISOString(),
    })),
    approval: approval
      ? {
          minApprovals: approval["min-approvals"] ?? 1,
          environment: approval.environment ?? null,
          message: approval.message ?? null,
          allowSelfApproval: approval["allow-self-approval"] === true,
          approvers: {
            users: [...approval.approvers.users],
            teams: [...approval.approvers.teams],
            roles: [...approval.approvers.roles],
          },
        }
      : null,
    manualMessage: group.manual?.message ?? null,
    notice,
    gate: group.gate
      ? {
          condition: group.gate.condition,
          lastValue: step.gate?.lastValue ?? null,
          lastError: step.gate?.lastError ?? null,
          lastEvaluatedAt: iso(step.gate?.lastEvaluatedAt),
          nextPollAt: iso(step.gate?.nextPollAt),
        }
      : null,
    history: step.history.map((record) => ({
      attempt: record.attempt,
      status: record.status,
      startedAt: iso(record.startedAt),
      finishedAt: iso(record.finishedAt),
      exitCode: record.exitCode,
      reason: record.reason,
    })),
  };
}

async function graphOfRun(row: { pipelineVersionId: string; projectId: string }): Promise<RunGraph> {
  const project = await findProjectRefOfId(row.projectId);
  return compiledGraph(await getDatabase(), row.pipelineVersionId, project?.maxRunningSteps ?? null);
}

/** The people of a run: the e-mails the engine records, mapped to names. */
async function peopleByEmail(emails: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(emails)].filter((email) => email.includes("@"));
  if (unique.length === 0) return new Map();
  const db = await getDatabase();
  const rows = await db.query<{ email: string; name: string }>(`SELECT email, name FROM users WHERE email = ANY($1)`, [
    unique,
  ]);
  return new Map(rows.map((row) => [row.email, row.name]));
}

// ---- Reads ----

/**
 * The run row and its steps as of one transition: a transition that lands between the two reads
 * (it writes both in one statement) makes them disagree on the run's version, and they are read
 * again.
 */
async function readRunConsistently(actor: Actor, runId: string) {
  let row: RunRow = await runFor(actor, runId, "run:read");
  for (let attempt = 0; ; attempt++) {
    const { steps, runVersion } = await listStepRows(row.id);
    if (runVersion === row.version || attempt >= 20) return { row, stepRows: steps };
    const again = await findRunById(runId);
    if (!again) throw AppError.notFound("The run");
    row = again;
  }
}

export async function getRun(actor: Actor, runId: string): Promise<RunDetail> {
  const { row, stepRows } = await readRunConsistently(actor, runId);
  const [graph, names] = await Promise.all([graphOfRun(row), findUserNames(row.startedById ? [row.startedById] : [])]);
  const people = await peopleByEmail(stepRows.flatMap(({ state }) => state.approvals.map((record) => record.by)));
  const state = row.state as {
    cancellation: { kind: "cancel" | "timeout"; by: string | null; at: number; reason: string } | null;
  };
  const scope = scopeOfRow(row);
  const [cancel, retry, approve, run] = await Promise.all([
    canOnRun(actor, "run:cancel", scope),
    canOnRun(actor, "run:retry", scope),
    canOnRun(actor, "run:approve", scope),
    canOnRun(actor, "pipeline:run", scope),
  ]);
  return {
    ...toSummary(row, countsOfSteps(row.stepCount, stepRows), names),
    version: row.version,
    cancellation: state.cancellation
      ? { ...state.cancellation, at: new Date(state.cancellation.at).toISOString() }
      : null,
    stages: (graph.pipeline.stages ?? []).map((stage) => ({ id: stage.id, name: stage.name ?? stage.id })),
    stepList: stepRows.map(({ state, notice }, idx) => stepDto(graph, idx, state, notice, people)),
    can: { cancel, retry, approve, run },
  };
}

function cursorOf(row: RunListRow): string {
  return `${row.createdAt.getTime()}:${row.id}`;
}

function decodeCursor(cursor: string | undefined): { createdAt: Date; id: string } | undefined {
  if (!cursor) return undefined;
  const [time, id] = cursor.split(":") as [string, string];
  return { createdAt: new Date(Number(time)), id };
}

async function pageOf(rows: RunListRow[], limit: number): Promise<RunPage> {
  const page = rows.slice(0, limit);
  const [counts, names] = await Promise.all([
    countsFor(page),
    findUserNames(page.flatMap((row) => (row.startedById ? [row.startedById] : []))),
  ]);
  return {
    runs: page.map((row) => toSummary(row, counts.get(row.id) ?? emptyCounts(row.stepCount), names)),
    nextCursor: rows.length > limit ? cursorOf(page[page.length - 1] as RunListRow) : null,
  };
}

/** Runs of a project, newest first, filtered and paginated. */
export async function listProjectRuns(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  rawQuery: unknown,
): Promise<RunPage> {
  const query = parse(runListQuerySchema, rawQuery, "query");
  const project = await findProjectRef(organizationSlug, projectSlug);
  if (!project) throw AppError.notFound("The project");
  await assertCanListRuns(actor, project);
  const rows = await listRunsWhere({
    projectId: project.id,
    pipelineId: query.pipeline,
    statuses: query.status,
    trigger: query.trigger,
    startedById: query.startedBy,
    before: decodeCursor(query.cursor),
    limit: query.limit,
  });
  return pageOf(rows, query.limit);
}

/** Runs of one pipeline. */
export async function listPipelineRuns(actor: Actor, pipelineId: string, rawQuery: unknown): Promise<RunPage> {
  const query = parse(runListQuerySchema, rawQuery, "query");
  const pipeline = await findRunnablePipeline(pipelineId);
  if (!pipeline) throw AppError.notFound("The pipeline");
  await assertCanListRuns(actor, { organizationId: pipeline.organizationId, id: pipeline.projectId });
  const rows = await listRunsWhere({
    pipelineId: pipeline.id,
    statuses: query.status,
    trigger: query.trigger,
    startedById: query.startedBy,
    before: decodeCursor(query.cursor),
    limit: query.limit,
  });
  return pageOf(rows, query.limit);
}

/** The instance a step reference names: an instance id, or a step id with a single instance. */
function resolveStep(graph: RunGraph, ref: string): number {
  const direct = graph.index.get(ref);
  if (direct !== undefined) return direct;
  const group = graph.groupByStepId.get(ref);
  if (group !== undefined) {
    const def = graph.groups[group] as GroupDef;
    if (def.end - def.first === 1) return def.first;
    throw new AppError(
      "INVALID_INPUT",
      `Step ${ref} has ${def.end - def.first} instances: name one, e.g. ${graph.instances[def.first]?.id}`,
      {
        invalidParams: [{ name: "step", reason: "names a matrix step; name one of its instances" }],
      },
    );
  }
  throw new AppError("NOT_FOUND", `The run has no step ${ref}`);
}

export async function readStepLogs(actor: Actor, runId: string, rawQuery: LogQuery | unknown): Promise<LogPage> {
  const query = parse(logQuerySchema, rawQuery, "query");
  const row = await runFor(actor, runId, "run:read");
  const graph = await graphOfRun(row);
  const idx = resolveStep(graph, query.step);
  const steps = await listStepStates(row.id);
  const step = steps[idx] as StepState;
  const attempt = query.attempt ?? Math.max(1, step.attempt);
  if (attempt > Math.max(1, step.attempt)) {
    throw new AppError("NOT_FOUND", `Step ${step.id} has no attempt ${attempt} (it is at attempt ${step.attempt})`);
  }
  const db = await getDatabase();
  const key = { runId: row.id, idx, attempt };
  const [chunks, lastSeq] = await Promise.all([readLogChunks(db, key, query.after, query.limit), lastLogSeq(db, key)]);
  const lines = linesOfChunks(chunks, query.after, query.limit);
  const finished = attempt < step.attempt || isTerminal(step.status);
  return {
    runId: row.id,
    step: step.id,
    attempt,
    lines,
    nextAfter: lines.at(-1)?.seq ?? query.after,
    complete: finished && lines.length < query.limit,
    lastSeq: Math.max(lastSeq, lines.at(-1)?.seq ?? 0),
  };
}

/** Text cut into pieces of at most about `size` characters, at line ends. */
function splitAtLines(text: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (text.length - start > size) {
    const cut = text.lastIndexOf("\n", start + size);
    let end = cut > start ? cut + 1 : start + size;
    // Never between the halves of a surrogate pair (the encoder would garble the character).
    if (cut <= start && /[\ud800-\udbff]/.test(text.charAt(end - 1))) end--;
    pieces.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

/** The run, step instance and attempt a log request names (run:read), or NOT_FOUND. */
async function logAttemptFor(actor: Actor, runId: string, stepRef: string, attemptRef: number | undefined) {
  const row = await runFor(actor, runId, "run:read");
  const graph = await graphOfRun(row);
  const idx = resolveStep(graph, stepRef);
  const step = (await listStepStates(row.id))[idx] as StepState;
  const attempt = attemptRef ?? Math.max(1, step.attempt);
  if (attempt > Math.max(1, step.attempt)) {
    throw new AppError("NOT_FOUND", `Step ${step.id} has no attempt ${attempt} (it is at attempt ${step.attempt})`);
  }
  return { row, step, key: { runId: row.id, idx, attempt } };
}

/**
 * Finds lines of a step attempt's log (as displayed: escape sequences removed): the first
 * `limit` matches with the ranges to highlight, and how many lines match. A bad or
 * pathologically slow pattern is INVALID_INPUT naming q.
 */
export async function searchStepLogs(
  actor: Actor,
  runId: string,
  rawQuery: LogSearchQuery | unknown,
): Promise<LogSearchResult> {
  const query = parse(logSearchQuerySchema, rawQuery, "query");
  const plan = planLogSearch(query);
  const { step, key } = await logAttemptFor(actor, runId, query.step, query.attempt);
  const db = await getDatabase();
  const extents = await listLogChunkExtents(db, key);
  const outcome = await runLogSearch(
    plan,
    {
      extents,
      read: (range, filter, timeoutMs) => findLogChunksBetween(db, key, range, filter, timeoutMs),
    },
    // PostgreSQL scans windows on several connections at once; PGlite is one thread anyway.
    { limit: query.limit, concurrency: db.kind === "postgres" ? 3 : 1 },
  );
  return { runId: key.runId, step: step.id, attempt: key.attempt, ...outcome };
}

/** Text read from the database per step of a download, and sent per piece. */
const DOWNLOAD_READ_BYTES = 4 * 1024 * 1024;
const DOWNLOAD_PIECE_CHARS = 1024 * 1024;

/**
 * A step attempt's whole log as text, one line per stored line, streamed as the client reads
 * (a few megabytes read at a time, never the whole log in memory); lines stored after the
 * download began are not included.
 */
export async function openStepLogDownload(
  actor: Actor,
  runId: string,
  rawQuery: LogDownloadQuery | unknown,
): Promise<{ filename: string; body: ReadableStream<Uint8Array> }> {
  const query = parse(logDownloadQuerySchema, rawQuery, "query");
  const { row, step, key } = await logAttemptFor(actor, runId, query.step, query.attempt);
  const db = await getDatabase();
  const extents = await listLogChunkExtents(db, key);
  const encoder = new TextEncoder();
  let next = 0;
  let pieces: string[] = [];
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (pieces.length === 0) {
          const first = extents[next];
          if (!first) {
            controller.close();
            return;
          }
          let bytes = 0;
          let last = first;
          while (next < extents.length && (bytes === 0 || bytes + (extents[next]?.bytes ?? 0) <= DOWNLOAD_READ_BYTES)) {
            last = extents[next] as typeof first;
            bytes += last.bytes;
            next++;
          }
          const range = { fromSeq: first.first_seq, toSeq: last.first_seq };
          const chunks = await findLogChunksBetween(
            db,
            key,
            range,
            { grams: null, match: null, streamCode: null },
            60_000,
          );
          pieces = chunks.flatMap((chunk) => splitAtLines(`${chunk.content}\n`, DOWNLOAD_PIECE_CHARS));
        }
        const piece = pieces.shift();
        if (piece) controller.enqueue(encoder.encode(piece));
      },
    },
    { highWaterMark: 0 },
  );
  const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "") || "step";
  return {
    filename: `${safe(row.pipeline.slug)}-run-${row.number}-${safe(step.id)}-attempt-${key.attempt}.log`,
    body,
  };
}

// ---- Starting runs ----

export async function startRun(
  actor: Actor,
  pipelineId: string,
  raw: StartRunInput | unknown,
  defaultTrigger: RunTrigger = "api",
): Promise<RunSummary> {
  const input = parse(startRunInputSchema, raw);
  const trigger: RunTrigger = input.trigger ?? defaultTrigger;
  const pipeline = await findRunnablePipeline(pipelineId, input.version);
  if (!pipeline) {
    throw AppError.notFound(input.version === undefined ? "The pipeline" : `Version ${input.version} of the pipeline`);
  }
  await assertCanRunPipeline(actor, pipeline);
  if ((trigger === "manual" || trigger === "api") && pipeline.spec.triggers?.manual === false) {
    throw new AppError("INVALID_STATE", "This pipeline does not allow manual runs (triggers.manual is false)");
  }
  return createRunOf(pipeline, input.params, trigger, actor);
}

/**
 * Creates (and, when the caps allow, starts) a run of a pipeline version. `actor` is the person
 * who started it, or null when a trigger did (schedule, webhook): the pipeline's author chose
 * that by saving the trigger.
 */
async function createRunOf(
  pipeline: RunnablePipeline,
  given: Readonly<Record<string, unknown>>,
  trigger: RunTrigger,
  actor: Actor | null,
  auditActor?: { type: "system" | "service"; label: string },
): Promise<RunSummary> {
  const project = await findProjectRefOfId(pipeline.projectId);
  if (!project) throw AppError.notFound("The pipeline");
  const runtime = getRunsRuntime();
  const graph = await runtime.driver.graphOf(pipeline.versionId, project.maxRunningSteps);
  const params = resolveParams(graph, given);
  if (!params.ok) {
    throw new AppError("INVALID_INPUT", `params.${params.errors[0]?.param}: ${params.errors[0]?.message}`, {
      invalidParams: params.errors.map((error) => ({ name: `params.${error.param}`, reason: error.message })),
    });
  }
  const state = createRun(graph, {
    runId: uuidV7(),
    params: params.params,
    startedBy: actor?.email ?? null,
    at: Date.now(),
  });
  const created = await runtime.createRun({
    organizationId: pipeline.organizationId,
    projectId: pipeline.projectId,
    pipelineId: pipeline.id,
    pipelineVersionId: pipeline.versionId,
    trigger,
    startedById: actor?.id ?? null,
    startedBy: actor?.email ?? null,
    graph,
    state,
    projectMaxActiveRuns: project.maxActiveRuns,
  });
  countRunStarted(trigger);
  await recordAuditEvent({
    actor: actor
      ? { type: "user", id: actor.id, label: actor.email }
      : (auditActor ?? { type: "system", label: trigger }),
    organizationId: pipeline.organizationId,
    projectId: pipeline.projectId,
    action: "runs.run.start",
    target: { type: "run", id: state.runId },
    outcome: "success",
    details: {
      pipeline: pipeline.slug,
      version: pipeline.version,
      number: created.number,
      params: params.params,
      trigger,
    },
  });
  const row = await findRunById(state.runId);
  if (!row) throw AppError.notFound("The run");
  const counts = await countsFor([row]);
  return toSummary(
    row,
    counts.get(row.id) ?? emptyCounts(row.stepCount),
    new Map(actor ? [[actor.id, actor.name]] : []),
  );
}

// ---- Triggers ----

/** Starts the runs of schedule triggers that came due (called every few seconds by the runtime). */
export async function fireDueSchedules(now = Date.now()): Promise<void> {
  const db = await getDatabase();
  for (const { pipeline_id, schedules } of await listScheduledPipelines(db)) {
    for (const schedule of schedules) {
      let due: number;
      try {
        due = lastFireTime(schedule, now);
      } catch {
        continue; // validated when saved; a cron the parser refuses never fires
      }
      const key = `${schedule.cron}|${schedule.timezone ?? "UTC"}`.slice(0, 300);
      if ((await claimScheduleFire(db, pipeline_id, key, due)) !== "fire") continue;
      const pipeline = await findRunnablePipeline(pipeline_id);
      if (!pipeline) continue;
      await createRunOf(pipeline, schedule.params ?? {}, "schedule", null, {
        type: "system",
        label: `schedule ${schedule.cron} ${schedule.timezone ?? "UTC"}`,
      }).catch((error: unknown) => {
        // A run that cannot start (params no longer valid) is reported, not retried each pass.
        void recordAuditEvent({
          actor: { type: "system", label: `schedule ${schedule.cron}` },
          organizationId: pipeline.organizationId,
          projectId: pipeline.projectId,
          action: "runs.schedule.fire",
          target: { type: "pipeline", id: pipeline.id },
          outcome: "failure",
          details: { reason: (error as Error).message.slice(0, 500) },
        });
      });
    }
  }
}

const SIGNATURE_HEADERS = ["x-microstack-signature-256", "x-hub-signature-256"];

function signatureMatches(secret: string, rawBody: string, headers: Readonly<Record<string, string>>): boolean {
  const expected = `sha256=${createHmac("sha256", secret).update(rawBody, "utf8").digest("hex")}`;
  for (const name of SIGNATURE_HEADERS) {
    const given = headers[name];
    if (given && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
      return true;
    }
  }
  // GitLab sends the secret itself as a token.
  const token = headers["x-gitlab-token"];
  if (token) {
    const a = createHmac("sha256", "token").update(token).digest();
    const b = createHmac("sha256", "token").update(secret).digest();
    return timingSafeEqual(a, b);
  }
  return false;
}

/**
 * A delivery to a pipeline's webhook trigger: authenticated by an HMAC-SHA256 signature of the
 * body with the trigger's secret (`X-Microstack-Signature-256` or GitHub's
 * `X-Hub-Signature-256: sha256=<hex>`) or GitLab's `X-Gitlab-Token`; then the trigger's `if`
 * decides and its params are rendered from the payload.
 */
export async function deliverWebhook(
  pipelineId: string,
  hookId: string,
  rawBody: string,
  headers: Readonly<Record<string, string>>,
): Promise<WebhookDelivery> {
  const pipeline = await findRunnablePipeline(pipelineId);
  const hook = pipeline ? findWebhook(pipeline.spec, hookId) : undefined;
  // The same answer whether the pipeline or the hook is missing: nothing to probe.
  if (!pipeline || !hook) throw AppError.notFound("The webhook");
  const secretName = /secrets\.([A-Za-z_][A-Za-z0-9_]*)/.exec(hook.secret)?.[1];
  const { values } = secretName
    ? await resolveProjectSecrets(pipeline.projectId, [secretName])
    : { values: new Map<string, string>() };
  const secret = secretName ? values.get(secretName) : undefined;
  if (!secret) {
    throw new AppError(
      "INVALID_STATE",
      `The webhook's secret ${secretName ?? hook.secret} is not set in the project's secrets`,
    );
  }
  if (!signatureMatches(secret, rawBody, headers)) {
    throw new AppError("UNAUTHORIZED", "The signature does not match the webhook's secret");
  }
  let payload: unknown = {};
  if (rawBody.trim() !== "") {
    try {
      payload = JSON.parse(rawBody);
    } catch {
      throw new AppError("INVALID_INPUT", "body: is not valid JSON", {
        invalidParams: [{ name: "body", reason: "is not valid JSON" }],
      });
    }
  }
  const decision = evaluateWebhook(hook, { payload, headers });
  if ("error" in decision) throw new AppError("INVALID_INPUT", `The trigger could not be evaluated: ${decision.error}`);
  if (!decision.fire) return { started: false, reason: decision.reason, run: null };
  const run = await createRunOf(pipeline, decision.params, "webhook", null, {
    type: "service",
    label: `webhook ${hookId}`,
  });
  return { started: true, reason: null, run };
}

// ---- Controls ----

async function control(
  actor: Actor,
  runId: string,
  action: Parameters<typeof assertCanOnRun>[1],
  event: (row: RunListRow, graph: RunGraph) => Promise<RunEventInput> | RunEventInput,
  auditAction: string,
  details: (row: RunListRow) => Record<string, z.core.util.JSONType>,
  environment?: (row: RunListRow, graph: RunGraph) => string | null,
): Promise<RunDetail> {
  const row = await findRunById(runId);
  if (!row) throw AppError.notFound("The run");
  const graph = await graphOfRun(row);
  await assertCanOnRun(actor, action, scopeOfRow(row), environment?.(row, graph) ?? null);
  const transition = await getRunsRuntime().apply(row.id, await event(row, graph));
  const refused = refusal(transition);
  if (refused) {
    if (refused.code === "FORBIDDEN") {
      await audit(actor, auditAction, row, { ...details(row), refused: refused.message }, "denied");
    }
    throw refused;
  }
  await audit(actor, auditAction, row, details(row));
  return getRun(actor, runId);
}

/** Cancels the run, or one step of it. */
export async function cancelRun(actor: Actor, runId: string, raw: CancelRunInput | unknown = {}): Promise<RunDetail> {
  const input = parse(cancelRunInputSchema, raw ?? {});
  return control(
    actor,
    runId,
    "run:cancel",
    (_row, graph) => {
      if (input.step !== undefined && !graph.index.has(input.step) && !graph.groupByStepId.has(input.step)) {
        throw new AppError("NOT_FOUND", `The run has no step ${input.step}`);
      }
      return {
        type: "control.cancel",
        ...(input.step === undefined ? {} : { instance: input.step }),
        by: actor.email,
        reason: input.reason || `cancelled by ${actor.email}`,
        at: Date.now(),
      };
    },
    input.step === undefined ? "runs.run.cancel" : "runs.step.cancel",
    () => ({ step: input.step ?? null, reason: input.reason ?? null }),
  );
}

/** Re-runs a finished run: all of it, or from a step (that step and everything downstream). */
export async function rerunRun(actor: Actor, runId: string, raw: RerunInput | unknown = {}): Promise<RunDetail> {
  const input = parse(rerunInputSchema, raw ?? {});
  return control(
    actor,
    runId,
    "run:retry",
    (row, graph) => {
      if (
        input.fromStep !== undefined &&
        !graph.index.has(input.fromStep) &&
        !graph.groupByStepId.has(input.fromStep)
      ) {
        throw new AppError("NOT_FOUND", `The run has no step ${input.fromStep}`);
      }
      if (!["succeeded", "failed", "cancelled", "timed_out"].includes(row.status)) {
        throw new AppError("INVALID_STATE", "Only a finished run can be re-run: cancel it first");
      }
      return {
        type: "control.rerun",
        ...(input.fromStep === undefined ? {} : { fromStep: input.fromStep }),
        runAttempt: row.runAttempt,
        by: actor.email,
        at: Date.now(),
      };
    },
    "runs.run.rerun",
    (row) => ({ fromStep: input.fromStep ?? null, runAttempt: row.runAttempt + 1 }),
  );
}

async function principalOf(actor: Actor, row: RunListRow) {
  const { teams, roles } = await describeMemberIn(actor.id, row.organizationId, row.projectId);
  return { id: actor.email, teams, roles };
}

function approvalEnvironment(graph: RunGraph, step: string): string | null {
  const idx = graph.index.get(step) ?? graph.groups[graph.groupByStepId.get(step) ?? -1]?.first;
  if (idx === undefined) return null;
  const group = graph.groups[(graph.instances[idx] as RunGraph["instances"][number]).group] as GroupDef;
  return group.approval?.environment ?? null;
}

async function decide(
  actor: Actor,
  runId: string,
  raw: ApprovalInput | unknown,
  decision: "approve" | "reject",
): Promise<RunDetail> {
  const input = parse(approvalInputSchema, raw);
  return control(
    actor,
    runId,
    "run:approve",
    async (row, graph) => ({
      type: "approval.submitted",
      instance: graph.instances[resolveStep(graph, input.step)]?.id ?? input.step,
      by: await principalOf(actor, row),
      decision,
      ...(input.comment ? { comment: input.comment } : {}),
      at: Date.now(),
    }),
    decision === "approve" ? "runs.approval.approve" : "runs.approval.reject",
    () => ({ step: input.step, comment: input.comment ?? null }),
    (_row, graph) => approvalEnvironment(graph, input.step),
  );
}

export function approveStep(actor: Actor, runId: string, raw: ApprovalInput | unknown): Promise<RunDetail> {
  return decide(actor, runId, raw, "approve");
}

export function rejectStep(actor: Actor, runId: string, raw: ApprovalInput | unknown): Promise<RunDetail> {
  return decide(actor, runId, raw, "reject");
}

async function manual(actor: Actor, runId: string, raw: StepControlInput | unknown, what: "run" | "skip") {
  const input = parse(stepControlInputSchema, raw);
  return control(
    actor,
    runId,
    what === "run" ? "pipeline:run" : "run:cancel",
    async (row, graph) => ({
      type: what === "run" ? "control.run" : "control.skip",
      instance: graph.instances[resolveStep(graph, input.step)]?.id ?? input.step,
      by: await principalOf(actor, row),
      at: Date.now(),
    }),
    what === "run" ? "runs.step.run" : "runs.step.skip",
    () => ({ step: input.step }),
  );
}

/** Starts a manual step that waits for a person. */
export function runManualStep(actor: Actor, runId: string, raw: StepControlInput | unknown): Promise<RunDetail> {
  return manual(actor, runId, raw, "run");
}

/** Skips a manual step (what needs it is skipped too, unless its condition says otherwise). */
export function skipManualStep(actor: Actor, runId: string, raw: StepControlInput | unknown): Promise<RunDetail> {
  return manual(actor, runId, raw, "skip");
}

// ---- The approvals inbox ----

function eligible(
  principals: { users: readonly string[]; teams: readonly string[]; roles: readonly string[] } | null,
  who: { id: string; teams: string[]; roles: string[] },
): boolean {
  if (principals === null) return true;
  if (principals.users.length === 0 && principals.teams.length === 0 && principals.roles.length === 0) return true;
  return (
    principals.users.includes(who.id) ||
    who.teams.some((team) => principals.teams.includes(team)) ||
    who.roles.some((role) => principals.roles.includes(role))
  );
}

/** What waits for this person: approvals they may give and manual steps they may start. */
export async function listPendingActions(actor: Actor, options: { limit?: number } = {}): Promise<PendingAction[]> {
  const db = await getDatabase();
  // Projects where the actor may read runs: organization-wide bindings cover all their projects.
  const scopes = await allowedScopes(actor, "run:read");
  const projectRows =
    scopes.organizationIds.length > 0
      ? await db.query<{ id: string }>(`SELECT id FROM projects WHERE organization_id = ANY($1::uuid[])`, [
          scopes.organizationIds,
        ])
      : [];
  const projectIds = [...new Set([...projectRows.map((row) => row.id), ...scopes.projects.map((p) => p.projectId)])];
  const waiting = await listWaitingSteps(projectIds, options.limit ?? 200);
  const actions: PendingAction[] = [];
  const runs = new Map<string, RunListRow | null>();
  for (const item of waiting) {
    let row = runs.get(item.run_id);
    if (row === undefined) {
      row = await findRunById(item.run_id);
      runs.set(item.run_id, row);
    }
    if (!row) continue;
    const graph = await graphOfRun(row);
    const group = graph.groups[(graph.instances[item.idx] as RunGraph["instances"][number]).group] as GroupDef;
    const who = await principalOf(actor, row);
    const scope = scopeOfRow(row);
    if (item.waiting_for === "approval") {
      const approval = group.approval;
      if (!approval || !eligible(approval.approvers, who)) continue;
      if (row.startedById === actor.id && approval["allow-self-approval"] !== true) continue;
      if (item.state.approvals.some((record) => record.by === actor.email)) continue;
      if (!(await canOnRun(actor, "run:approve", scope))) continue;
    } else {
      if (!eligible(group.manual?.allowed ?? null, who)) continue;
      if (!(await canOnRun(actor, "pipeline:run", scope))) continue;
    }
    const names = await findUserNames(row.startedById ? [row.startedById] : []);
    actions.push({
      kind: item.waiting_for === "approval" ? "approval" : "manual",
      runId: row.id,
      runNumber: row.number,
      step: item.instance,
      stepName: group.step.name ?? group.stepId,
      pipelineId: row.pipelineId,
      pipelineName: row.pipeline.name,
      organizationSlug: row.pipeline.project.organization.slug,
      projectSlug: row.pipeline.project.slug,
      environment: group.approval?.environment ?? null,
      message: item.notice ?? group.approval?.message ?? group.manual?.message ?? null,
      startedBy: row.startedById ? { id: row.startedById, name: names.get(row.startedById) ?? "" } : null,
      params: row.params as PendingAction["params"],
      approvals: item.state.approvals.filter((record) => record.decision === "approve").length,
      minApprovals: group.approval?.["min-approvals"] ?? 1,
      waitingSince: iso(item.state.dispatchedAt ?? item.state.readyAt ?? null) ?? item.updated_at.toISOString(),
      deadlineAt: iso(item.state.deadlineAt),
    });
  }
  return actions;
}

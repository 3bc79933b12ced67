// The durable shape of a run, the events that move it and the commands it asks for. A run is a
// state machine stored in the database: server/runs loads a RunState, validates an event with
// RunEventSchema, calls reduce() and, in one transaction, writes the changed steps (compare and
// set on `version`) together with the commands (an outbox); the commands are carried out after
// commit. Everything here is plain JSON: times are epoch milliseconds, never Date objects.
import { z } from "zod";
import type { MatrixValue } from "../spec/schema";

export const STEP_STATUSES = [
  "queued",
  "waiting",
  "running",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "timed_out",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TERMINAL_STEP_STATUSES: ReadonlySet<StepStatus> = new Set([
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "timed_out",
]);

export function isTerminal(status: StepStatus): boolean {
  return TERMINAL_STEP_STATUSES.has(status);
}

export const RUN_STATUSES = ["queued", "running", "waiting", "succeeded", "failed", "cancelled", "timed_out"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Where a run is: the DAG, then (when it failed) the rollbacks newest first and the run's
 * on-failure handlers, then the finally handlers, then done.
 */
export type RunPhase = "dag" | "rollback" | "on-failure" | "finally" | "done";

/** What a `waiting` step waits for. None of them holds an executor slot. */
export type WaitingFor = "approval" | "gate" | "manual" | "retry";

/** Why an instance exists: a step of the DAG or a handler invocation. */
export type InstanceRole = "step" | "step-on-failure" | "rollback" | "on-failure" | "finally";

export interface ApprovalRecord {
  readonly by: string;
  readonly decision: "approve" | "reject";
  readonly comment: string | null;
  readonly at: number;
}

export interface GateProgress {
  /** When the gate started waiting (`started` in its condition). */
  readonly startedAt: number;
  /** Evaluations asked for so far; a gate.evaluated for another poll is stale. */
  readonly poll: number;
  /** When the next evaluation is due; null while one is outstanding. */
  readonly nextPollAt: number | null;
  readonly lastEvaluatedAt: number | null;
  readonly lastValue: boolean | null;
  readonly lastError: string | null;
}

/** A finished attempt, kept when the step is retried or re-run. */
export interface AttemptRecord {
  readonly attempt: number;
  readonly status: StepStatus;
  readonly dispatchedAt: number | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly exitCode: number | null;
  readonly reason: string | null;
  /** Who approved or rejected, ran, skipped or cancelled it in that attempt. */
  readonly approvals: readonly ApprovalRecord[];
  readonly actor: string | null;
}

export interface StepState {
  /** Instance id: `build`, `test[node=20,os=linux]`, `finally/cleanup`, `rollback/undo@deploy`. */
  readonly id: string;
  readonly status: StepStatus;
  /** Attempts dispatched so far, across retries and re-runs (0: never); events name theirs. */
  readonly attempt: number;
  readonly waitingFor: WaitingFor | null;
  /** Its needs are done and its condition held: it waits for a concurrency slot (`queued`). */
  readonly readyAt: number | null;
  /** When start-step was sent for the current attempt; the step holds a slot from then on. */
  readonly dispatchedAt: number | null;
  /** When the executor reported it started (step.started). */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** When the current attempt (or approval, gate, manual wait) times out. */
  readonly deadlineAt: number | null;
  /** When a step waiting to be retried is queued again. */
  readonly retryAt: number | null;
  readonly exitCode: number | null;
  readonly outputs: Readonly<Record<string, string>>;
  /** Why it is in its status, for people: "exited with code 2", "executor lost", ... */
  readonly reason: string | null;
  /** It failed but has continue-on-error: it does not fail the run or skip its dependents. */
  readonly continuedOnError: boolean;
  readonly approvals: readonly ApprovalRecord[];
  readonly gate: GateProgress | null;
  /** Who ran, skipped or cancelled it, when a person did. */
  readonly actor: string | null;
  /** Retries used in the current run attempt (reset by a re-run). */
  readonly retries: number;
  readonly history: readonly AttemptRecord[];
}

export type ParamValue = string | number | boolean;

export interface RunCancellation {
  readonly kind: "cancel" | "timeout";
  readonly by: string | null;
  readonly at: number;
  readonly reason: string;
}

export interface RunState {
  readonly runId: string;
  readonly status: RunStatus;
  readonly phase: RunPhase;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The run's author: approvals refuse them unless allow-self-approval. */
  readonly startedBy: string | null;
  /** 1 for the first execution, +1 per re-run. */
  readonly runAttempt: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** The pipeline timeout of the current run attempt. */
  readonly deadlineAt: number | null;
  readonly cancellation: RunCancellation | null;
  /**
   * One entry per instance, in the order of `graph.instances` (`stepIndex(graph, id)`), each
   * naming itself. An array rather than a record keyed by id: every transition copies it, and
   * copying a 10,000-element array takes microseconds where a 10,000-key object takes ms.
   */
  readonly steps: readonly StepState[];
  /** +1 per applied event: the compare-and-set token of the run row. */
  readonly version: number;
  /** The latest event time applied; event times before it are clamped to it. */
  readonly updatedAt: number;
}

// ---------------------------------------------------------------------------------------------
// Events: what happened. At-least-once delivery is safe: duplicates and late events (an old
// attempt, a finished step, a timer that was overtaken) are ignored and reported as such.

const TimeSchema = z.number().int().min(0);
const IdSchema = z.string().trim().min(1).max(500);
const NameListSchema = z.array(z.string().trim().min(1).max(200)).max(1_000);

/** Who acts, with what they belong to; server/runs resolves it from the signed-in user. */
export const PrincipalSchema = z.strictObject({
  id: z.string().trim().min(1).max(200),
  teams: NameListSchema.default([]),
  roles: NameListSchema.default([]),
});
export type Principal = z.output<typeof PrincipalSchema>;

export const TIMER_KINDS = ["timeout", "retry", "gate-poll", "run-timeout"] as const;
export type TimerKind = (typeof TIMER_KINDS)[number];

export const RunEventSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("run.started"), at: TimeSchema }),
  z.strictObject({
    type: z.literal("step.started"),
    instance: IdSchema,
    attempt: z.number().int().min(1),
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal("step.exited"),
    instance: IdSchema,
    attempt: z.number().int().min(1),
    exitCode: z.number().int().min(0).max(255),
    outputs: z.record(z.string().max(200), z.string().max(1_000_000)).optional(),
    at: TimeSchema,
  }),
  /** The executor holding the step is gone (heartbeat lost, node died, process killed). */
  z.strictObject({
    type: z.literal("step.lost"),
    instance: IdSchema,
    attempt: z.number().int().min(1),
    detail: z.string().max(2_000).optional(),
    at: TimeSchema,
  }),
  /** `attempt` is the step attempt, or the run attempt for run-timeout (no instance). */
  z.strictObject({
    type: z.literal("timer.fired"),
    kind: z.enum(TIMER_KINDS),
    instance: IdSchema.optional(),
    attempt: z.number().int().min(1),
    at: TimeSchema,
  }),
  /** The metrics sampled for an evaluate-gate command, or why sampling failed. */
  z.strictObject({
    type: z.literal("gate.evaluated"),
    instance: IdSchema,
    attempt: z.number().int().min(1),
    poll: z.number().int().min(1),
    metrics: z.record(z.string(), z.number()).default({}),
    error: z.string().max(2_000).optional(),
    at: TimeSchema,
  }),
  z.strictObject({
    type: z.literal("approval.submitted"),
    instance: IdSchema,
    by: PrincipalSchema,
    decision: z.enum(["approve", "reject"]),
    comment: z.string().max(10_000).optional(),
    at: TimeSchema,
  }),
  /** The whole run (no instance), a step id (all its instances) or one instance. */
  z.strictObject({
    type: z.literal("control.cancel"),
    instance: IdSchema.optional(),
    by: z.string().trim().min(1).max(200).optional(),
    reason: z.string().max(2_000).optional(),
    at: TimeSchema,
  }),
  z.strictObject({ type: z.literal("control.skip"), instance: IdSchema, by: PrincipalSchema, at: TimeSchema }),
  z.strictObject({ type: z.literal("control.run"), instance: IdSchema, by: PrincipalSchema, at: TimeSchema }),
  /**
   * Re-run a finished run: everything, or `fromStep` (a step id or instance id) and everything
   * downstream. `runAttempt` names the attempt being re-run, so a duplicate is a no-op.
   */
  z.strictObject({
    type: z.literal("control.rerun"),
    fromStep: IdSchema.optional(),
    runAttempt: z.number().int().min(1),
    by: z.string().trim().min(1).max(200).optional(),
    at: TimeSchema,
  }),
]);
export type RunEvent = z.output<typeof RunEventSchema>;
/** Events as callers write them: principal teams/roles may be left out. */
export type RunEventInput = z.input<typeof RunEventSchema>;

// ---------------------------------------------------------------------------------------------
// Commands: what server/runs must do after the transaction commits. Each carries a `key` so the
// job queue and executors can deduplicate re-issued commands (resume() after a crash re-issues
// what may not have gone out).

export interface ArtifactFetch {
  /** The step whose artifact to fetch, with the instance attempts that produced it. */
  readonly from: string;
  readonly name: string | null;
  readonly path: string | null;
  readonly sources: readonly { readonly instance: string; readonly attempt: number }[];
}

export interface ArtifactSave {
  readonly name: string;
  readonly paths: readonly string[];
  readonly expireIn: string | null;
}

export interface StartStepCommand {
  readonly type: "start-step";
  /** `${runId}/${instance}/${attempt}`: an executor starts a key once. */
  readonly key: string;
  readonly runId: string;
  readonly instance: string;
  /** The step or handler id. */
  readonly stepId: string;
  readonly attempt: number;
  readonly role: InstanceRole;
  /** For handlers run because of a step (on-failure, rollback): that step's id. */
  readonly trigger: string | null;
  readonly matrix: Readonly<Record<string, MatrixValue>> | null;
  /**
   * Templates are rendered (params, env, matrix, upstream outputs) except `${{ secrets.NAME }}`,
   * which stays for the executor to resolve and mask: secrets never enter the run record.
   */
  readonly run: string | null;
  readonly shell: string | null;
  readonly image: string | null;
  readonly workingDirectory: string | null;
  readonly uses: string | null;
  readonly with: Readonly<Record<string, unknown>> | null;
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  /** Declared outputs the executor should collect. */
  readonly outputs: readonly string[];
  readonly timeoutMs: number | null;
  readonly artifacts: { readonly save: readonly ArtifactSave[]; readonly fetch: readonly ArtifactFetch[] };
}

export interface KillStepCommand {
  readonly type: "kill-step";
  readonly key: string;
  readonly runId: string;
  readonly instance: string;
  readonly attempt: number;
  readonly reason: string;
}

export interface ScheduleTimerCommand {
  readonly type: "schedule-timer";
  /** Schedule at most once per key (pg-boss singletonKey). */
  readonly key: string;
  readonly runId: string;
  readonly kind: TimerKind;
  readonly instance: string | null;
  readonly attempt: number;
  readonly at: number;
}

export interface CancelTimerCommand {
  readonly type: "cancel-timer";
  readonly key: string;
  readonly runId: string;
}

export interface EvaluateGateCommand {
  readonly type: "evaluate-gate";
  readonly key: string;
  readonly runId: string;
  readonly instance: string;
  readonly attempt: number;
  readonly poll: number;
  /** Sample these and answer with gate.evaluated{metrics}; the engine evaluates the condition. */
  readonly metrics: Readonly<Record<string, { readonly query: string; readonly source: string | null }>>;
}

export type NotifyKind = "approval-requested" | "approval-decided" | "manual-requested";

export interface NotifyCommand {
  readonly type: "notify";
  readonly key: string;
  readonly runId: string;
  readonly kind: NotifyKind;
  readonly instance: string;
  readonly attempt: number;
  /** Rendered message, if the step has one. */
  readonly message: string | null;
  /** Who may act: the approvers, or who may run the manual step (empty: anyone allowed on the run). */
  readonly principals: {
    readonly users: readonly string[];
    readonly teams: readonly string[];
    readonly roles: readonly string[];
  };
  readonly environment: string | null;
  readonly minApprovals: number | null;
  readonly decision: "approved" | "rejected" | null;
}

export interface RunFinishedCommand {
  readonly type: "run-finished";
  readonly key: string;
  readonly runId: string;
  readonly runAttempt: number;
  readonly status: RunStatus;
  readonly at: number;
}

export type Command =
  | StartStepCommand
  | KillStepCommand
  | ScheduleTimerCommand
  | CancelTimerCommand
  | EvaluateGateCommand
  | NotifyCommand
  | RunFinishedCommand;

export interface Transition {
  /** The new state; the same object when the event was ignored. */
  readonly state: RunState;
  readonly commands: readonly Command[];
  /** Instance ids whose StepState changed: the rows to write. */
  readonly changed: readonly string[];
  /** Why the event changed nothing; null when it was applied. */
  readonly ignored: Ignored | null;
}

/**
 * - `stale`: a duplicate or late event (old attempt, finished step, overtaken timer): acknowledge it;
 * - `invalid-state`: a control that does not apply now (skip a step that is not waiting);
 * - `forbidden`: the principal may not do this (not an approver, self-approval);
 * - `not-found`: no such step in this run.
 */
export interface Ignored {
  readonly code: "stale" | "invalid-state" | "forbidden" | "not-found";
  readonly message: string;
}

import { z } from "zod";
import { defineOperation } from "@/server/http/operation";
import { slugSchema } from "@/server/projects/schema";

// Isomorphic: the run view, the API, the socket events and the service share these.

export const RUN_STATUS_VALUES = [
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "timed_out",
] as const;
export const STEP_STATUS_VALUES = [
  "queued",
  "waiting",
  "running",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
  "timed_out",
] as const;
export const RUN_TRIGGERS = ["manual", "api", "schedule", "webhook"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

const paramValue = z.union([z.string().max(10_000), z.number(), z.boolean()]);
/** A step id (`build`) or an instance id (`test[node=20,os=linux]`, `finally/cleanup`). */
const stepRef = z.string().trim().min(1).max(500);
const comment = z.string().trim().max(10_000);

export const startRunInputSchema = z.strictObject({
  /** Values of the pipeline's params; text is coerced to the declared type. */
  params: z
    .record(z.string().max(100), paramValue)
    .refine((value) => Object.keys(value).length <= 200, { message: "has more than 200 entries" })
    .default({}),
  /** Run this version instead of the current one. */
  version: z.number().int().min(1).optional(),
  /** How it was started, for the record: "manual" from the UI, "api" (the default) otherwise. */
  trigger: z.enum(["manual", "api"]).optional(),
});
export type StartRunInput = z.input<typeof startRunInputSchema>;

export const cancelRunInputSchema = z.strictObject({
  /** Cancel only this step (a step id cancels all its matrix instances). */
  step: stepRef.optional(),
  reason: z.string().trim().max(2_000).optional(),
});
export type CancelRunInput = z.input<typeof cancelRunInputSchema>;

export const rerunInputSchema = z.strictObject({
  /** Re-run from this step (and everything downstream), reusing upstream outputs and artifacts. */
  fromStep: stepRef.optional(),
});
export type RerunInput = z.input<typeof rerunInputSchema>;

export const approvalInputSchema = z.strictObject({ step: stepRef, comment: comment.optional() });
export type ApprovalInput = z.input<typeof approvalInputSchema>;

export const stepControlInputSchema = z.strictObject({ step: stepRef });
export type StepControlInput = z.input<typeof stepControlInputSchema>;

export const runListQuerySchema = z.object({
  /** `status=failed,timed_out` (or already a list: parsing twice gives the same). */
  status: z
    .preprocess(
      (value) =>
        typeof value === "string"
          ? value
              .split(",")
              .map((part) => part.trim())
              .filter(Boolean)
          : value,
      z.array(z.enum(RUN_STATUS_VALUES)).max(RUN_STATUS_VALUES.length),
    )
    .optional(),
  pipeline: z.uuid().optional(),
  trigger: z.enum(RUN_TRIGGERS).optional(),
  startedBy: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  /** The `nextCursor` of the previous page. */
  cursor: z
    .string()
    .trim()
    .max(200)
    .regex(/^\d+:[0-9a-f-]{36}$/, "is not a cursor this API returned")
    .optional(),
});
export type RunListQuery = z.input<typeof runListQuerySchema>;

export const MAX_LOG_PAGE_LINES = 10_000;

export const logQuerySchema = z.object({
  step: stepRef,
  /** The attempt whose lines to read; the step's latest by default. */
  attempt: z.coerce.number().int().min(1).optional(),
  /** Lines after this sequence number (0: from the first line). */
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_LOG_PAGE_LINES).default(1_000),
});
export type LogQuery = z.input<typeof logQuerySchema>;

// ---- DTOs ----

const userRef = z.object({ id: z.string(), name: z.string() });

export const stepCountsSchema = z.object({
  total: z.number(),
  queued: z.number(),
  waiting: z.number(),
  running: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  skipped: z.number(),
  cancelled: z.number(),
  timed_out: z.number(),
});
export type StepCounts = z.infer<typeof stepCountsSchema>;

export const runSummarySchema = z.object({
  id: z.string(),
  number: z.number(),
  organizationId: z.string(),
  organizationSlug: z.string(),
  projectId: z.string(),
  projectSlug: z.string(),
  pipelineId: z.string(),
  pipelineSlug: z.string(),
  pipelineName: z.string(),
  pipelineVersion: z.number(),
  status: z.enum(RUN_STATUS_VALUES),
  phase: z.string(),
  runAttempt: z.number(),
  trigger: z.string(),
  startedBy: userRef.nullable(),
  params: z.record(z.string(), paramValue),
  /** Waiting for a concurrency slot (the pipeline's or the project's cap). */
  queuedForSlot: z.boolean(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  steps: stepCountsSchema,
});
export type RunSummary = z.infer<typeof runSummarySchema>;

export const runPageSchema = z.object({ runs: z.array(runSummarySchema), nextCursor: z.string().nullable() });
export type RunPage = z.infer<typeof runPageSchema>;

const approvalRecordSchema = z.object({
  by: z.string(),
  byName: z.string(),
  decision: z.enum(["approve", "reject"]),
  comment: z.string().nullable(),
  at: z.string(),
});

const attemptRecordSchema = z.object({
  attempt: z.number(),
  status: z.enum(STEP_STATUS_VALUES),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  exitCode: z.number().nullable(),
  reason: z.string().nullable(),
});

export const stepDtoSchema = z.object({
  /** Instance id: `build`, `test[node=20,os=linux]`, `finally/cleanup`. */
  id: z.string(),
  stepId: z.string(),
  name: z.string(),
  kind: z.enum(["run", "uses", "approval", "gate", "manual"]),
  uses: z.string().nullable(),
  role: z.string(),
  stage: z.string().nullable(),
  /** Step ids this step needs (DAG edges, matrices collapsed). */
  needs: z.array(z.string()),
  matrix: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullable(),
  status: z.enum(STEP_STATUS_VALUES),
  attempt: z.number(),
  waitingFor: z.enum(["approval", "gate", "manual", "retry"]).nullable(),
  reason: z.string().nullable(),
  exitCode: z.number().nullable(),
  continuedOnError: z.boolean(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  deadlineAt: z.string().nullable(),
  retryAt: z.string().nullable(),
  outputs: z.record(z.string(), z.string()),
  actor: z.string().nullable(),
  approvals: z.array(approvalRecordSchema),
  approval: z
    .object({
      minApprovals: z.number(),
      environment: z.string().nullable(),
      message: z.string().nullable(),
      allowSelfApproval: z.boolean(),
      approvers: z.object({ users: z.array(z.string()), teams: z.array(z.string()), roles: z.array(z.string()) }),
    })
    .nullable(),
  manualMessage: z.string().nullable(),
  /** The rendered message of the approval or manual step (templates filled in). */
  notice: z.string().nullable(),
  gate: z
    .object({
      condition: z.string(),
      lastValue: z.boolean().nullable(),
      lastError: z.string().nullable(),
      lastEvaluatedAt: z.string().nullable(),
      nextPollAt: z.string().nullable(),
    })
    .nullable(),
  history: z.array(attemptRecordSchema),
});
export type StepDto = z.infer<typeof stepDtoSchema>;

export const runDetailSchema = runSummarySchema.extend({
  version: z.number(),
  cancellation: z
    .object({ kind: z.enum(["cancel", "timeout"]), by: z.string().nullable(), at: z.string(), reason: z.string() })
    .nullable(),
  stages: z.array(z.object({ id: z.string(), name: z.string() })),
  steps: stepCountsSchema,
  stepList: z.array(stepDtoSchema),
  /** What the signed-in user may do on this run (the server checks again on every control). */
  can: z.object({ cancel: z.boolean(), retry: z.boolean(), approve: z.boolean(), run: z.boolean() }),
});
export type RunDetail = z.infer<typeof runDetailSchema>;

export const LOG_STREAMS = ["stdout", "stderr", "system"] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

export const logLineSchema = z.object({
  seq: z.number(),
  /** Epoch milliseconds. */
  t: z.number(),
  stream: z.enum(LOG_STREAMS),
  text: z.string(),
});
export type LogLine = z.infer<typeof logLineSchema>;

export const logPageSchema = z.object({
  runId: z.string(),
  step: z.string(),
  attempt: z.number(),
  lines: z.array(logLineSchema),
  /** Pass as `after` for the next page (the last sequence number returned, or `after`). */
  nextAfter: z.number(),
  /** The step attempt has finished and every line has been returned. */
  complete: z.boolean(),
  /** The highest sequence number stored for the attempt so far (0: no line yet): the log's length. */
  lastSeq: z.number(),
});
export type LogPage = z.infer<typeof logPageSchema>;

export const webhookDeliverySchema = z.object({
  started: z.boolean(),
  /** Why no run started (the trigger's condition was false). */
  reason: z.string().nullable(),
  run: runSummarySchema.nullable(),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

// ---- Live events (socket.io) ----

/** A step as the live view patches it. */
export const stepPatchSchema = stepDtoSchema.pick({
  id: true,
  status: true,
  attempt: true,
  waitingFor: true,
  reason: true,
  exitCode: true,
  startedAt: true,
  finishedAt: true,
});
export type StepPatch = z.infer<typeof stepPatchSchema>;

export interface RunUpdatedEvent {
  runId: string;
  status: (typeof RUN_STATUS_VALUES)[number];
  phase: string;
  runAttempt: number;
  version: number;
  finishedAt: string | null;
  steps: StepPatch[];
}

export interface LogLinesEvent {
  runId: string;
  step: string;
  attempt: number;
  lines: LogLine[];
}

export const runSubscriptionSchema = z.strictObject({ runId: z.uuid() });
export const logSubscriptionSchema = z.strictObject({
  runId: z.uuid(),
  step: stepRef,
  attempt: z.number().int().min(1),
  /** The last sequence number the client has; the server sends what follows, then live lines. */
  after: z.number().int().min(0).default(0),
});
export type LogSubscription = z.input<typeof logSubscriptionSchema>;

export type SubscribeAck = { ok: true } | { ok: false; code: string; message: string };

// ---- Approvals inbox ----

export const pendingActionSchema = z.object({
  kind: z.enum(["approval", "manual"]),
  runId: z.string(),
  runNumber: z.number(),
  step: z.string(),
  stepName: z.string(),
  pipelineId: z.string(),
  pipelineName: z.string(),
  organizationSlug: z.string(),
  projectSlug: z.string(),
  environment: z.string().nullable(),
  message: z.string().nullable(),
  startedBy: userRef.nullable(),
  params: z.record(z.string(), paramValue),
  approvals: z.number(),
  minApprovals: z.number(),
  waitingSince: z.string().nullable(),
  deadlineAt: z.string().nullable(),
});
export type PendingAction = z.infer<typeof pendingActionSchema>;

// ---- Log search and download ----

/**
 * Terminal escape sequences (CSI such as SGR colours, OSC such as titles and links, and
 * two-character escapes) as a JavaScript regular expression source. They are not part of a
 * line's text as the log viewer shows it, and search matches that text, not the raw bytes.
 */
export const LOG_ESCAPE_SOURCE =
  "\\u001b(?:\\[[0-?]*[ -/]*[@-~]|\\][^\\u0007\\u001b]*(?:\\u0007|\\u001b\\\\)|[@-Z\\\\-_])";
export const MAX_LOG_SEARCH_MATCHES = 10_000;
/** Highlight ranges kept per matching line (a pattern matching every character stops here). */
export const MAX_LOG_SEARCH_RANGES = 100;

/** A query-string flag: `true` or `false` (booleans from in-process callers too). */
const queryFlag = z.union([z.boolean(), z.enum(["true", "false"]).transform((value) => value === "true")]);

export const logSearchQuerySchema = z
  .object({
    step: stepRef,
    /** The attempt to search; the step's latest by default. */
    attempt: z.coerce.number().int().min(1).optional(),
    /**
     * What to find in each line as displayed (terminal escape sequences removed): plain text, or
     * a JavaScript regular expression with `regex=true`.
     */
    q: z.string().min(1).max(1_000).optional(),
    regex: queryFlag.default(false),
    caseSensitive: queryFlag.default(false),
    /** Only lines of this stream (`stderr`: the lines a step wrote to standard error). */
    stream: z.enum(LOG_STREAMS).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_LOG_SEARCH_MATCHES).default(1_000),
  })
  .refine((query) => query.q !== undefined || query.stream !== undefined, {
    message: "give the text to find (or a stream)",
    path: ["q"],
  });
export type LogSearchQuery = z.input<typeof logSearchQuerySchema>;

export const logSearchMatchSchema = z.object({
  seq: z.number(),
  /** [start, end) offsets (UTF-16 code units) of each match in the displayed text of the line. */
  ranges: z.array(z.tuple([z.number(), z.number()])),
});
export type LogSearchMatch = z.infer<typeof logSearchMatchSchema>;

export const logSearchResultSchema = z.object({
  runId: z.string(),
  step: z.string(),
  attempt: z.number(),
  /** The first `limit` matching lines, in order. */
  matches: z.array(logSearchMatchSchema),
  /** Matching lines found; a lower bound when `truncated` and the search stopped at its time budget. */
  total: z.number(),
  /** Not every match is listed: more than `limit` lines match, or the search stopped at its time budget. */
  truncated: z.boolean(),
  /** The search covered lines 1 to this sequence number. */
  searchedThrough: z.number(),
});
export type LogSearchResult = z.infer<typeof logSearchResultSchema>;

export const logDownloadQuerySchema = z.object({
  step: stepRef,
  /** The attempt to download; the step's latest by default. */
  attempt: z.coerce.number().int().min(1).optional(),
});
export type LogDownloadQuery = z.input<typeof logDownloadQuerySchema>;

// ---- API operations (route handlers and the OpenAPI document are built from these) ----

const runParams = z.object({ runId: z.uuid() });
const pipelineParams = z.object({ pipelineId: z.uuid() });
const projectParams = z.object({ org: slugSchema, project: slugSchema });

export const runOperations = {
  startRun: defineOperation({
    id: "startRun",
    method: "POST",
    route: "/api/v1/pipelines/[pipelineId]/runs",
    summary: "Start a run of a pipeline",
    description:
      "Params are checked against the pipeline's declarations (text is coerced to the declared type). The run starts at once, or queues when the pipeline's or the project's concurrency cap is reached.",
    tag: "Runs",
    params: pipelineParams,
    body: startRunInputSchema,
    response: runSummarySchema,
    successStatus: 201,
  }),
  listPipelineRuns: defineOperation({
    id: "listPipelineRuns",
    method: "GET",
    route: "/api/v1/pipelines/[pipelineId]/runs",
    summary: "Runs of a pipeline, newest first",
    tag: "Runs",
    params: pipelineParams,
    query: runListQuerySchema,
    response: runPageSchema,
  }),
  listProjectRuns: defineOperation({
    id: "listProjectRuns",
    method: "GET",
    route: "/api/v1/organizations/[org]/projects/[project]/runs",
    summary: "Runs of a project, newest first",
    tag: "Runs",
    params: projectParams,
    query: runListQuerySchema,
    response: runPageSchema,
  }),
  getRun: defineOperation({
    id: "getRun",
    method: "GET",
    route: "/api/v1/runs/[runId]",
    summary: "A run with every step's state",
    tag: "Runs",
    params: runParams,
    response: runDetailSchema,
  }),
  readRunLogs: defineOperation({
    id: "readRunLogs",
    method: "GET",
    route: "/api/v1/runs/[runId]/logs",
    summary: "Log lines of a step attempt after a sequence number",
    description:
      "Sequence numbers start at 1 per step attempt and have no gaps; page with `after` = the returned `nextAfter` until `complete`.",
    tag: "Runs",
    params: runParams,
    query: logQuerySchema,
    response: logPageSchema,
  }),
  searchRunLogs: defineOperation({
    id: "searchRunLogs",
    method: "GET",
    route: "/api/v1/runs/[runId]/logs/search",
    summary: "Find lines of a step attempt's log",
    description:
      "Matches each line as displayed (terminal escape sequences removed), as plain text or a JavaScript regular expression (`regex=true`), case-insensitively unless `caseSensitive=true`. Answers the first `limit` matching lines with the ranges to highlight, and how many lines match. A pattern that is not a valid regular expression, or too slow to evaluate, is a 400 naming `q`.",
    tag: "Runs",
    params: runParams,
    query: logSearchQuerySchema,
    response: logSearchResultSchema,
  }),
  downloadRunLogs: defineOperation({
    id: "downloadRunLogs",
    method: "GET",
    route: "/api/v1/runs/[runId]/logs/download",
    summary: "Download a step attempt's whole log as text",
    description:
      "Answers `text/plain; charset=utf-8` as an attachment: every stored line, in order, as the step printed it (terminal escape sequences kept), streamed from the database.",
    tag: "Runs",
    params: runParams,
    query: logDownloadQuerySchema,
  }),
  cancelRun: defineOperation({
    id: "cancelRun",
    method: "POST",
    route: "/api/v1/runs/[runId]/cancel",
    summary: "Cancel a run, or one step of it",
    tag: "Runs",
    params: runParams,
    body: cancelRunInputSchema.optional(),
    response: runDetailSchema,
  }),
  rerunRun: defineOperation({
    id: "rerunRun",
    method: "POST",
    route: "/api/v1/runs/[runId]/rerun",
    summary: "Re-run a finished run, or from one step",
    description:
      "From a step: that step and everything downstream run again; upstream steps keep their outputs and artifacts.",
    tag: "Runs",
    params: runParams,
    body: rerunInputSchema.optional(),
    response: runDetailSchema,
  }),
  approveStep: defineOperation({
    id: "approveStep",
    method: "POST",
    route: "/api/v1/runs/[runId]/approve",
    summary: "Approve an approval step",
    description: "Refused (403, with the reason) to people who are not approvers of the step or who started the run.",
    tag: "Approvals",
    params: runParams,
    body: approvalInputSchema,
    response: runDetailSchema,
  }),
  rejectStep: defineOperation({
    id: "rejectStep",
    method: "POST",
    route: "/api/v1/runs/[runId]/reject",
    summary: "Reject an approval step (it fails, with the comment as its reason)",
    tag: "Approvals",
    params: runParams,
    body: approvalInputSchema,
    response: runDetailSchema,
  }),
  runManualStep: defineOperation({
    id: "runManualStep",
    method: "POST",
    route: "/api/v1/runs/[runId]/run-step",
    summary: "Start a manual step that waits for a person",
    tag: "Runs",
    params: runParams,
    body: stepControlInputSchema,
    response: runDetailSchema,
  }),
  skipManualStep: defineOperation({
    id: "skipManualStep",
    method: "POST",
    route: "/api/v1/runs/[runId]/skip-step",
    summary: "Skip a manual step",
    tag: "Runs",
    params: runParams,
    body: stepControlInputSchema,
    response: runDetailSchema,
  }),
  deliverWebhook: defineOperation({
    id: "deliverWebhook",
    method: "POST",
    route: "/api/v1/hooks/pipelines/[pipelineId]/[hookId]",
    summary: "Deliver an event to a pipeline's webhook trigger",
    description:
      "No session: authenticated by `X-Microstack-Signature-256` (or GitHub's `X-Hub-Signature-256`): `sha256=` and the hex HMAC-SHA256 of the raw body with the trigger's secret; or GitLab's `X-Gitlab-Token` equal to the secret. The body is the JSON payload the trigger's `if` and params read. 202 with the run, or with `started: false` and why.",
    tag: "Runs",
    params: z.object({ pipelineId: z.uuid(), hookId: z.string().trim().min(1).max(100) }),
    response: webhookDeliverySchema,
    successStatus: 202,
    maxBodyBytes: 1024 * 1024,
    auth: "public",
    rawBody: "The event, as JSON (what the trigger's `if` and params read as `payload`).",
  }),
  listPendingActions: defineOperation({
    id: "listPendingActions",
    method: "GET",
    route: "/api/v1/approvals",
    summary: "What waits for me: approvals I may give and manual steps I may start",
    tag: "Approvals",
    response: z.array(pendingActionSchema),
  }),
};

import { z } from "zod";

export const AUDIT_OUTCOMES = ["success", "failure", "denied"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export const AUDIT_ACTOR_TYPES = ["user", "system", "service"] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

/** The largest `details` object, serialized; audit rows are not a place for payloads. */
export const AUDIT_DETAILS_MAX_BYTES = 16_384;

// "auth.sign_in", "projects.secret.update": dotted lowercase segments, at least two.
const ACTION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const ACTION_PREFIX_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.?$/;

const bounded = (max: number) => z.string().trim().min(1).max(max);
// PostgreSQL returns uuids in lowercase; hashing what it will return keeps the chain verifiable.
const uuid = z.uuid().transform((value) => value.toLowerCase());

/** Text PostgreSQL cannot store (NUL) is replaced rather than failing the audited operation. */
function withoutNul(value: z.core.util.JSONType): z.core.util.JSONType {
  if (typeof value === "string") return value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value;
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [withoutNul(key) as string, withoutNul(entry)]),
    );
  }
  return value;
}

// Fields that may carry what a client sent (the e-mail typed into a failed sign-in, a
// forwarded address) are cut to size instead of rejected: an over-long value must not make
// the audited operation fail, nor go unrecorded.
const truncated = (max: number) =>
  z
    .string()
    .trim()
    .transform((value) => value.slice(0, max));

export const auditActorSchema = z.object({
  type: z.enum(AUDIT_ACTOR_TYPES),
  /** Absent for a user who could not be identified (a failed sign-in with an unknown e-mail). */
  id: bounded(64).optional(),
  label: truncated(320).optional(),
});

export const auditTargetSchema = z.object({
  type: bounded(64),
  id: bounded(200),
});

export const auditEventInputSchema = z.object({
  actor: auditActorSchema,
  organizationId: uuid.optional(),
  projectId: uuid.optional(),
  action: z.string().trim().max(128).regex(ACTION_PATTERN, "must be dotted lowercase, e.g. auth.sign_in"),
  target: auditTargetSchema.optional(),
  outcome: z.enum(AUDIT_OUTCOMES),
  requestId: bounded(64).optional(),
  traceId: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[0-9a-f]{32}$/, "must be a 32-character hex trace id")
    .optional(),
  // Whatever the proxy chain reported; not validated as an address, for the same reason.
  clientIp: truncated(64).optional(),
  details: z
    .record(z.string(), z.json())
    .default({})
    .transform((details) => withoutNul(details) as Record<string, z.core.util.JSONType>)
    .refine((details) => Buffer.byteLength(JSON.stringify(details)) <= AUDIT_DETAILS_MAX_BYTES, {
      message: `must serialize to at most ${AUDIT_DETAILS_MAX_BYTES} bytes`,
    }),
});
export type AuditEventInput = z.input<typeof auditEventInputSchema>;
export type AuditEventData = z.output<typeof auditEventInputSchema>;

// Query strings arrive as text: empty parameters mean "no filter".
const emptyToUndefined = (value: unknown) => (value === "" || value === null ? undefined : value);
const optionalQuery = <T extends z.ZodType>(schema: T) => z.preprocess(emptyToUndefined, schema.optional());

export const auditListQuerySchema = z
  .object({
    /** "auth" matches auth.* (not authz.*); "auth.sign_in" matches that action and its sub-actions. */
    action: optionalQuery(
      z.string().trim().max(128).regex(ACTION_PREFIX_PATTERN, "must be a dotted lowercase action prefix"),
    ),
    actorId: optionalQuery(bounded(64)),
    outcome: optionalQuery(z.enum(AUDIT_OUTCOMES)),
    organizationId: optionalQuery(uuid),
    projectId: optionalQuery(uuid),
    /** Inclusive lower bound on occurredAt. */
    from: optionalQuery(z.coerce.date()),
    /** Exclusive upper bound on occurredAt. */
    to: optionalQuery(z.coerce.date()),
    /** The nextCursor of the previous page: events older (lower seq) than it. */
    cursor: optionalQuery(
      z
        .string()
        .regex(/^[1-9][0-9]{0,18}$/, "must be a cursor returned by a previous page")
        // Also within bigint range: a larger number would reach PostgreSQL as an error (a 500).
        .refine(
          (value) => !/^[0-9]+$/.test(value) || BigInt(value) <= 9_223_372_036_854_775_807n,
          "must be a cursor returned by a previous page",
        ),
    ),
    limit: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(200).default(50)),
  })
  .refine((query) => !query.from || !query.to || query.from < query.to, {
    message: "must be after from",
    path: ["to"],
  });
export type AuditListQueryInput = z.input<typeof auditListQuerySchema>;
export type AuditListQuery = z.output<typeof auditListQuerySchema>;

/** Which events a reader may see; derived from the reader by the caller's policy. */
export interface AuditReadScope {
  organizationIds: readonly string[];
  /** Also events that belong to no organization (sign-ins, system jobs): instance admins. */
  includeSystem?: boolean;
  /**
   * Events that belong to no organization (sign-in, sign-out) but whose actor is one of these
   * users: an organization's admins see their own members' sessions, no one else's.
   */
  memberActorIds?: readonly string[];
}

/** An audit event as the UI and the API receive it. */
export interface AuditEventDto {
  /** Position in the chain; a string because it is a 64-bit integer. */
  seq: string;
  id: string;
  occurredAt: string;
  actor: { type: AuditActorType; id: string | null; label: string };
  organizationId: string | null;
  projectId: string | null;
  action: string;
  target: { type: string; id: string } | null;
  outcome: AuditOutcome;
  requestId: string | null;
  traceId: string | null;
  clientIp: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditEventPage {
  items: AuditEventDto[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export type AuditChainBreak = "hash_mismatch" | "prev_hash_mismatch" | "gap";

export type AuditChainVerification =
  | { ok: true; count: number }
  | {
      ok: false;
      /** Events checked up to and including the broken one. */
      count: number;
      brokenAt: { seq: string; reason: AuditChainBreak; occurredAt: string; action: string };
    };

/** Filters of the authorization decision log (GET /api/v1/decision-log). */
export const decisionLogQuerySchema = z
  .object({
    organizationId: optionalQuery(uuid),
    principalId: optionalQuery(bounded(200)),
    action: optionalQuery(
      z
        .string()
        .trim()
        .max(100)
        .regex(
          /^[a-z][a-z0-9-]*(:[a-z*][a-z0-9-]*)?$/,
          "must be an action like pipeline:run or a resource type like pipeline",
        ),
    ),
    effect: optionalQuery(z.enum(["allow", "deny"])),
    reasonCode: optionalQuery(
      z
        .string()
        .trim()
        .max(32)
        .regex(/^[a-z_]+$/, "must be a reason code"),
    ),
    from: optionalQuery(z.coerce.date()),
    to: optionalQuery(z.coerce.date()),
    cursor: optionalQuery(
      z
        .string()
        .regex(/^[1-9][0-9]{0,18}$/, "must be a cursor returned by a previous page")
        .refine(
          (value) => !/^[0-9]+$/.test(value) || BigInt(value) <= 9_223_372_036_854_775_807n,
          "must be a cursor returned by a previous page",
        ),
    ),
    limit: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(200).default(50)),
  })
  .refine((query) => !query.from || !query.to || query.from < query.to, {
    message: "must be after from",
    path: ["to"],
  });
export type DecisionLogQueryInput = z.input<typeof decisionLogQuerySchema>;
export type DecisionLogQuery = z.output<typeof decisionLogQuerySchema>;

/** One logged authorization decision: OPA's decision log field names plus Microstack's. */
export interface DecisionLogItem {
  seq: string;
  decision_id: string;
  timestamp: string;
  path: string;
  revision: number;
  input: {
    principal: { type: string; id: string };
    action: string;
    resource: {
      type: string;
      id: string | null;
      organizationId: string | null;
      projectId: string | null;
      environment: string | null;
    };
  };
  result: boolean;
  reason_code: string;
  reason: string;
  policy_id: string | null;
  binding_id: string | null;
  scope: string | null;
  latency_us: number;
}

export interface DecisionLogPage {
  items: DecisionLogItem[];
  nextCursor: string | null;
}

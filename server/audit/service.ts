import "server-only";
import { createHash, randomUUID } from "node:crypto";
import type { Actor } from "@/server/auth/schema";
import { AppError } from "@/server/http/errors";
import { uuidV7 } from "@/server/ids";
import { getRequestContext } from "@/server/observability/request-context";
import { currentTraceId } from "@/server/observability/tracing";
import {
  type AuditEventRecord,
  appendAuditEvent,
  getLastAuditEvent,
  iterateAuditChain,
  listAuditEvents as listAuditEventRecords,
  type NewAuditEventRecord,
  withAuditChainLock,
  deleteAuthzDecisionsBefore,
  insertAuthzDecisions,
  listAuthzDecisions,
  type NewAuthzDecisionRecord,
} from "./repo";
import { assertCanReadAudit, assertCanReadDecisionLog } from "./policy";
import {
  type AuditActorType,
  type AuditChainVerification,
  type AuditEventDto,
  type AuditEventInput,
  type AuditEventPage,
  type AuditOutcome,
  type AuditReadScope,
  auditEventInputSchema,
  auditListQuerySchema,
  type DecisionLogItem,
  type DecisionLogPage,
  decisionLogQuerySchema,
} from "./schema";

/** The prevHash of the first event. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Appends one event to the hash chain and echoes it to stdout as `[AUDIT] {json}` for log
 * shipping. Each event's hash covers the previous hash, so editing or deleting any stored
 * event breaks every link after it (verifyAuditChain).
 */
export async function recordAuditEvent(input: AuditEventInput): Promise<AuditEventDto> {
  const parsed = auditEventInputSchema.safeParse(input);
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  const event = parsed.data;
  const context = getRequestContext();

  const stored = await withAuditChainLock(async (tx) => {
    const last = await getLastAuditEvent(tx);
    const prevHash = last?.hash ?? GENESIS_HASH;
    const fields: Omit<NewAuditEventRecord, "hash"> = {
      id: uuidV7(),
      // Taken under the lock, so time order and chain order agree (on one clock).
      occurredAt: new Date(),
      actorType: event.actor.type,
      actorId: event.actor.id ?? null,
      actorLabel: event.actor.label ?? "",
      organizationId: event.organizationId ?? null,
      projectId: event.projectId ?? null,
      action: event.action,
      targetType: event.target?.type ?? null,
      targetId: event.target?.id ?? null,
      outcome: event.outcome,
      // Defaults from the request being served, so callers need not thread them through.
      requestId: event.requestId ?? context?.requestId ?? null,
      traceId: event.traceId ?? currentTraceId() ?? null,
      clientIp: event.clientIp ?? context?.clientIp ?? null,
      details: event.details,
      prevHash,
    };
    return appendAuditEvent(tx, { ...fields, hash: computeAuditHash(fields) });
  });

  const dto = toAuditEventDto(stored);
  // After commit: a line for an event that was rolled back would be a false record.
  process.stdout.write(`[AUDIT] ${JSON.stringify(dto)}\n`);
  return dto;
}

/**
 * One page of events, newest first, limited to the organizations in scope. Who may read
 * which organizations is the caller's policy; it hands the result over as the scope.
 */
export async function listAuditEvents(scope: AuditReadScope, query: unknown): Promise<AuditEventPage> {
  const parsed = auditListQuerySchema.safeParse(query ?? {});
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  const filters = parsed.data;

  // An organization outside the scope reads as empty, not forbidden: its existence is not
  // something this reader may learn.
  const outOfScope = filters.organizationId !== undefined && !scope.organizationIds.includes(filters.organizationId);
  if (outOfScope || (scope.organizationIds.length === 0 && !scope.includeSystem)) {
    return { items: [], nextCursor: null };
  }

  const records = await listAuditEventRecords({
    organizationIds: scope.organizationIds,
    includeSystem: scope.includeSystem ?? false,
    memberActorIds: scope.memberActorIds,
    organizationId: filters.organizationId,
    projectId: filters.projectId,
    actionPrefix: filters.action,
    actorId: filters.actorId,
    outcome: filters.outcome,
    from: filters.from,
    to: filters.to,
    beforeSeq: filters.cursor === undefined ? undefined : BigInt(filters.cursor),
    take: filters.limit + 1,
  });
  const hasMore = records.length > filters.limit;
  const items = records.slice(0, filters.limit).map(toAuditEventDto);
  return { items, nextCursor: hasMore ? (items.at(-1)?.seq ?? null) : null };
}

/**
 * Walks the whole chain oldest first and reports the first event that does not hold up.
 * Links are checked through prevHash, not seq continuity: sequences skip values when a
 * transaction rolls back, so a seq gap alone is normal. A gap matters only where the link
 * is broken too, which is how deleted events show. Deleting the newest events leaves no
 * trace in the chain itself; compare the head with a copy kept elsewhere (the `[AUDIT]` log).
 */
export async function verifyAuditChain(options: { batchSize?: number } = {}): Promise<AuditChainVerification> {
  let expectedPrevHash = GENESIS_HASH;
  let previousSeq = 0n;
  let count = 0;
  for await (const record of iterateAuditChain(options.batchSize)) {
    count += 1;
    const brokenAt = (reason: "hash_mismatch" | "prev_hash_mismatch" | "gap") => ({
      ok: false as const,
      count,
      brokenAt: {
        seq: record.seq.toString(),
        reason,
        occurredAt: record.occurredAt.toISOString(),
        action: record.action,
      },
    });
    if (record.prevHash !== expectedPrevHash) {
      return brokenAt(record.seq > previousSeq + 1n ? "gap" : "prev_hash_mismatch");
    }
    if (computeAuditHash(record) !== record.hash) return brokenAt("hash_mismatch");
    expectedPrevHash = record.hash;
    previousSeq = record.seq;
  }
  return { ok: true, count };
}

type HashedFields = Omit<NewAuditEventRecord, "hash">;

/**
 * sha256(prevHash + canonical JSON of every field but seq and hash). The same function hashes
 * the values being inserted and the row read back, so both sides agree by construction.
 */
function computeAuditHash(event: HashedFields | AuditEventRecord): string {
  const material: Record<string, unknown> = {
    id: event.id,
    occurredAt: event.occurredAt.toISOString(),
    actorType: event.actorType,
    actorId: event.actorId,
    actorLabel: event.actorLabel,
    organizationId: event.organizationId,
    projectId: event.projectId,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    outcome: event.outcome,
    requestId: event.requestId,
    traceId: event.traceId,
    clientIp: event.clientIp,
    details: event.details,
    prevHash: event.prevHash,
  };
  return createHash("sha256")
    .update(event.prevHash + canonicalJson(material))
    .digest("hex");
}

/**
 * JSON with object keys sorted at every level and no whitespace, so the same data always
 * hashes the same, whatever key order PostgreSQL's jsonb hands back.
 */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? "null" : canonicalJson(item))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
}

function toAuditEventDto(record: AuditEventRecord): AuditEventDto {
  return {
    seq: record.seq.toString(),
    id: record.id,
    occurredAt: record.occurredAt.toISOString(),
    actor: { type: record.actorType as AuditActorType, id: record.actorId, label: record.actorLabel },
    organizationId: record.organizationId,
    projectId: record.projectId,
    action: record.action,
    target:
      record.targetType !== null && record.targetId !== null ? { type: record.targetType, id: record.targetId } : null,
    outcome: record.outcome as AuditOutcome,
    requestId: record.requestId,
    traceId: record.traceId,
    clientIp: record.clientIp,
    details: (record.details ?? {}) as Record<string, unknown>,
    prevHash: record.prevHash,
    hash: record.hash,
  };
}

/** The audit events the actor may read (see policy.ts), one page, newest first. */
export async function listAuditEventsForActor(actor: Actor, query: unknown): Promise<AuditEventPage> {
  return listAuditEvents(await assertCanReadAudit(actor), query);
}

// ---- Authorization decision log ----

/** What the authorization engine's decision log hands over (OPA's field names plus ours). */
export interface AuthzDecisionEventInput {
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
      organizationId: string;
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

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uuidOrNull = (value: string | null | undefined) => (value && UUID_PATTERN.test(value) ? value : null);
const clip = (value: string | null | undefined, max: number) => (value == null ? null : value.slice(0, max));

let lastPrune = 0;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Stores a batch of decision events (the decision log's sink). Inputs come from callers of the
 * OPA-compatible API too, so every field is bounded and ids that are not uuids are dropped
 * rather than failing the batch. Old events are pruned at most hourly.
 */
export async function recordAuthzDecisions(
  events: readonly AuthzDecisionEventInput[],
  options: { retentionDays: number },
): Promise<void> {
  const rows: NewAuthzDecisionRecord[] = events.map((event) => ({
    decisionId: uuidOrNull(event.decision_id) ?? randomUUID(),
    occurredAt: new Date(event.timestamp),
    path: clip(event.path, 200) ?? "",
    revision: BigInt(Math.max(0, Math.trunc(event.revision))),
    organizationId: uuidOrNull(event.input.resource.organizationId),
    projectId: clip(event.input.resource.projectId, 200),
    environment: clip(event.input.resource.environment, 64),
    principalType: clip(event.input.principal.type, 32) ?? "",
    principalId: clip(event.input.principal.id, 200) ?? "",
    action: clip(event.input.action, 100) ?? "",
    resourceType: clip(event.input.resource.type, 64) ?? "",
    resourceId: clip(event.input.resource.id, 200),
    allow: event.result,
    reasonCode: clip(event.reason_code, 32) ?? "",
    reason: clip(event.reason, 1_000) ?? "",
    policyId: uuidOrNull(event.policy_id),
    bindingId: uuidOrNull(event.binding_id),
    scope: clip(event.scope, 16),
    latencyUs: event.latency_us,
  }));
  await insertAuthzDecisions(rows);
  if (Date.now() - lastPrune > PRUNE_INTERVAL_MS) {
    lastPrune = Date.now();
    await deleteAuthzDecisionsBefore(new Date(Date.now() - options.retentionDays * 24 * 60 * 60 * 1000));
  }
}

/** The decision log of the organizations where the actor has authz:read; newest first. */
export async function listDecisionLogForActor(actor: Actor, query: unknown): Promise<DecisionLogPage> {
  const organizationIds = await assertCanReadDecisionLog(actor);
  const parsed = decisionLogQuerySchema.safeParse(query ?? {});
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  const q = parsed.data;
  const records = await listAuthzDecisions({
    organizationIds,
    organizationId: q.organizationId,
    principalId: q.principalId,
    action: q.action,
    allow: q.effect === undefined ? undefined : q.effect === "allow",
    reasonCode: q.reasonCode,
    from: q.from,
    to: q.to,
    beforeSeq: q.cursor ? BigInt(q.cursor) : undefined,
    take: q.limit + 1,
  });
  const page = records.slice(0, q.limit);
  const items: DecisionLogItem[] = page.map((record) => ({
    seq: record.seq.toString(),
    decision_id: record.decisionId,
    timestamp: record.occurredAt.toISOString(),
    path: record.path,
    revision: Number(record.revision),
    input: {
      principal: { type: record.principalType, id: record.principalId },
      action: record.action,
      resource: {
        type: record.resourceType,
        id: record.resourceId,
        organizationId: record.organizationId,
        projectId: record.projectId,
        environment: record.environment,
      },
    },
    result: record.allow,
    reason_code: record.reasonCode,
    reason: record.reason,
    policy_id: record.policyId,
    binding_id: record.bindingId,
    scope: record.scope,
    latency_us: record.latencyUs,
  }));
  const last = page.at(-1);
  return { items, nextCursor: records.length > q.limit && last ? last.seq.toString() : null };
}

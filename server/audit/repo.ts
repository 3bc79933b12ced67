import "server-only";
import type { AuditEvent, Prisma } from "@/generated/prisma/client";
import { type DbTx, getDatabase, getPrisma } from "@/server/db";
import type { AuditOutcome } from "./schema";

export type AuditEventRecord = AuditEvent;

/** A row as inserted: everything but seq, which the database assigns. */
export interface NewAuditEventRecord {
  id: string;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string;
  organizationId: string | null;
  projectId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: AuditOutcome;
  requestId: string | null;
  traceId: string | null;
  clientIp: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditEventFilters {
  organizationIds: readonly string[];
  includeSystem: boolean;
  memberActorIds?: readonly string[];
  organizationId?: string;
  projectId?: string;
  actionPrefix?: string;
  actorId?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
  beforeSeq?: bigint;
  take: number;
}

// Every replica appending to the chain takes this transaction-scoped lock first, so "read the
// last hash, insert the next event" never interleaves. The value is "audit" in ASCII, to keep
// it apart from other advisory locks in the application.
const AUDIT_CHAIN_LOCK_ID = 0x6175646974;

/**
 * Runs fn in a transaction holding the audit chain lock. READ COMMITTED is pinned on
 * PostgreSQL: each statement after the lock then sees the append the previous holder just
 * committed, which a REPEATABLE READ snapshot taken before the wait would not.
 */
export async function withAuditChainLock<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
  const db = await getDatabase();
  return db.prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_ID})`);
      return fn(tx);
    },
    {
      // PGlite is one session: transactions already run one at a time and it has no levels to pick.
      ...(db.kind === "postgres" ? { isolationLevel: "ReadCommitted" as const } : {}),
      // Appends queue behind the lock during bursts; waiting is better than losing an event.
      maxWait: 15_000,
      timeout: 15_000,
    },
  );
}

export async function getLastAuditEvent(tx: DbTx): Promise<AuditEventRecord | null> {
  return tx.auditEvent.findFirst({ orderBy: { seq: "desc" } });
}

export async function appendAuditEvent(tx: DbTx, data: NewAuditEventRecord): Promise<AuditEventRecord> {
  return tx.auditEvent.create({ data: { ...data, details: data.details as Prisma.InputJsonObject } });
}

/** Newest first, keyset-paginated by seq. */
export async function listAuditEvents(filters: AuditEventFilters): Promise<AuditEventRecord[]> {
  const prisma = await getPrisma();
  const inScope: Prisma.AuditEventWhereInput[] = [{ organizationId: { in: [...filters.organizationIds] } }];
  if (filters.includeSystem) inScope.push({ organizationId: null });
  else if (filters.memberActorIds && filters.memberActorIds.length > 0) {
    inScope.push({ organizationId: null, actorId: { in: [...filters.memberActorIds] } });
  }

  const where: Prisma.AuditEventWhereInput = {
    AND: [
      { OR: inScope },
      filters.organizationId ? { organizationId: filters.organizationId } : {},
      filters.projectId ? { projectId: filters.projectId } : {},
      filters.actorId ? { actorId: filters.actorId } : {},
      filters.outcome ? { outcome: filters.outcome } : {},
      filters.actionPrefix ? actionPrefixFilter(filters.actionPrefix) : {},
      filters.from || filters.to ? { occurredAt: { gte: filters.from, lt: filters.to } } : {},
      filters.beforeSeq !== undefined ? { seq: { lt: filters.beforeSeq } } : {},
    ],
  };
  return prisma.auditEvent.findMany({ where, orderBy: { seq: "desc" }, take: filters.take });
}

// Prefixes match whole segments: "auth" finds auth.sign_in but not authz.decide. Prisma
// turns startsWith into LIKE without escaping, and "_" is common in action names.
function actionPrefixFilter(prefix: string): Prisma.AuditEventWhereInput {
  const like = prefix.replaceAll("_", "\\_");
  if (prefix.endsWith(".")) return { action: { startsWith: like } };
  return { OR: [{ action: prefix }, { action: { startsWith: `${like}.` } }] };
}

/** The whole chain, oldest first, read in batches so memory stays flat however long it is. */
export async function* iterateAuditChain(batchSize = 1_000): AsyncGenerator<AuditEventRecord> {
  const prisma = await getPrisma();
  let afterSeq: bigint | undefined;
  for (;;) {
    const batch = await prisma.auditEvent.findMany({
      where: afterSeq === undefined ? {} : { seq: { gt: afterSeq } },
      orderBy: { seq: "asc" },
      take: batchSize,
    });
    yield* batch;
    const last = batch.at(-1);
    if (!last || batch.length < batchSize) return;
    afterSeq = last.seq;
  }
}

// ---- Authorization decision log ----

export interface NewAuthzDecisionRecord {
  decisionId: string;
  occurredAt: Date;
  path: string;
  revision: bigint;
  organizationId: string | null;
  projectId: string | null;
  environment: string | null;
  principalType: string;
  principalId: string;
  action: string;
  resourceType: string;
  resourceId: string | null;
  allow: boolean;
  reasonCode: string;
  reason: string;
  policyId: string | null;
  bindingId: string | null;
  scope: string | null;
  latencyUs: number;
}

/**
 * One statement per batch, the rows as one JSON parameter: on the embedded PGlite (which runs
 * on the server's own thread) this is about 10x faster than Prisma's createMany (measured
 * 16 ms against 180 ms for 500 rows), so a decision-log flush never stalls requests for long.
 */
export async function insertAuthzDecisions(rows: readonly NewAuthzDecisionRecord[]): Promise<void> {
  if (rows.length === 0) return;
  const db = await getDatabase();
  const json = JSON.stringify(rows, (_key, value) => (typeof value === "bigint" ? value.toString() : value));
  await db.query(
    `INSERT INTO authz_decision_events (decision_id, occurred_at, path, revision, organization_id, project_id,
       environment, principal_type, principal_id, action, resource_type, resource_id, allow, reason_code, reason,
       policy_id, binding_id, scope, latency_us)
     SELECT "decisionId", "occurredAt", path, revision, "organizationId", "projectId", environment, "principalType",
       "principalId", action, "resourceType", "resourceId", allow, "reasonCode", reason, "policyId", "bindingId",
       scope, "latencyUs"
     FROM json_to_recordset($1::json) AS x("decisionId" uuid, "occurredAt" timestamptz, path text, revision bigint,
       "organizationId" uuid, "projectId" text, environment text, "principalType" text, "principalId" text,
       action text, "resourceType" text, "resourceId" text, allow boolean, "reasonCode" text, reason text,
       "policyId" uuid, "bindingId" uuid, scope text, "latencyUs" real)
     ON CONFLICT (decision_id) DO NOTHING`,
    [json],
  );
}

export async function deleteAuthzDecisionsBefore(before: Date): Promise<number> {
  const db = await getPrisma();
  return (await db.authzDecisionEvent.deleteMany({ where: { occurredAt: { lt: before } } })).count;
}

export interface AuthzDecisionFilters {
  organizationIds: readonly string[];
  organizationId?: string;
  principalId?: string;
  action?: string;
  allow?: boolean;
  reasonCode?: string;
  from?: Date;
  to?: Date;
  beforeSeq?: bigint;
  take: number;
}

export async function listAuthzDecisions(filters: AuthzDecisionFilters) {
  const db = await getPrisma();
  const organizationIds = filters.organizationId
    ? filters.organizationIds.filter((id) => id === filters.organizationId)
    : [...filters.organizationIds];
  const where: Prisma.AuthzDecisionEventWhereInput = {
    organizationId: { in: organizationIds },
    ...(filters.principalId ? { principalId: filters.principalId } : {}),
    ...(filters.action
      ? filters.action.includes(":")
        ? { action: filters.action }
        : { action: { startsWith: `${filters.action}:` } }
      : {}),
    ...(filters.allow !== undefined ? { allow: filters.allow } : {}),
    ...(filters.reasonCode ? { reasonCode: filters.reasonCode } : {}),
    ...(filters.from || filters.to ? { occurredAt: { gte: filters.from, lt: filters.to } } : {}),
    ...(filters.beforeSeq !== undefined ? { seq: { lt: filters.beforeSeq } } : {}),
  };
  return db.authzDecisionEvent.findMany({ where, orderBy: { seq: "desc" }, take: filters.take });
}

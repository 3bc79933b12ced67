import "server-only";
import type { Actor } from "@/server/auth/schema";
import { listOrganizationMemberIds, organizationsWhere } from "@/server/authz/service";
import { AppError } from "@/server/http/errors";
import type { AuditReadScope } from "./schema";

/**
 * Which audit events the actor may read: those of organizations where a binding grants
 * `audit:read` (owner, admin), plus the organization-less events (sign-in, sign-out) of their
 * members. Throws FORBIDDEN when there is none.
 */
export async function assertCanReadAudit(actor: Actor): Promise<AuditReadScope> {
  const organizationIds = await organizationsWhere(actor, "audit:read");
  if (organizationIds.length === 0) {
    throw new AppError("FORBIDDEN", "Reading the audit log needs the admin or owner role in an organization");
  }
  return { organizationIds, memberActorIds: await listOrganizationMemberIds(organizationIds) };
}

/** Organizations whose authorization decision log the actor may read (authz:read). */
export async function assertCanReadDecisionLog(actor: Actor): Promise<string[]> {
  const organizationIds = await organizationsWhere(actor, "authz:read");
  if (organizationIds.length === 0) {
    throw new AppError("FORBIDDEN", "Reading the decision log needs authz:read (admin, owner or maintainer)");
  }
  return organizationIds;
}

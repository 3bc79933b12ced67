import "server-only";
import { AppError } from "@/server/http/errors";
import { listBindingsForUser, listMemberUserIds } from "./repo";
import { roleAllows } from "./roles";
import type { Decision, MembershipView, Permission, Principal, ResourceRef } from "./schema";

// The one question every request asks: may this principal do this action on this resource?
// Scoped RBAC over memberships: an organization binding covers every project of that
// organization, a project binding only its project. Default deny. Bindings of another
// organization never match, so tenants stay isolated.

export async function authorize(principal: Principal, action: Permission, resource: ResourceRef): Promise<Decision> {
  const bindings = await listBindingsForUser(principal.id);
  let sawTenant = false;
  for (const binding of bindings) {
    if (binding.organizationId !== resource.organizationId) continue;
    sawTenant = true;
    const scope = binding.projectId === null ? "organization" : "project";
    if (scope === "project" && binding.projectId !== resource.projectId) continue;
    if (roleAllows(binding.role, action)) {
      return {
        allow: true,
        reason: `role ${binding.role} at ${scope} scope grants ${action}`,
        bindingId: binding.id,
        role: binding.role,
        scope,
        isTenantMember: true,
      };
    }
  }
  return {
    allow: false,
    reason: sawTenant
      ? `no role of the principal in this scope grants ${action}`
      : "the principal has no binding in this organization",
    isTenantMember: sawTenant,
  };
}

/**
 * Throws unless allowed. A principal with no binding at all in the resource's organization gets
 * NOT_FOUND (another tenant's resource must not be confirmed to exist), otherwise FORBIDDEN.
 */
export async function assertAuthorized(
  principal: Principal,
  action: Permission,
  resource: ResourceRef,
  what = "The resource",
): Promise<Decision> {
  const decision = await authorize(principal, action, resource);
  if (decision.allow) return decision;
  if (!decision.isTenantMember) throw AppError.notFound(what);
  throw new AppError("FORBIDDEN", `Not allowed to ${action}: ${decision.reason}`);
}

/** The principal's memberships, for navigation and for scoping list queries. */
export async function listMemberships(principal: Principal): Promise<MembershipView[]> {
  return (await listBindingsForUser(principal.id)).map(
    ({ organizationId, organizationSlug, organizationName, projectId, role, via }) => ({
      organizationId,
      organizationSlug,
      organizationName,
      projectId,
      role,
      via,
    }),
  );
}

/** Organizations in which some binding of the principal grants the action at organization scope. */
export async function organizationsWhere(principal: Principal, action: Permission): Promise<string[]> {
  const bindings = await listBindingsForUser(principal.id);
  return [
    ...new Set(bindings.filter((b) => b.projectId === null && roleAllows(b.role, action)).map((b) => b.organizationId)),
  ];
}

/** The users who belong to these organizations (for scoping member-level records). */
export async function listOrganizationMemberIds(organizationIds: readonly string[]): Promise<string[]> {
  return listMemberUserIds(organizationIds);
}

/**
 * Where the action is allowed: organizations bound at organization scope, and projects bound
 * one by one (each with its organization, so a project id never crosses a tenant).
 */
export async function allowedScopes(
  principal: Principal,
  action: Permission,
): Promise<{ organizationIds: string[]; projects: { organizationId: string; projectId: string }[] }> {
  const bindings = (await listBindingsForUser(principal.id)).filter((b) => roleAllows(b.role, action));
  return {
    organizationIds: [...new Set(bindings.filter((b) => b.projectId === null).map((b) => b.organizationId))],
    projects: bindings
      .filter((b) => b.projectId !== null)
      .map((b) => ({ organizationId: b.organizationId, projectId: b.projectId as string })),
  };
}

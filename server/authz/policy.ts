import "server-only";
import type { Actor } from "@/server/auth/schema";
import { AppError } from "@/server/http/errors";
import { decide } from "./engine/decide";
import { buildOrganizationIndex, type Snapshot } from "./engine/snapshot";
import type { OrganizationRules } from "./engine/types";
import { loadOrganizationRules } from "./repo";
import { getSnapshot } from "./runtime";
import { PERMISSION_CATALOG, PERMISSIONS } from "./schema";

// Rules about changing the rules. Managing access (authz:manage) is not enough to hand out more
// than one holds: nobody grants a permission they do not have at that scope (so an admin cannot
// make anyone, themselves included, an owner through a custom role, a binding or an allow
// policy), guardrails are the owners' alone, and no change may leave an organization without an
// owner who can still manage access.

/** Catalog permissions a list of patterns (`*`, `type:*`, `type:verb`) stands for. */
export function expandPermissions(patterns: readonly string[]): string[] {
  const expanded = new Set<string>();
  for (const pattern of patterns) {
    if (pattern === "*") for (const permission of PERMISSIONS) expanded.add(permission);
    else if (pattern.endsWith(":*")) {
      const type = pattern.slice(0, -2) as keyof typeof PERMISSION_CATALOG;
      for (const verb of PERMISSION_CATALOG[type] ?? []) expanded.add(`${type}:${verb}`);
    } else expanded.add(pattern);
  }
  return [...expanded];
}

interface GrantScope {
  projectId: string | null;
  environment: string | null;
}

function firstNotHeld(
  snapshot: Snapshot,
  actor: Actor,
  organizationId: string,
  permissions: readonly string[],
  scope: GrantScope,
): string | undefined {
  const context = { time: new Date(), mfa: false };
  return permissions.find(
    (permission) =>
      !decide(snapshot, {
        principal: { type: actor.type, id: actor.id },
        action: permission,
        resource: {
          type: permission.slice(0, permission.indexOf(":")),
          organizationId,
          projectId: scope.projectId,
          environment: scope.environment,
        },
        context,
      }).allow,
  );
}

/** Throws FORBIDDEN unless the actor holds every permission the patterns stand for, at that scope. */
export async function assertCanGrant(
  actor: Actor,
  organizationId: string,
  patterns: readonly string[],
  scope: GrantScope,
): Promise<void> {
  const missing = firstNotHeld(await getSnapshot(), actor, organizationId, expandPermissions(patterns), scope);
  if (missing !== undefined) {
    throw new AppError("FORBIDDEN", `You cannot grant ${missing}: you do not hold it at this scope yourself`, {
      details: { permission: missing },
    });
  }
}

/** Throws FORBIDDEN unless the actor holds every permission in the organization (an owner). */
export async function assertIsOwner(actor: Actor, organizationId: string, what: string): Promise<void> {
  const missing = firstNotHeld(await getSnapshot(), actor, organizationId, PERMISSIONS, {
    projectId: null,
    environment: null,
  });
  if (missing !== undefined) throw new AppError("FORBIDDEN", `Only an owner of the organization may ${what}`);
}

function managersOf(organizationId: string, rules: OrganizationRules, revision: number): Set<string> {
  const index = buildOrganizationIndex(rules);
  const snapshot: Snapshot = {
    revision,
    organizations: new Map([[organizationId, index]]),
    ruleCount: index.ruleCount,
    problems: [],
  };
  const users = new Set([
    ...rules.bindings.filter((b) => b.subjectType === "user").map((b) => b.subjectId),
    ...rules.teamMembers.map((m) => m.userId),
  ]);
  // With a second factor: a rule that asks for MFA does not lock out someone who has it.
  const context = { time: new Date(), mfa: true };
  const managers = new Set<string>();
  for (const userId of users) {
    const decision = decide(snapshot, {
      principal: { type: "user", id: userId, mfa: true },
      action: "authz:manage",
      resource: { type: "authz", organizationId },
      context,
    });
    if (decision.allow) managers.add(userId);
  }
  return managers;
}

/**
 * Refuses (INVALID_STATE) a change after which nobody could manage the organization's access
 * any more (where somebody could before): the change is applied to the organization's current
 * rules in memory and decided there.
 */
export async function assertManagersRemain(
  organizationId: string,
  change: (rules: OrganizationRules) => OrganizationRules,
): Promise<void> {
  const { revision, organizations } = await loadOrganizationRules([organizationId]);
  const current = organizations[0];
  if (!current) return;
  if (managersOf(organizationId, current, revision).size === 0) return;
  if (managersOf(organizationId, change(current), revision).size > 0) return;
  throw new AppError(
    "INVALID_STATE",
    "This change would leave nobody able to manage access in this organization; keep at least one owner or admin",
  );
}

import "server-only";
import { getPrisma, type DbTx } from "@/server/db";
import type { Prisma } from "@/generated/prisma/client";
import type { OrganizationRules, PolicyDef, RuleSet, ScopeDef } from "./engine/types";
import {
  type BindingInput,
  type CustomRoleInput,
  type MembershipView,
  type PolicyInput,
  type PolicyTestCase,
  policyTestCaseSchema,
} from "./schema";

/** A membership as navigation shows it: the view plus its id. */
export interface BindingRow extends MembershipView {
  id: string;
}

/** Every binding that applies to the user: direct ones and those of the user's teams. */
export async function listBindingsForUser(userId: string, tx?: DbTx): Promise<BindingRow[]> {
  const db = tx ?? (await getPrisma());
  const rows = await db.membership.findMany({
    where: { OR: [{ userId }, { team: { members: { some: { userId } } } }] },
    select: {
      id: true,
      organizationId: true,
      projectId: true,
      role: true,
      userId: true,
      customRole: { select: { slug: true } },
      organization: { select: { slug: true, name: true } },
    },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((row) => ({
    id: row.id,
    organizationId: row.organizationId,
    organizationSlug: row.organization.slug,
    organizationName: row.organization.name,
    projectId: row.projectId,
    role: row.role ?? row.customRole?.slug ?? "",
    via: row.userId ? "user" : "team",
  }));
}

/** Ids of the users with any membership in these organizations, directly or through a team. */
export async function listMemberUserIds(organizationIds: readonly string[], tx?: DbTx): Promise<string[]> {
  if (organizationIds.length === 0) return [];
  const db = tx ?? (await getPrisma());
  const ids = [...organizationIds];
  const [direct, viaTeams] = await Promise.all([
    db.membership.findMany({
      where: { organizationId: { in: ids }, userId: { not: null } },
      select: { userId: true },
      distinct: ["userId"],
    }),
    db.teamMember.findMany({
      where: { team: { organizationId: { in: ids } } },
      select: { userId: true },
      distinct: ["userId"],
    }),
  ]);
  return [...new Set([...direct.map((m) => m.userId as string), ...viaTeams.map((m) => m.userId)])];
}

// ---- Rule loading (the engine's snapshot) ----

function scopeOf(row: {
  projectId: string | null;
  environment: string | null;
  resourceType: string | null;
  resourceId: string | null;
}): ScopeDef {
  return {
    projectId: row.projectId,
    environment: row.environment,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
  };
}

async function currentRevision(db: DbTx): Promise<number> {
  const rows = await db.$queryRaw<{ last_value: bigint; is_called: boolean }[]>`
    SELECT last_value, is_called FROM authz_revision_seq`;
  const row = rows[0];
  return row?.is_called ? Number(row.last_value) : 0;
}

// Rules are read in a fixed order (ids are uuid v7, so creation order): which of several equally
// specific bindings or policies a decision names depends on the order, so a full reload and an
// organization's reload must list them alike, and the engine's incremental rebuild compares each
// rule with the one at the same position first.
async function readRules(db: DbTx, organizationIds: readonly string[] | null): Promise<OrganizationRules[]> {
  const inOrgs = organizationIds ? { organizationId: { in: [...organizationIds] } } : {};
  // One after another: these run on the transaction's single connection (pg refuses, and
  // pg 9 will throw on, a query issued while another is still running on a client).
  const organizations = await db.organization.findMany({
    where: organizationIds ? { id: { in: [...organizationIds] } } : {},
    select: { id: true },
  });
  const roles = await db.customRole.findMany({
    where: inOrgs,
    select: { id: true, slug: true, organizationId: true, permissions: true },
    orderBy: { id: "asc" },
  });
  const bindings = await db.membership.findMany({
    where: inOrgs,
    select: {
      id: true,
      organizationId: true,
      projectId: true,
      environment: true,
      resourceType: true,
      resourceId: true,
      userId: true,
      teamId: true,
      role: true,
      customRoleId: true,
      condition: true,
    },
    orderBy: { id: "asc" },
  });
  const policies = await db.policy.findMany({ where: inOrgs, orderBy: { id: "asc" } });
  // Teams read separately: a relation select makes Prisma issue nested queries concurrently
  // on the transaction's connection.
  const teams = await db.team.findMany({
    where: organizationIds ? { organizationId: { in: [...organizationIds] } } : {},
    select: { id: true, organizationId: true },
  });
  const teamOrganization = new Map(teams.map((team) => [team.id, team.organizationId]));
  const teamMembers = (
    await db.teamMember.findMany({
      where: { teamId: { in: teams.map((team) => team.id) } },
      select: { teamId: true, userId: true },
      orderBy: [{ teamId: "asc" }, { userId: "asc" }],
    })
  ).map((member) => ({ ...member, team: { organizationId: teamOrganization.get(member.teamId) as string } }));
  const byOrg = new Map<string, OrganizationRules & { roles: unknown[]; bindings: unknown[]; policies: unknown[] }>();
  const rulesOf = (organizationId: string) => {
    let rules = byOrg.get(organizationId);
    if (!rules) {
      rules = { organizationId, roles: [], bindings: [], policies: [], teamMembers: [] };
      byOrg.set(organizationId, rules);
    }
    return rules as unknown as {
      roles: OrganizationRules["roles"][number][];
      bindings: OrganizationRules["bindings"][number][];
      policies: PolicyDef[];
      teamMembers: OrganizationRules["teamMembers"][number][];
    };
  };
  for (const organization of organizations) rulesOf(organization.id);
  for (const role of roles) {
    rulesOf(role.organizationId).roles.push({
      id: role.id,
      name: role.slug,
      organizationId: role.organizationId,
      permissions: role.permissions,
    });
  }
  for (const binding of bindings) {
    rulesOf(binding.organizationId).bindings.push({
      id: binding.id,
      organizationId: binding.organizationId,
      subjectType: binding.userId ? "user" : "team",
      subjectId: (binding.userId ?? binding.teamId) as string,
      roleId: (binding.role ?? binding.customRoleId) as string,
      scope: scopeOf(binding),
      condition: binding.condition,
    });
  }
  for (const policy of policies) rulesOf(policy.organizationId).policies.push(toPolicyDef(policy));
  for (const member of teamMembers) {
    rulesOf(member.team.organizationId).teamMembers.push({
      organizationId: member.team.organizationId,
      teamId: member.teamId,
      userId: member.userId,
    });
  }
  return [...byOrg.values()];
}

type PolicyRow = Prisma.PolicyGetPayload<object>;

function toPolicyDef(policy: PolicyRow): PolicyDef {
  return {
    id: policy.id,
    organizationId: policy.organizationId,
    name: policy.name,
    effect: policy.effect,
    guardrail: policy.guardrail,
    actions: policy.actions,
    resourceTypes: policy.resourceTypes,
    subjects: policy.subjects,
    scope: scopeOf(policy),
    condition: policy.condition,
    enabled: policy.enabled,
  };
}

/**
 * Every organization's rules, read in one repeatable-read transaction with the revision taken
 * first: the set is consistent and at least as new as the revision it reports.
 */
export async function loadRuleSet(): Promise<RuleSet> {
  const prisma = await getPrisma();
  return prisma.$transaction(
    async (tx) => {
      const revision = await currentRevision(tx);
      return { revision, organizations: await readRules(tx, null) };
    },
    { isolationLevel: "RepeatableRead" },
  );
}

/** Some organizations' rules (hot reload after a change); a deleted organization is absent. */
export async function loadOrganizationRules(
  organizationIds: readonly string[],
): Promise<{ revision: number; organizations: OrganizationRules[] }> {
  const prisma = await getPrisma();
  return prisma.$transaction(
    async (tx) => {
      const revision = await currentRevision(tx);
      return { revision, organizations: await readRules(tx, organizationIds) };
    },
    { isolationLevel: "RepeatableRead" },
  );
}

// ---- Management (roles, bindings, policies) ----

export async function findOrganizationBySlug(slug: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.organization.findUnique({ where: { slug }, select: { id: true, slug: true, name: true } });
}

export async function listCustomRoles(organizationId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.customRole.findMany({
    where: { organizationId },
    orderBy: { slug: "asc" },
    include: { _count: { select: { memberships: true } } },
  });
}

export async function countBuiltInRoleBindings(organizationId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  const rows = await db.membership.groupBy({
    by: ["role"],
    where: { organizationId, role: { not: null } },
    _count: { _all: true },
  });
  return new Map(rows.map((row) => [row.role as string, row._count._all]));
}

export async function findCustomRole(organizationId: string, id: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.customRole.findFirst({ where: { id, organizationId } });
}

export async function createCustomRole(organizationId: string, input: CustomRoleInput, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.customRole.create({ data: { organizationId, ...input } });
}

export async function countCustomRoleBindings(customRoleId: string, tx?: DbTx): Promise<number> {
  const db = tx ?? (await getPrisma());
  return db.membership.count({ where: { customRoleId } });
}

export async function updateCustomRole(id: string, input: CustomRoleInput, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.customRole.update({ where: { id }, data: input });
}

export async function deleteCustomRole(id: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  await db.customRole.delete({ where: { id } });
}

const bindingInclude = {
  user: { select: { email: true, name: true } },
  team: { select: { slug: true, name: true } },
  customRole: { select: { slug: true } },
  project: { select: { slug: true } },
} as const;

export type BindingRecord = Prisma.MembershipGetPayload<{ include: typeof bindingInclude }>;

export async function listBindings(organizationId: string, tx?: DbTx): Promise<BindingRecord[]> {
  const db = tx ?? (await getPrisma());
  return db.membership.findMany({
    where: { organizationId },
    include: bindingInclude,
    orderBy: [{ projectId: { sort: "asc", nulls: "first" } }, { createdAt: "asc" }],
  });
}

export async function findBinding(organizationId: string, id: string, tx?: DbTx): Promise<BindingRecord | null> {
  const db = tx ?? (await getPrisma());
  return db.membership.findFirst({ where: { id, organizationId }, include: bindingInclude });
}

export async function createBinding(
  organizationId: string,
  input: BindingInput & { builtInRole: string | null; customRoleId: string | null },
  tx?: DbTx,
): Promise<BindingRecord> {
  const db = tx ?? (await getPrisma());
  return db.membership.create({
    data: {
      organizationId,
      userId: input.subjectType === "user" ? input.subjectId : null,
      teamId: input.subjectType === "team" ? input.subjectId : null,
      role: input.builtInRole as BindingRecord["role"],
      customRoleId: input.customRoleId,
      projectId: input.scope.projectId,
      environment: input.scope.environment,
      resourceType: input.scope.resourceType,
      resourceId: input.scope.resourceId,
      condition: input.condition,
    },
    include: bindingInclude,
  });
}

export async function deleteBinding(id: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  await db.membership.delete({ where: { id } });
}

export async function findTeam(organizationId: string, teamId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.team.findFirst({ where: { id: teamId, organizationId }, select: { id: true } });
}

export async function findProjectInOrganization(organizationId: string, projectId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.project.findFirst({ where: { id: projectId, organizationId }, select: { id: true, slug: true } });
}

const policyInclude = { project: { select: { slug: true } } } as const;
export type PolicyRecord = Prisma.PolicyGetPayload<{ include: typeof policyInclude }>;

export async function listPolicies(organizationId: string, tx?: DbTx): Promise<PolicyRecord[]> {
  const db = tx ?? (await getPrisma());
  return db.policy.findMany({ where: { organizationId }, include: policyInclude, orderBy: { name: "asc" } });
}

export async function listAllPolicies(tx?: DbTx): Promise<PolicyRecord[]> {
  const db = tx ?? (await getPrisma());
  return db.policy.findMany({ include: policyInclude, orderBy: [{ organizationId: "asc" }, { name: "asc" }] });
}

export async function findPolicy(organizationId: string, id: string, tx?: DbTx): Promise<PolicyRecord | null> {
  const db = tx ?? (await getPrisma());
  return db.policy.findFirst({ where: { id, organizationId }, include: policyInclude });
}

function policyData(input: PolicyInput) {
  return {
    name: input.name,
    description: input.description,
    effect: input.effect,
    guardrail: input.guardrail,
    actions: input.actions,
    resourceTypes: input.resourceTypes,
    subjects: input.subjects,
    projectId: input.scope.projectId,
    environment: input.scope.environment,
    resourceType: input.scope.resourceType,
    resourceId: input.scope.resourceId,
    condition: input.condition,
    enabled: input.enabled,
    tests: input.tests as unknown as Prisma.InputJsonValue,
  };
}

export async function createPolicy(
  organizationId: string,
  input: PolicyInput,
  createdById: string | null,
  tx?: DbTx,
): Promise<PolicyRecord> {
  const db = tx ?? (await getPrisma());
  return db.policy.create({
    data: { organizationId, createdById, ...policyData(input) },
    include: policyInclude,
  });
}

export async function updatePolicy(id: string, input: PolicyInput, tx?: DbTx): Promise<PolicyRecord> {
  const db = tx ?? (await getPrisma());
  return db.policy.update({ where: { id }, data: policyData(input), include: policyInclude });
}

export async function deletePolicy(id: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  await db.policy.delete({ where: { id } });
}

/** The stored test cases; a case that no longer parses is dropped rather than failing the list. */
export function policyTests(record: PolicyRecord): PolicyTestCase[] {
  if (!Array.isArray(record.tests)) return [];
  return record.tests.flatMap((test) => {
    const parsed = policyTestCaseSchema.safeParse(test);
    return parsed.success ? [parsed.data] : [];
  });
}

// ---- Directory (pickers of the access admin UI) ----

/** The organization's members (directly or through a team), teams and projects, by name. */
export async function listOrganizationDirectory(organizationId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  const [users, teams, projects] = await Promise.all([
    db.user.findMany({
      where: {
        OR: [{ memberships: { some: { organizationId } } }, { teams: { some: { team: { organizationId } } } }],
      },
      select: { id: true, name: true, email: true },
      orderBy: { name: "asc" },
    }),
    db.team.findMany({
      where: { organizationId },
      select: { id: true, slug: true, name: true },
      orderBy: { name: "asc" },
    }),
    db.project.findMany({
      where: { organizationId },
      select: { id: true, slug: true, name: true },
      orderBy: { name: "asc" },
    }),
  ]);
  return { users, teams, projects };
}

/** Slugs of the teams of an organization the user belongs to. */
export async function listTeamSlugsOfUser(userId: string, organizationId: string, tx?: DbTx): Promise<string[]> {
  const db = tx ?? (await getPrisma());
  const rows = await db.teamMember.findMany({
    where: { userId, team: { organizationId } },
    select: { team: { select: { slug: true } } },
  });
  return rows.map((row) => row.team.slug);
}

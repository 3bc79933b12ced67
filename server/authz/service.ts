import "server-only";
import { randomUUID } from "node:crypto";
import type { Actor } from "@/server/auth/schema";
import { AppError } from "@/server/http/errors";
import { getRequestContext } from "@/server/observability/request-context";
import { ConditionError, compileCondition, createConditionCompiler } from "./cel/compile";
import { configureDecisionLog, type DecisionLogOptions, recordDecision, stopDecisionLog } from "./decision-log";
import { decide, explain } from "./engine/decide";
import { bindingsFor, policiesFor, type Snapshot } from "./engine/snapshot";
import type { AuthzRequest, Decision } from "./engine/types";
import { observeDecision } from "./metrics";
import { assertCanGrant, assertIsOwner, assertManagersRemain } from "./policy";
import * as repo from "./repo";
import { getSnapshot, refreshOrganization, stopAuthzRuntime } from "./runtime";
import {
  type AuthzRequestInput,
  authzRequestSchema,
  type BindingDto,
  bindingInputSchema,
  BUILT_IN_ROLE_PERMISSIONS,
  customRoleInputSchema,
  isBuiltInRole,
  type MembershipView,
  type OrganizationDirectory,
  type Permission,
  type PolicyDto,
  policyInputSchema,
  type PolicyTestCase,
  type PolicyTestResult,
  type Principal,
  type ResourceRef,
  type RoleDto,
  ROLES,
  type ScopeDto,
  type ScopeLevel,
} from "./schema";

// The one question every request asks: may this principal do this action on this resource, in
// this context? Answered by the compiled rule snapshot (engine/), timed, counted and logged.
// Precedence and the rule model: server/authz/README.md.

/**
 * Loads the rule snapshot (and subscribes to changes) before the first request, and starts the
 * decision log with the given sink. The sink is passed in rather than imported: the audit module
 * that stores decisions itself asks this module for authorization.
 */
export async function startAuthz(options: { decisionLog: Partial<DecisionLogOptions> }): Promise<void> {
  configureDecisionLog(options.decisionLog);
  await getSnapshot();
}

/** Flushes the decision log and stops listening for rule changes (graceful shutdown). */
export async function stopAuthz(): Promise<void> {
  await stopDecisionLog();
  await stopAuthzRuntime();
}

function contextOf(): AuthzRequest["context"] {
  const request = getRequestContext();
  return { time: new Date(), ip: request?.clientIp ?? "", mfa: false };
}

/** Decides, records metrics and the decision log. Synchronous once the snapshot is loaded. */
export function decideWith(snapshot: Snapshot, request: AuthzRequest, path = "native", decisionId?: string): Decision {
  const started = performance.now();
  const decision = decide(snapshot, request);
  const ended = performance.now();
  const elapsedMs = ended - started;
  observeDecision(decision, elapsedMs / 1_000);
  recordDecision(request, decision, elapsedMs * 1_000, path, decisionId, ended);
  return decision;
}

export async function authorize(
  principal: Principal,
  action: Permission,
  resource: ResourceRef,
  context?: AuthzRequest["context"],
): Promise<Decision> {
  const snapshot = await getSnapshot();
  return decideWith(snapshot, {
    principal: { type: principal.type, id: principal.id, email: (principal as Partial<Actor>).email },
    action,
    resource,
    context: context ?? contextOf(),
  });
}

/**
 * Throws unless allowed. A principal with nothing in the resource's organization gets NOT_FOUND
 * (another tenant's resource must not be confirmed to exist), otherwise FORBIDDEN with the reason.
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
  throw new AppError("FORBIDDEN", `Not allowed to ${action}: ${decision.reason}`, {
    details: { reasonCode: decision.reasonCode, revision: decision.revision },
  });
}

/** The resources of a list the principal may act on (exact: conditions and denies apply). */
export async function filterAuthorized<T>(
  principal: Principal,
  action: Permission,
  items: readonly T[],
  resourceOf: (item: T) => ResourceRef,
): Promise<T[]> {
  const snapshot = await getSnapshot();
  const context = contextOf();
  return items.filter(
    (item) =>
      decideWith(snapshot, {
        principal: { type: principal.type, id: principal.id },
        action,
        resource: resourceOf(item),
        context,
      }).allow,
  );
}

/** The principal's memberships, for navigation. */
export async function listMemberships(principal: Principal): Promise<MembershipView[]> {
  return (await repo.listBindingsForUser(principal.id)).map(
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

/**
 * The teams (slugs) and roles (built-in names or custom role slugs) a user holds where a
 * resource of this project lives: what pipeline approval and manual-step rules name.
 */
export async function describeMemberIn(
  userId: string,
  organizationId: string,
  projectId: string | null,
): Promise<{ teams: string[]; roles: string[] }> {
  const [teams, bindings] = await Promise.all([
    repo.listTeamSlugsOfUser(userId, organizationId),
    repo.listBindingsForUser(userId),
  ]);
  const roles = bindings
    .filter((binding) => binding.organizationId === organizationId)
    .filter((binding) => binding.projectId === null || binding.projectId === projectId)
    .map((binding) => binding.role)
    .filter((role) => role !== "");
  return { teams, roles: [...new Set(roles)] };
}

/**
 * Where the action may be allowed: a prefilter for list queries (a superset). Always follow it
 * with filterAuthorized: conditions, denies and guardrails are applied there.
 */
export async function allowedScopes(
  principal: Principal,
  action: Permission,
): Promise<{ organizationIds: string[]; projects: { organizationId: string; projectId: string }[] }> {
  const snapshot = await getSnapshot();
  const organizationIds: string[] = [];
  const projects: { organizationId: string; projectId: string }[] = [];
  for (const [organizationId, index] of snapshot.organizations) {
    const entries = [
      principal.type === "user" ? index.users.get(principal.id) : index.serviceAccounts.get(principal.id),
      ...(principal.type === "user" ? (index.teamsByUser.get(principal.id) ?? []).map((t) => index.teams.get(t)) : []),
    ];
    let whole = false;
    const projectIds = new Set<string>();
    for (const entry of entries) {
      if (!entry) continue;
      for (const binding of bindingsFor(entry, action)) {
        // Only an organization-wide binding covers every project; narrower ones name theirs,
        // and a single-resource binding outside any project covers no project.
        if (binding.level === 0) whole = true;
        else if (binding.projectId !== null) projectIds.add(binding.projectId);
      }
    }
    // Allow policies can grant without a binding: their organizations are candidates too.
    if (!whole && entries.some(Boolean) && policiesFor(index, action).allows.length > 0) whole = true;
    if (whole) organizationIds.push(organizationId);
    else for (const projectId of projectIds) projects.push({ organizationId, projectId });
  }
  return { organizationIds, projects };
}

/** Organizations in which the principal may do the action on the organization itself. */
export async function organizationsWhere(principal: Principal, action: Permission): Promise<string[]> {
  const snapshot = await getSnapshot();
  const type = action.slice(0, action.indexOf(":"));
  const context = contextOf();
  const allowed: string[] = [];
  for (const [organizationId, index] of snapshot.organizations) {
    // Only organizations the principal belongs to: asking every tenant would fill the decision
    // log with not_member answers nobody asked for.
    const isMember =
      principal.type === "user"
        ? index.users.has(principal.id) || index.teamsByUser.has(principal.id)
        : index.serviceAccounts.has(principal.id);
    if (!isMember) continue;
    const decision = decideWith(snapshot, {
      principal: { type: principal.type, id: principal.id },
      action,
      resource: { type, organizationId },
      context,
    });
    if (decision.allow) allowed.push(organizationId);
  }
  return allowed;
}

/** The users who belong to these organizations (for scoping member-level records). */
export async function listOrganizationMemberIds(organizationIds: readonly string[]): Promise<string[]> {
  return repo.listMemberUserIds(organizationIds);
}

// ---- Queries (playground, native API, OPA-compatible API) ----

/**
 * Parses a decision request from outside (JSON). Throws INVALID_INPUT naming the field.
 */
export function parseAuthzRequest(input: unknown, prefix?: string): AuthzRequest {
  const parsed = authzRequestSchema.safeParse(input);
  if (!parsed.success) throw AppError.fromZod(parsed.error, prefix);
  return parsed.data as AuthzRequest;
}

/**
 * Anyone may ask about themselves; asking about someone else needs authz:query in the
 * resource's organization (it reveals what another principal may do).
 */
async function assertMayQuery(actor: Principal, request: AuthzRequest): Promise<void> {
  if (request.principal.type === actor.type && request.principal.id === actor.id) return;
  await assertAuthorized(
    actor,
    "authz:query",
    { type: "authz", organizationId: request.resource.organizationId },
    "The organization",
  );
}

export interface QueryOptions {
  explain?: boolean;
  path?: string;
  /** Callers with the platform API token (machine clients) may ask about anyone. */
  trusted?: boolean;
}

export async function queryDecision(
  actor: Principal | null,
  input: AuthzRequest,
  options: QueryOptions = {},
): Promise<{ decisionId: string; decision: Decision }> {
  if (!options.trusted) {
    if (!actor) throw new AppError("UNAUTHORIZED", "Sign in or present the authorization API token");
    await assertMayQuery(actor, input);
  }
  // The explanation names the organization's rules and quotes their conditions: reading it is
  // reading the policies, even when the question is about oneself.
  if (options.explain && !options.trusted && actor) {
    await assertAuthorized(
      actor,
      "authz:read",
      { type: "authz", organizationId: input.resource.organizationId },
      "The organization",
    );
  }
  const snapshot = await getSnapshot();
  const request: AuthzRequest = { ...input, context: { time: new Date(), ...input.context } };
  const decisionId = randomUUID();
  const started = performance.now();
  const decision = decide(snapshot, request);
  const elapsedMs = performance.now() - started;
  // A question about an organization one is not a member of is not that organization's
  // business: it is answered (false) but not written into its decision log.
  if (decision.isTenantMember || options.trusted) {
    observeDecision(decision, elapsedMs / 1_000);
    recordDecision(request, decision, elapsedMs * 1_000, options.path ?? "native", decisionId);
  }
  // Decisions are frozen and shared (engine/decide.ts): the explanation goes on a copy.
  if (options.explain)
    return { decisionId, decision: { ...decision, explanation: explain(snapshot, request).explanation } };
  return { decisionId, decision };
}

// ---- Management: roles, bindings, policies ----

async function organizationFor(actor: Actor, slug: string, action: "authz:read" | "authz:manage") {
  const organization = await repo.findOrganizationBySlug(slug);
  if (!organization) throw AppError.notFound("The organization");
  await assertAuthorized(actor, action, { type: "authz", organizationId: organization.id }, "The organization");
  return organization;
}

function conditionOrThrow(source: string | null, field = "condition"): string | null {
  if (source === null || source.trim() === "") return null;
  try {
    compileCondition(source);
  } catch (error) {
    if (error instanceof ConditionError) {
      throw new AppError("INVALID_INPUT", `${field}: ${error.message} (line ${error.line}, column ${error.column})`, {
        invalidParams: [{ name: field, reason: `${error.message} (line ${error.line}, column ${error.column})` }],
        details: { line: error.line, column: error.column, conditionCode: error.code },
      });
    }
    throw error;
  }
  return source;
}

function parseOrThrow<T>(
  schema: { safeParse(input: unknown): { success: true; data: T } | { success: false; error: import("zod").ZodError } },
  input: unknown,
): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  return parsed.data;
}

function scopeDto(row: {
  projectId: string | null;
  project?: { slug: string } | null;
  environment: string | null;
  resourceType: string | null;
  resourceId: string | null;
}): ScopeDto {
  const level: ScopeLevel =
    row.resourceId !== null
      ? "resource"
      : row.environment !== null
        ? "environment"
        : row.projectId
          ? "project"
          : "organization";
  return {
    level,
    projectId: row.projectId,
    projectSlug: row.project?.slug ?? null,
    environment: row.environment,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
  };
}

export async function listRoles(actor: Actor, organizationSlug: string): Promise<RoleDto[]> {
  const organization = await organizationFor(actor, organizationSlug, "authz:read");
  const [custom, builtInCounts] = await Promise.all([
    repo.listCustomRoles(organization.id),
    repo.countBuiltInRoleBindings(organization.id),
  ]);
  return [
    ...ROLES.map((name) => ({
      id: name,
      slug: name,
      name,
      description: "",
      builtIn: true,
      permissions: [...BUILT_IN_ROLE_PERMISSIONS[name]],
      bindingCount: builtInCounts.get(name) ?? 0,
    })),
    ...custom.map((role) => ({
      id: role.id,
      slug: role.slug,
      name: role.name,
      description: role.description,
      builtIn: false,
      permissions: role.permissions,
      bindingCount: role._count.memberships,
    })),
  ];
}

function uniqueViolation(error: unknown): boolean {
  const text =
    String((error as { code?: string; message?: string })?.code ?? "") + String((error as Error)?.message ?? "");
  return text.includes("P2002") || text.includes("Unique constraint") || text.includes("23505");
}

function recordGone(error: unknown): boolean {
  return String((error as { code?: string })?.code ?? "") === "P2025";
}

/** Unique violations become CONFLICT on the field, a row deleted meanwhile NOT_FOUND. */
function mapWriteError(error: unknown, field: string, conflict: string, what: string): unknown {
  if (uniqueViolation(error)) {
    return new AppError("CONFLICT", `${field}: ${conflict}`, {
      invalidParams: [{ name: field, reason: conflict }],
    });
  }
  if (recordGone(error)) return AppError.notFound(what);
  return error;
}

export async function createRole(actor: Actor, organizationSlug: string, input: unknown): Promise<RoleDto> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  const data = parseOrThrow(customRoleInputSchema, input);
  if (isBuiltInRole(data.slug)) {
    throw new AppError("CONFLICT", `slug: ${data.slug} is a built-in role`, {
      invalidParams: [{ name: "slug", reason: "is the name of a built-in role" }],
    });
  }
  await assertCanGrant(actor, organization.id, data.permissions, { projectId: null, environment: null });
  try {
    const role = await repo.createCustomRole(organization.id, data);
    await refreshOrganization(organization.id);
    return { ...role, builtIn: false, bindingCount: 0 };
  } catch (error) {
    if (uniqueViolation(error)) {
      throw new AppError("CONFLICT", `slug: a role named ${data.slug} already exists`, {
        invalidParams: [{ name: "slug", reason: "already exists in this organization" }],
      });
    }
    throw error;
  }
}

export async function updateRole(
  actor: Actor,
  organizationSlug: string,
  roleId: string,
  input: unknown,
): Promise<RoleDto> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  if (isBuiltInRole(roleId))
    throw new AppError("INVALID_STATE", "Built-in roles cannot be changed; create a custom role");
  const existing = UUID.test(roleId) ? await repo.findCustomRole(organization.id, roleId) : null;
  if (!existing) throw AppError.notFound("The role");
  const data = parseOrThrow(customRoleInputSchema, input);
  // Widening a role widens everyone who holds it: only with permissions one holds oneself.
  await assertCanGrant(actor, organization.id, data.permissions, { projectId: null, environment: null });
  try {
    const role = await repo.updateCustomRole(existing.id, data);
    await refreshOrganization(organization.id);
    return { ...role, builtIn: false, bindingCount: await repo.countCustomRoleBindings(role.id) };
  } catch (error) {
    throw mapWriteError(error, "slug", `a role named ${data.slug} already exists`, "The role");
  }
}

export async function deleteRole(actor: Actor, organizationSlug: string, roleId: string): Promise<void> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  if (isBuiltInRole(roleId)) throw new AppError("INVALID_STATE", "Built-in roles cannot be deleted");
  const existing = UUID.test(roleId) ? await repo.findCustomRole(organization.id, roleId) : null;
  if (!existing) throw AppError.notFound("The role");
  await repo.deleteCustomRole(existing.id).catch((error: unknown) => {
    throw mapWriteError(error, "id", "", "The role");
  });
  await refreshOrganization(organization.id);
}

function bindingDto(record: repo.BindingRecord): BindingDto {
  return {
    id: record.id,
    subjectType: record.userId ? "user" : "team",
    subjectId: (record.userId ?? record.teamId) as string,
    subjectLabel: record.user ? `${record.user.name} <${record.user.email}>` : (record.team?.name ?? ""),
    roleId: record.role ?? (record.customRoleId as string),
    roleName: record.role ?? record.customRole?.slug ?? "",
    scope: scopeDto(record),
    condition: record.condition,
    createdAt: record.createdAt.toISOString(),
  };
}

export async function listBindings(actor: Actor, organizationSlug: string): Promise<BindingDto[]> {
  const organization = await organizationFor(actor, organizationSlug, "authz:read");
  return (await repo.listBindings(organization.id)).map(bindingDto);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function assertScopeInOrganization(organizationId: string, projectId: string | null): Promise<void> {
  if (projectId === null) return;
  if (!(await repo.findProjectInOrganization(organizationId, projectId))) {
    throw new AppError("INVALID_INPUT", "scope.projectId: no such project in this organization", {
      invalidParams: [{ name: "scope.projectId", reason: "no such project in this organization" }],
    });
  }
}

async function isMember(organizationId: string, userId: string): Promise<boolean> {
  const index = (await getSnapshot()).organizations.get(organizationId);
  return index !== undefined && (index.users.has(userId) || index.teamsByUser.has(userId));
}

export async function createBinding(actor: Actor, organizationSlug: string, input: unknown): Promise<BindingDto> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  const data = parseOrThrow(bindingInputSchema, input);
  const condition = conditionOrThrow(data.condition);
  let builtInRole: string | null = null;
  let customRoleId: string | null = null;
  let permissions: readonly string[] = [];
  if (isBuiltInRole(data.role)) {
    builtInRole = data.role;
    permissions = BUILT_IN_ROLE_PERMISSIONS[data.role];
  } else {
    const custom = UUID.test(data.role) ? await repo.findCustomRole(organization.id, data.role) : null;
    if (!custom) {
      throw new AppError("INVALID_INPUT", "role: no such role in this organization", {
        invalidParams: [{ name: "role", reason: "no such role in this organization" }],
      });
    }
    customRoleId = custom.id;
    permissions = custom.permissions;
  }
  // Nobody hands out more than they hold at that scope (so only owners grant owner).
  await assertCanGrant(actor, organization.id, permissions, data.scope);
  if (data.subjectType === "user") {
    // Only people who already belong to the organization (directly or through one of its teams);
    // the same answer whether or not the id exists elsewhere, so no other tenant's user leaks.
    if (!(await isMember(organization.id, data.subjectId))) {
      throw new AppError("INVALID_INPUT", "subjectId: no such member of this organization", {
        invalidParams: [{ name: "subjectId", reason: "no such member of this organization" }],
      });
    }
  } else if (!(await repo.findTeam(organization.id, data.subjectId))) {
    throw new AppError("INVALID_INPUT", "subjectId: no such team in this organization", {
      invalidParams: [{ name: "subjectId", reason: "no such team in this organization" }],
    });
  }
  await assertScopeInOrganization(organization.id, data.scope.projectId);
  const record = await repo.createBinding(organization.id, { ...data, condition, builtInRole, customRoleId });
  await refreshOrganization(organization.id);
  return bindingDto(record);
}

export async function deleteBinding(actor: Actor, organizationSlug: string, bindingId: string): Promise<void> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  const existing = UUID.test(bindingId) ? await repo.findBinding(organization.id, bindingId) : null;
  if (!existing) throw AppError.notFound("The binding");
  if (existing.role === "owner") await assertIsOwner(actor, organization.id, "remove an owner");
  await assertManagersRemain(organization.id, (rules) => ({
    ...rules,
    bindings: rules.bindings.filter((binding) => binding.id !== existing.id),
  }));
  await repo.deleteBinding(existing.id).catch((error: unknown) => {
    throw mapWriteError(error, "id", "", "The binding");
  });
  await refreshOrganization(organization.id);
}

function policyDto(record: repo.PolicyRecord): PolicyDto {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    effect: record.effect,
    guardrail: record.guardrail,
    actions: record.actions,
    resourceTypes: record.resourceTypes,
    subjects: record.subjects,
    scope: scopeDto(record),
    condition: record.condition,
    enabled: record.enabled,
    tests: repo.policyTests(record),
    updatedAt: record.updatedAt.toISOString(),
  };
}

export async function listPolicies(actor: Actor, organizationSlug: string): Promise<PolicyDto[]> {
  const organization = await organizationFor(actor, organizationSlug, "authz:read");
  return (await repo.listPolicies(organization.id)).map(policyDto);
}

function parsePolicy(input: unknown) {
  const data = parseOrThrow(policyInputSchema, input);
  return { ...data, condition: conditionOrThrow(data.condition) };
}

type ParsedPolicy = ReturnType<typeof parsePolicy>;

function touchesAccessControl(actions: readonly string[]): boolean {
  return actions.some((action) => action === "*" || action.startsWith("authz:"));
}

/**
 * What it takes to write a policy: an allow policy grants only what the author holds at its
 * scope; guardrails, and denies on access control itself, are the owners'; and no deny may
 * leave the organization without an owner who can manage access.
 */
async function assertMayWritePolicy(
  actor: Actor,
  organizationId: string,
  policy: ParsedPolicy,
  existing: repo.PolicyRecord | null,
): Promise<void> {
  if (policy.effect === "allow") await assertCanGrant(actor, organizationId, policy.actions, policy.scope);
  if (policy.guardrail || existing?.guardrail) await assertIsOwner(actor, organizationId, "change a guardrail");
  if (policy.effect === "deny" && touchesAccessControl(policy.actions)) {
    await assertIsOwner(actor, organizationId, "deny access control itself");
  }
  if (policy.effect === "deny" && policy.enabled) {
    await assertManagersRemain(organizationId, (rules) => ({
      ...rules,
      policies: [
        ...rules.policies.filter((candidate) => candidate.id !== existing?.id),
        {
          id: existing?.id ?? "proposed",
          organizationId,
          name: policy.name,
          effect: policy.effect,
          guardrail: policy.guardrail,
          actions: policy.actions,
          resourceTypes: policy.resourceTypes,
          subjects: policy.subjects,
          scope: policy.scope,
          condition: policy.condition,
          enabled: policy.enabled,
        },
      ],
    }));
  }
}

export async function createPolicy(actor: Actor, organizationSlug: string, input: unknown): Promise<PolicyDto> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  const data = parsePolicy(input);
  await assertScopeInOrganization(organization.id, data.scope.projectId);
  await assertMayWritePolicy(actor, organization.id, data, null);
  try {
    const record = await repo.createPolicy(organization.id, data, actor.id);
    await refreshOrganization(organization.id);
    return policyDto(record);
  } catch (error) {
    if (uniqueViolation(error)) {
      throw new AppError("CONFLICT", `name: a policy named ${data.name} already exists`, {
        invalidParams: [{ name: "name", reason: "already exists in this organization" }],
      });
    }
    throw error;
  }
}

export async function updatePolicy(
  actor: Actor,
  organizationSlug: string,
  policyId: string,
  input: unknown,
): Promise<PolicyDto> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  const existing = UUID.test(policyId) ? await repo.findPolicy(organization.id, policyId) : null;
  if (!existing) throw AppError.notFound("The policy");
  const data = parsePolicy(input);
  await assertScopeInOrganization(organization.id, data.scope.projectId);
  await assertMayWritePolicy(actor, organization.id, data, existing);
  try {
    const record = await repo.updatePolicy(existing.id, data);
    await refreshOrganization(organization.id);
    return policyDto(record);
  } catch (error) {
    throw mapWriteError(error, "name", `a policy named ${data.name} already exists`, "The policy");
  }
}

export async function deletePolicy(actor: Actor, organizationSlug: string, policyId: string): Promise<void> {
  const organization = await organizationFor(actor, organizationSlug, "authz:manage");
  const existing = UUID.test(policyId) ? await repo.findPolicy(organization.id, policyId) : null;
  if (!existing) throw AppError.notFound("The policy");
  if (existing.guardrail) await assertIsOwner(actor, organization.id, "remove a guardrail");
  await repo.deletePolicy(existing.id).catch((error: unknown) => {
    throw mapWriteError(error, "id", "", "The policy");
  });
  await refreshOrganization(organization.id);
}

// ---- Policy tests ----

function testRequest(organizationId: string, test: PolicyTestCase): AuthzRequest {
  const { principal, action, resource, context } = test.input;
  return {
    principal,
    action,
    resource: { ...resource, organizationId },
    context: {
      time: context?.time ? new Date(context.time) : new Date(),
      ip: context?.ip ?? "",
      mfa: context?.mfa ?? principal.mfa ?? false,
    },
  };
}

/**
 * Runs policy test cases against the current rules of their organization. A test names a
 * principal and a resource; the answer is the whole engine's (bindings and every policy), so a
 * test fails when another rule changes the outcome, which is the point.
 */
export function runPolicyTestCases(
  snapshot: Snapshot,
  policies: readonly { id: string; name: string; organizationId: string; tests: readonly PolicyTestCase[] }[],
): PolicyTestResult[] {
  const results: PolicyTestResult[] = [];
  for (const policy of policies) {
    for (const test of policy.tests) {
      const decision = decide(snapshot, testRequest(policy.organizationId, test));
      const actual = decision.allow ? "allow" : "deny";
      results.push({
        policyId: policy.id,
        policyName: policy.name,
        name: test.name,
        expect: test.expect,
        actual,
        passed: actual === test.expect,
        reason: decision.reason,
      });
    }
  }
  return results;
}

export async function runPolicyTests(actor: Actor, organizationSlug: string): Promise<PolicyTestResult[]> {
  const organization = await organizationFor(actor, organizationSlug, "authz:read");
  const policies = await repo.listPolicies(organization.id);
  return runPolicyTestCases(
    await getSnapshot(),
    policies.map((policy) => ({ ...policy, tests: repo.policyTests(policy) })),
  );
}

/** Every organization's policy tests, or one organization's (npm run policy:test). */
export async function runAllPolicyTests(options: { organizationSlug?: string } = {}): Promise<PolicyTestResult[]> {
  let policies = await repo.listAllPolicies();
  if (options.organizationSlug) {
    const organization = await repo.findOrganizationBySlug(options.organizationSlug);
    if (!organization) throw AppError.notFound(`The organization ${options.organizationSlug}`);
    policies = policies.filter((policy) => policy.organizationId === organization.id);
  }
  return runPolicyTestCases(
    await getSnapshot(),
    policies.map((policy) => ({ ...policy, tests: repo.policyTests(policy) })),
  );
}

// The editor's live check compiles through its own small cache: keystrokes must not evict the
// compiled conditions of the rules in force.
const editorCompiler = createConditionCompiler({ templateCapacity: 64, sourceCapacity: 256 });

/** Checks a condition as the editor types it (no save); the same check as saving. */
export function checkCondition(
  source: string,
): { ok: true } | { ok: false; message: string; line: number; column: number } {
  try {
    editorCompiler.compile(source);
    return { ok: true };
  } catch (error) {
    if (error instanceof ConditionError)
      return { ok: false, message: error.message, line: error.line, column: error.column };
    return { ok: false, message: error instanceof Error ? error.message : String(error), line: 1, column: 1 };
  }
}

export type { AuthzRequestInput };

// ---- Directory (pickers of the access admin UI) ----

/**
 * Who and what the organization's rules can name: members, teams and projects. Needs
 * authz:read, like the rules themselves; another tenant's organization is NOT_FOUND.
 */
export async function getOrganizationDirectory(actor: Actor, organizationSlug: string): Promise<OrganizationDirectory> {
  const organization = await organizationFor(actor, organizationSlug, "authz:read");
  const directory = await repo.listOrganizationDirectory(organization.id);
  return { organization: { id: organization.id, slug: organization.slug, name: organization.name }, ...directory };
}

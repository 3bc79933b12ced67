import "server-only";
import { type CompiledCondition, ConditionError, compileCondition } from "../cel/compile";
import { BUILT_IN_ROLES } from "./built-in-roles";
import type {
  BindingDef,
  OrganizationRules,
  PolicyDef,
  PolicyEffect,
  RoleDef,
  RuleSet,
  ScopeDef,
  ScopeLevel,
} from "./types";

// A snapshot is the whole rule store compiled into lookup structures, immutable once built
// (apart from the per-action memos below, which only ever add derived entries). The runtime
// swaps whole snapshots, so a decision never sees half an old and half a new rule set; an
// organization's rules change by rebuilding that organization's index and swapping a snapshot
// that shares every other organization's index with its predecessor.
//
// Index shape, from the request's dimensions:
//   organization -> OrganizationIndex            (tenant isolation: nothing else is visited)
//     subject (user / team / service account) -> its bindings, most specific scope first
//       action -> the bindings whose role grants it (memoized on first use)
//     action -> guardrail, deny and allow policies whose action patterns match (memoized)
// Scope containment, resource type and conditions are then checked on the few candidates.

export const SCOPE_LEVELS: readonly ScopeLevel[] = ["organization", "project", "environment", "resource"];

/** Bound on each per-action memo: actions are a small vocabulary, but requests choose them. */
const MEMO_CAPACITY = 512;

export interface CompiledRole {
  readonly id: string;
  readonly name: string;
  readonly isAll: boolean;
  readonly exact: ReadonlySet<string>;
  /** `pipeline:` for `pipeline:*`. */
  readonly prefixes: readonly string[];
  readonly memo: Map<string, boolean>;
}

interface ScopedRule {
  readonly id: string;
  /** Index into SCOPE_LEVELS; higher is narrower. */
  readonly level: number;
  readonly projectId: string | null;
  readonly environment: string | null;
  readonly resourceType: string | null;
  readonly resourceId: string | null;
  readonly condition: CompiledCondition | null;
  /** The condition reads principal.roles (the one attribute that costs a walk to provide). */
  readonly readsRoles: boolean;
  /** Set when the stored condition no longer compiles: the rule fails closed. */
  readonly conditionError: string | null;
  readonly conditionSource: string | null;
}

export interface CompiledBinding extends ScopedRule {
  readonly role: CompiledRole;
}

export interface CompiledPolicy extends ScopedRule {
  readonly name: string;
  readonly effect: PolicyEffect;
  readonly guardrail: boolean;
  readonly actionsAll: boolean;
  readonly actionsExact: ReadonlySet<string>;
  readonly actionPrefixes: readonly string[];
  /** Null: every resource type. */
  readonly resourceTypes: ReadonlySet<string> | null;
  readonly anySubject: boolean;
  readonly users: ReadonlySet<string>;
  readonly teams: ReadonlySet<string>;
  readonly serviceAccounts: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
}

export interface SubjectEntry {
  /** Most specific scope first. */
  readonly bindings: readonly CompiledBinding[];
  readonly byAction: Map<string, readonly CompiledBinding[]>;
}

export interface PolicyBuckets {
  readonly guardrails: readonly CompiledPolicy[];
  readonly denies: readonly CompiledPolicy[];
  readonly allows: readonly CompiledPolicy[];
}

export interface OrganizationIndex {
  readonly organizationId: string;
  readonly users: ReadonlyMap<string, SubjectEntry>;
  readonly teams: ReadonlyMap<string, SubjectEntry>;
  readonly serviceAccounts: ReadonlyMap<string, SubjectEntry>;
  readonly teamsByUser: ReadonlyMap<string, readonly string[]>;
  readonly policies: readonly CompiledPolicy[];
  readonly policyMemo: Map<string, PolicyBuckets>;
  readonly roles: ReadonlyMap<string, CompiledRole>;
  /** Bindings plus policies. */
  readonly ruleCount: number;
}

export interface RuleProblem {
  organizationId: string;
  kind: "binding" | "policy" | "role";
  id: string;
  message: string;
}

export interface Snapshot {
  readonly revision: number;
  readonly organizations: ReadonlyMap<string, OrganizationIndex>;
  readonly ruleCount: number;
  /** Rules that could not be compiled as stored; each fails closed (see compileScoped). */
  readonly problems: readonly RuleProblem[];
}

export type Compile = (source: string) => CompiledCondition;

export function compileRole(role: RoleDef): CompiledRole {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let isAll = false;
  for (const permission of role.permissions) {
    if (permission === "*") isAll = true;
    else if (permission.endsWith(":*")) prefixes.push(permission.slice(0, -1));
    else exact.add(permission);
  }
  return { id: role.id, name: role.name, isAll, exact, prefixes, memo: new Map() };
}

const BUILT_IN = new Map(BUILT_IN_ROLES.map((role) => [role.id, compileRole(role)]));

export function roleGrants(role: CompiledRole, action: string): boolean {
  const known = role.memo.get(action);
  if (known !== undefined) return known;
  let granted = role.isAll || role.exact.has(action);
  if (!granted) for (const prefix of role.prefixes) if (action.startsWith(prefix)) granted = true;
  if (role.memo.size < MEMO_CAPACITY) role.memo.set(action, granted);
  return granted;
}

export function scopeLevelOf(scope: ScopeDef): number {
  if (scope.resourceId !== null) return 3;
  if (scope.environment !== null) return 2;
  if (scope.projectId !== null) return 1;
  return 0;
}

function compileScoped(
  id: string,
  scope: ScopeDef,
  source: string | null,
  compile: Compile,
  onProblem: (message: string) => void,
): ScopedRule {
  let condition: CompiledCondition | null = null;
  let conditionError: string | null = null;
  if (source !== null && source.trim() !== "") {
    try {
      condition = compile(source);
    } catch (error) {
      // Saved rules were checked at save time; this happens only when the supported subset or
      // the attribute schema changed since. Fail closed: the engine treats the condition as
      // erroring on every evaluation (a binding or allow grants nothing, a deny denies).
      conditionError =
        error instanceof ConditionError
          ? `${error.message} (line ${error.line}, column ${error.column})`
          : error instanceof Error
            ? error.message
            : String(error);
      onProblem(`condition does not compile: ${conditionError}`);
    }
  }
  return {
    id,
    level: scopeLevelOf(scope),
    projectId: scope.projectId,
    environment: scope.environment,
    resourceType: scope.resourceType,
    resourceId: scope.resourceId,
    condition,
    readsRoles:
      condition?.template.inputs.some(
        (input) => (input.record === "principal" && input.field === undefined) || input.field === "roles",
      ) ?? false,
    conditionError,
    conditionSource: source,
  };
}

function byLevelDescending(a: { level: number }, b: { level: number }): number {
  return b.level - a.level;
}

function compileBinding(
  binding: BindingDef,
  role: CompiledRole,
  compile: Compile,
  onProblem: (message: string) => void,
): CompiledBinding {
  return { ...compileScoped(binding.id, binding.scope, binding.condition, compile, onProblem), role };
}

function compilePolicy(policy: PolicyDef, compile: Compile, onProblem: (message: string) => void): CompiledPolicy {
  const actionsExact = new Set<string>();
  const actionPrefixes: string[] = [];
  let actionsAll = false;
  for (const action of policy.actions) {
    if (action === "*") actionsAll = true;
    else if (action.endsWith(":*")) actionPrefixes.push(action.slice(0, -1));
    else actionsExact.add(action);
  }
  const users = new Set<string>();
  const teams = new Set<string>();
  const serviceAccounts = new Set<string>();
  const roles = new Set<string>();
  for (const subject of policy.subjects) {
    const colon = subject.indexOf(":");
    const kind = subject.slice(0, colon);
    const value = subject.slice(colon + 1);
    if (kind === "user") users.add(value);
    else if (kind === "team") teams.add(value);
    else if (kind === "service_account") serviceAccounts.add(value);
    else if (kind === "role") roles.add(value);
    else onProblem(`unknown subject ${subject}`);
  }
  return {
    ...compileScoped(policy.id, policy.scope, policy.condition, compile, onProblem),
    name: policy.name,
    effect: policy.effect,
    guardrail: policy.guardrail && policy.effect === "deny",
    actionsAll,
    actionsExact,
    actionPrefixes,
    resourceTypes: policy.resourceTypes.length > 0 ? new Set(policy.resourceTypes) : null,
    anySubject: policy.subjects.length === 0,
    users,
    teams,
    serviceAccounts,
    roles,
  };
}

function addTo(map: Map<string, CompiledBinding[]>, key: string, binding: CompiledBinding): void {
  const list = map.get(key);
  if (list) list.push(binding);
  else map.set(key, [binding]);
}

function toEntries(map: Map<string, CompiledBinding[]>): Map<string, SubjectEntry> {
  const entries = new Map<string, SubjectEntry>();
  for (const [key, bindings] of map) {
    entries.set(key, { bindings: bindings.sort(byLevelDescending), byAction: new Map() });
  }
  return entries;
}

/** Compiles one organization's rules. Problems are reported, never thrown: one bad rule must not stop a reload. */
export function buildOrganizationIndex(
  rules: OrganizationRules,
  compile: Compile = compileCondition,
  problems: RuleProblem[] = [],
): OrganizationIndex {
  const organizationId = rules.organizationId;
  const roles = new Map<string, CompiledRole>(BUILT_IN);
  for (const role of rules.roles) {
    if (role.organizationId !== null && role.organizationId !== organizationId) {
      problems.push({ organizationId, kind: "role", id: role.id, message: "role of another organization ignored" });
      continue;
    }
    roles.set(role.id, compileRole(role));
  }

  let indexedBindings = 0;
  const users = new Map<string, CompiledBinding[]>();
  const teams = new Map<string, CompiledBinding[]>();
  const serviceAccounts = new Map<string, CompiledBinding[]>();
  for (const binding of rules.bindings) {
    const problem = (message: string) => problems.push({ organizationId, kind: "binding", id: binding.id, message });
    // Tenant isolation does not rely on the caller: a binding filed under the wrong
    // organization is dropped, never indexed where it could match.
    if (binding.organizationId !== organizationId) {
      problem("binding of another organization ignored");
      continue;
    }
    const role = roles.get(binding.roleId);
    if (!role) {
      problem(`unknown role ${binding.roleId}`);
      continue;
    }
    const compiled = compileBinding(binding, role, compile, problem);
    indexedBindings++;
    if (binding.subjectType === "user") addTo(users, binding.subjectId, compiled);
    else if (binding.subjectType === "team") addTo(teams, binding.subjectId, compiled);
    else addTo(serviceAccounts, binding.subjectId, compiled);
  }

  const policies: CompiledPolicy[] = [];
  for (const policy of rules.policies) {
    if (!policy.enabled) continue;
    const problem = (message: string) => problems.push({ organizationId, kind: "policy", id: policy.id, message });
    if (policy.organizationId !== organizationId) {
      problem("policy of another organization ignored");
      continue;
    }
    policies.push(compilePolicy(policy, compile, problem));
  }
  policies.sort(byLevelDescending);

  const teamsByUser = new Map<string, string[]>();
  for (const member of rules.teamMembers) {
    if (member.organizationId !== organizationId) continue;
    const list = teamsByUser.get(member.userId);
    if (list) list.push(member.teamId);
    else teamsByUser.set(member.userId, [member.teamId]);
  }

  return {
    organizationId,
    users: toEntries(users),
    teams: toEntries(teams),
    serviceAccounts: toEntries(serviceAccounts),
    teamsByUser,
    policies,
    policyMemo: new Map(),
    roles,
    ruleCount: indexedBindings + policies.length,
  };
}

export function buildSnapshot(ruleSet: RuleSet, compile: Compile = compileCondition): Snapshot {
  const problems: RuleProblem[] = [];
  const organizations = new Map<string, OrganizationIndex>();
  let ruleCount = 0;
  for (const rules of ruleSet.organizations) {
    const index = buildOrganizationIndex(rules, compile, problems);
    organizations.set(rules.organizationId, index);
    ruleCount += index.ruleCount;
  }
  return { revision: ruleSet.revision, organizations, ruleCount, problems };
}

/**
 * A new snapshot with some organizations' rules replaced (rules: null removes the
 * organization). Every other organization's index is shared with the previous snapshot.
 */
export function replaceOrganizations(
  previous: Snapshot,
  revision: number,
  changes: readonly { organizationId: string; rules: OrganizationRules | null }[],
  compile: Compile = compileCondition,
): Snapshot {
  const organizations = new Map(previous.organizations);
  const changed = new Set(changes.map((change) => change.organizationId));
  const problems = previous.problems.filter((problem) => !changed.has(problem.organizationId));
  let ruleCount = previous.ruleCount;
  for (const change of changes) {
    const { organizationId } = change;
    let rules = change.rules;
    if (rules !== null && rules.organizationId !== organizationId) {
      // Never file one organization's rules under another's id (tenant isolation must not
      // rely on the caller): the slot is emptied and the mix-up reported.
      problems.push({
        organizationId,
        kind: "role",
        id: rules.organizationId,
        message: `rules of organization ${rules.organizationId} offered for organization ${organizationId}; ignored`,
      });
      rules = null;
    }
    ruleCount -= organizations.get(organizationId)?.ruleCount ?? 0;
    if (rules === null) {
      organizations.delete(organizationId);
      continue;
    }
    const index = buildOrganizationIndex(rules, compile, problems);
    organizations.set(organizationId, index);
    ruleCount += index.ruleCount;
  }
  return { revision: Math.max(revision, previous.revision), organizations, ruleCount, problems };
}

function matchesAction(policy: CompiledPolicy, action: string): boolean {
  if (policy.actionsAll || policy.actionsExact.has(action)) return true;
  for (const prefix of policy.actionPrefixes) if (action.startsWith(prefix)) return true;
  return false;
}

/** The policies of an organization that apply to an action, by kind, most specific scope first. */
export function policiesFor(index: OrganizationIndex, action: string): PolicyBuckets {
  const known = index.policyMemo.get(action);
  if (known) return known;
  const guardrails: CompiledPolicy[] = [];
  const denies: CompiledPolicy[] = [];
  const allows: CompiledPolicy[] = [];
  for (const policy of index.policies) {
    if (!matchesAction(policy, action)) continue;
    if (policy.guardrail) guardrails.push(policy);
    else if (policy.effect === "deny") denies.push(policy);
    else allows.push(policy);
  }
  const buckets: PolicyBuckets = { guardrails, denies, allows };
  if (index.policyMemo.size < MEMO_CAPACITY) index.policyMemo.set(action, buckets);
  return buckets;
}

const NO_BINDINGS: readonly CompiledBinding[] = [];

/** A subject's bindings whose role grants the action, most specific scope first. */
export function bindingsFor(entry: SubjectEntry, action: string): readonly CompiledBinding[] {
  const known = entry.byAction.get(action);
  if (known) return known;
  let granting: CompiledBinding[] | null = null;
  for (const binding of entry.bindings) {
    if (!roleGrants(binding.role, action)) continue;
    granting ??= [];
    granting.push(binding);
  }
  const result = granting ?? NO_BINDINGS;
  if (entry.byAction.size < MEMO_CAPACITY) entry.byAction.set(action, result);
  return result;
}

export const EMPTY_SNAPSHOT: Snapshot = { revision: 0, organizations: new Map(), ruleCount: 0, problems: [] };

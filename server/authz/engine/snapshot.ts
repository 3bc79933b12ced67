import "server-only";
import { singleton } from "@/server/observability/singleton";
import { type CompiledCondition, ConditionError, compileCondition } from "../cel/compile";
import { BUILT_IN_ROLES } from "./built-in-roles";
import type {
  BindingDef,
  Decision,
  OrganizationRules,
  PolicyDef,
  PolicyEffect,
  RoleDef,
  RuleSet,
  ScopeDef,
  ScopeLevel,
  TeamMemberDef,
} from "./types";

// A snapshot is the whole rule store compiled into lookup structures, immutable once built
// apart from memos, which only ever add entries derived from the organization's own rules. The
// runtime swaps whole snapshots, so a decision never sees half an old and half a new rule set;
// an organization's rules change by rebuilding that organization's index from all of its rules
// and swapping a snapshot that shares every other organization's index with its predecessor.
// Nothing in an organization's index depends on another organization or on the snapshot it was
// first built for (the revision a decision reports is read from the snapshot deciding; kept
// decisions are reused only at that revision), so a shared index answers exactly as a freshly
// built one would. Rebuilding an organization takes over what did not change from its previous
// index (buildOrganizationIndex) and starts every memo afresh.
//
// Index shape, from the request's dimensions:
//   organization -> OrganizationIndex            (tenant isolation: nothing else is visited)
//     principal (user / service account) -> Member   (built on first use: own bindings, teams)
//       action -> DecisionPlan                   (built on first use)
//         the guardrails, denies and allow policies whose actions match and whose subjects can
//         name this principal (most specific scope first), the principal's bindings whose role
//         grants the action (own, then each team's, most specific scope first), and the decisions
//         already answered from this plan, ready to hand out again.
// A decision then looks up three keys and checks scope containment, resource type and
// conditions on the plan's few rules. `microstack_authz_index_candidates` counts the rules whose
// scope contained the resource.

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
  /** What it was compiled from (a rebuild reuses it while the definition is unchanged). */
  readonly def: RoleDef;
}

interface ScopedRule {
  readonly id: string;
  /** Unique per compiled rule in this process (ids need not be unique in a rule set): identity in plan keys. */
  readonly serial: number;
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
  /** Problems found compiling it, reported again whenever it is reused. */
  readonly notes: readonly string[];
}

export interface CompiledBinding extends ScopedRule {
  readonly role: CompiledRole;
  readonly def: BindingDef;
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
  readonly def: PolicyDef;
}

export interface SubjectEntry {
  /** Most specific scope first. */
  readonly bindings: readonly CompiledBinding[];
  /** bindingsFor's memo, created on first use. */
  byAction: Map<string, readonly CompiledBinding[]> | undefined;
}

export interface PolicyBuckets {
  readonly guardrails: readonly CompiledPolicy[];
  readonly denies: readonly CompiledPolicy[];
  readonly allows: readonly CompiledPolicy[];
}

/**
 * A principal with a binding or (users) a team in the organization. Its plans are kept in four
 * inline slots (most principals ask about few actions) and then an array by action id: a
 * decision reads the member's first cache line instead of chasing an array.
 */
export interface Member {
  actionA: number;
  planA: DecisionPlan | undefined;
  actionB: number;
  planB: DecisionPlan | undefined;
  /** The principal's own bindings. */
  readonly own: SubjectEntry | undefined;
  /** The teams the user is in here (team ids, as stored), if any. */
  readonly teams: readonly string[] | undefined;
  /** Own entry first, then each team's that has bindings, in team order. */
  readonly entries: readonly SubjectEntry[];
  actionC: number;
  planC: DecisionPlan | undefined;
  actionD: number;
  planD: DecisionPlan | undefined;
  /** Further plans by action id. */
  more: (DecisionPlan | undefined)[] | undefined;
}

/**
 * Everything one principal's decisions about one action consult, in the order decide walks it.
 * Policy i of `policies` is a guardrail below guardrailEnd, a deny below denyEnd, an allow after.
 * Plans without the principal's own bindings are shared by every member they are equal for.
 */
export interface DecisionPlan {
  readonly policies: readonly CompiledPolicy[];
  /** Bindings whose role grants the action: own, then each team's, each group most specific first. */
  readonly bindings: readonly CompiledBinding[];
  /** Where each group of `bindings` ends. */
  readonly groupEnds: readonly number[];
  /**
   * Decisions handed out from this plan, reused while the snapshot's revision and the candidate
   * count match: frozen, shared by every caller. Two inline entries (slot, decision), then
   * `results` by slot; slots are numbered in decide.ts.
   */
  slotA: number;
  decisionA: Decision | undefined;
  slotB: number;
  decisionB: Decision | undefined;
  /** Bit i set where policy i (i < 31) names the principal directly, not only through a role. */
  readonly directMask: number;
  readonly denyEnd: number;
  readonly guardrailEnd: number;
  readonly action: string;
  /** Directness of every policy, when there are more than 31. */
  readonly directList: readonly boolean[] | null;
  results: (Decision | undefined)[] | undefined;
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
  /** Members met so far (see memberOf), users and service accounts apart. */
  readonly userMembers: Map<string, Member>;
  readonly serviceAccountMembers: Map<string, Member>;
  /** Plans without own bindings, by content: members they are equal for share one. */
  readonly sharedPlans: Map<string, DecisionPlan>;
  /** Plans this index may still create and keep (a bound on memory; past it plans are not kept). */
  planBudget: number;
  /** The compile function it was built with (a rebuild reuses compiled rules only with the same one). */
  readonly compile: Compile;
  /** What it was built from, in the order given (buildOrganizationIndex's incremental rebuild). */
  readonly sources: {
    readonly roles: readonly CompiledRole[];
    readonly bindings: readonly CompiledBinding[];
    readonly policies: readonly CompiledPolicy[];
    readonly teamMembers: readonly TeamMemberDef[];
  };
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

const EMPTY_SET: ReadonlySet<string> = new Set();

export function compileRole(role: RoleDef): CompiledRole {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let isAll = false;
  for (const permission of role.permissions) {
    if (permission === "*") isAll = true;
    else if (permission.endsWith(":*")) prefixes.push(permission.slice(0, -1));
    else exact.add(permission);
  }
  return { id: role.id, name: role.name, isAll, exact, prefixes, memo: new Map(), def: role };
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

/** The compiled condition, or the reason it does not compile (a string), or null for none. */
function compileSource(
  source: string | null,
  compile: Compile,
  onProblem: (message: string) => void,
): CompiledCondition | string | null {
  if (source === null || source.trim() === "") return null;
  try {
    return compile(source);
  } catch (error) {
    // Saved rules were checked at save time; this happens only when the supported subset or
    // the attribute schema changed since. Fail closed: the engine treats the condition as
    // erroring on every evaluation (a binding or allow grants nothing, a deny denies).
    const message =
      error instanceof ConditionError
        ? `${error.message} (line ${error.line}, column ${error.column})`
        : error instanceof Error
          ? error.message
          : String(error);
    onProblem(`condition does not compile: ${message}`);
    return message;
  }
}

function readsRoles(condition: CompiledCondition | null): boolean {
  if (condition === null) return false;
  for (const input of condition.template.inputs) {
    if ((input.record === "principal" && input.field === undefined) || input.field === "roles") return true;
  }
  return false;
}

function byLevelDescending(a: { level: number }, b: { level: number }): number {
  return b.level - a.level;
}

/**
 * Numbering shared by every module graph in the process (the custom server and Next's bundle
 * each load this file but share one snapshot): two counters would hand the same serial, or the
 * same action id, to different things, and memoized plans would answer for the wrong action.
 */
const numbering = singleton("authz-numbering", () => ({ serial: 0, actionIds: new Map<string, number>() }));

const NO_NOTES: readonly string[] = [];

function compileBinding(binding: BindingDef, role: CompiledRole, compile: Compile): CompiledBinding {
  const notes: string[] = [];
  const compiled = compileSource(binding.condition, compile, (message) => notes.push(message));
  const condition = typeof compiled === "string" ? null : compiled;
  const scope = binding.scope;
  // One literal with every field in one order: every compiled binding shares one hidden class.
  // What a decision reads comes first, so it tends to share the object's first cache line.
  return {
    level: scopeLevelOf(scope),
    projectId: scope.projectId,
    environment: scope.environment,
    resourceId: scope.resourceId,
    condition,
    conditionError: typeof compiled === "string" ? compiled : null,
    resourceType: scope.resourceType,
    readsRoles: readsRoles(condition),
    role,
    id: binding.id,
    serial: ++numbering.serial,
    conditionSource: binding.condition,
    notes: notes.length > 0 ? notes : NO_NOTES,
    def: binding,
  };
}

function addSubject(set: Set<string> | null, value: string): Set<string> {
  if (set === null) return new Set([value]);
  set.add(value);
  return set;
}

function compilePolicy(policy: PolicyDef, compile: Compile): CompiledPolicy {
  const notes: string[] = [];
  const onProblem = (message: string) => notes.push(message);
  let actionsExact: Set<string> | null = null;
  let actionPrefixes: string[] | null = null;
  let actionsAll = false;
  for (const action of policy.actions) {
    if (action === "*") actionsAll = true;
    else if (action.endsWith(":*")) {
      actionPrefixes ??= [];
      actionPrefixes.push(action.slice(0, -1));
    } else {
      actionsExact ??= new Set();
      actionsExact.add(action);
    }
  }
  let users: Set<string> | null = null;
  let teams: Set<string> | null = null;
  let serviceAccounts: Set<string> | null = null;
  let roles: Set<string> | null = null;
  for (const subject of policy.subjects) {
    const colon = subject.indexOf(":");
    const kind = subject.slice(0, colon);
    const value = subject.slice(colon + 1);
    if (kind === "user") users = addSubject(users, value);
    else if (kind === "team") teams = addSubject(teams, value);
    else if (kind === "service_account") serviceAccounts = addSubject(serviceAccounts, value);
    else if (kind === "role") roles = addSubject(roles, value);
    else onProblem(`unknown subject ${subject}`);
  }
  const compiled = compileSource(policy.condition, compile, onProblem);
  const condition = typeof compiled === "string" ? null : compiled;
  const scope = policy.scope;
  // What a decision reads comes first, so it tends to share the object's first cache lines.
  return {
    level: scopeLevelOf(scope),
    projectId: scope.projectId,
    environment: scope.environment,
    resourceId: scope.resourceId,
    condition,
    conditionError: typeof compiled === "string" ? compiled : null,
    resourceTypes: policy.resourceTypes.length > 0 ? new Set(policy.resourceTypes) : null,
    resourceType: scope.resourceType,
    readsRoles: readsRoles(condition),
    effect: policy.effect,
    roles: roles ?? EMPTY_SET,
    id: policy.id,
    serial: ++numbering.serial,
    conditionSource: policy.condition,
    notes: notes.length > 0 ? notes : NO_NOTES,
    name: policy.name,
    guardrail: policy.guardrail && policy.effect === "deny",
    actionsAll,
    actionsExact: actionsExact ?? EMPTY_SET,
    actionPrefixes: actionPrefixes ?? NO_PREFIXES,
    anySubject: policy.subjects.length === 0,
    users: users ?? EMPTY_SET,
    teams: teams ?? EMPTY_SET,
    serviceAccounts: serviceAccounts ?? EMPTY_SET,
    def: policy,
  };
}

const NO_PREFIXES: readonly string[] = [];

function addTo(map: Map<string, CompiledBinding[]>, key: string, binding: CompiledBinding): void {
  const list = map.get(key);
  if (list) list.push(binding);
  else map.set(key, [binding]);
}

function toEntries(map: Map<string, CompiledBinding[]>): Map<string, SubjectEntry> {
  const entries = new Map<string, SubjectEntry>();
  for (const [key, bindings] of map) {
    // A stable sort: bindings of one level keep the order the store listed them in.
    if (bindings.length > 1) bindings.sort(byLevelDescending);
    entries.set(key, { bindings, byAction: undefined });
  }
  return entries;
}

/**
 * How many plans an organization may create and keep: plenty for real traffic (members ask about
 * a handful of actions each), a bound for a scan of every principal and action.
 */
function planBudgetFor(ruleCount: number, teamMemberships: number): number {
  return 512 + 8 * (ruleCount + teamMemberships);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameScope(a: ScopeDef, b: ScopeDef): boolean {
  return (
    a.projectId === b.projectId &&
    a.environment === b.environment &&
    a.resourceType === b.resourceType &&
    a.resourceId === b.resourceId
  );
}

function sameRole(a: RoleDef, b: RoleDef): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.organizationId === b.organizationId &&
    sameList(a.permissions, b.permissions)
  );
}

function sameBinding(a: BindingDef, b: BindingDef): boolean {
  return (
    a.id === b.id &&
    a.subjectType === b.subjectType &&
    a.subjectId === b.subjectId &&
    a.roleId === b.roleId &&
    a.condition === b.condition &&
    sameScope(a.scope, b.scope)
  );
}

function samePolicy(a: PolicyDef, b: PolicyDef): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.effect === b.effect &&
    a.guardrail === b.guardrail &&
    a.condition === b.condition &&
    sameList(a.actions, b.actions) &&
    sameList(a.resourceTypes, b.resourceTypes) &&
    sameList(a.subjects, b.subjects) &&
    sameScope(a.scope, b.scope)
  );
}

/**
 * Compiled rules of an organization's previous index that a rebuild may take over. A compiled
 * rule is a pure function of its definition (and, for a binding, of its role's compiled object),
 * so reusing one whose definition is unchanged gives exactly what compiling it again would.
 * Definitions usually come back in the same order (the store orders them), so each is first
 * compared with the one at its position in the previous list, then looked up by id.
 */
class Reuse<T extends { readonly id: string }> {
  private byId: Map<string, T[]> | undefined;
  /** Every definition so far got the previous list's compiled object at its own position. */
  private isSame = true;
  private position = 0;

  constructor(private readonly previous: readonly T[]) {}

  /** The previous compiled object for the next accepted definition (`matches` binds the definition). */
  next(id: string, matches: (known: T) => boolean): T | undefined {
    const at = this.position++;
    const inPlace = this.previous[at];
    if (inPlace !== undefined && inPlace.id === id && matches(inPlace)) return inPlace;
    this.isSame = false;
    if (this.byId === undefined) {
      this.byId = new Map();
      for (const known of this.previous) {
        const list = this.byId.get(known.id);
        if (list) list.push(known);
        else this.byId.set(known.id, [known]);
      }
    }
    return this.byId.get(id)?.find(matches);
  }

  /** Whether the new list is exactly the previous one. */
  same(count: number): boolean {
    return this.isSame && count === this.previous.length;
  }
}

function sameTeamMembers(a: readonly TeamMemberDef[], b: readonly TeamMemberDef[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as TeamMemberDef;
    const y = b[i] as TeamMemberDef;
    if (x.organizationId !== y.organizationId || x.teamId !== y.teamId || x.userId !== y.userId) return false;
  }
  return true;
}

/**
 * Compiles one organization's rules. Problems are reported, never thrown: one bad rule must not
 * stop a reload.
 *
 * With `previous` (the organization's index being replaced, built with the same compile
 * function) the rebuild is incremental: compiled roles, bindings and policies whose definitions
 * did not change are taken over, and so is each derived structure whose inputs are exactly the
 * same as before (the role table, the subjects' binding lists, the policy list and its memo,
 * the team memberships). Members, plans and kept decisions are never taken over: they combine
 * all of the organization's rules and start empty in every index.
 */
export function buildOrganizationIndex(
  rules: OrganizationRules,
  compile: Compile = compileCondition,
  problems: RuleProblem[] = [],
  previous?: OrganizationIndex,
): OrganizationIndex {
  const organizationId = rules.organizationId;
  const prior =
    previous !== undefined && previous.compile === compile && previous.organizationId === organizationId
      ? previous
      : undefined;

  const roleList: CompiledRole[] = [];
  const roleReuse = prior && new Reuse(prior.sources.roles);
  for (const role of rules.roles) {
    if (role.organizationId !== null && role.organizationId !== organizationId) {
      problems.push({ organizationId, kind: "role", id: role.id, message: "role of another organization ignored" });
      continue;
    }
    roleList.push(roleReuse?.next(role.id, (known) => sameRole(known.def, role)) ?? compileRole(role));
  }
  let roles: ReadonlyMap<string, CompiledRole>;
  if (prior && roleReuse?.same(roleList.length)) roles = prior.roles;
  else {
    const table = new Map<string, CompiledRole>(BUILT_IN);
    for (const role of roleList) table.set(role.id, role);
    roles = table;
  }

  const bindingList: CompiledBinding[] = [];
  const bindingReuse = prior && new Reuse(prior.sources.bindings);
  for (const binding of rules.bindings) {
    // Tenant isolation does not rely on the caller: a binding filed under the wrong
    // organization is dropped, never indexed where it could match.
    if (binding.organizationId !== organizationId) {
      problems.push({
        organizationId,
        kind: "binding",
        id: binding.id,
        message: "binding of another organization ignored",
      });
      continue;
    }
    const role = roles.get(binding.roleId);
    if (!role) {
      problems.push({ organizationId, kind: "binding", id: binding.id, message: `unknown role ${binding.roleId}` });
      continue;
    }
    const compiled =
      bindingReuse?.next(binding.id, (known) => known.role === role && sameBinding(known.def, binding)) ??
      compileBinding(binding, role, compile);
    for (const message of compiled.notes) problems.push({ organizationId, kind: "binding", id: binding.id, message });
    bindingList.push(compiled);
  }
  let users: ReadonlyMap<string, SubjectEntry>;
  let teams: ReadonlyMap<string, SubjectEntry>;
  let serviceAccounts: ReadonlyMap<string, SubjectEntry>;
  if (prior && bindingReuse?.same(bindingList.length)) {
    ({ users, teams, serviceAccounts } = prior);
  } else {
    const byUser = new Map<string, CompiledBinding[]>();
    const byTeam = new Map<string, CompiledBinding[]>();
    const byServiceAccount = new Map<string, CompiledBinding[]>();
    for (const compiled of bindingList) {
      const { subjectType, subjectId } = compiled.def;
      if (subjectType === "user") addTo(byUser, subjectId, compiled);
      else if (subjectType === "team") addTo(byTeam, subjectId, compiled);
      else addTo(byServiceAccount, subjectId, compiled);
    }
    users = toEntries(byUser);
    teams = toEntries(byTeam);
    serviceAccounts = toEntries(byServiceAccount);
  }

  const policyList: CompiledPolicy[] = [];
  const policyReuse = prior && new Reuse(prior.sources.policies);
  for (const policy of rules.policies) {
    if (!policy.enabled) continue;
    if (policy.organizationId !== organizationId) {
      problems.push({
        organizationId,
        kind: "policy",
        id: policy.id,
        message: "policy of another organization ignored",
      });
      continue;
    }
    const compiled =
      policyReuse?.next(policy.id, (known) => samePolicy(known.def, policy)) ?? compilePolicy(policy, compile);
    for (const message of compiled.notes) problems.push({ organizationId, kind: "policy", id: policy.id, message });
    policyList.push(compiled);
  }
  let policies: readonly CompiledPolicy[];
  let policyMemo: Map<string, PolicyBuckets>;
  if (prior && policyReuse?.same(policyList.length)) {
    policies = prior.policies;
    policyMemo = prior.policyMemo;
  } else {
    // A stable sort: policies of one level keep the order the store listed them in.
    policies = policyList.slice().sort(byLevelDescending);
    policyMemo = new Map();
  }

  let teamsByUser: ReadonlyMap<string, readonly string[]>;
  if (prior && sameTeamMembers(prior.sources.teamMembers, rules.teamMembers)) teamsByUser = prior.teamsByUser;
  else {
    const table = new Map<string, string[]>();
    for (const member of rules.teamMembers) {
      if (member.organizationId !== organizationId) continue;
      const list = table.get(member.userId);
      if (list) list.push(member.teamId);
      else table.set(member.userId, [member.teamId]);
    }
    teamsByUser = table;
  }

  const ruleCount = bindingList.length + policies.length;
  return {
    organizationId,
    users,
    teams,
    serviceAccounts,
    teamsByUser,
    policies,
    policyMemo,
    roles,
    ruleCount,
    userMembers: new Map(),
    serviceAccountMembers: new Map(),
    sharedPlans: new Map(),
    planBudget: planBudgetFor(ruleCount, rules.teamMembers.length),
    compile,
    sources: { roles: roleList, bindings: bindingList, policies: policyList, teamMembers: rules.teamMembers },
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
    const index = buildOrganizationIndex(rules, compile, problems, organizations.get(organizationId));
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
  if (entry.byAction === undefined) entry.byAction = new Map();
  const memo = entry.byAction;
  const known = memo.get(action);
  if (known) return known;
  let granting: CompiledBinding[] | null = null;
  for (const binding of entry.bindings) {
    if (!roleGrants(binding.role, action)) continue;
    granting ??= [];
    granting.push(binding);
  }
  const result = granting ?? NO_BINDINGS;
  if (memo.size < MEMO_CAPACITY) memo.set(action, result);
  return result;
}

// ---- members and plans (the decision path's index) ----------------------------------------------

const NO_ENTRIES: readonly SubjectEntry[] = [];

/**
 * The principal's standing in the organization, or undefined when it has nothing there (no
 * binding and, for users, no team): not a member. Memoized per index.
 */
export function memberOf(
  index: OrganizationIndex,
  type: "user" | "service_account",
  principalId: string,
): Member | undefined {
  const members = type === "user" ? index.userMembers : index.serviceAccountMembers;
  const known = members.get(principalId);
  if (known !== undefined) return known;
  const own = (type === "user" ? index.users : index.serviceAccounts).get(principalId);
  const teams = type === "user" ? index.teamsByUser.get(principalId) : undefined;
  if (own === undefined && teams === undefined) return undefined;
  let entries: SubjectEntry[] | null = null;
  if (own !== undefined) entries = [own];
  if (teams !== undefined) {
    for (const team of teams) {
      const entry = index.teams.get(team);
      if (entry === undefined) continue;
      entries ??= [];
      entries.push(entry);
    }
  }
  const member: Member = {
    actionA: -1,
    planA: undefined,
    actionB: -1,
    planB: undefined,
    own,
    teams,
    entries: entries ?? NO_ENTRIES,
    actionC: -1,
    planC: undefined,
    actionD: -1,
    planD: undefined,
    more: undefined,
  };
  members.set(principalId, member);
  return member;
}

/**
 * Actions get small integer ids so a member's plans are an array, not a map. Requests choose the
 * action (the APIs accept only the catalog's, internal callers may pass anything), so the
 * registry is bounded; an action past the bound is decided without memoizing its plan.
 */
const ACTION_IDS = numbering.actionIds;
const MAX_ACTION_IDS = 1_024;

export function actionId(action: string): number {
  const known = ACTION_IDS.get(action);
  if (known !== undefined) return known;
  if (ACTION_IDS.size >= MAX_ACTION_IDS) return -1;
  const id = ACTION_IDS.size;
  ACTION_IDS.set(action, id);
  return id;
}

/** Whether the policy can name this principal: directly (2), only through a role it holds here (1), never (0). */
function subjectReach(
  policy: CompiledPolicy,
  member: Member,
  type: "user" | "service_account",
  principalId: string,
): 0 | 1 | 2 {
  if (policy.anySubject) return 2;
  if (type === "user" ? policy.users.has(principalId) : policy.serviceAccounts.has(principalId)) return 2;
  if (member.teams !== undefined) for (const team of member.teams) if (policy.teams.has(team)) return 2;
  if (policy.roles.size === 0) return 0;
  // Roles held here are a subset of the roles of all the principal's bindings, whatever the scope.
  for (const entry of member.entries) {
    for (const binding of entry.bindings) if (policy.roles.has(binding.role.name)) return 1;
  }
  return 0;
}

const NO_POLICIES: readonly CompiledPolicy[] = [];
const NO_GROUPS: readonly number[] = [];
/** `[n]`, shared: most plans have one group of bindings. */
const ONE_GROUP: (readonly number[])[] = [];

function oneGroup(end: number): readonly number[] {
  if (end >= 64) return [end];
  let known = ONE_GROUP[end];
  if (known === undefined) {
    known = Object.freeze([end]);
    ONE_GROUP[end] = known;
  }
  return known;
}

function buildPlan(
  index: OrganizationIndex,
  member: Member,
  type: "user" | "service_account",
  principalId: string,
  action: string,
): DecisionPlan {
  const buckets = policiesFor(index, action);
  const kept: CompiledPolicy[] = [];
  const reach: number[] = [];
  const keep = (list: readonly CompiledPolicy[]) => {
    for (const policy of list) {
      const how = subjectReach(policy, member, type, principalId);
      if (how === 0) continue;
      kept.push(policy);
      reach.push(how);
    }
    return kept.length;
  };
  const guardrailEnd = keep(buckets.guardrails);
  const denyEnd = keep(buckets.denies);
  keep(buckets.allows);

  // The same groups, in the same order, as the subjects' lists are walked (decide.ts): own
  // bindings, then each team's in the order of the user's teams (a team listed twice, twice).
  const granting: CompiledBinding[] = [];
  const ends: number[] = [];
  const addGroup = (entry: SubjectEntry | undefined) => {
    if (entry === undefined) return;
    const start = granting.length;
    for (const binding of entry.bindings) if (roleGrants(binding.role, action)) granting.push(binding);
    if (granting.length > start) ends.push(granting.length);
  };
  addGroup(member.own);
  const ownBindings = granting.length;
  if (member.teams !== undefined) for (const team of member.teams) addGroup(index.teams.get(team));

  let directMask = 0;
  for (let i = 0; i < reach.length && i < 31; i++) if (reach[i] === 2) directMask |= 1 << i;

  // A plan that names none of the principal's own bindings is the same for every member with the
  // same policies (and directness) and the same teams' bindings: share it.
  let key: string | undefined;
  if (ownBindings === 0) {
    key = `${action}\n${kept.map((policy, i) => `${policy.serial}:${reach[i]}`).join("\n")}\n\n${granting
      .map((binding) => binding.serial)
      .join("\n")}\n\n${ends.join(",")}`;
    const shared = index.sharedPlans.get(key);
    if (shared !== undefined) return shared;
  }

  // Exact-size arrays allocated together, just before the plan: one plan's data sits side by side.
  const policies = kept.length === 0 ? NO_POLICIES : kept.slice();
  const bindings = granting.length === 0 ? NO_BINDINGS : granting.slice();
  const groupEnds = ends.length === 0 ? NO_GROUPS : ends.length === 1 ? oneGroup(ends[0] as number) : ends.slice();
  const plan: DecisionPlan = {
    policies,
    bindings,
    groupEnds,
    slotA: -1,
    decisionA: undefined,
    slotB: -1,
    decisionB: undefined,
    directMask,
    denyEnd,
    guardrailEnd,
    action,
    directList: kept.length > 31 ? reach.map((how) => how === 2) : null,
    results: undefined,
  };
  index.planBudget--;
  if (key !== undefined && index.planBudget > 0) index.sharedPlans.set(key, plan);
  return plan;
}

/** The member's plan for the action, built on first use and memoized within the index's budget. */
export function planFor(
  index: OrganizationIndex,
  member: Member,
  type: "user" | "service_account",
  principalId: string,
  action: string,
): DecisionPlan {
  const id = actionId(action);
  if (id < 0) return buildPlan(index, member, type, principalId, action);
  if (member.actionA === id) return member.planA as DecisionPlan;
  if (member.actionB === id) return member.planB as DecisionPlan;
  if (member.actionC === id) return member.planC as DecisionPlan;
  if (member.actionD === id) return member.planD as DecisionPlan;
  const more = member.more;
  if (more !== undefined) {
    const known = more[id];
    if (known !== undefined) return known;
  }
  const plan = buildPlan(index, member, type, principalId, action);
  if (index.planBudget <= 0) return plan;
  if (member.actionA < 0) {
    member.actionA = id;
    member.planA = plan;
  } else if (member.actionB < 0) {
    member.actionB = id;
    member.planB = plan;
  } else if (member.actionC < 0) {
    member.actionC = id;
    member.planC = plan;
  } else if (member.actionD < 0) {
    member.actionD = id;
    member.planD = plan;
  } else {
    // Preallocated past the catalog's size, so the array keeps fast (holey) elements.
    if (member.more === undefined) member.more = new Array<DecisionPlan | undefined>(64);
    member.more[id] = plan;
  }
  return plan;
}

export const EMPTY_SNAPSHOT: Snapshot = { revision: 0, organizations: new Map(), ruleCount: 0, problems: [] };

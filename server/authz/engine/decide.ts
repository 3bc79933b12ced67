import "server-only";
import { ConditionInputError, type PreparedConditionInput, prepareConditionInput } from "../cel/environment";
import { evaluateCondition } from "../cel/evaluate";
import { explainCondition } from "../cel/explain";
import {
  bindingsFor,
  type CompiledBinding,
  type CompiledPolicy,
  type OrganizationIndex,
  policiesFor,
  SCOPE_LEVELS,
  type Snapshot,
  type SubjectEntry,
} from "./snapshot";
import type { AuthzRequest, Decision, Explanation, NearMiss, ReasonCode } from "./types";

// The decision procedure. Precedence, in the order it is checked (docs: server/authz/README.md):
//   0. Tenant isolation: only the resource's organization is consulted; a principal with no
//      binding and no team there is not a member and is refused (NOT_FOUND to callers).
//   1. Guardrails: organization-wide deny policies. Nothing overrides them.
//   2. Deny policies, at any scope containing the resource: explicit deny beats every allow.
//   3. Bindings: the most specific scope at which some binding of the principal (directly or
//      through a team) grants the action decides. Its conditions apply; broader bindings for
//      the same action are not consulted, so a narrower binding can add a condition (narrow) or
//      grant at a scope the broader one does not reach (extend). Several bindings at that scope:
//      any one whose condition holds allows.
//   4. Allow policies: where no binding for the action reaches the resource, a matching allow
//      policy grants (members only). Where a binding decides and its condition fails, no
//      policy turns that into an allow.
//   5. Otherwise deny.
// A condition that fails to evaluate counts as "does not hold" for grants and as "holds" for
// denies: errors always fail closed.

type Outcome = true | false | "error";

interface Evaluation {
  request: AuthzRequest;
  index: OrganizationIndex;
  teams: readonly string[] | undefined;
  input: PreparedConditionInput | null | undefined;
  /** The prepared input carries principal.roles (built only when a condition reads them). */
  inputHasRoles: boolean;
  inputError: string | undefined;
  rolesHere: string[] | undefined;
  rolesGranted: string[] | undefined;
  lastError: string | undefined;
  candidates: number;
  // The binding walk's state (see considerBindings).
  bestLevel: number;
  granted: CompiledBinding | null;
  failed: CompiledBinding | null;
  errored: CompiledBinding | null;
  erroredWith: string | undefined;
}

function newEvaluation(
  request: AuthzRequest,
  index: OrganizationIndex,
  teams: readonly string[] | undefined,
): Evaluation {
  return {
    request,
    index,
    teams,
    input: undefined,
    inputHasRoles: false,
    inputError: undefined,
    rolesHere: undefined,
    rolesGranted: undefined,
    lastError: undefined,
    candidates: 0,
    bestLevel: -1,
    granted: null,
    failed: null,
    errored: null,
    erroredWith: undefined,
  };
}

// decide() is synchronous and never re-entered (conditions cannot call back into it), so one
// scratch evaluation serves every call: a decision allocates its answer and little else.
const scratch: Evaluation = newEvaluation(
  undefined as unknown as AuthzRequest,
  undefined as unknown as OrganizationIndex,
  undefined,
);

function resetEvaluation(
  evaluation: Evaluation,
  request: AuthzRequest,
  index: OrganizationIndex,
  teams: readonly string[] | undefined,
): Evaluation {
  evaluation.request = request;
  evaluation.index = index;
  evaluation.teams = teams;
  evaluation.input = undefined;
  evaluation.inputHasRoles = false;
  evaluation.inputError = undefined;
  evaluation.rolesHere = undefined;
  evaluation.rolesGranted = undefined;
  evaluation.lastError = undefined;
  evaluation.candidates = 0;
  evaluation.bestLevel = -1;
  evaluation.granted = null;
  evaluation.failed = null;
  evaluation.errored = null;
  evaluation.erroredWith = undefined;
  return evaluation;
}

const NO_TEAMS: readonly string[] = [];

function scopeContains(
  rule: {
    projectId: string | null;
    environment: string | null;
    resourceType: string | null;
    resourceId: string | null;
  },
  request: AuthzRequest,
): boolean {
  const resource = request.resource;
  if (rule.projectId !== null && rule.projectId !== resource.projectId) return false;
  if (rule.environment !== null && rule.environment !== resource.environment) return false;
  if (rule.resourceId !== null && (rule.resourceId !== resource.id || rule.resourceType !== resource.type))
    return false;
  return true;
}

function subjectEntries(index: OrganizationIndex, request: AuthzRequest, teams: readonly string[]): SubjectEntry[] {
  const principal = request.principal;
  const entries: SubjectEntry[] = [];
  const own = (principal.type === "user" ? index.users : index.serviceAccounts).get(principal.id);
  if (own) entries.push(own);
  for (const team of teams) {
    const entry = index.teams.get(team);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** Names of the roles the principal holds at scopes containing the resource (any action). */
function rolesHere(evaluation: Evaluation): string[] {
  if (evaluation.rolesHere) return evaluation.rolesHere;
  const names = new Set<string>();
  for (const entry of subjectEntries(evaluation.index, evaluation.request, evaluation.teams ?? NO_TEAMS)) {
    for (const binding of entry.bindings) if (scopeContains(binding, evaluation.request)) names.add(binding.role.name);
  }
  evaluation.rolesHere = [...names];
  return evaluation.rolesHere;
}

/**
 * Roles the principal holds here through bindings whose condition holds: what `role:` subjects
 * of allow policies match, so an allow policy never bypasses a binding's condition. (Deny
 * policies match every role held here, conditions aside: over-matching a deny is the safe side.)
 */
function rolesGranted(evaluation: Evaluation): string[] {
  if (evaluation.rolesGranted) return evaluation.rolesGranted;
  const names = new Set<string>();
  const saved = evaluation.lastError;
  for (const entry of subjectEntries(evaluation.index, evaluation.request, evaluation.teams ?? NO_TEAMS)) {
    for (const binding of entry.bindings) {
      if (names.has(binding.role.name) || !scopeContains(binding, evaluation.request)) continue;
      if (evaluate(binding, evaluation) === true) names.add(binding.role.name);
    }
  }
  evaluation.lastError = saved;
  evaluation.rolesGranted = [...names];
  return evaluation.rolesGranted;
}

const NO_ROLES: readonly string[] = [];

/**
 * The condition input of this request, prepared once. principal.roles costs a walk over the
 * principal's bindings, so it is filled only once a condition that reads it is evaluated.
 */
function conditionInput(evaluation: Evaluation, needsRoles: boolean): PreparedConditionInput | null {
  if (evaluation.input !== undefined && (evaluation.inputHasRoles || !needsRoles || evaluation.input === null)) {
    return evaluation.input;
  }
  const { principal, resource, context } = evaluation.request;
  evaluation.inputHasRoles = needsRoles;
  try {
    evaluation.input = prepareConditionInput({
      principal: {
        id: principal.id,
        type: principal.type,
        email: principal.email ?? "",
        roles: needsRoles ? rolesHere(evaluation) : NO_ROLES,
        teams: evaluation.teams ?? NO_TEAMS,
        mfa: principal.mfa ?? context?.mfa ?? false,
        attributes: principal.attributes ?? {},
      },
      resource: {
        type: resource.type,
        id: resource.id ?? "",
        organizationId: resource.organizationId,
        projectId: resource.projectId ?? "",
        environment: resource.environment ?? "",
        createdBy: resource.createdBy ?? "",
        labels: resource.labels ?? {},
      },
      action: evaluation.request.action,
      request: {
        time: context?.time ?? new Date(),
        ip: context?.ip ?? "",
        mfa: context?.mfa ?? principal.mfa ?? false,
        userAgent: context?.userAgent ?? "",
      },
    });
  } catch (error) {
    evaluation.input = null;
    evaluation.inputError = error instanceof ConditionInputError ? error.message : String(error);
  }
  return evaluation.input;
}

function evaluate(rule: CompiledBinding | CompiledPolicy, evaluation: Evaluation): Outcome {
  if (rule.conditionError !== null) {
    evaluation.lastError = rule.conditionError;
    return "error";
  }
  if (rule.condition === null) return true;
  const input = conditionInput(evaluation, rule.readsRoles);
  if (input === null) {
    evaluation.lastError = evaluation.inputError;
    return "error";
  }
  const result = evaluateCondition(rule.condition, input);
  if (result.ok) return result.value;
  evaluation.lastError = result.error;
  return "error";
}

function policyApplies(policy: CompiledPolicy, evaluation: Evaluation): boolean {
  const request = evaluation.request;
  if (policy.resourceTypes !== null && !policy.resourceTypes.has(request.resource.type)) return false;
  if (!scopeContains(policy, request)) return false;
  if (policy.anySubject) return true;
  const principal = request.principal;
  if (principal.type === "user" ? policy.users.has(principal.id) : policy.serviceAccounts.has(principal.id)) {
    return true;
  }
  if (evaluation.teams) for (const team of evaluation.teams) if (policy.teams.has(team)) return true;
  if (policy.roles.size > 0) {
    const roles = policy.effect === "allow" ? rolesGranted(evaluation) : rolesHere(evaluation);
    for (const role of roles) if (policy.roles.has(role)) return true;
  }
  return false;
}

function decision(
  evaluation: Evaluation,
  snapshot: Snapshot,
  allow: boolean,
  reasonCode: ReasonCode,
  reason: string,
  binding: CompiledBinding | null,
  policy: CompiledPolicy | null,
  error?: string,
): Decision {
  const matched = binding ?? policy;
  const result: Decision = {
    allow,
    reasonCode,
    reason,
    bindingId: binding === null ? null : binding.id,
    policyId: policy === null ? null : policy.id,
    role: binding === null ? null : binding.role.name,
    scope: matched === null ? null : (SCOPE_LEVELS[matched.level] ?? null),
    revision: snapshot.revision,
    isTenantMember: true,
    candidates: evaluation.candidates,
  };
  if (reasonCode === "condition_error") result.error = error ?? evaluation.lastError;
  return result;
}

function notMember(snapshot: Snapshot, reasonCode: ReasonCode, reason: string): Decision {
  return {
    allow: false,
    reasonCode,
    reason,
    bindingId: null,
    policyId: null,
    role: null,
    scope: null,
    revision: snapshot.revision,
    isTenantMember: false,
    candidates: 0,
  };
}

function denyByPolicy(
  policies: readonly CompiledPolicy[],
  evaluation: Evaluation,
  snapshot: Snapshot,
  reasonCode: "guardrail" | "deny_policy",
): Decision | null {
  for (const policy of policies) {
    if (!policyApplies(policy, evaluation)) continue;
    evaluation.candidates++;
    const outcome = evaluate(policy, evaluation);
    if (outcome === false) continue;
    const what = reasonCode === "guardrail" ? "guardrail" : "deny policy";
    const reason =
      outcome === true
        ? `${what} ${policy.name} denies ${evaluation.request.action}`
        : `${what} ${policy.name} denies ${evaluation.request.action}: its condition failed to evaluate (${evaluation.lastError})`;
    return decision(evaluation, snapshot, false, reasonCode, reason, null, policy);
  }
  return null;
}

/** One subject's granting bindings (most specific first) folded into the walk's state. */
function considerBindings(list: readonly CompiledBinding[], evaluation: Evaluation): void {
  const request = evaluation.request;
  for (let i = 0; i < list.length; i++) {
    const binding = list[i] as CompiledBinding;
    if (binding.level < evaluation.bestLevel) break;
    if (!scopeContains(binding, request)) continue;
    evaluation.candidates++;
    if (binding.level > evaluation.bestLevel) {
      evaluation.bestLevel = binding.level;
      evaluation.granted = null;
      evaluation.failed = null;
      evaluation.errored = null;
      evaluation.erroredWith = undefined;
    }
    if (evaluation.granted !== null) continue;
    const outcome = evaluate(binding, evaluation);
    if (outcome === true) evaluation.granted = binding;
    else if (outcome === "error") {
      if (evaluation.errored === null) {
        evaluation.errored = binding;
        evaluation.erroredWith = evaluation.lastError;
      }
    } else if (evaluation.failed === null) evaluation.failed = binding;
  }
}

function isWellFormed(request: AuthzRequest): boolean {
  if (request === null || typeof request !== "object") return false;
  const { principal, resource, action } = request;
  return (
    principal !== null &&
    typeof principal === "object" &&
    typeof principal.id === "string" &&
    (principal.type === "user" || principal.type === "service_account") &&
    typeof action === "string" &&
    resource !== null &&
    typeof resource === "object" &&
    typeof resource.type === "string" &&
    typeof resource.organizationId === "string"
  );
}

/**
 * Answers one request against a snapshot. Synchronous, allocation-light and never throws: a
 * malformed request is denied with reasonCode invalid_request.
 */
export function decide(snapshot: Snapshot, request: AuthzRequest): Decision {
  if (!isWellFormed(request)) {
    return notMember(
      snapshot,
      "invalid_request",
      "the request lacks a principal, an action or a resource organization",
    );
  }
  const resource = request.resource;
  const index = snapshot.organizations.get(resource.organizationId);
  if (index === undefined) return notMember(snapshot, "not_member", "the principal has nothing in this organization");
  const principal = request.principal;
  const teams = principal.type === "user" ? index.teamsByUser.get(principal.id) : undefined;
  const own = (principal.type === "user" ? index.users : index.serviceAccounts).get(principal.id);
  if (own === undefined && teams === undefined) {
    return notMember(snapshot, "not_member", "the principal has nothing in this organization");
  }

  const evaluation = resetEvaluation(scratch, request, index, teams);
  const action = request.action;
  const policies = policiesFor(index, action);

  if (policies.guardrails.length > 0) {
    const denied = denyByPolicy(policies.guardrails, evaluation, snapshot, "guardrail");
    if (denied) return denied;
  }
  if (policies.denies.length > 0) {
    const denied = denyByPolicy(policies.denies, evaluation, snapshot, "deny_policy");
    if (denied) return denied;
  }

  // Bindings: find the most specific level with a granting binding; its conditions decide.
  if (own !== undefined) considerBindings(bindingsFor(own, action), evaluation);
  if (teams !== undefined) {
    for (const team of teams) {
      const entry = index.teams.get(team);
      if (entry !== undefined) considerBindings(bindingsFor(entry, action), evaluation);
    }
  }
  const granted = evaluation.granted;
  if (granted !== null) {
    return decision(
      evaluation,
      snapshot,
      true,
      "binding",
      `role ${granted.role.name} at ${SCOPE_LEVELS[granted.level]} scope grants ${action}`,
      granted,
      null,
    );
  }

  // Allow policies grant only where no binding decides the action: a narrower binding's
  // condition is never bypassed through a policy.
  if (evaluation.bestLevel < 0)
    for (const policy of policies.allows) {
      if (!policyApplies(policy, evaluation)) continue;
      evaluation.candidates++;
      if (evaluate(policy, evaluation) === true) {
        return decision(
          evaluation,
          snapshot,
          true,
          "allow_policy",
          `allow policy ${policy.name} grants ${action}`,
          null,
          policy,
        );
      }
    }

  const errored = evaluation.errored;
  if (errored !== null) {
    return decision(
      evaluation,
      snapshot,
      false,
      "condition_error",
      `role ${errored.role.name} at ${SCOPE_LEVELS[errored.level]} scope grants ${action} but its condition failed to evaluate (${evaluation.erroredWith})`,
      errored,
      null,
      evaluation.erroredWith,
    );
  }
  const failed = evaluation.failed;
  if (failed !== null) {
    return decision(
      evaluation,
      snapshot,
      false,
      "condition_failed",
      `role ${failed.role.name} at ${SCOPE_LEVELS[failed.level]} scope grants ${action} only when its condition holds, and it does not`,
      failed,
      null,
    );
  }
  return decision(
    evaluation,
    snapshot,
    false,
    "no_grant",
    `no role or policy in this scope grants ${action}`,
    null,
    null,
  );
}

function ruleName(rule: CompiledBinding | CompiledPolicy): string {
  return "role" in rule ? rule.role.name : rule.name;
}

/**
 * The decision plus how it came about: every rule the request reached and, for those whose
 * condition did not hold, the failing clauses (near misses). Slower than decide (it evaluates
 * everything and re-walks failing conditions); for the playground and `explain=notes`.
 */
export function explain(snapshot: Snapshot, request: AuthzRequest): Decision {
  const result = decide(snapshot, request);
  const index = snapshot.organizations.get(request.resource.organizationId);
  const explanation: Explanation = { evaluated: [], nearMisses: [] };
  result.explanation = explanation;
  if (!index || !result.isTenantMember) return result;

  const teams = request.principal.type === "user" ? index.teamsByUser.get(request.principal.id) : undefined;
  const evaluation = newEvaluation(request, index, teams);
  const nearMiss = (rule: CompiledBinding | CompiledPolicy, kind: "binding" | "policy", effect: "allow" | "deny") => {
    const entry: NearMiss = {
      kind,
      id: rule.id,
      name: ruleName(rule),
      effect,
      scope: SCOPE_LEVELS[rule.level] ?? "organization",
      condition: rule.conditionSource ?? "",
      failing: [],
    };
    const input = rule.condition ? conditionInput(evaluation, rule.readsRoles) : null;
    if (rule.conditionError !== null) entry.error = rule.conditionError;
    else if (rule.condition && input === null) entry.error = evaluation.inputError;
    else if (rule.condition && input) {
      const explained = explainCondition(rule.condition, input);
      if (!explained.result.ok) entry.error = explained.result.error;
      entry.failing = explained.failing.map(({ expression, line, column, message }) => ({
        expression,
        line,
        column,
        message,
      }));
    }
    explanation.nearMisses.push(entry);
  };

  const policies = policiesFor(index, request.action);
  for (const policy of [...policies.guardrails, ...policies.denies, ...policies.allows]) {
    if (!policyApplies(policy, evaluation)) continue;
    const outcome = evaluate(policy, evaluation);
    explanation.evaluated.push({
      kind: "policy",
      id: policy.id,
      name: policy.name,
      effect: policy.effect,
      scope: SCOPE_LEVELS[policy.level] ?? "organization",
      outcome: outcome === true ? "matched" : outcome === false ? "condition_false" : "condition_error",
    });
    // A deny whose condition did not hold is a near miss only in the sense that it almost
    // denied; an allow whose condition failed is the classic near miss.
    if (outcome !== true && policy.effect === "allow") nearMiss(policy, "policy", "allow");
  }

  const bindings: CompiledBinding[] = [];
  for (const entry of subjectEntries(index, request, teams ?? NO_TEAMS)) {
    for (const binding of bindingsFor(entry, request.action))
      if (scopeContains(binding, request)) bindings.push(binding);
  }
  const best = bindings.reduce((level, binding) => Math.max(level, binding.level), -1);
  for (const binding of bindings.sort((a, b) => b.level - a.level)) {
    const shadowed = binding.level < best;
    const outcome = shadowed ? null : evaluate(binding, evaluation);
    explanation.evaluated.push({
      kind: "binding",
      id: binding.id,
      name: binding.role.name,
      effect: "allow",
      scope: SCOPE_LEVELS[binding.level] ?? "organization",
      outcome:
        outcome === null
          ? "shadowed"
          : outcome === true
            ? "matched"
            : outcome === false
              ? "condition_false"
              : "condition_error",
    });
    if (outcome === false || outcome === "error") nearMiss(binding, "binding", "allow");
  }
  return result;
}

import "server-only";
import type { ConditionInput } from "../cel/attributes";
import { ConditionInputError, type PreparedConditionInput, prepareConditionInput } from "../cel/environment";
import { evaluateCondition } from "../cel/evaluate";
import { explainCondition } from "../cel/explain";
import {
  bindingsFor,
  type CompiledBinding,
  type CompiledPolicy,
  type DecisionPlan,
  type Member,
  memberOf,
  planFor,
  policiesFor,
  SCOPE_LEVELS,
  type Snapshot,
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
//
// The rules a decision walks come from the principal's plan for the action (snapshot.ts): the
// policies whose actions match and whose subjects can name the principal, and the principal's
// bindings (own, then each team's) whose role grants the action. Decisions are frozen and
// shared: the plan keeps each outcome it answered (which rule, how many candidates) and hands
// the same object out again while the snapshot's revision matches, so a decision whose
// conditions need no evaluation allocates nothing. Callers that want to add to a decision copy
// it first (explain does).

type Outcome = true | false | "error";

const NO_TEAMS: readonly string[] = [];
const NO_ROLES: readonly string[] = [];
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});
const EPOCH = new Date(0);

interface Evaluation {
  request: AuthzRequest;
  member: Member;
  input: PreparedConditionInput | null | undefined;
  /** The prepared input carries principal.roles (built only when a condition reads them). */
  inputHasRoles: boolean;
  inputError: string | undefined;
  rolesHere: string[] | undefined;
  rolesGranted: string[] | undefined;
  lastError: string | undefined;
  candidates: number;
  /** Owned by this evaluation context and refilled per request (see conditionInput). */
  readonly values: ConditionInput;
  prepared: PreparedConditionInput | undefined;
}

function newEvaluation(request: AuthzRequest, member: Member): Evaluation {
  return {
    request,
    member,
    input: undefined,
    inputHasRoles: false,
    inputError: undefined,
    rolesHere: undefined,
    rolesGranted: undefined,
    lastError: undefined,
    candidates: 0,
    values: newConditionInput(),
    prepared: undefined,
  };
}

// decide() is synchronous and never re-entered (conditions cannot call back into it), so one
// scratch evaluation serves every call.
const scratch: Evaluation = newEvaluation(undefined as unknown as AuthzRequest, undefined as unknown as Member);

function resetEvaluation(evaluation: Evaluation, request: AuthzRequest, member: Member): Evaluation {
  evaluation.request = request;
  evaluation.member = member;
  evaluation.input = undefined;
  evaluation.inputHasRoles = false;
  evaluation.inputError = undefined;
  evaluation.rolesHere = undefined;
  evaluation.rolesGranted = undefined;
  evaluation.lastError = undefined;
  evaluation.candidates = 0;
  return evaluation;
}

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

/** Names of the roles the principal holds at scopes containing the resource (any action). */
function rolesHere(evaluation: Evaluation): string[] {
  if (evaluation.rolesHere) return evaluation.rolesHere;
  const names = new Set<string>();
  for (const entry of evaluation.member.entries) {
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
  for (const entry of evaluation.member.entries) {
    for (const binding of entry.bindings) {
      if (names.has(binding.role.name) || !scopeContains(binding, evaluation.request)) continue;
      if (evaluate(binding, evaluation) === true) names.add(binding.role.name);
    }
  }
  evaluation.lastError = saved;
  evaluation.rolesGranted = [...names];
  return evaluation.rolesGranted;
}

/** The plain attribute values a condition input is prepared from; one per evaluation context, refilled. */
function newConditionInput(): ConditionInput {
  return {
    principal: { id: "", type: "", email: "", roles: NO_ROLES, teams: NO_TEAMS, mfa: false, attributes: NO_ATTRIBUTES },
    resource: {
      type: "",
      id: "",
      organizationId: "",
      projectId: "",
      environment: "",
      createdBy: "",
      labels: NO_ATTRIBUTES,
    },
    action: "",
    request: { time: EPOCH, ip: "", mfa: false, userAgent: "" },
  };
}

/**
 * The condition input of this request, prepared once. principal.roles costs a walk over the
 * principal's bindings, so it is filled only once a condition that reads it is evaluated. The
 * input objects belong to the evaluation context and are refilled in place: preparing an input
 * allocates nothing (the scratch context serves every decide call).
 */
function conditionInput(evaluation: Evaluation, needsRoles: boolean): PreparedConditionInput | null {
  if (evaluation.input !== undefined && (evaluation.inputHasRoles || !needsRoles || evaluation.input === null)) {
    return evaluation.input;
  }
  const { principal, resource, context } = evaluation.request;
  evaluation.inputHasRoles = needsRoles;
  const values = evaluation.values;
  const p = values.principal;
  p.id = principal.id;
  p.type = principal.type;
  p.email = principal.email ?? "";
  p.roles = needsRoles ? rolesHere(evaluation) : NO_ROLES;
  p.teams = evaluation.member.teams ?? NO_TEAMS;
  p.mfa = principal.mfa ?? context?.mfa ?? false;
  p.attributes = principal.attributes ?? NO_ATTRIBUTES;
  const r = values.resource;
  r.type = resource.type;
  r.id = resource.id ?? "";
  r.organizationId = resource.organizationId;
  r.projectId = resource.projectId ?? "";
  r.environment = resource.environment ?? "";
  r.createdBy = resource.createdBy ?? "";
  r.labels = resource.labels ?? NO_ATTRIBUTES;
  values.action = evaluation.request.action;
  const q = values.request;
  q.time = context?.time ?? new Date();
  q.ip = context?.ip ?? "";
  q.mfa = context?.mfa ?? principal.mfa ?? false;
  q.userAgent = context?.userAgent ?? "";
  try {
    if (evaluation.prepared === undefined) evaluation.prepared = prepareConditionInput(values);
    else evaluation.prepared.refill(values);
    evaluation.input = evaluation.prepared;
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

/** Whether the principal names a role the policy lists (roles held here; for allows, granted here). */
function holdsPolicyRole(policy: CompiledPolicy, evaluation: Evaluation): boolean {
  if (policy.roles.size === 0) return false;
  const roles = policy.effect === "allow" ? rolesGranted(evaluation) : rolesHere(evaluation);
  for (const role of roles) if (policy.roles.has(role)) return true;
  return false;
}

/** The full applicability check (explain; the plan narrows it to `plannedPolicyApplies`). */
function policyApplies(policy: CompiledPolicy, evaluation: Evaluation): boolean {
  const request = evaluation.request;
  if (policy.resourceTypes !== null && !policy.resourceTypes.has(request.resource.type)) return false;
  if (!scopeContains(policy, request)) return false;
  if (policy.anySubject) return true;
  const principal = request.principal;
  if (principal.type === "user" ? policy.users.has(principal.id) : policy.serviceAccounts.has(principal.id)) {
    return true;
  }
  const teams = evaluation.member.teams;
  if (teams) for (const team of teams) if (policy.teams.has(team)) return true;
  return holdsPolicyRole(policy, evaluation);
}

/** A plan's policy applies: the subject part was settled when the plan was built, unless it goes through a role. */
function plannedPolicyApplies(policy: CompiledPolicy, direct: boolean, evaluation: Evaluation): boolean {
  const request = evaluation.request;
  if (policy.resourceTypes !== null && !policy.resourceTypes.has(request.resource.type)) return false;
  if (!scopeContains(policy, request)) return false;
  return direct || holdsPolicyRole(policy, evaluation);
}

// ---- decisions --------------------------------------------------------------------------------

function newDecision(
  snapshot: Snapshot,
  candidates: number,
  allow: boolean,
  reasonCode: ReasonCode,
  reason: string,
  binding: CompiledBinding | null,
  policy: CompiledPolicy | null,
): Decision {
  const matched = binding ?? policy;
  return {
    allow,
    reasonCode,
    reason,
    bindingId: binding === null ? null : binding.id,
    policyId: policy === null ? null : policy.id,
    role: binding === null ? null : binding.role.name,
    scope: matched === null ? null : (SCOPE_LEVELS[matched.level] ?? null),
    revision: snapshot.revision,
    isTenantMember: true,
    candidates,
  };
}

// Outcome slots of a plan's results: policy i (deny or allow) at i; binding i granting at
// P + i and failing its condition at P + B + i; no grant at P + 2B. Condition errors carry the
// error text and are never kept.
function grantedSlot(plan: DecisionPlan, index: number): number {
  return plan.policies.length + index;
}
function failedSlot(plan: DecisionPlan, index: number): number {
  return plan.policies.length + plan.bindings.length + index;
}
function noGrantSlot(plan: DecisionPlan): number {
  return plan.policies.length + 2 * plan.bindings.length;
}

/** The kept decision of this slot, if it was answered at this revision with these candidates. */
function kept(plan: DecisionPlan, slot: number, snapshot: Snapshot, candidates: number): Decision | undefined {
  const decision = plan.slotA === slot ? plan.decisionA : plan.slotB === slot ? plan.decisionB : plan.results?.[slot];
  return decision !== undefined && decision.revision === snapshot.revision && decision.candidates === candidates
    ? decision
    : undefined;
}

function keep(plan: DecisionPlan, slot: number, decision: Decision): Decision {
  Object.freeze(decision);
  if (plan.slotA === slot || plan.slotA < 0) {
    plan.slotA = slot;
    plan.decisionA = decision;
  } else if (plan.slotB === slot || plan.slotB < 0) {
    plan.slotB = slot;
    plan.decisionB = decision;
  } else {
    if (plan.results === undefined) plan.results = new Array<Decision | undefined>(noGrantSlot(plan) + 1);
    plan.results[slot] = decision;
  }
  return decision;
}

/** Whether policy i of the plan names the principal directly (not only through a role). */
function isDirect(plan: DecisionPlan, i: number): boolean {
  return plan.directList === null ? ((plan.directMask >>> i) & 1) === 1 : plan.directList[i] === true;
}

function denied(
  plan: DecisionPlan,
  slot: number,
  policy: CompiledPolicy,
  evaluation: Evaluation,
  snapshot: Snapshot,
  outcome: true | "error",
): Decision {
  const isGuardrail = slot < plan.guardrailEnd;
  const reasonCode = isGuardrail ? "guardrail" : "deny_policy";
  const what = isGuardrail ? "guardrail" : "deny policy";
  const candidates = evaluation.candidates;
  if (outcome === "error") {
    return Object.freeze(
      newDecision(
        snapshot,
        candidates,
        false,
        reasonCode,
        `${what} ${policy.name} denies ${plan.action}: its condition failed to evaluate (${evaluation.lastError})`,
        null,
        policy,
      ),
    );
  }
  return (
    kept(plan, slot, snapshot, candidates) ??
    keep(
      plan,
      slot,
      newDecision(
        snapshot,
        candidates,
        false,
        reasonCode,
        `${what} ${policy.name} denies ${plan.action}`,
        null,
        policy,
      ),
    )
  );
}

function fromBinding(
  plan: DecisionPlan,
  index: number,
  evaluation: Evaluation,
  snapshot: Snapshot,
  outcome: "granted" | "failed",
): Decision {
  const binding = plan.bindings[index] as CompiledBinding;
  const candidates = evaluation.candidates;
  const slot = outcome === "granted" ? grantedSlot(plan, index) : failedSlot(plan, index);
  const known = kept(plan, slot, snapshot, candidates);
  if (known !== undefined) return known;
  const where = `role ${binding.role.name} at ${SCOPE_LEVELS[binding.level]} scope grants ${plan.action}`;
  return keep(
    plan,
    slot,
    outcome === "granted"
      ? newDecision(snapshot, candidates, true, "binding", where, binding, null)
      : newDecision(
          snapshot,
          candidates,
          false,
          "condition_failed",
          `${where} only when its condition holds, and it does not`,
          binding,
          null,
        ),
  );
}

// Answers that do not depend on any rule, one per revision.
let notMemberDecision: Decision | undefined;
let invalidRequestDecision: Decision | undefined;

function outsider(snapshot: Snapshot, reasonCode: "not_member" | "invalid_request"): Decision {
  const known = reasonCode === "not_member" ? notMemberDecision : invalidRequestDecision;
  if (known !== undefined && known.revision === snapshot.revision) return known;
  const decision: Decision = Object.freeze({
    allow: false,
    reasonCode,
    reason:
      reasonCode === "not_member"
        ? "the principal has nothing in this organization"
        : "the request lacks a principal, an action or a resource organization",
    bindingId: null,
    policyId: null,
    role: null,
    scope: null,
    revision: snapshot.revision,
    isTenantMember: false,
    candidates: 0,
  });
  if (reasonCode === "not_member") notMemberDecision = decision;
  else invalidRequestDecision = decision;
  return decision;
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
 * Answers one request against a snapshot. Synchronous, allocation-free unless a condition is
 * evaluated, and never throws: a malformed request is denied with reasonCode invalid_request.
 * The decision is frozen (and may be shared with other callers).
 */
export function decide(snapshot: Snapshot, request: AuthzRequest): Decision {
  if (!isWellFormed(request)) return outsider(snapshot, "invalid_request");
  const index = snapshot.organizations.get(request.resource.organizationId);
  if (index === undefined) return outsider(snapshot, "not_member");
  const principal = request.principal;
  const member = memberOf(index, principal.type, principal.id);
  if (member === undefined) return outsider(snapshot, "not_member");
  const plan = planFor(index, member, principal.type, principal.id, request.action);
  const evaluation = resetEvaluation(scratch, request, member);

  // 1, 2. Guardrails, then denies (the plan lists them in that order).
  const policies = plan.policies;
  for (let i = 0; i < plan.denyEnd; i++) {
    const policy = policies[i] as CompiledPolicy;
    if (!plannedPolicyApplies(policy, isDirect(plan, i), evaluation)) continue;
    evaluation.candidates++;
    const outcome = evaluate(policy, evaluation);
    if (outcome !== false) return denied(plan, i, policy, evaluation, snapshot, outcome);
  }

  // 3. Bindings: find the most specific level with a granting binding; its conditions decide.
  // Each group (own bindings, each team's) is walked most specific first and left at the first
  // binding broader than the best level found so far.
  const bindings = plan.bindings;
  const groupEnds = plan.groupEnds;
  let bestLevel = -1;
  let granted = -1;
  let failed = -1;
  let errored = -1;
  let erroredWith: string | undefined;
  for (let group = 0, start = 0; group < groupEnds.length; group++) {
    const end = groupEnds[group] as number;
    for (let i = start; i < end; i++) {
      const binding = bindings[i] as CompiledBinding;
      if (binding.level < bestLevel) break;
      if (!scopeContains(binding, request)) continue;
      evaluation.candidates++;
      if (binding.level > bestLevel) {
        bestLevel = binding.level;
        granted = -1;
        failed = -1;
        errored = -1;
        erroredWith = undefined;
      }
      if (granted >= 0) continue;
      const outcome = evaluate(binding, evaluation);
      if (outcome === true) granted = i;
      else if (outcome === "error") {
        if (errored < 0) {
          errored = i;
          erroredWith = evaluation.lastError;
        }
      } else if (failed < 0) failed = i;
    }
    start = end;
  }
  if (granted >= 0) return fromBinding(plan, granted, evaluation, snapshot, "granted");

  // 4. Allow policies grant only where no binding decides the action: a narrower binding's
  // condition is never bypassed through a policy.
  if (bestLevel < 0) {
    for (let i = plan.denyEnd; i < policies.length; i++) {
      const policy = policies[i] as CompiledPolicy;
      if (!plannedPolicyApplies(policy, isDirect(plan, i), evaluation)) continue;
      evaluation.candidates++;
      if (evaluate(policy, evaluation) === true) {
        const candidates = evaluation.candidates;
        return (
          kept(plan, i, snapshot, candidates) ??
          keep(
            plan,
            i,
            newDecision(
              snapshot,
              candidates,
              true,
              "allow_policy",
              `allow policy ${policy.name} grants ${plan.action}`,
              null,
              policy,
            ),
          )
        );
      }
    }
  }

  // 5. Deny.
  if (errored >= 0) {
    const binding = bindings[errored] as CompiledBinding;
    const decision = newDecision(
      snapshot,
      evaluation.candidates,
      false,
      "condition_error",
      `role ${binding.role.name} at ${SCOPE_LEVELS[binding.level]} scope grants ${plan.action} but its condition failed to evaluate (${erroredWith})`,
      binding,
      null,
    );
    decision.error = erroredWith ?? evaluation.lastError;
    return Object.freeze(decision);
  }
  if (failed >= 0) return fromBinding(plan, failed, evaluation, snapshot, "failed");
  const slot = noGrantSlot(plan);
  const candidates = evaluation.candidates;
  return (
    kept(plan, slot, snapshot, candidates) ??
    keep(
      plan,
      slot,
      newDecision(
        snapshot,
        candidates,
        false,
        "no_grant",
        `no role or policy in this scope grants ${plan.action}`,
        null,
        null,
      ),
    )
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
  const result: Decision = { ...decide(snapshot, request) };
  const explanation: Explanation = { evaluated: [], nearMisses: [] };
  result.explanation = explanation;
  const index = snapshot.organizations.get(request.resource.organizationId);
  if (!index || !result.isTenantMember) return result;
  const member = memberOf(index, request.principal.type, request.principal.id);
  if (member === undefined) return result;

  const evaluation = newEvaluation(request, member);
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
  for (const entry of member.entries) {
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

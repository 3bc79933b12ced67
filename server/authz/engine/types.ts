// The engine's vocabulary: the rules it loads (plain data, as the store reads them or a
// benchmark generates them), the request it answers and the decision it returns. Nothing here
// touches the database, Next or prom-client, so the engine runs the same in a route, a job, a
// test or bench/authz.ts.

export type SubjectType = "user" | "team" | "service_account";

/** Where a binding or policy applies. Broader to narrower: organization > project > environment > resource. */
export type ScopeLevel = "organization" | "project" | "environment" | "resource";

export interface ScopeDef {
  /** Null: the whole organization. */
  projectId: string | null;
  /** An environment name inside the project (requires projectId). */
  environment: string | null;
  /** One resource (requires resourceId); the narrowest scope. */
  resourceType: string | null;
  resourceId: string | null;
}

export interface RoleDef {
  /** Built-in roles use their name as id (`developer`); custom roles their uuid. */
  id: string;
  name: string;
  /** Null for built-in roles, which every organization shares. */
  organizationId: string | null;
  permissions: readonly string[];
}

export interface BindingDef {
  id: string;
  organizationId: string;
  subjectType: SubjectType;
  subjectId: string;
  roleId: string;
  scope: ScopeDef;
  /** CEL; the binding grants only while it holds. */
  condition: string | null;
}

export type PolicyEffect = "allow" | "deny";

export interface PolicyDef {
  id: string;
  organizationId: string;
  name: string;
  effect: PolicyEffect;
  /**
   * An organization-wide deny that nothing narrower can override (the engine checks guardrails
   * before anything else). Only deny policies at organization scope can be guardrails.
   */
  guardrail: boolean;
  /** Permission patterns it applies to (`deployment:approve`, `pipeline:*`, `*`). */
  actions: readonly string[];
  /** Resource types it applies to; empty means every type. */
  resourceTypes: readonly string[];
  /** `user:<id>`, `team:<id>`, `role:<role name>`; empty means every member of the organization. */
  subjects: readonly string[];
  scope: ScopeDef;
  condition: string | null;
  enabled: boolean;
}

export interface TeamMemberDef {
  organizationId: string;
  teamId: string;
  userId: string;
}

/** Everything the engine knows about one organization. */
export interface OrganizationRules {
  organizationId: string;
  roles: readonly RoleDef[];
  bindings: readonly BindingDef[];
  policies: readonly PolicyDef[];
  teamMembers: readonly TeamMemberDef[];
}

export interface RuleSet {
  /** Monotonic revision of the rule store this set was read at. */
  revision: number;
  organizations: readonly OrganizationRules[];
}

export interface AuthzPrincipal {
  type: "user" | "service_account";
  id: string;
  email?: string;
  /** Signed in with a second factor in this session. */
  mfa?: boolean;
  attributes?: Readonly<Record<string, string>>;
}

export interface AuthzResource {
  type: string;
  id?: string | null;
  organizationId: string;
  projectId?: string | null;
  environment?: string | null;
  /** Who created it (`no one approves their own deployment`). */
  createdBy?: string | null;
  labels?: Readonly<Record<string, string>>;
}

export interface AuthzContext {
  time?: Date;
  ip?: string;
  mfa?: boolean;
  userAgent?: string;
}

export interface AuthzRequest {
  principal: AuthzPrincipal;
  action: string;
  resource: AuthzResource;
  context?: AuthzContext;
}

/** Why the decision came out as it did; stable codes for metrics, logs and the UI. */
export type ReasonCode =
  | "binding"
  | "allow_policy"
  | "guardrail"
  | "deny_policy"
  | "condition_failed"
  | "condition_error"
  | "no_grant"
  | "not_member"
  | "invalid_request";

export interface NearMiss {
  kind: "binding" | "policy";
  id: string;
  /** Role name for bindings, policy name for policies. */
  name: string;
  effect: PolicyEffect;
  scope: ScopeLevel;
  condition: string;
  /** The failing top-level clauses, or the evaluation error. */
  failing: { expression: string; line: number; column: number; message: string }[];
  error?: string;
}

export interface Explanation {
  /** Rules that applied to this request (scope, action, subject, type) and what they said. */
  evaluated: {
    kind: "binding" | "policy";
    id: string;
    name: string;
    effect: PolicyEffect;
    scope: ScopeLevel;
    outcome: "matched" | "condition_false" | "condition_error" | "shadowed";
  }[];
  nearMisses: NearMiss[];
}

/** What decide() answers: frozen and possibly shared with other callers (copy it to add to it). */
export interface Decision {
  allow: boolean;
  reasonCode: ReasonCode;
  /** One sentence for people. */
  reason: string;
  bindingId: string | null;
  policyId: string | null;
  role: string | null;
  scope: ScopeLevel | null;
  revision: number;
  /** False when the principal has nothing in the resource's organization (answer NOT_FOUND). */
  isTenantMember: boolean;
  /** Rules the index handed to this decision (microstack_authz_index_candidates). */
  candidates: number;
  /** The condition evaluation error, when reasonCode is condition_error. */
  error?: string;
  explanation?: Explanation;
}

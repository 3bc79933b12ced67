import { z } from "zod";
import type { PolicyEffect, ScopeLevel } from "./engine/types";

// Isomorphic: the role editor, the policy editor and the playground import the catalog and the
// input schemas; the service parses with the same schemas.

export type { AuthzRequest, Decision, Explanation, NearMiss, ReasonCode, ScopeLevel } from "./engine/types";

export const ROLES = ["owner", "admin", "maintainer", "developer", "approver", "viewer"] as const;
export type RoleName = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES);

/** Every permission the platform checks, by resource type. `type:*` and `*` are wildcards. */
export const PERMISSION_CATALOG = {
  organization: ["read", "update", "delete"],
  project: ["read", "create", "update", "delete"],
  member: ["read", "manage"],
  team: ["read", "manage"],
  audit: ["read"],
  authz: ["read", "manage", "query"],
  pipeline: ["read", "create", "update", "delete", "run"],
  run: ["read", "cancel", "retry", "approve"],
  environment: ["read", "create", "update", "delete", "deploy"],
  deployment: ["read", "approve", "rollback"],
  secret: ["read", "create", "update", "delete"],
  artifact: ["read", "write", "delete"],
} as const satisfies Record<string, readonly string[]>;

export type ResourceType = keyof typeof PERMISSION_CATALOG;
export const RESOURCE_TYPES = Object.keys(PERMISSION_CATALOG) as ResourceType[];
export const PERMISSIONS: readonly string[] = Object.entries(PERMISSION_CATALOG).flatMap(([type, verbs]) =>
  verbs.map((verb) => `${type}:${verb}`),
);

/** `resource:verb`, e.g. `project:read`; `*` and `resource:*` are wildcards. */
export type Permission = string;

export const BUILT_IN_ROLE_PERMISSIONS: Record<RoleName, readonly Permission[]> = {
  owner: ["*"],
  admin: [
    "organization:read",
    "organization:update",
    "project:*",
    "member:*",
    "team:*",
    "audit:read",
    "authz:*",
    "pipeline:*",
    "run:*",
    "environment:*",
    "deployment:*",
    "secret:*",
    "artifact:*",
  ],
  maintainer: [
    "organization:read",
    "project:read",
    "project:update",
    "member:read",
    "team:read",
    "authz:read",
    "pipeline:*",
    "run:*",
    "environment:read",
    "environment:deploy",
    "deployment:read",
    "deployment:rollback",
    "secret:read",
    "artifact:*",
  ],
  developer: [
    "organization:read",
    "project:read",
    "member:read",
    "team:read",
    "pipeline:read",
    "pipeline:create",
    "pipeline:update",
    "pipeline:run",
    "run:read",
    "run:cancel",
    "run:retry",
    "environment:read",
    "deployment:read",
    "artifact:read",
    "artifact:write",
  ],
  approver: [
    "organization:read",
    "project:read",
    "member:read",
    "pipeline:read",
    "run:read",
    "run:approve",
    "environment:read",
    "deployment:read",
    "deployment:approve",
    "artifact:read",
  ],
  viewer: [
    "organization:read",
    "project:read",
    "pipeline:read",
    "run:read",
    "environment:read",
    "deployment:read",
    "artifact:read",
  ],
};

export function isBuiltInRole(id: string): id is RoleName {
  return (ROLES as readonly string[]).includes(id);
}

/** A concrete action as a request names it (`pipeline:run`): one of the catalog's. */
export const actionSchema = z
  .string()
  .trim()
  .refine((value) => PERMISSIONS.includes(value), {
    message: "must be a permission of the catalog (resource:verb, e.g. pipeline:run)",
  });

/** Attribute maps (labels, principal attributes) are bounded as the CEL cost model assumes. */
const attributeMap = z
  .record(z.string().max(64), z.string().max(1_024))
  .refine((value) => Object.keys(value).length <= 100, { message: "has more than 100 entries" });

/** A permission pattern in a role or policy: a catalog permission, `type:*` or `*`. */
export const permissionPatternSchema = z
  .string()
  .trim()
  .refine(
    (value) =>
      value === "*" ||
      PERMISSIONS.includes(value) ||
      (value.endsWith(":*") && (RESOURCE_TYPES as readonly string[]).includes(value.slice(0, -2))),
    { message: "is not a known permission (see the catalog), a resource:* wildcard or *" },
  );

const slugSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, "use lowercase letters, digits and dashes");

const uuid = z.uuid();
const conditionSchema = z.string().max(4_096).nullable().default(null);
const environmentName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, "use lowercase letters, digits and dashes");

export const customRoleInputSchema = z.object({
  slug: slugSchema.refine((value) => !isBuiltInRole(value), { message: "is the name of a built-in role" }),
  name: z.string().trim().min(1).max(120),
  description: z.string().trim().max(2_000).default(""),
  permissions: z.array(permissionPatternSchema).min(1).max(200),
});
export type CustomRoleInput = z.infer<typeof customRoleInputSchema>;

export const scopeInputSchema = z
  .object({
    projectId: uuid.nullable().default(null),
    environment: environmentName.nullable().default(null),
    resourceType: z
      .enum(Object.keys(PERMISSION_CATALOG) as [ResourceType, ...ResourceType[]])
      .nullable()
      .default(null),
    resourceId: z.string().trim().min(1).max(200).nullable().default(null),
  })
  .refine((scope) => scope.environment === null || scope.projectId !== null, {
    message: "an environment scope needs its project",
    path: ["environment"],
  })
  .refine((scope) => (scope.resourceType === null) === (scope.resourceId === null), {
    message: "a resource scope needs both resourceType and resourceId",
    path: ["resourceId"],
  });
export type ScopeInput = z.infer<typeof scopeInputSchema>;

export const SUBJECT_TYPES = ["user", "team"] as const;

export const bindingInputSchema = z.object({
  subjectType: z.enum(SUBJECT_TYPES),
  subjectId: uuid,
  /** A built-in role name or a custom role id of the same organization. */
  role: z.string().trim().min(1).max(64),
  scope: scopeInputSchema.default({ projectId: null, environment: null, resourceType: null, resourceId: null }),
  condition: conditionSchema,
});
export type BindingInput = z.infer<typeof bindingInputSchema>;

const subjectPattern = z
  .string()
  .trim()
  .regex(/^(user|team|service_account|role):[A-Za-z0-9._-]{1,64}$/, "use user:<id>, team:<id> or role:<name>");

export const policyTestCaseSchema = z.object({
  name: z.string().trim().min(1).max(200),
  input: z.object({
    principal: z.object({
      id: z.string().min(1).max(200),
      type: z.enum(["user", "service_account"]).default("user"),
      mfa: z.boolean().optional(),
    }),
    action: actionSchema,
    resource: z.object({
      type: z.string().min(1).max(64),
      id: z.string().max(200).optional(),
      projectId: z.string().max(200).nullable().optional(),
      environment: z.string().max(64).nullable().optional(),
      createdBy: z.string().max(200).nullable().optional(),
      labels: attributeMap.optional(),
    }),
    context: z
      .object({ time: z.iso.datetime().optional(), ip: z.string().max(64).optional(), mfa: z.boolean().optional() })
      .optional(),
  }),
  expect: z.enum(["allow", "deny"]),
});
export type PolicyTestCase = z.infer<typeof policyTestCaseSchema>;

export const policyInputSchema = z
  .object({
    name: slugSchema,
    description: z.string().trim().max(2_000).default(""),
    effect: z.enum(["allow", "deny"]),
    guardrail: z.boolean().default(false),
    actions: z.array(permissionPatternSchema).min(1).max(100),
    resourceTypes: z.array(z.string().trim().min(1).max(64)).max(50).default([]),
    subjects: z.array(subjectPattern).max(200).default([]),
    scope: scopeInputSchema.default({ projectId: null, environment: null, resourceType: null, resourceId: null }),
    condition: conditionSchema,
    enabled: z.boolean().default(true),
    tests: z.array(policyTestCaseSchema).max(100).default([]),
  })
  .refine((policy) => !policy.guardrail || policy.effect === "deny", {
    message: "only deny policies can be guardrails",
    path: ["guardrail"],
  })
  .refine((policy) => !policy.guardrail || (policy.scope.projectId === null && policy.scope.resourceId === null), {
    message: "a guardrail applies to the whole organization",
    path: ["guardrail"],
  });
export type PolicyInput = z.infer<typeof policyInputSchema>;

/** Attributes a request may carry, shared by the playground, the OPA API and policy tests. */
export const authzRequestSchema = z.object({
  principal: z.object({
    type: z.enum(["user", "service_account"]).default("user"),
    id: z.string().trim().min(1).max(200),
    email: z.string().max(320).optional(),
    mfa: z.boolean().optional(),
    attributes: attributeMap.optional(),
  }),
  action: actionSchema,
  resource: z.object({
    type: z.string().trim().min(1).max(64),
    id: z.string().max(200).nullable().optional(),
    organizationId: z.string().trim().min(1).max(200),
    projectId: z.string().max(200).nullable().optional(),
    environment: z.string().max(64).nullable().optional(),
    createdBy: z.string().max(200).nullable().optional(),
    labels: attributeMap.optional(),
  }),
  context: z
    .object({
      time: z.coerce.date().optional(),
      ip: z.string().max(64).optional(),
      mfa: z.boolean().optional(),
      userAgent: z.string().max(1_024).optional(),
    })
    .optional(),
});
export type AuthzRequestInput = z.input<typeof authzRequestSchema>;

export interface ScopeDto {
  level: ScopeLevel;
  projectId: string | null;
  projectSlug: string | null;
  environment: string | null;
  resourceType: string | null;
  resourceId: string | null;
}

export interface RoleDto {
  id: string;
  slug: string;
  name: string;
  description: string;
  builtIn: boolean;
  permissions: string[];
  bindingCount: number;
}

export interface BindingDto {
  id: string;
  subjectType: "user" | "team";
  subjectId: string;
  subjectLabel: string;
  roleId: string;
  roleName: string;
  scope: ScopeDto;
  condition: string | null;
  createdAt: string;
}

export interface PolicyDto {
  id: string;
  name: string;
  description: string;
  effect: PolicyEffect;
  guardrail: boolean;
  actions: string[];
  resourceTypes: string[];
  subjects: string[];
  scope: ScopeDto;
  condition: string | null;
  enabled: boolean;
  tests: PolicyTestCase[];
  updatedAt: string;
}

export interface PolicyTestResult {
  policyId: string;
  policyName: string;
  name: string;
  expect: "allow" | "deny";
  actual: "allow" | "deny";
  passed: boolean;
  reason: string;
}

/** A decision as the decision log stores it; OPA's field names plus ours. */
export interface DecisionLogEntry {
  decision_id: string;
  timestamp: string;
  path: string;
  revision: number;
  input: {
    principal: { type: string; id: string };
    action: string;
    resource: {
      type: string;
      id: string | null;
      organizationId: string;
      projectId: string | null;
      environment: string | null;
    };
  };
  result: boolean;
  reason_code: string;
  reason: string;
  policy_id: string | null;
  binding_id: string | null;
  scope: ScopeLevel | null;
  latency_us: number;
}

export interface Principal {
  type: "user" | "service_account";
  id: string;
}

/**
 * What a decision is about. Every resource belongs to one organization; project-level
 * resources also name their project.
 */
export interface ResourceRef {
  type: string;
  id?: string | null;
  organizationId: string;
  projectId?: string | null;
  environment?: string | null;
  createdBy?: string | null;
  labels?: Readonly<Record<string, string>>;
}

export interface MembershipView {
  organizationId: string;
  organizationSlug: string;
  organizationName: string;
  projectId: string | null;
  role: string;
  via: "user" | "team";
}

/** The names the access editors pick from (GET /api/v1/organizations/{org}/directory). */
export interface OrganizationDirectory {
  organization: { id: string; slug: string; name: string };
  users: { id: string; name: string; email: string }[];
  teams: { id: string; slug: string; name: string }[];
  projects: { id: string; slug: string; name: string }[];
}

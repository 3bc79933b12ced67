// A deterministic, synthetic multi-tenant rule set and request workload for the authorization
// engine: bench/authz.ts measures on it, and tests may reuse it (same seed, same rules).
//
// Shape, per organization (sizes skewed across organizations, a few large and many small):
//   projects (2..50) x environments dev / staging / prod, pipelines per project;
//   users and teams (team membership is not counted as a rule);
//   1..3 custom roles next to the six built-in ones;
//   bindings of users (and ~14% of teams) at organization, project, environment or pipeline
//     scope, ~13% of them with a CEL condition (mostly prod-environment and approver bindings);
//   ~8% policies: 1..2 guardrails (all conditional), scoped deny and allow policies, ~60% of
//     all policies conditional; ~17% of all rules carry a condition.
// "Rules" are bindings plus policies, as the engine counts them (Snapshot.ruleCount).
// At 10,000 rules (seed 20251): 100 organizations of 45..722 rules, 8,192 requests, ~46% allowed.
//
// Conditions share a few shapes and differ in literals (hours, label values, IP prefixes,
// team names), and are generated from a structured form (ConditionTerm) so peer engines can
// express the same condition in their own language.
//
// Requests: distinct (principal, action, resource, context) tuples; members asking about their
// own organization, mostly where they hold a binding, and ~8% cross-tenant probes.
import type {
  AuthzRequest,
  BindingDef,
  OrganizationRules,
  PolicyDef,
  RoleDef,
  RuleSet,
  ScopeDef,
  TeamMemberDef,
} from "@/server/authz/engine/types";
import { PERMISSIONS, type RoleName } from "@/server/authz/schema";

export const ENVIRONMENTS = ["dev", "staging", "prod"] as const;
export const TIERS = ["gold", "silver", "bronze"] as const;
export const DEPARTMENTS = ["engineering", "operations", "security", "data", "sales"] as const;

/** One conjunct of a generated condition; a condition is the AND of its terms. */
export type ConditionTerm =
  /** `request.time.getHours() >= from && request.time.getHours() < to` (UTC). */
  | { kind: "hours"; from: number; to: number }
  /** `principal.mfa` or `!principal.mfa`. */
  | { kind: "mfa"; value: boolean }
  /** `resource.labels["<key>"] == "<value>"`. */
  | { kind: "label"; key: "tier" | "team"; value: string }
  /** `resource.createdBy == principal.id` (equal) or `!=`. */
  | { kind: "creator"; equal: boolean }
  /** `request.ip.startsWith("10.<octet>.")`, or its negation. */
  | { kind: "network"; octet: number; inside: boolean }
  /** `principal.attributes["department"] == "<value>"`. */
  | { kind: "department"; value: string };

export function celOf(terms: readonly ConditionTerm[]): string {
  return terms
    .map((term) => {
      switch (term.kind) {
        case "hours":
          return `request.time.getHours() >= ${term.from} && request.time.getHours() < ${term.to}`;
        case "mfa":
          return term.value ? "principal.mfa" : "!principal.mfa";
        case "label":
          return `resource.labels["${term.key}"] == "${term.value}"`;
        case "creator":
          return `resource.createdBy ${term.equal ? "==" : "!="} principal.id`;
        case "network":
          return `${term.inside ? "" : "!"}request.ip.startsWith("10.${term.octet}.")`;
        case "department":
          return `principal.attributes["department"] == "${term.value}"`;
      }
      return "";
    })
    .join(" && ");
}

/** Where a request's resource sits: organization-wide, in a project, or in a project's environment. */
export const RESOURCE_PLACEMENT: Readonly<Record<string, "organization" | "project" | "environment">> = {
  organization: "organization",
  member: "organization",
  team: "organization",
  audit: "organization",
  authz: "organization",
  project: "project",
  pipeline: "project",
  artifact: "project",
  environment: "environment",
  run: "environment",
  deployment: "environment",
  secret: "environment",
};

/** Concrete catalog permissions a pattern (`pipeline:*`, `*`, `run:read`) covers. */
export function expandPermissions(patterns: readonly string[]): string[] {
  const out = new Set<string>();
  for (const pattern of patterns) {
    if (pattern === "*") for (const permission of PERMISSIONS) out.add(permission);
    else if (pattern.endsWith(":*")) {
      const prefix = pattern.slice(0, -1);
      for (const permission of PERMISSIONS) if (permission.startsWith(prefix)) out.add(permission);
    } else out.add(pattern);
  }
  return [...out];
}

export interface OrganizationShape {
  organizationId: string;
  projects: readonly string[];
  /** Pipelines by project id. */
  pipelines: ReadonlyMap<string, readonly string[]>;
  users: readonly string[];
  teams: readonly string[];
  /** Per user: the (projectId, environment) of their scoped bindings, to aim requests where access is likely. */
  focus: ReadonlyMap<string, readonly { projectId: string | null; environment: string | null }[]>;
}

export interface AuthzFixture {
  seed: number;
  ruleSet: RuleSet;
  requests: AuthzRequest[];
  /** The structured form of every generated condition, by binding or policy id. */
  conditions: ReadonlyMap<string, readonly ConditionTerm[]>;
  organizations: readonly OrganizationShape[];
  stats: {
    organizations: number;
    rules: number;
    bindings: number;
    teamBindings: number;
    policies: number;
    guardrails: number;
    conditional: number;
    distinctConditions: number;
    customRoles: number;
    users: number;
    teams: number;
    teamMembers: number;
    requests: number;
    crossTenantRequests: number;
  };
}

export interface FixtureOptions {
  rules: number;
  /** Distinct requests to generate (at least 4,000 for the workload). */
  requests?: number;
  seed?: number;
  /** Average rules per organization; the count of organizations is rules / this. */
  rulesPerOrganization?: number;
}

/** sfc32: small, fast, good enough for synthetic data; deterministic for a seed. */
export function createRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

type Random = () => number;

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function weighted<T>(random: Random, entries: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, weight] of entries) total += weight;
  let roll = random() * total;
  for (const [value, weight] of entries) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return (entries[entries.length - 1] as readonly [T, number])[0];
}

const CUSTOM_ROLE_TEMPLATES: readonly { name: string; permissions: readonly string[] }[] = [
  {
    name: "release-manager",
    permissions: ["deployment:*", "environment:read", "environment:deploy", "pipeline:read", "run:*", "project:read"],
  },
  { name: "auditor", permissions: ["organization:read", "project:read", "member:read", "audit:read", "authz:read"] },
  { name: "secret-admin", permissions: ["secret:*", "project:read", "environment:read"] },
  { name: "pipeline-author", permissions: ["pipeline:*", "run:*", "artifact:*", "project:read"] },
];

const ORG_SCOPE: ScopeDef = { projectId: null, environment: null, resourceType: null, resourceId: null };

function scopeOf(
  projectId: string | null,
  environment: string | null = null,
  pipeline: string | null = null,
): ScopeDef {
  if (projectId === null) return ORG_SCOPE;
  return {
    projectId,
    environment,
    resourceType: pipeline === null ? null : "pipeline",
    resourceId: pipeline,
  };
}

/** Rules per organization, skewed (Zipf, s = 0.6): the largest holds ~7% at 100 organizations. */
function organizationSizes(rules: number, organizations: number): number[] {
  const weights = Array.from({ length: organizations }, (_, i) => 1 / (i + 1) ** 0.6);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const sizes = weights.map((weight) => Math.max(12, Math.floor((weight / total) * rules)));
  let excess = sizes.reduce((sum, size) => sum + size, 0) - rules;
  // Fix the rounding so the total is exact: take from (or give to) the largest organizations.
  for (let i = 0; excess !== 0; i = (i + 1) % organizations) {
    const step = excess > 0 ? -1 : 1;
    if ((sizes[i] as number) + step >= 12) {
      sizes[i] = (sizes[i] as number) + step;
      excess += step;
    }
  }
  return sizes;
}

interface OrganizationBuild {
  rules: OrganizationRules;
  shape: OrganizationShape;
  conditions: Map<string, ConditionTerm[]>;
  teamBindings: number;
  guardrails: number;
}

function buildOrganization(index: number, size: number, random: Random): OrganizationBuild {
  const organizationId = `org-${String(index).padStart(4, "0")}`;
  const prefix = `o${index}`;
  const conditions = new Map<string, ConditionTerm[]>();
  const policyCount = Math.max(3, Math.round(size * 0.08));
  const bindingCount = size - policyCount;

  const projectCount = Math.min(50, Math.max(2, Math.round(size / 10)));
  const projects = Array.from({ length: projectCount }, (_, i) => `${prefix}-p${i}`);
  const pipelines = new Map(
    projects.map((project) => [project, Array.from({ length: 4 }, (_, i) => `${project}-pl${i}`)]),
  );
  const userCount = Math.max(3, Math.round(bindingCount / 1.5));
  const users = Array.from({ length: userCount }, (_, i) => `${prefix}-u${i}`);
  const teamCount = Math.max(1, Math.round(userCount / 8));
  const teams = Array.from({ length: teamCount }, (_, i) => `${prefix}-t${i}`);
  const networkOctet = index % 200;

  const teamMembers: TeamMemberDef[] = [];
  for (const userId of users) {
    const memberships = weighted(random, [
      [0, 30],
      [1, 55],
      [2, 15],
    ] as const);
    const joined = new Set<string>();
    for (let m = 0; m < memberships; m++) joined.add(pick(random, teams));
    for (const teamId of joined) teamMembers.push({ organizationId, teamId, userId });
  }

  const customCount = 1 + (size > 60 ? 1 : 0) + (size > 300 ? 1 : 0);
  const roles: RoleDef[] = Array.from({ length: customCount }, (_, i) => {
    const template = CUSTOM_ROLE_TEMPLATES[
      (index + i) % CUSTOM_ROLE_TEMPLATES.length
    ] as (typeof CUSTOM_ROLE_TEMPLATES)[0];
    return { id: `${prefix}-r${i}`, name: template.name, organizationId, permissions: template.permissions };
  });
  const customIds = roles.map((role) => role.id);
  const roleFor = (builtIn: RoleName | "custom"): string => (builtIn === "custom" ? pick(random, customIds) : builtIn);

  const focus = new Map<string, { projectId: string | null; environment: string | null }[]>();
  const addFocus = (userId: string, projectId: string | null, environment: string | null) => {
    const list = focus.get(userId);
    if (list) list.push({ projectId, environment });
    else focus.set(userId, [{ projectId, environment }]);
  };
  const membersOf = new Map<string, string[]>();
  for (const { teamId, userId } of teamMembers) {
    const list = membersOf.get(teamId);
    if (list) list.push(userId);
    else membersOf.set(teamId, [userId]);
  }

  const bindings: BindingDef[] = [];
  let teamBindings = 0;
  let userCursor = 0;
  for (let b = 0; b < bindingCount; b++) {
    const isTeam = b % 7 === 3;
    let subjectId: string;
    if (isTeam) {
      subjectId = teams[teamBindings % teams.length] as string;
      teamBindings++;
    } else if (userCursor < users.length) {
      subjectId = users[userCursor++] as string;
    } else {
      subjectId = pick(random, users);
    }
    const level = weighted(random, [
      ["organization", 25],
      ["project", 45],
      ["environment", 27],
      ["resource", 3],
    ] as const);
    const projectId = level === "organization" ? null : pick(random, projects);
    const environment = level === "environment" ? pick(random, ENVIRONMENTS) : null;
    const pipeline = level === "resource" && projectId !== null ? pick(random, pipelines.get(projectId) ?? []) : null;
    let role: RoleName | "custom";
    if (level === "organization") {
      role = weighted(random, [
        ["viewer", 40],
        ["developer", 28],
        ["approver", 10],
        ["admin", 8],
        ["owner", 2],
        ["custom", 12],
      ] as const);
    } else if (level === "project") {
      role = weighted(random, [
        ["developer", 40],
        ["maintainer", 25],
        ["viewer", 15],
        ["approver", 10],
        ["custom", 10],
      ] as const);
    } else if (level === "environment") {
      role =
        environment === "dev"
          ? weighted(random, [
              ["developer", 60],
              ["maintainer", 30],
              ["custom", 10],
            ] as const)
          : weighted(random, [
              ["approver", 40],
              ["maintainer", 30],
              ["developer", 10],
              ["custom", 20],
            ] as const);
    } else {
      role = weighted(random, [
        ["maintainer", 70],
        ["developer", 30],
      ] as const);
    }

    let terms: ConditionTerm[] | null = null;
    const roll = random();
    if (environment === "prod" && roll < 0.5) {
      const from = 6 + Math.floor(random() * 5);
      terms = weighted<ConditionTerm[]>(random, [
        [[{ kind: "hours", from, to: from + 9 }], 40],
        [[{ kind: "mfa", value: true }], 30],
        [
          [
            { kind: "hours", from, to: from + 10 },
            { kind: "mfa", value: true },
          ],
          30,
        ],
      ]);
    } else if (role === "approver" && roll < 0.4) {
      terms = [{ kind: "creator", equal: false }];
    } else if (level === "project" && roll < 0.06) {
      terms = weighted<ConditionTerm[]>(random, [
        [[{ kind: "label", key: "team", value: pick(random, teams) }], 40],
        [[{ kind: "label", key: "tier", value: pick(random, TIERS) }], 30],
        [[{ kind: "network", octet: networkOctet, inside: true }], 30],
      ]);
    } else if (level === "organization" && roll < 0.05) {
      terms = [{ kind: "department", value: pick(random, DEPARTMENTS) }];
    }

    const id = `${prefix}-b${b}`;
    if (terms) conditions.set(id, terms);
    bindings.push({
      id,
      organizationId,
      subjectType: isTeam ? "team" : "user",
      subjectId,
      roleId: roleFor(role),
      scope: scopeOf(projectId, environment, pipeline),
      condition: terms ? celOf(terms) : null,
    });
    const focused = isTeam ? (membersOf.get(subjectId) ?? []) : [subjectId];
    for (const userId of focused) addFocus(userId, projectId, environment);
  }

  const policies: PolicyDef[] = [];
  const policy = (
    name: string,
    effect: "allow" | "deny",
    actions: readonly string[],
    scope: ScopeDef,
    extra: { guardrail?: boolean; subjects?: string[]; resourceTypes?: string[]; terms?: ConditionTerm[] } = {},
  ) => {
    const id = `${prefix}-pol${policies.length}`;
    if (extra.terms) conditions.set(id, extra.terms);
    policies.push({
      id,
      organizationId,
      name,
      effect,
      guardrail: extra.guardrail ?? false,
      actions,
      resourceTypes: extra.resourceTypes ?? [],
      subjects: extra.subjects ?? [],
      scope,
      condition: extra.terms ? celOf(extra.terms) : null,
      enabled: true,
    });
  };

  const guardrailCount = Math.min(policyCount - 1, index % 3 === 0 ? 2 : 1);
  for (let g = 0; g < guardrailCount; g++) {
    switch ((index + g) % 4) {
      case 0:
        policy("no-secrets-without-mfa", "deny", ["secret:*"], ORG_SCOPE, {
          guardrail: true,
          terms: [{ kind: "mfa", value: false }],
        });
        break;
      case 1:
        policy("no-self-approval", "deny", ["deployment:approve"], ORG_SCOPE, {
          guardrail: true,
          resourceTypes: ["deployment"],
          terms: [{ kind: "creator", equal: true }],
        });
        break;
      case 2:
        policy("night-change-freeze", "deny", ["environment:deploy", "deployment:*"], ORG_SCOPE, {
          guardrail: true,
          terms: [{ kind: "hours", from: 22, to: 24 }],
        });
        break;
      default:
        policy(
          "deletes-from-office-network",
          "deny",
          ["project:delete", "organization:delete", "secret:delete"],
          ORG_SCOPE,
          {
            guardrail: true,
            terms: [{ kind: "network", octet: networkOctet, inside: false }],
          },
        );
    }
  }
  for (let p = guardrailCount; p < policyCount; p++) {
    const projectId = pick(random, projects);
    const team = pick(random, teams);
    const user = pick(random, users);
    if (random() < 0.45) {
      switch (Math.floor(random() * 4)) {
        case 0:
          policy("protect-prod", "deny", ["pipeline:delete", "environment:delete"], scopeOf(projectId, "prod"));
          break;
        case 1:
          policy("no-secret-reads", "deny", ["secret:read"], scopeOf(projectId), { subjects: [`user:${user}`] });
          break;
        case 2:
          policy("gold-rollbacks-by-sre-only", "deny", ["deployment:rollback"], scopeOf(projectId), {
            subjects: [`team:${team}`],
            resourceTypes: ["deployment"],
            terms: [{ kind: "label", key: "tier", value: "gold" }],
          });
          break;
        default:
          policy("contractor-night-lockout", "deny", ["*"], ORG_SCOPE, {
            subjects: [`user:${user}`],
            terms: [{ kind: "hours", from: 0, to: 6 + Math.floor(random() * 3) }],
          });
      }
    } else {
      switch (Math.floor(random() * 5)) {
        case 0:
          policy("project-readers", "allow", ["pipeline:read", "run:read", "artifact:read"], scopeOf(projectId));
          break;
        case 1:
          policy(
            "on-call-deploys",
            "allow",
            ["environment:deploy", "deployment:rollback"],
            scopeOf(projectId, "prod"),
            {
              subjects: [`team:${team}`],
              terms: [{ kind: "mfa", value: true }],
            },
          );
          break;
        case 2:
          policy("artifact-consumers", "allow", ["artifact:read"], ORG_SCOPE, { subjects: [`team:${team}`] });
          break;
        case 3:
          policy("staging-approvers", "allow", ["deployment:approve"], scopeOf(projectId, "staging"), {
            subjects: [`user:${user}`, `team:${team}`],
            resourceTypes: ["deployment"],
            terms: [{ kind: "creator", equal: false }],
          });
          break;
        default:
          policy("team-owned-pipelines", "allow", ["pipeline:*", "run:*"], scopeOf(projectId), {
            subjects: [`team:${team}`],
            terms: [{ kind: "label", key: "team", value: team }],
          });
      }
    }
  }

  return {
    rules: { organizationId, roles, bindings, policies, teamMembers },
    shape: { organizationId, projects, pipelines, users, teams, focus },
    conditions,
    teamBindings,
    guardrails: guardrailCount,
  };
}

const ACTION_WEIGHTS: readonly (readonly [string, number])[] = [
  ["pipeline:read", 14],
  ["run:read", 10],
  ["deployment:read", 6],
  ["project:read", 6],
  ["artifact:read", 4],
  ["environment:read", 3],
  ["organization:read", 3],
  ["member:read", 2],
  ["secret:read", 4],
  ["pipeline:run", 12],
  ["pipeline:update", 5],
  ["pipeline:create", 2],
  ["pipeline:delete", 2],
  ["run:cancel", 3],
  ["run:retry", 2],
  ["deployment:approve", 8],
  ["deployment:rollback", 3],
  ["environment:deploy", 6],
  ["environment:delete", 1],
  ["artifact:write", 3],
  ["secret:update", 2],
  ["secret:delete", 1],
  ["project:delete", 1],
  ["project:update", 1],
  ["audit:read", 2],
  ["authz:manage", 1],
  ["member:manage", 1],
  ["team:manage", 1],
];

function requestFor(
  random: Random,
  principalId: string,
  target: OrganizationShape,
  focus: readonly { projectId: string | null; environment: string | null }[],
  day: number,
): AuthzRequest {
  const action = weighted(random, ACTION_WEIGHTS);
  const type = action.slice(0, action.indexOf(":"));
  const placement = RESOURCE_PLACEMENT[type] ?? "project";
  const aimed = focus.length > 0 && random() < 0.8 ? pick(random, focus) : null;
  const projectId = placement === "organization" ? null : (aimed?.projectId ?? pick(random, target.projects));
  const environment =
    placement === "environment"
      ? aimed?.environment && random() < 0.7
        ? aimed.environment
        : pick(random, ENVIRONMENTS)
      : null;
  let id: string | null;
  if (type === "organization") id = target.organizationId;
  else if (type === "project") id = projectId;
  else if (type === "environment") id = `${projectId}/${environment}`;
  else if (type === "pipeline" && projectId !== null) id = pick(random, target.pipelines.get(projectId) ?? []);
  else if (placement === "organization") id = null;
  else id = `${projectId}-${type.slice(0, 3)}${Math.floor(random() * 50)}`;
  const mfa = random() < 0.75;
  const hour = Math.floor(random() * 24);
  const ownOctet = Number(target.organizationId.slice(4)) % 200;
  return {
    principal: {
      type: "user",
      id: principalId,
      email: `${principalId}@example.com`,
      mfa,
      attributes: { department: pick(random, DEPARTMENTS) },
    },
    action,
    resource: {
      type,
      id,
      organizationId: target.organizationId,
      projectId,
      environment,
      createdBy: random() < 0.25 ? principalId : pick(random, target.users),
      labels: { tier: pick(random, TIERS), team: pick(random, target.teams) },
    },
    context: {
      time: new Date(Date.UTC(2025, 2, 3 + day, hour, Math.floor(random() * 60))),
      ip: `10.${random() < 0.7 ? ownOctet : Math.floor(random() * 200)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`,
      mfa,
      userAgent: "microstack-cli/1.4",
    },
  };
}

function requestKey(request: AuthzRequest): string {
  const { principal, resource, context } = request;
  return [
    principal.id,
    principal.mfa,
    principal.attributes?.department,
    request.action,
    resource.organizationId,
    resource.projectId,
    resource.environment,
    resource.type,
    resource.id,
    resource.createdBy,
    resource.labels?.tier,
    resource.labels?.team,
    context?.time?.getTime(),
    context?.ip,
  ].join("|");
}

export function generateAuthzFixture(options: FixtureOptions): AuthzFixture {
  const seed = options.seed ?? 20_251;
  const random = createRandom(seed);
  const organizationCount = Math.max(1, Math.round(options.rules / (options.rulesPerOrganization ?? 100)));
  const sizes = organizationSizes(options.rules, organizationCount);

  const organizations: OrganizationRules[] = [];
  const shapes: OrganizationShape[] = [];
  const conditions = new Map<string, ConditionTerm[]>();
  let teamBindings = 0;
  let guardrails = 0;
  for (let i = 0; i < organizationCount; i++) {
    const built = buildOrganization(i, sizes[i] as number, random);
    organizations.push(built.rules);
    shapes.push(built.shape);
    for (const [id, terms] of built.conditions) conditions.set(id, terms);
    teamBindings += built.teamBindings;
    guardrails += built.guardrails;
  }

  // Requests go to organizations in proportion to their size (bigger tenants, more traffic).
  const cumulative: number[] = [];
  let running = 0;
  for (const size of sizes) {
    running += size;
    cumulative.push(running);
  }
  const organizationByTraffic = () => {
    const roll = random() * running;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) > roll) hi = mid;
      else lo = mid + 1;
    }
    return shapes[lo] as OrganizationShape;
  };

  const count = options.requests ?? 8_192;
  const requests: AuthzRequest[] = [];
  const seen = new Set<string>();
  let crossTenant = 0;
  for (let attempts = 0; requests.length < count && attempts < count * 20; attempts++) {
    const home = organizationByTraffic();
    const principalId = pick(random, home.users);
    const isProbe = organizationCount > 1 && random() < 0.08;
    let target = home;
    while (isProbe && target === home) target = organizationByTraffic();
    const request = requestFor(
      random,
      principalId,
      target,
      isProbe ? [] : (home.focus.get(principalId) ?? []),
      attempts % 5,
    );
    const key = requestKey(request);
    if (seen.has(key)) continue;
    seen.add(key);
    requests.push(request);
    if (isProbe) crossTenant++;
  }

  let bindings = 0;
  let policies = 0;
  let customRoles = 0;
  let users = 0;
  let teams = 0;
  let teamMembers = 0;
  const sources = new Set<string>();
  for (const organization of organizations) {
    bindings += organization.bindings.length;
    policies += organization.policies.length;
    customRoles += organization.roles.length;
    teamMembers += organization.teamMembers.length;
    for (const rule of [...organization.bindings, ...organization.policies])
      if (rule.condition) sources.add(rule.condition);
  }
  for (const shape of shapes) {
    users += shape.users.length;
    teams += shape.teams.length;
  }

  return {
    seed,
    ruleSet: { revision: 1, organizations },
    requests,
    conditions,
    organizations: shapes,
    stats: {
      organizations: organizationCount,
      rules: bindings + policies,
      bindings,
      teamBindings,
      policies,
      guardrails,
      conditional: conditions.size,
      distinctConditions: sources.size,
      customRoles,
      users,
      teams,
      teamMembers,
      requests: requests.length,
      crossTenantRequests: crossTenant,
    },
  };
}

/**
 * The organization's rules with one policy added: a deny of `action` for `principalId`, under a
 * condition with a fresh literal (so its compile is a cache miss, like a real edit).
 */
export function withOneChangedPolicy(
  rules: OrganizationRules,
  principalId: string,
  action: string,
  serial: number,
): OrganizationRules {
  const deny: PolicyDef = {
    id: `${rules.organizationId}-changed-${serial}`,
    organizationId: rules.organizationId,
    name: `freeze-${serial}`,
    effect: "deny",
    guardrail: false,
    actions: [action],
    resourceTypes: [],
    subjects: [`user:${principalId}`],
    scope: ORG_SCOPE,
    condition: `request.time.getHours() < ${24 + serial}`,
    enabled: true,
  };
  return { ...rules, policies: [...rules.policies, deny] };
}

// Peer engines for bench/authz.ts (`--peers`): node-casbin and Cedar's WASM build, loaded with
// the same generated rule set and asked the same rotated requests, so the figures sit side by
// side. Each peer gets the most faithful translation its model allows; what it cannot express
// is listed in PEER_LIMITATIONS and the agreement check separates those requests out.
//
// Neither peer has an index: casbin scans every policy line with its matcher per request, and
// Cedar evaluates every policy of the set (its WASM API additionally parses the whole policy set
// on every stateless isAuthorized call; statefulIsAuthorized reuses a preparsed set).
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { type Enforcer, newEnforcer, newModelFromString } from "casbin";
import { explain } from "@/server/authz/engine/decide";
import type { Snapshot } from "@/server/authz/engine/snapshot";
import type { AuthzRequest, BindingDef, OrganizationRules, PolicyDef, ScopeDef } from "@/server/authz/engine/types";
import { BUILT_IN_ROLE_PERMISSIONS, ROLES } from "@/server/authz/schema";
import { type AuthzFixture, type ConditionTerm, expandPermissions } from "./authz-fixture";

export const PEER_LIMITATIONS = {
  casbin: [
    "most-specific-scope precedence (a narrower conditional binding shadows a broader one): the effect is any-allow and no-deny, so any containing binding grants",
    "guardrails are plain denies (same outcome: deny overrides); precedence between guardrail and deny is not observable in a boolean",
    "conditions run through casbin's eval() (expression-eval over a JS subset): the hour is precomputed into the request attributes, since the matcher language has no time functions",
    "role permissions are expanded to concrete catalog actions (g2 action -> role); scope is a path matched with keyMatch",
    "policies with several subjects, actions or resource types become one line per combination",
  ],
  cedar: [
    "most-specific-scope precedence: Cedar is permit-any / forbid-overrides, so any containing binding grants",
    "guardrails are plain forbids (same boolean outcome)",
    "role permissions are expanded to `action in [...]` lists per policy; scopes are entity parents (resource in Env in Proj in Org), teams are groups (User in Group), membership is User in Org",
    "entities are passed per request (the principal, its teams, the resource and its scope ancestors), built up front and not timed",
    "a condition that errors in Cedar skips its policy (a forbid that errors does not deny); the fixture never produces erroring conditions, so this does not show here",
  ],
} as const;

export interface PeerFigures {
  load_ms: number;
  p50_us: number;
  p99_us: number;
  ops_per_s: number;
  /** Calls timed (one per sampled request, after a warm-up). */
  calls: number;
  /** Share of the sample the peer answers like our engine. */
  agreement: number;
  /** The same, leaving out requests where our most-specific-scope rule shadowed a broader binding. */
  agreement_expressible: number;
  sample: number;
  /** casbin: policy and grouping lines; Cedar: policies. */
  lines: number;
}

export interface PeerReport {
  casbin: PeerFigures;
  casbin_no_conditions: PeerFigures;
  cedar: PeerFigures;
  cedar_stateless: { p50_ms: number; calls: number };
  sample: number;
  shadowed_in_sample: number;
  lines: string[];
}

// ---- shared helpers ------------------------------------------------------------------------

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function resourcePath(request: AuthzRequest): string {
  const { projectId, environment, type, id } = request.resource;
  return `/${projectId ?? "-"}/${environment ?? "-"}/${type}/${id ?? "-"}`;
}

function scopePattern(scope: ScopeDef): string {
  if (scope.projectId === null) return "/*";
  if (scope.resourceId !== null) return `/${scope.projectId}/-/${scope.resourceType}/${scope.resourceId}`;
  if (scope.environment !== null) return `/${scope.projectId}/${scope.environment}/*`;
  return `/${scope.projectId}/*`;
}

function membersOf(rules: OrganizationRules): Set<string> {
  const members = new Set<string>();
  for (const binding of rules.bindings) if (binding.subjectType === "user") members.add(binding.subjectId);
  for (const member of rules.teamMembers) members.add(member.userId);
  return members;
}

// ---- casbin --------------------------------------------------------------------------------

const CASBIN_MODEL = `
[request_definition]
r = sub, dom, obj, act, typ, attrs

[policy_definition]
p = sub, dom, obj, act, typ, eft, cond

[role_definition]
g = _, _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.dom == p.dom && g(r.sub, p.sub, r.dom) && keyMatch(r.obj, p.obj) && (p.typ == "*" || p.typ == r.typ) && (keyMatch(r.act, p.act) || g2(r.act, p.act)) && eval(p.cond)
`;

function casbinCondition(terms: readonly ConditionTerm[] | undefined): string {
  if (!terms) return "true";
  return terms
    .map((term) => {
      switch (term.kind) {
        case "hours":
          return `r.attrs.hour >= ${term.from} && r.attrs.hour < ${term.to}`;
        case "mfa":
          return `r.attrs.mfa == ${term.value}`;
        case "label":
          return `r.attrs.labels.${term.key} == '${term.value}'`;
        case "creator":
          return `r.attrs.createdBy ${term.equal ? "==" : "!="} r.sub`;
        case "network":
          return `${term.inside ? "" : "!"}ipMatch(r.attrs.ip, '10.${term.octet}.0.0/16')`;
        case "department":
          return `r.attrs.department == '${term.value}'`;
      }
      return "false";
    })
    .join(" && ");
}

interface CasbinModel {
  enforcer: Enforcer;
  lines: number;
  args: (request: AuthzRequest) => unknown[];
}

async function buildCasbin(fixture: AuthzFixture, withConditions: boolean): Promise<CasbinModel> {
  const policyLines: string[][] = [];
  const groupLines: string[][] = [];
  const actionLines: string[][] = [];
  for (const role of ROLES) {
    for (const action of expandPermissions(BUILT_IN_ROLE_PERMISSIONS[role])) actionLines.push([action, role]);
  }
  for (const rules of fixture.ruleSet.organizations) {
    const org = rules.organizationId;
    for (const role of rules.roles) {
      for (const action of expandPermissions(role.permissions)) actionLines.push([action, role.id]);
    }
    for (const member of rules.teamMembers) groupLines.push([member.userId, member.teamId, org]);
    for (const userId of membersOf(rules)) groupLines.push([userId, "@member", org]);
    for (const binding of rules.bindings) {
      const cond = casbinCondition(fixture.conditions.get(binding.id));
      policyLines.push([binding.subjectId, org, scopePattern(binding.scope), binding.roleId, "*", "allow", cond]);
    }
    for (const policy of rules.policies) {
      if (!policy.enabled) continue;
      const cond = casbinCondition(fixture.conditions.get(policy.id));
      const subjects =
        policy.subjects.length > 0 ? policy.subjects.map((s) => s.slice(s.indexOf(":") + 1)) : ["@member"];
      const types = policy.resourceTypes.length > 0 ? policy.resourceTypes : ["*"];
      for (const subject of subjects) {
        for (const action of policy.actions) {
          for (const type of types) {
            policyLines.push([subject, org, scopePattern(policy.scope), action, type, policy.effect, cond]);
          }
        }
      }
    }
  }
  const model = withConditions ? CASBIN_MODEL : CASBIN_MODEL.replace(" && eval(p.cond)", "");
  const enforcer = await newEnforcer(newModelFromString(model));
  await enforcer.addNamedGroupingPolicies("g2", actionLines);
  await enforcer.addNamedGroupingPolicies("g", groupLines);
  await enforcer.addPolicies(policyLines);
  return {
    enforcer,
    lines: policyLines.length + groupLines.length + actionLines.length,
    args: (request) => {
      const { principal, resource, context } = request;
      return [
        principal.id,
        resource.organizationId,
        resourcePath(request),
        request.action,
        resource.type,
        {
          hour: context?.time?.getUTCHours() ?? 0,
          mfa: principal.mfa ?? context?.mfa ?? false,
          ip: context?.ip ?? "",
          labels: resource.labels ?? {},
          createdBy: resource.createdBy ?? "",
          department: principal.attributes?.department ?? "",
        },
      ];
    },
  };
}

// ---- Cedar ---------------------------------------------------------------------------------

const CEDAR_TYPES: Readonly<Record<string, string>> = {
  organization: "Org",
  project: "Proj",
  environment: "Env",
  member: "Member",
  team: "Team",
  audit: "Audit",
  authz: "Authz",
  pipeline: "Pipeline",
  run: "Run",
  deployment: "Deployment",
  secret: "Secret",
  artifact: "Artifact",
};

const SCOPE_RESOURCE_TYPES: ReadonlySet<string> = new Set(["organization", "project", "environment"]);

const quote = (value: string) => JSON.stringify(value);

function cedarScope(scope: ScopeDef, organizationId: string): string {
  if (scope.resourceId !== null)
    return `resource == ${CEDAR_TYPES[scope.resourceType ?? ""]}::${quote(scope.resourceId)}`;
  if (scope.environment !== null) return `resource in Env::${quote(`${scope.projectId}/${scope.environment}`)}`;
  if (scope.projectId !== null) return `resource in Proj::${quote(scope.projectId)}`;
  return `resource in Org::${quote(organizationId)}`;
}

function cedarActions(patterns: readonly string[]): string {
  if (patterns.includes("*")) return "action";
  return `action in [${expandPermissions(patterns)
    .map((action) => `Action::${quote(action)}`)
    .join(", ")}]`;
}

function cedarCondition(terms: readonly ConditionTerm[] | undefined): string {
  if (!terms) return "";
  const body = terms
    .map((term) => {
      switch (term.kind) {
        case "hours":
          return `context.time.toTime() >= duration("${term.from}h") && context.time.toTime() < duration("${term.to}h")`;
        case "mfa":
          return term.value ? "context.mfa" : "!context.mfa";
        case "label":
          return `resource.labels[${quote(term.key)}] == ${quote(term.value)}`;
        case "creator":
          return `resource.createdBy ${term.equal ? "==" : "!="} principal`;
        case "network":
          return `${term.inside ? "" : "!"}context.ip.isInRange(ip("10.${term.octet}.0.0/16"))`;
        case "department":
          return `principal.department == ${quote(term.value)}`;
      }
      return "false";
    })
    .join(" && ");
  return ` when { ${body} }`;
}

function cedarSubject(subject: string): string {
  const colon = subject.indexOf(":");
  const kind = subject.slice(0, colon);
  const id = subject.slice(colon + 1);
  return kind === "team" ? `Group::${quote(id)}` : `User::${quote(id)}`;
}

function cedarBinding(binding: BindingDef, permissions: readonly string[], terms?: readonly ConditionTerm[]): string {
  const principal =
    binding.subjectType === "team"
      ? `principal in Group::${quote(binding.subjectId)}`
      : `principal == User::${quote(binding.subjectId)}`;
  return `permit (${principal}, ${cedarActions(permissions)}, ${cedarScope(binding.scope, binding.organizationId)})${cedarCondition(terms)};`;
}

function cedarPolicy(policy: PolicyDef, terms?: readonly ConditionTerm[]): string {
  const effect = policy.effect === "allow" ? "permit" : "forbid";
  let principal = `principal in Org::${quote(policy.organizationId)}`;
  const extra: string[] = [];
  if (policy.subjects.length === 1) {
    const subject = policy.subjects[0] as string;
    principal = `principal ${subject.startsWith("team:") ? "in" : "=="} ${cedarSubject(subject)}`;
  } else if (policy.subjects.length > 1) {
    principal = "principal";
    extra.push(` when { principal in [${policy.subjects.map(cedarSubject).join(", ")}] }`);
  }
  let resource = cedarScope(policy.scope, policy.organizationId);
  // A resource-scoped rule already names its type; otherwise `resource is T in <scope>`.
  if (policy.resourceTypes.length === 1 && policy.scope.resourceId === null) {
    resource = resource.replace("resource in", `resource is ${CEDAR_TYPES[policy.resourceTypes[0] as string]} in`);
  } else if (policy.resourceTypes.length > 1) {
    extra.push(` when { ${policy.resourceTypes.map((type) => `resource is ${CEDAR_TYPES[type]}`).join(" || ")} }`);
  }
  return `${effect} (${principal}, ${cedarActions(policy.actions)}, ${resource})${extra.join("")}${cedarCondition(terms)};`;
}

type CedarUid = { type: string; id: string };

interface CedarModel {
  policies: Record<string, string>;
  call: (request: AuthzRequest) => Omit<cedar.AuthorizationCall, "policies">;
}

function buildCedar(fixture: AuthzFixture): CedarModel {
  const policies: Record<string, string> = {};
  const teamsByUser = new Map<string, Map<string, string[]>>();
  const members = new Map<string, Set<string>>();
  for (const rules of fixture.ruleSet.organizations) {
    const roles = new Map<string, readonly string[]>(ROLES.map((role) => [role, BUILT_IN_ROLE_PERMISSIONS[role]]));
    for (const role of rules.roles) roles.set(role.id, role.permissions);
    for (const binding of rules.bindings) {
      policies[binding.id] = cedarBinding(binding, roles.get(binding.roleId) ?? [], fixture.conditions.get(binding.id));
    }
    for (const policy of rules.policies) {
      if (policy.enabled) policies[policy.id] = cedarPolicy(policy, fixture.conditions.get(policy.id));
    }
    const byUser = new Map<string, string[]>();
    for (const member of rules.teamMembers) {
      const list = byUser.get(member.userId);
      if (list) list.push(member.teamId);
      else byUser.set(member.userId, [member.teamId]);
    }
    teamsByUser.set(rules.organizationId, byUser);
    members.set(rules.organizationId, membersOf(rules));
  }

  return {
    policies,
    call: (request) => {
      const { principal, resource, context } = request;
      const org = resource.organizationId;
      const entities = new Map<string, cedar.EntityJson>();
      const add = (uid: CedarUid, parents: CedarUid[], attrs: Record<string, cedar.CedarValueJson> = {}) => {
        entities.set(`${uid.type}::${uid.id}`, { uid, attrs, parents });
      };
      const orgUid = { type: "Org", id: org };
      const teams = teamsByUser.get(org)?.get(principal.id) ?? [];
      const userParents: CedarUid[] = teams.map((id) => ({ type: "Group", id }));
      if (members.get(org)?.has(principal.id)) userParents.push(orgUid);
      const userUid = { type: "User", id: principal.id };
      add(userUid, userParents, { department: principal.attributes?.department ?? "" });
      for (const id of teams) add({ type: "Group", id }, []);

      add(orgUid, []);
      let parent: CedarUid = orgUid;
      if (resource.projectId) {
        const projUid = { type: "Proj", id: resource.projectId };
        add(projUid, [orgUid]);
        parent = projUid;
        if (resource.environment) {
          const envUid = { type: "Env", id: `${resource.projectId}/${resource.environment}` };
          add(envUid, [projUid]);
          parent = envUid;
        }
      }
      // Organizations, projects and environments are their own scope entities.
      const isScopeEntity = SCOPE_RESOURCE_TYPES.has(resource.type);
      const resourceUid: CedarUid = isScopeEntity
        ? parent
        : { type: CEDAR_TYPES[resource.type] ?? "Other", id: resource.id ?? `${org}/${resource.type}` };
      const attrs: Record<string, cedar.CedarValueJson> = {
        labels: { ...(resource.labels ?? {}) },
        createdBy: { __entity: { type: "User", id: resource.createdBy ?? "" } },
      };
      if (isScopeEntity) {
        const existing = entities.get(`${resourceUid.type}::${resourceUid.id}`);
        if (existing) existing.attrs = attrs;
      } else add(resourceUid, [parent], attrs);

      return {
        principal: userUid,
        action: { type: "Action", id: request.action },
        resource: resourceUid,
        context: {
          time: { __extn: { fn: "datetime", arg: (context?.time ?? new Date(0)).toISOString() } },
          ip: { __extn: { fn: "ip", arg: context?.ip ?? "0.0.0.0" } },
          mfa: principal.mfa ?? context?.mfa ?? false,
        },
        entities: [...entities.values()],
      };
    },
  };
}

// ---- run -----------------------------------------------------------------------------------

export interface PeerOptions {
  /** Requests asked of every peer, spread over the rotated set: timed one by one, and checked for agreement. */
  sample: number;
  /** Calls of Cedar's stateless isAuthorized, which parses the whole policy set each time. */
  statelessCalls: number;
}

interface Timing {
  p50: number;
  p99: number;
  opsPerS: number;
  calls: number;
}

/** Times `fn` on every prepared input, after a short warm-up; returns the answers too. */
function timeEach<T>(
  inputs: readonly T[],
  fn: (input: T) => boolean,
  warmup = 10,
): { times: Timing; answers: boolean[] } {
  for (let k = 0; k < Math.min(warmup, inputs.length); k++) fn(inputs[k] as T);
  const samples = new Float64Array(inputs.length);
  const answers: boolean[] = [];
  let total = 0;
  for (let k = 0; k < inputs.length; k++) {
    const t0 = performance.now();
    answers.push(fn(inputs[k] as T));
    const elapsed = performance.now() - t0;
    samples[k] = elapsed;
    total += elapsed;
  }
  samples.sort();
  return {
    times: {
      p50: quantile(samples, 0.5) * 1_000,
      p99: quantile(samples, 0.99) * 1_000,
      opsPerS: inputs.length / (total / 1_000),
      calls: inputs.length,
    },
    answers,
  };
}

export async function runPeers(fixture: AuthzFixture, snapshot: Snapshot, options: PeerOptions): Promise<PeerReport> {
  const requests = fixture.requests;
  const n = requests.length;
  const stride = Math.max(1, Math.floor(n / options.sample));
  const sample = Array.from(
    { length: Math.min(options.sample, n) },
    (_, k) => requests[(k * stride) % n] as AuthzRequest,
  );

  // Our answers, and which requests our most-specific-scope rule decides differently from a
  // flat "any binding" reading (a narrower binding shadows a broader one): peers cannot express it.
  const ours = sample.map((request) => explain(snapshot, request));
  const shadowed = ours.map(
    (decision) => decision.explanation?.evaluated.some((e) => e.outcome === "shadowed") ?? false,
  );
  const shadowedCount = shadowed.filter(Boolean).length;
  const expressible = sample.length - shadowedCount;
  const agreement = (answers: readonly boolean[]) => {
    let all = 0;
    let onExpressible = 0;
    answers.forEach((answer, k) => {
      if (answer !== ours[k]?.allow) return;
      all++;
      if (!shadowed[k]) onExpressible++;
    });
    return { all: all / sample.length, expressible: onExpressible / Math.max(1, expressible) };
  };

  // casbin, with the ABAC conditions through eval(), and the same model without them.
  let started = performance.now();
  const casbin = await buildCasbin(fixture, true);
  const casbinLoadMs = performance.now() - started;
  const casbinArgs = sample.map((request) => casbin.args(request));
  const casbinRun = timeEach(casbinArgs, (args) => casbin.enforcer.enforceSync(...args));
  started = performance.now();
  const casbinRbac = await buildCasbin(fixture, false);
  const casbinRbacLoadMs = performance.now() - started;
  const casbinRbacRun = timeEach(casbinArgs, (args) => casbinRbac.enforcer.enforceSync(...args));

  // Cedar: the preparsed (stateful) policy set, and the stateless call that parses it every time.
  started = performance.now();
  const cedarModel = buildCedar(fixture);
  const policySet: cedar.PolicySet = { staticPolicies: cedarModel.policies };
  const parsed = cedar.preparsePolicySet("bench", policySet);
  if (parsed.type !== "success") {
    throw new Error(`Cedar refused the generated policies: ${parsed.errors.map((error) => error.message).join("; ")}`);
  }
  const cedarLoadMs = performance.now() - started;
  const cedarCalls = sample.map((request) => ({ ...cedarModel.call(request), preparsedPolicySetId: "bench" }));
  const cedarAllows = (answer: cedar.AuthorizationAnswer): boolean => {
    if (answer.type !== "success") throw new Error(`Cedar failed: ${answer.errors.map((e) => e.message).join("; ")}`);
    const errors = answer.response.diagnostics.errors;
    if (errors.length > 0) throw new Error(`Cedar policy errors: ${errors.map((e) => e.error.message).join("; ")}`);
    return answer.response.decision === "allow";
  };
  const cedarRun = timeEach(cedarCalls, (call) => cedarAllows(cedar.statefulIsAuthorized(call)));
  const statelessRun = timeEach(
    cedarCalls.slice(0, options.statelessCalls).map(({ preparsedPolicySetId: _, ...call }) => ({
      ...call,
      policies: policySet,
    })),
    (call) => cedarAllows(cedar.isAuthorized(call)),
    1,
  );

  const figures = (loadMs: number, run: { times: Timing; answers: boolean[] }, lines: number): PeerFigures => {
    const agreed = agreement(run.answers);
    return {
      load_ms: Number(loadMs.toFixed(1)),
      p50_us: Number(run.times.p50.toFixed(1)),
      p99_us: Number(run.times.p99.toFixed(1)),
      ops_per_s: Number(run.times.opsPerS.toFixed(1)),
      calls: run.times.calls,
      agreement: Number(agreed.all.toFixed(4)),
      agreement_expressible: Number(agreed.expressible.toFixed(4)),
      sample: sample.length,
      lines,
    };
  };
  const casbinFigures = figures(casbinLoadMs, casbinRun, casbin.lines);
  const casbinRbacFigures = figures(casbinRbacLoadMs, casbinRbacRun, casbinRbac.lines);
  const cedarFigures = figures(cedarLoadMs, cedarRun, Object.keys(cedarModel.policies).length);

  const disagreements: string[] = [];
  sample.forEach((request, k) => {
    const mine = ours[k];
    if (!mine || shadowed[k] || disagreements.length >= 5) return;
    const byCasbin = casbinRun.answers[k];
    const byCedar = cedarRun.answers[k];
    if (byCasbin === mine.allow && byCedar === mine.allow) return;
    disagreements.push(
      `  ours ${mine.allow ? "allow" : "deny"} (${mine.reasonCode}), casbin ${byCasbin}, cedar ${byCedar}: ${request.principal.id} ${request.action} ${resourcePath(request)} @ ${request.resource.organizationId}`,
    );
  });

  const row = (name: string, f: PeerFigures, note = "") =>
    `  ${name.padEnd(34)} load ${f.load_ms.toFixed(0).padStart(6)} ms  p50 ${(f.p50_us / 1_000).toFixed(2).padStart(8)} ms  p99 ${(f.p99_us / 1_000).toFixed(2).padStart(8)} ms  ${f.ops_per_s.toFixed(1).padStart(7)} ops/s  agreement ${(f.agreement * 100).toFixed(1)}%, ${(f.agreement_expressible * 100).toFixed(1)}% on expressible${note}`;
  const lines = [
    `peers, same rules and requests: ${sample.length} requests spread over the rotated set, each timed once per peer after ${10} warm-up calls; ${shadowedCount} of them are decided by narrowing (a narrower binding shadowing a broader one) and left out of "expressible"`,
    row(`node-casbin, eval() ABAC (${casbin.lines} lines)`, casbinFigures),
    row(`node-casbin, no conditions`, casbinRbacFigures, " (conditions ignored: timing reference)"),
    row(`cedar-wasm preparsed (${cedarFigures.lines} policies)`, cedarFigures),
    `  cedar-wasm stateless isAuthorized (parses the policy set on every call): p50 ${(statelessRun.times.p50 / 1_000).toFixed(0)} ms over ${statelessRun.times.calls} calls`,
  ];
  if (disagreements.length > 0) lines.push("  disagreements on expressible requests (first 5):", ...disagreements);
  lines.push("  not expressed equivalently:");
  for (const [peer, limits] of Object.entries(PEER_LIMITATIONS))
    for (const limit of limits) lines.push(`    ${peer}: ${limit}`);

  return {
    casbin: casbinFigures,
    casbin_no_conditions: casbinRbacFigures,
    cedar: cedarFigures,
    cedar_stateless: { p50_ms: Number((statelessRun.times.p50 / 1_000).toFixed(1)), calls: statelessRun.times.calls },
    sample: sample.length,
    shadowed_in_sample: shadowedCount,
    lines,
  };
}

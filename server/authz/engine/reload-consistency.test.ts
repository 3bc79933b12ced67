import { setImmediate as nextTick } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { decide } from "./decide";
import { buildSnapshot, replaceOrganizations, type Snapshot } from "./snapshot";
import type { AuthzRequest, BindingDef, Decision, OrganizationRules, PolicyDef, ScopeDef } from "./types";

// Zero failed or inconsistent decisions during reloads under 10,000 decisions/s.
//
// Every organization has two rule versions, A and B, that differ in rules changed together (a
// custom role and the binding that uses it; a team membership and the team's binding; a
// binding and an allow policy). Each request's answer under A and under B is computed on a
// consistent snapshot beforehand, and the two answers differ; a snapshot that mixed the
// versions would give a third answer (checked below). Decisions then run at full speed while
// a reloader keeps swapping snapshots, full rebuilds and single-organization replacements,
// building each new snapshot over several event-loop turns as the runtime does. Each decision
// must equal the answer of the version its organization had in the snapshot that answered it.

type Version = "A" | "B";

const ORGANIZATIONS = Array.from({ length: 24 }, (_, index) => `org-${String(index).padStart(2, "0")}`);
const WHOLE: ScopeDef = { projectId: null, environment: null, resourceType: null, resourceId: null };
const projectOf = (org: string) => `${org}/storefront`;

function binding(org: string, id: string, subject: string, roleId: string, scope: ScopeDef, condition: string | null) {
  const [subjectType, subjectId] = subject.split(":") as [BindingDef["subjectType"], string];
  return { id: `${org}/${id}`, organizationId: org, subjectType, subjectId, roleId, scope, condition };
}

function allowPolicy(org: string, id: string, actions: string[], subjects: string[]): PolicyDef {
  return {
    id: `${org}/${id}`,
    organizationId: org,
    name: id,
    effect: "allow",
    guardrail: false,
    actions,
    resourceTypes: [],
    subjects,
    scope: WHOLE,
    condition: null,
    enabled: true,
  };
}

function guardrail(org: string, id: string, actions: string[], condition: string): PolicyDef {
  return { ...allowPolicy(org, id, actions, []), effect: "deny", guardrail: true, condition };
}

function rulesOf(org: string, version: Version): OrganizationRules {
  const project = { ...WHOLE, projectId: projectOf(org) };
  if (version === "A") {
    return {
      organizationId: org,
      roles: [{ id: `${org}/deployer-a`, name: "deployer-a", organizationId: org, permissions: ["environment:*"] }],
      bindings: [
        binding(org, "alice-a", "user:alice", `${org}/deployer-a`, project, null),
        binding(org, "bob-a", "user:bob", "viewer", WHOLE, null),
        binding(org, "blue-a", "team:blue", "developer", project, null),
      ],
      policies: [allowPolicy(org, "bob-updates-a", ["pipeline:update"], ["user:bob"])],
      teamMembers: [{ organizationId: org, teamId: "blue", userId: "carol" }],
    };
  }
  return {
    organizationId: org,
    roles: [{ id: `${org}/deployer-b`, name: "deployer-b", organizationId: org, permissions: ["environment:deploy"] }],
    bindings: [
      binding(org, "alice-b", "user:alice", `${org}/deployer-b`, project, "request.mfa"),
      binding(org, "bob-b", "user:bob", "maintainer", WHOLE, null),
      binding(org, "green-b", "team:green", "developer", project, null),
      binding(org, "dave-b", "user:dave", "viewer", WHOLE, null),
    ],
    policies: [guardrail(org, "no-self-approval-b", ["deployment:approve"], "resource.createdBy == principal.id")],
    teamMembers: [{ organizationId: org, teamId: "green", userId: "carol" }],
  };
}

function requestsOf(org: string): AuthzRequest[] {
  const time = new Date("2025-03-04T10:00:00Z");
  const resource = (type: string, extra: Partial<AuthzRequest["resource"]> = {}) => ({
    type,
    organizationId: org,
    projectId: projectOf(org),
    ...extra,
  });
  const user = (id: string) => ({ type: "user" as const, id });
  return [
    // A: custom role deployer-a; B: deployer-b with a condition. Role and binding change together.
    {
      principal: user("alice"),
      action: "environment:deploy",
      resource: resource("environment", { environment: "prod" }),
      context: { time, mfa: true },
    },
    {
      principal: user("alice"),
      action: "environment:deploy",
      resource: resource("environment", { environment: "prod" }),
      context: { time, mfa: false },
    },
    // A: team blue; B: team green. Membership and binding change together.
    { principal: user("carol"), action: "pipeline:run", resource: resource("pipeline"), context: { time } },
    // A: an allow policy for bob; B: a broader binding instead.
    { principal: user("bob"), action: "pipeline:update", resource: resource("pipeline"), context: { time } },
    // A: not a member at all; B: a viewer.
    { principal: user("dave"), action: "project:read", resource: resource("project"), context: { time } },
    // A: nothing grants it (environment:* is not deployment:*); B: the guardrail decides.
    {
      principal: user("alice"),
      action: "deployment:approve",
      resource: resource("deployment", { createdBy: "alice" }),
      context: { time },
    },
  ];
}

/** What a person would notice of a decision. */
function answer(decision: Decision) {
  const { allow, reasonCode, bindingId, policyId, role, scope, isTenantMember } = decision;
  return { allow, reasonCode, bindingId, policyId, role, scope, isTenantMember };
}
type Answer = ReturnType<typeof answer>;

const REQUESTS = new Map(ORGANIZATIONS.map((org) => [org, requestsOf(org)]));
const EXPECTED: Record<Version, Map<string, Answer[]>> = { A: new Map(), B: new Map() };
for (const version of ["A", "B"] as const) {
  const consistent = buildSnapshot({ revision: 0, organizations: ORGANIZATIONS.map((org) => rulesOf(org, version)) });
  for (const org of ORGANIZATIONS) {
    EXPECTED[version].set(
      org,
      (REQUESTS.get(org) ?? []).map((request) => answer(decide(consistent, request))),
    );
  }
}

describe("decisions during reloads", () => {
  it("the two versions answer every request differently, and a mixture of them would answer differently again", () => {
    const org = ORGANIZATIONS[0] as string;
    const a = EXPECTED.A.get(org) ?? [];
    const b = EXPECTED.B.get(org) ?? [];
    expect(a).toHaveLength(6);
    a.forEach((answerA, index) => {
      expect(answerA, `request ${index}`).not.toEqual(b[index]);
    });
    expect(a.map((x) => x.allow)).toEqual([true, true, true, true, false, false]);
    expect(b.map((x) => x.allow)).toEqual([true, false, true, true, true, false]);

    // Half of A and half of B (the roles and team memberships of one, the bindings of the other):
    // the requests that depend on two rules changed together get an answer neither version gives.
    const ruleA = rulesOf(org, "A");
    const ruleB = rulesOf(org, "B");
    const mixtures: OrganizationRules[] = [
      { ...ruleA, bindings: ruleB.bindings, policies: ruleB.policies },
      { ...ruleB, bindings: ruleA.bindings, policies: ruleA.policies },
    ];
    const requests = REQUESTS.get(org) ?? [];
    for (const mixed of mixtures) {
      const snapshot = buildSnapshot({ revision: 0, organizations: [mixed] });
      for (const index of [0, 2]) {
        const mixedAnswer = answer(decide(snapshot, requests[index] as AuthzRequest));
        expect(mixedAnswer).not.toEqual(a[index]);
        expect(mixedAnswer).not.toEqual(b[index]);
      }
    }
  });

  it("has zero failed or inconsistent decisions while snapshots are swapped under 10,000 decisions/s", async () => {
    const DURATION_MS = 1_500;
    const DECIDERS = 4;
    const BATCH = 200;

    // Which version each organization had in the snapshot of each revision.
    const versionsAt = new Map<number, Map<string, Version>>();
    let revision = 1;
    let current: Snapshot = buildSnapshot({
      revision,
      organizations: ORGANIZATIONS.map((org) => rulesOf(org, "A")),
    });
    versionsAt.set(revision, new Map(ORGANIZATIONS.map((org) => [org, "A"])));

    const failures: string[] = [];
    let thrown = 0;
    let decisions = 0;
    const answeredBy: Record<Version, number> = { A: 0, B: 0 };
    let swaps = 0;
    let mixedSnapshots = 0;
    const started = performance.now();
    const deadline = started + DURATION_MS;

    const decider = async (seed: number) => {
      let turn = seed;
      while (performance.now() < deadline) {
        for (let i = 0; i < BATCH; i++) {
          turn = (turn * 1_103_515_245 + 12_345) & 0x7fffffff;
          const org = ORGANIZATIONS[turn % ORGANIZATIONS.length] as string;
          const requests = REQUESTS.get(org) as AuthzRequest[];
          const index = (turn >> 8) % requests.length;
          const snapshot = current;
          try {
            const decision = decide(snapshot, requests[index] as AuthzRequest);
            decisions++;
            if (decision.revision !== snapshot.revision) {
              failures.push(`revision ${decision.revision} reported by snapshot ${snapshot.revision}`);
              continue;
            }
            const version = versionsAt.get(decision.revision)?.get(org);
            if (!version) {
              failures.push(`revision ${decision.revision} unknown`);
              continue;
            }
            answeredBy[version]++;
            const expected = EXPECTED[version].get(org)?.[index];
            const actual = answer(decision);
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              failures.push(
                `${org} request ${index} at revision ${decision.revision} (${version}): ${JSON.stringify(actual)}`,
              );
            }
          } catch (error) {
            thrown++;
            failures.push(`decide threw: ${String(error)}`);
          }
        }
        await nextTick();
      }
    };

    const reloader = async () => {
      let step = 0;
      let fullVersion: Version = "A";
      while (performance.now() < deadline) {
        step++;
        const base = current;
        const versions = new Map(versionsAt.get(base.revision));
        let next: Snapshot;
        const nextRevision = revision + 1;
        if (step % 5 === 0) {
          // A full reload, built a few organizations at a time over several turns.
          fullVersion = fullVersion === "A" ? "B" : "A";
          const chunks = [ORGANIZATIONS.slice(0, 8), ORGANIZATIONS.slice(8, 16), ORGANIZATIONS.slice(16)];
          next = buildSnapshot({
            revision: nextRevision,
            organizations: (chunks[0] ?? []).map((org) => rulesOf(org, fullVersion)),
          });
          for (const chunk of chunks.slice(1)) {
            await nextTick();
            next = replaceOrganizations(
              next,
              nextRevision,
              chunk.map((org) => ({ organizationId: org, rules: rulesOf(org, fullVersion) })),
            );
          }
          for (const org of ORGANIZATIONS) versions.set(org, fullVersion);
        } else {
          // A hot reload of one to three organizations, each flipping its version.
          const changed = ORGANIZATIONS.filter((_, index) => (index * 7 + step * 13) % 24 < 1 + (step % 3));
          await nextTick();
          const changes = changed.map((org) => {
            const flipped: Version = versions.get(org) === "A" ? "B" : "A";
            versions.set(org, flipped);
            return { organizationId: org, rules: rulesOf(org, flipped) };
          });
          next = replaceOrganizations(base, nextRevision, changes);
        }
        revision = nextRevision;
        versionsAt.set(next.revision, versions);
        if (new Set(versions.values()).size > 1) mixedSnapshots++;
        current = next;
        swaps++;
        await nextTick();
      }
    };

    await Promise.all([reloader(), ...Array.from({ length: DECIDERS }, (_, seed) => decider(seed + 1))]);
    const seconds = (performance.now() - started) / 1_000;

    expect(failures.slice(0, 5)).toEqual([]);
    expect(thrown).toBe(0);
    expect(decisions / seconds).toBeGreaterThanOrEqual(10_000);
    expect(swaps).toBeGreaterThan(50);
    // Both versions answered, and organizations were at different versions side by side.
    expect(answeredBy.A).toBeGreaterThan(1_000);
    expect(answeredBy.B).toBeGreaterThan(1_000);
    expect(mixedSnapshots).toBeGreaterThan(10);
  });
});

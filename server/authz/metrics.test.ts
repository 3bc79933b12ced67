import { describe, expect, it } from "vitest";
import { renderMetrics } from "@/server/observability/metrics";
import { compileCondition } from "./cel/compile";
import { decide } from "./engine/decide";
import { buildSnapshot } from "./engine/snapshot";
import { observeDecision } from "./metrics";

const ORG = "0199a000-0000-7000-8000-000000000001";
const scope = { projectId: null, environment: null, resourceType: null, resourceId: null };

function line(body: string, prefix: string): number {
  const found = body.split("\n").find((l) => l.startsWith(prefix));
  return found ? Number(found.slice(found.lastIndexOf(" ") + 1)) : Number.NaN;
}

describe("microstack_authz_* metrics", () => {
  it("count decisions by effect and reason, time them in the 1 µs .. 10 ms buckets and count candidates", async () => {
    const snapshot = buildSnapshot({
      revision: 7,
      organizations: [
        {
          organizationId: ORG,
          roles: [],
          teamMembers: [],
          policies: [],
          bindings: [
            {
              id: "b1",
              organizationId: ORG,
              subjectType: "user",
              subjectId: "u1",
              roleId: "viewer",
              scope,
              condition: null,
            },
          ],
        },
      ],
    });
    const before = (await renderMetrics()).body;
    const allow = decide(snapshot, {
      principal: { type: "user", id: "u1" },
      action: "pipeline:read",
      resource: { type: "pipeline", organizationId: ORG },
    });
    const deny = decide(snapshot, {
      principal: { type: "user", id: "u1" },
      action: "pipeline:run",
      resource: { type: "pipeline", organizationId: ORG },
    });
    observeDecision(allow, 0.000_000_8);
    observeDecision(deny, 0.000_03);
    compileCondition("principal.mfa");
    const after = (await renderMetrics()).body;

    const allowCount = 'microstack_authz_decisions_total{effect="allow",reason="binding"}';
    const denyCount = 'microstack_authz_decisions_total{effect="deny",reason="no_grant"}';
    expect(line(after, allowCount) - (line(before, allowCount) || 0)).toBe(1);
    expect(line(after, denyCount) - (line(before, denyCount) || 0)).toBe(1);
    expect(after).toContain('microstack_authz_decision_duration_seconds_bucket{effect="allow",le="0.000001"}');
    expect(after).toContain('microstack_authz_decision_duration_seconds_bucket{effect="deny",le="0.01"}');
    expect(after).toMatch(/microstack_authz_index_candidates_bucket\{le="1"\} \d+/);
    expect(after).toMatch(/microstack_authz_condition_cache_requests_total\{cache="source",result="(hit|miss)"\} \d+/);
    expect(after).toContain("# TYPE microstack_authz_decision_duration_seconds histogram");
  });
});

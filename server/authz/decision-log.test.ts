import { afterEach, describe, expect, it } from "vitest";
import { configureDecisionLog, flushDecisionLog, getDecisionLogStats, recordDecision } from "./decision-log";
import type { AuthzRequest, Decision } from "./engine/types";
import type { DecisionLogEntry } from "./schema";

// The decision log on the request path: bounded (a full buffer drops and counts, never grows),
// in order, and everything accepted reaches the sink in batches, also after the ring wraps.

const request = (n: number): AuthzRequest => ({
  principal: { type: "user", id: `u${n}` },
  action: "pipeline:run",
  resource: { type: "pipeline", id: `p${n}`, organizationId: "o1", projectId: "pr1" },
});

const decision = (allow: boolean): Decision =>
  Object.freeze({
    allow,
    reasonCode: allow ? "binding" : "no_grant",
    reason: allow ? "role developer at organization scope grants pipeline:run" : "no role",
    bindingId: allow ? "b1" : null,
    policyId: null,
    role: allow ? "developer" : null,
    scope: allow ? "organization" : null,
    revision: 3,
    isTenantMember: true,
    candidates: 1,
  });

afterEach(() => configureDecisionLog({ mode: "off", sink: null, capacity: 10_000, batchSize: 250 }));

describe("the decision log", () => {
  it("keeps at most its capacity, drops and counts the rest, and writes what it kept in order and in batches", async () => {
    const batches: DecisionLogEntry[][] = [];
    configureDecisionLog({
      mode: "all",
      capacity: 5,
      batchSize: 2,
      flushIntervalMs: 60_000,
      sink: async (entries) => {
        batches.push(entries);
      },
    });
    const before = { ...getDecisionLogStats() };
    for (let n = 0; n < 7; n++) recordDecision(request(n), decision(n % 2 === 0), n, "native", `id-${n}`);
    expect(getDecisionLogStats().dropped - before.dropped).toBe(2);
    expect(getDecisionLogStats().buffered - before.buffered).toBe(5);

    await flushDecisionLog();
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1]);
    // Timestamps are wall-clock times (recorded on the monotonic clock, converted at flush).
    for (const entry of batches.flat()) expect(Math.abs(Date.parse(entry.timestamp) - Date.now())).toBeLessThan(5_000);
    expect(batches.flat().map((entry) => entry.decision_id)).toEqual(["id-0", "id-1", "id-2", "id-3", "id-4"]);
    expect(batches[0]?.[1]).toMatchObject({
      path: "native",
      revision: 3,
      result: false,
      reason_code: "no_grant",
      latency_us: 1,
      input: { principal: { type: "user", id: "u1" }, resource: { id: "p1", projectId: "pr1", environment: null } },
    });

    // Past the end of the ring: slots are reused, order is kept.
    for (let n = 7; n < 11; n++) recordDecision(request(n), decision(true), n, "native", `id-${n}`);
    await flushDecisionLog();
    expect(batches.flat().map((entry) => entry.decision_id)).toEqual([
      "id-0",
      "id-1",
      "id-2",
      "id-3",
      "id-4",
      "id-7",
      "id-8",
      "id-9",
      "id-10",
    ]);
    expect(getDecisionLogStats().written - before.written).toBe(9);
  });

  it("in deny mode keeps only denials", async () => {
    const written: DecisionLogEntry[] = [];
    configureDecisionLog({
      mode: "deny",
      capacity: 10,
      flushIntervalMs: 60_000,
      sink: async (entries) => {
        written.push(...entries);
      },
    });
    recordDecision(request(1), decision(true), 1, "native");
    recordDecision(request(2), decision(false), 1, "native");
    await flushDecisionLog();
    expect(written.map((entry) => entry.input.principal.id)).toEqual(["u2"]);
  });
});

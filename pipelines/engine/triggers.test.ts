import { describe, expect, it } from "vitest";
import { evaluateWebhook, lastFireTime, nextFireTime } from "./triggers";

describe("schedule triggers", () => {
  it("fires weekday mornings in the schedule's time zone, across a DST change", () => {
    const schedule = { cron: "30 2 * * MON-FRI", timezone: "Europe/Berlin" };
    // Friday 2026-03-27 10:00 UTC: the last fire was that morning at 02:30 Berlin (01:30 UTC, CET).
    expect(new Date(lastFireTime(schedule, Date.UTC(2026, 2, 27, 10))).toISOString()).toBe("2026-03-27T01:30:00.000Z");
    // The next is Monday after the switch to summer time: 02:30 CEST is 00:30 UTC.
    expect(new Date(nextFireTime(schedule, Date.UTC(2026, 2, 27, 10))).toISOString()).toBe("2026-03-30T00:30:00.000Z");
  });

  it("counts a fire exactly at the given time as due, and knows the @ macros", () => {
    const at = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(lastFireTime({ cron: "@daily" }, at)).toBe(at);
    expect(lastFireTime({ cron: "@hourly" }, at + 59 * 60_000)).toBe(at);
    expect(nextFireTime({ cron: "@weekly" }, at)).toBe(Date.UTC(2026, 0, 4));
  });
});

describe("webhook triggers", () => {
  const hook = {
    id: "main",
    secret: "${{ secrets.HOOK }}",
    if: 'payload.ref == "refs/heads/main" && headers["x-github-event"] == "push"',
    params: { target: "${{ payload.target }}", note: "pushed ${{ payload.commits.size() }} commits", fixed: "staging" },
  };

  it("starts a run when the condition holds, with params rendered from the payload", () => {
    const decision = evaluateWebhook(hook, {
      payload: { ref: "refs/heads/main", target: "production", commits: [{}, {}] },
      headers: { "x-github-event": "push" },
    });
    expect(decision).toEqual({
      fire: true,
      params: { target: "production", note: "pushed 2 commits", fixed: "staging" },
    });
  });

  it("says why nothing starts, and reports an expression that cannot be evaluated", () => {
    const other = evaluateWebhook(hook, { payload: { ref: "refs/heads/dev" }, headers: { "x-github-event": "push" } });
    expect(other).toMatchObject({ fire: false, reason: expect.stringContaining("condition is false") });
    const broken = evaluateWebhook({ ...hook, if: "payload.count > 1" }, { payload: { count: "many" }, headers: {} });
    expect(broken).toMatchObject({ fire: false, error: expect.any(String) });
  });
});

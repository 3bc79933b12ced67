import { describe, expect, it } from "vitest";
import { durationMessage, isFinished, runDuration, splitDuration, stepProgress } from "./format";
import { runListSearch } from "./queries";

const counts = {
  total: 7,
  queued: 0,
  waiting: 1,
  running: 0,
  succeeded: 4,
  failed: 1,
  skipped: 1,
  cancelled: 0,
  timed_out: 0,
};

describe("durations", () => {
  it("splits a span into whole hours, minutes and seconds", () => {
    expect(splitDuration(0)).toEqual({ hours: 0, minutes: 0, seconds: 0 });
    expect(splitDuration(59_999)).toEqual({ hours: 0, minutes: 0, seconds: 59 });
    expect(splitDuration(3_725_000)).toEqual({ hours: 1, minutes: 2, seconds: 5 });
    expect(splitDuration(-5_000)).toEqual({ hours: 0, minutes: 0, seconds: 0 });
  });

  it("reads at the largest unit that is not zero", () => {
    expect(durationMessage(42_000).key).toBe("seconds");
    expect(durationMessage(65_000).key).toBe("minutes");
    expect(durationMessage(26 * 3_600_000).values).toEqual({ hours: 26, minutes: 0, seconds: 0 });
  });

  it("measures a run to its end, or to now while it runs", () => {
    const startedAt = "2026-01-01T10:00:00.000Z";
    expect(runDuration({ startedAt, finishedAt: "2026-01-01T10:01:30.000Z" }, null)).toBe(90_000);
    expect(runDuration({ startedAt, finishedAt: null }, Date.parse("2026-01-01T10:00:10.000Z"))).toBe(10_000);
    expect(runDuration({ startedAt, finishedAt: null }, null)).toBeNull();
    expect(runDuration({ startedAt: null, finishedAt: null }, Date.now())).toBeNull();
  });
});

describe("runs", () => {
  it("knows which statuses are final", () => {
    expect(["succeeded", "failed", "cancelled", "timed_out"].every(isFinished)).toBe(true);
    expect(["queued", "running", "waiting"].some(isFinished)).toBe(false);
  });

  it("counts skipped steps as done and lists what needs a glance", () => {
    expect(stepProgress(counts)).toEqual({
      done: 5,
      total: 7,
      notable: [
        { status: "failed", count: 1 },
        { status: "waiting", count: 1 },
      ],
    });
  });

  it("asks the API with its own parameter names", () => {
    expect(runListSearch({}, 25, null).toString()).toBe("limit=25");
    expect(
      runListSearch(
        { status: ["failed", "timed_out"], trigger: "manual", pipeline: "p-1" },
        10,
        "1767261600000:0198f2b4-0000-7000-8000-000000000000",
      ).toString(),
    ).toBe(
      "limit=10&status=failed%2Ctimed_out&trigger=manual&pipeline=p-1&cursor=1767261600000%3A0198f2b4-0000-7000-8000-000000000000",
    );
  });
});

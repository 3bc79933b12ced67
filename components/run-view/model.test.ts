import { describe, expect, it } from "vitest";
import type { StepDto } from "@/server/runs/schema";
import { collapseStages, criticalPath, formatDuration, groupSteps } from "./model";

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 9, 0, seconds)).toISOString();

function step(id: string, patch: Partial<StepDto> = {}): StepDto {
  return {
    id,
    stepId: id.split("[")[0] as string,
    name: id.split("[")[0] as string,
    kind: "run",
    uses: null,
    role: "step",
    stage: null,
    needs: [],
    matrix: null,
    status: "succeeded",
    attempt: 1,
    waitingFor: null,
    reason: null,
    exitCode: 0,
    continuedOnError: false,
    startedAt: null,
    finishedAt: null,
    deadlineAt: null,
    retryAt: null,
    outputs: {},
    actor: null,
    approvals: [],
    approval: null,
    manualMessage: null,
    notice: null,
    gate: null,
    history: [],
    ...patch,
  };
}

describe("the run view's model", () => {
  it("collapses matrix instances into one node with a histogram, and keeps handlers apart", () => {
    const { groups, handlers } = groupSteps([
      step("build"),
      step("test[node=20]", { needs: ["build"], status: "failed" }),
      step("test[node=22]", { needs: ["build"], status: "running" }),
      step("finally/cleanup", { stepId: "cleanup", role: "finally", status: "queued" }),
    ]);
    expect(groups.map((group) => [group.id, group.status, group.instances.length])).toEqual([
      ["build", "succeeded", 1],
      ["test", "running", 2],
    ]);
    expect(groups[1]?.histogram).toEqual({ failed: 1, running: 1 });
    expect(handlers.map((handler) => handler.id)).toEqual(["finally/cleanup"]);
  });

  it("finds the critical path: the chain whose durations add up longest", () => {
    const { groups } = groupSteps([
      step("a", { startedAt: at(0), finishedAt: at(10) }),
      step("fast", { needs: ["a"], startedAt: at(10), finishedAt: at(12) }),
      step("slow", { needs: ["a"], startedAt: at(10), finishedAt: at(40) }),
      step("end", { needs: ["fast", "slow"], startedAt: at(40), finishedAt: at(45) }),
    ]);
    expect([...criticalPath(groups, Date.parse(at(60)))].sort()).toEqual(["a", "end", "slow"]);
  });

  it("collapses stages into one node each, with the needs between stages", () => {
    const { groups } = groupSteps([
      step("compile", { stage: "build" }),
      step("package", { stage: "build", needs: ["compile"], status: "running" }),
      step("deploy", { stage: "release", needs: ["package"], status: "queued" }),
      step("notify", { needs: ["deploy"], status: "queued" }),
    ]);
    const collapsed = collapseStages(groups, new Map([["build", "Build"]]));
    expect(collapsed.map((group) => [group.id, group.name, group.needs, group.status, group.instances.length])).toEqual(
      [
        ["stage:build", "Build", [], "running", 2],
        ["stage:release", "release", ["stage:build"], "queued", 1],
        ["notify", "notify", ["stage:release"], "queued", 1],
      ],
    );
  });

  it("formats durations for people", () => {
    expect([formatDuration(850), formatDuration(42_000), formatDuration(65_000), formatDuration(3_780_000)]).toEqual([
      "850ms",
      "42s",
      "1m 05s",
      "1h 03m",
    ]);
  });
});

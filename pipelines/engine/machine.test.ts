// Hand-written scenarios, one feature at a time, through the same harness the property tests
// use. Each reads as what a person would see in the run view.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parsePipeline } from "../spec/parse";
import { compileRunGraph } from "./graph";
import { graphOf, RunHarness, T0 } from "./harness";
import { createRun, plan, reduce, resume } from "./machine";
import { resolveParams } from "./params";
import type { RunState } from "./types";

const MINUTE = 60_000;

function harness(yaml: string, options?: ConstructorParameters<typeof RunHarness>[1]): RunHarness {
  const h = new RunHarness(graphOf(yaml), options);
  h.start();
  return h;
}

describe("ordering and outputs", () => {
  const yaml = `
name: web
env: { REGISTRY: registry.internal }
params:
  target: { type: string, default: staging }
steps:
  - id: checkout
    uses: checkout
  - id: build
    needs: checkout
    run: make build
    outputs: [version]
  - id: test
    needs: build
    run: make test V=\${{ steps.build.outputs.version }}
  - id: lint
    needs: build
    run: make lint
  - id: deploy
    needs: [test, lint]
    env:
      TOKEN: \${{ secrets.DEPLOY_TOKEN }}
      TARGET: \${{ params.target }}-\${{ env.REGISTRY }}
    run: deploy \${{ steps.build.outputs.version }} --to \${{ params.target }}
`;

  it("starts a step only when everything it needs has finished, then finishes the run once", () => {
    const h = harness(yaml);
    expect(h.state.status).toBe("running");
    expect(h.running()).toEqual(["checkout"]);
    h.exit("checkout");
    expect(h.running()).toEqual(["build"]);
    h.exit("build", 0, { version: "1.2.3" });
    expect(h.running()).toEqual(["test", "lint"]);
    h.exit("test");
    expect(h.running()).toEqual(["lint"]);
    expect(h.status("deploy")).toBe("queued");
    h.exit("lint");
    expect(h.running()).toEqual(["deploy"]);
    h.exit("deploy");
    expect(h.state.status).toBe("succeeded");
    expect(h.state.phase).toBe("done");
    expect(h.commandsOf("run-finished")).toEqual([
      expect.objectContaining({ status: "succeeded", runAttempt: 1, at: T0 }),
    ]);
  });

  it("renders templates with upstream outputs, params and env, but leaves secrets to the executor", () => {
    const h = harness(yaml);
    h.exit("checkout");
    h.exit("build", 0, { version: "1.2.3" });
    const test = h.commandsOf("start-step").find((command) => command.instance === "test");
    expect(test?.run).toBe("make test V=1.2.3");
    h.exit("test");
    h.exit("lint");
    const deploy = h.commandsOf("start-step").find((command) => command.instance === "deploy");
    expect(deploy).toMatchObject({
      run: "deploy 1.2.3 --to staging",
      env: {
        REGISTRY: "registry.internal",
        TOKEN: `\${{ secrets.DEPLOY_TOKEN }}`,
        TARGET: "staging-registry.internal",
      },
      secrets: ["DEPLOY_TOKEN"],
      key: "run-1/deploy/1",
      attempt: 1,
      role: "step",
    });
    expect(JSON.stringify(h.state)).not.toContain("s3cr3t");
  });

  it("keeps the type of a with input that is one whole interpolation", () => {
    const h = harness(`
name: x
params:
  replicas: { type: integer, default: 3 }
  host: { type: string, default: api.internal }
steps:
  - id: call
    uses: http
    with:
      url: https://\${{ params.host }}/scale
      method: POST
      body: { replicas: "\${{ params.replicas }}", labels: ["\${{ params.host }}"] }
`);
    expect(h.commandsOf("start-step")[0]).toMatchObject({
      uses: "http",
      run: null,
      with: { url: "https://api.internal/scale", method: "POST", body: { replicas: 3, labels: ["api.internal"] } },
    });
  });

  it("never reads the clock: the same events give the same states", () => {
    const a = harness(yaml);
    const b = harness(yaml);
    for (const h of [a, b]) {
      h.exit("checkout");
      h.exit("build", 0, { version: "1" });
      h.drain();
    }
    expect(a.state).toEqual(b.state);
  });

  it("does not mutate the state it is given", () => {
    const graph = graphOf(yaml);
    const frozen = deepFreeze(createRun(graph, { runId: "r", params: { target: "x" }, startedBy: null, at: T0 }));
    const started = reduce(graph, frozen, { type: "run.started", at: T0 });
    expect(started.state).not.toBe(frozen);
    const exited = reduce(graph, deepFreeze(started.state), {
      type: "step.exited",
      instance: "checkout",
      attempt: 1,
      exitCode: 0,
      at: T0 + 1,
    });
    expect(exited.changed).toEqual(["checkout", "build"]);
    expect(exited.state.version).toBe(2);
  });
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

describe("at-least-once delivery", () => {
  const yaml = `
name: x
steps:
  - id: a
    run: a
    retry: 1
  - id: b
    needs: a
    run: b
`;

  it("ignores a duplicate exit, an exit for an old attempt and a second run.started", () => {
    const h = harness(yaml);
    expect(h.start().ignored?.code).toBe("stale");
    h.exit("a", 1);
    // No backoff: the retry goes straight back into the queue and out to an executor.
    expect(h.step("a")).toMatchObject({ status: "running", attempt: 2, retries: 1 });
    expect(h.running()).toEqual(["a"]);
    const before = h.state;
    const old = h.send({ type: "step.exited", instance: "a", attempt: 1, exitCode: 0, at: h.now });
    expect(old.ignored?.code).toBe("stale");
    expect(old.state).toBe(before);
    h.exit("a", 0);
    const duplicate = h.send({ type: "step.exited", instance: "a", attempt: 2, exitCode: 0, at: h.now });
    expect(duplicate.ignored?.code).toBe("stale");
    expect(h.startOrder()).toEqual(["a", "a", "b"]);
  });

  it("accepts an exit that overtook its start and ignores the late start", () => {
    const h = harness(yaml);
    h.exit("a", 0);
    expect(h.send({ type: "step.started", instance: "a", attempt: 1, at: h.now }).ignored?.code).toBe("stale");
    expect(h.status("a")).toBe("succeeded");
  });

  it("answers not-found for an unknown step and invalid-state before the run started", () => {
    const h = harness(yaml);
    expect(h.send({ type: "step.exited", instance: "nope", attempt: 1, exitCode: 0, at: h.now }).ignored?.code).toBe(
      "not-found",
    );
    const graph = graphOf(yaml);
    const fresh = createRun(graph, { runId: "r", params: {}, startedBy: null, at: T0 });
    expect(reduce(graph, fresh, { type: "control.cancel", instance: "a", at: T0 }).ignored?.code).toBe("invalid-state");
  });

  it("continues identically from a state reloaded from the database", () => {
    const a = harness(yaml);
    const b = harness(yaml);
    a.exit("a", 1);
    b.exit("a", 1);
    // What a repository would hand back: plain JSON, no shared objects.
    b.state = JSON.parse(JSON.stringify(b.state)) as RunState;
    a.exit("a", 0);
    b.exit("a", 0);
    expect(b.state).toEqual(a.state);
    expect(b.commands).toEqual(a.commands);
  });

  it("clamps event times that go backwards", () => {
    const h = harness(yaml);
    h.now = T0 + 10 * MINUTE;
    h.exit("a");
    h.now = T0;
    h.exit("b");
    expect(h.step("b").finishedAt).toBe(T0 + 10 * MINUTE);
  });
});

describe("conditions", () => {
  it("skips a step whose condition is false and, GitHub-style, everything that needs it", () => {
    const h = harness(`
name: x
params:
  replicas: { type: integer, default: 2 }
steps:
  - id: a
    run: a
  - id: b
    needs: a
    if: params.replicas > 2
    run: b
  - id: c
    needs: b
    run: c
  - id: d
    needs: c
    if: always()
    run: d
  - id: e
    needs: c
    if: '!failure() && steps.c.outcome == "skipped"'
    run: e
`);
    h.exit("a");
    expect(h.step("b")).toMatchObject({ status: "skipped", reason: "skipped: condition is false" });
    expect(h.step("c")).toMatchObject({ status: "skipped", reason: "skipped: a step it needs did not succeed" });
    expect(h.running()).toEqual(["d", "e"]);
    h.drain();
    expect(h.state.status).toBe("succeeded");
  });

  it("runs failure() steps after a failure anywhere upstream, and always() steps regardless", () => {
    const h = harness(`
name: x
steps:
  - id: build
    run: build
  - id: test
    needs: build
    run: test
  - id: on-broken
    needs: test
    if: failure()
    run: report
  - id: on-green
    needs: test
    if: success()
    run: ship
  - id: cleanup
    needs: test
    if: always()
    run: cleanup
`);
    h.exit("build", 2);
    expect(h.step("test").status).toBe("skipped");
    expect(h.running()).toEqual(["on-broken", "cleanup"]);
    expect(h.status("on-green")).toBe("skipped");
    h.drain();
    expect(h.state.status).toBe("failed");
  });

  it("reads params with their declared types, matrix values and upstream outputs", () => {
    const h = harness(`
name: x
params:
  replicas: { type: integer, default: 3 }
  ratio: { type: number, default: 0.5 }
  dry-run: { type: boolean, default: false }
steps:
  - id: build
    run: build
    outputs: [tag]
  - id: deploy
    needs: build
    if: params.replicas + 1 == 4 && params.ratio < 1.0 && !params["dry-run"] && steps.build.outputs.tag.startsWith("v")
    matrix:
      axes: { region: [eu, us], shards: [1, 2] }
    run: deploy --shards \${{ matrix.shards + 1 }}
  - id: only-eu
    needs: build
    if: matrix.region == "eu" && matrix.n == 1
    matrix:
      axes: { region: [eu, us], n: [1] }
    run: x
`);
    h.exit("build", 0, { tag: "v1" });
    expect(h.running()).toEqual([
      "deploy[region=eu,shards=1]",
      "deploy[region=eu,shards=2]",
      "deploy[region=us,shards=1]",
      "deploy[region=us,shards=2]",
      "only-eu[n=1,region=eu]",
    ]);
    expect(h.status("only-eu[n=1,region=us]")).toBe("skipped");
    expect(h.commandsOf("start-step")[1]?.run).toBe("deploy --shards 2");
  });

  it("fails a step whose condition cannot be evaluated, naming the error", () => {
    const h = harness(`
name: x
steps:
  - id: build
    run: build
    outputs: [tag]
  - id: deploy
    needs: build
    if: steps.build.outputs.tag == "v1"
    run: deploy
`);
    h.exit("build", 0, {});
    expect(h.step("deploy")).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^condition error: .*tag/),
    });
    expect(h.state.status).toBe("failed");
  });

  it("fails a step whose template cannot be rendered", () => {
    const h = harness(`
name: x
steps:
  - id: build
    run: build
    outputs: [tag]
  - id: deploy
    needs: build
    run: deploy \${{ steps.build.outputs.tag }}
`);
    h.exit("build", 0, {});
    expect(h.step("deploy")).toMatchObject({
      status: "failed",
      attempt: 1,
      reason: expect.stringMatching(/^template error/),
    });
  });

  it("runs the database-migration example on staging without the manual step", () => {
    const yaml = readFileSync(path.join(import.meta.dirname, "../examples/database-migration.yaml"), "utf8");
    const h = new RunHarness(graphOf(yaml), { params: { environment: "staging" } });
    h.start();
    h.exit("backup");
    const verify = h.commandsOf("start-step").find((command) => command.instance === "verify-backup");
    expect(verify?.artifacts.fetch).toEqual([
      { from: "backup", name: "backup", path: null, sources: [{ instance: "backup", attempt: 1 }] },
    ]);
    h.exit("verify-backup");
    expect(h.step("start-migration")).toMatchObject({ status: "skipped", reason: "skipped: condition is false" });
    expect(h.running()).toEqual(["migrate"]);
    expect(h.commandsOf("start-step").at(-1)?.env).toMatchObject({ DRY_RUN: "true" });
    h.drain();
    expect(h.state.status).toBe("succeeded");
    expect(h.step("on-failure/restore-backup@migrate")).toMatchObject({ status: "skipped", reason: "not triggered" });
  });
});

describe("matrix", () => {
  const yaml = (extra: string) => `
name: x
steps:
  - id: build
    run: build
  - id: test
    needs: build
    matrix:
      axes: { os: [linux, mac, windows] }
${extra}
    run: test
  - id: report
    needs: test
    if: always()
    run: report
`;

  it("waits for every instance before a dependent starts", () => {
    const h = harness(yaml(""));
    h.exit("build");
    expect(h.running()).toEqual(["test[os=linux]", "test[os=mac]", "test[os=windows]"]);
    h.exit("test[os=linux]");
    h.exit("test[os=mac]");
    expect(h.status("report")).toBe("queued");
    h.exit("test[os=windows]");
    expect(h.running()).toEqual(["report"]);
  });

  it("runs at most max-parallel instances at once", () => {
    const h = harness(yaml("      max-parallel: 2"));
    h.exit("build");
    expect(h.running()).toEqual(["test[os=linux]", "test[os=mac]"]);
    expect(h.step("test[os=windows]")).toMatchObject({ status: "queued", readyAt: T0 });
    h.exit("test[os=mac]");
    expect(h.running()).toEqual(["test[os=linux]", "test[os=windows]"]);
  });

  it("fail-fast (the default) cancels the other instances when one fails", () => {
    const h = harness(yaml("      max-parallel: 2"));
    h.exit("build");
    h.exit("test[os=mac]", 1);
    expect(h.step("test[os=linux]")).toMatchObject({
      status: "cancelled",
      reason: "cancelled by fail-fast: test[os=mac] failed",
    });
    expect(h.status("test[os=windows]")).toBe("cancelled");
    expect(h.commandsOf("kill-step").map((command) => command.instance)).toEqual(["test[os=linux]"]);
    expect(h.running()).toEqual(["report"]);
  });

  it("fail-fast: false lets the other instances finish", () => {
    const h = harness(yaml("      fail-fast: false"));
    h.exit("build");
    h.exit("test[os=mac]", 1);
    expect(h.running()).toEqual(["test[os=linux]", "test[os=windows]"]);
  });
});

describe("retry", () => {
  it("retries up to max, only on the listed exit codes, with exponential backoff capped at max-delay", () => {
    const h = harness(`
name: x
steps:
  - id: flaky
    run: flaky
    retry:
      max: 3
      exit-codes: [75]
      backoff: { delay: 10s, factor: 3, max-delay: 60s }
`);
    h.exit("flaky", 75);
    expect(h.step("flaky")).toMatchObject({ status: "waiting", waitingFor: "retry", retryAt: T0 + 10_000, retries: 1 });
    expect(h.running()).toEqual([]);
    h.advance(9_999);
    expect(h.running()).toEqual([]);
    h.advance(1);
    expect(h.running()).toEqual(["flaky"]);
    h.exit("flaky", 75);
    expect(h.step("flaky").retryAt).toBe(h.now + 30_000);
    h.advance(30_000);
    h.exit("flaky", 75);
    expect(h.step("flaky").retryAt).toBe(h.now + 60_000);
    h.advance(60_000);
    h.exit("flaky", 75);
    expect(h.step("flaky")).toMatchObject({
      status: "failed",
      attempt: 4,
      retries: 3,
      exitCode: 75,
      reason: "exited with code 75",
    });
    expect(h.step("flaky").history.map((record) => record.exitCode)).toEqual([75, 75, 75]);
    expect(h.startOrder()).toEqual(["flaky", "flaky", "flaky", "flaky"]);
  });

  it("does not retry an exit code that is not listed", () => {
    const h = harness(`
name: x
steps:
  - id: flaky
    run: flaky
    retry: { max: 3, exit-codes: [75] }
`);
    h.exit("flaky", 1);
    expect(h.step("flaky")).toMatchObject({ status: "failed", attempt: 1 });
  });

  it("retries a step whose executor was lost, and fails it with executor lost when retries are used up", () => {
    const h = harness(`
name: x
steps:
  - id: a
    run: a
    retry: 1
  - id: b
    run: b
`);
    h.lose("a");
    expect(h.step("a")).toMatchObject({ status: "running", attempt: 2, reason: "retry 1 of 1 after: executor lost" });
    h.lose("a");
    h.lose("b");
    expect(h.step("a")).toMatchObject({ status: "failed", reason: "executor lost" });
    expect(h.step("b")).toMatchObject({ status: "failed", reason: "executor lost", attempt: 1 });
  });
});

describe("timeouts and continue-on-error", () => {
  it("kills a step at its timeout, counted from when it started, and ignores its late exit", () => {
    const h = harness(`
name: x
steps:
  - id: slow
    run: sleep 999
    timeout: 10m
  - id: next
    needs: slow
    run: next
`);
    h.advance(MINUTE);
    h.started("slow");
    h.advance(10 * MINUTE - 1);
    expect(h.status("slow")).toBe("running");
    h.advance(1);
    expect(h.step("slow")).toMatchObject({ status: "timed_out", reason: "timed out after 10m" });
    expect(h.commandsOf("kill-step")).toEqual([expect.objectContaining({ instance: "slow", attempt: 1 })]);
    expect(h.status("next")).toBe("skipped");
    expect(h.send({ type: "step.exited", instance: "slow", attempt: 1, exitCode: 0, at: h.now }).ignored?.code).toBe(
      "stale",
    );
    expect(h.state.status).toBe("failed");
  });

  it("lets a continue-on-error failure through: dependents run and the run succeeds", () => {
    const h = harness(`
name: x
steps:
  - id: lint
    run: lint
    continue-on-error: true
  - id: ship
    needs: lint
    if: steps.lint.outcome == "failure"
    run: ship
`);
    h.exit("lint", 1);
    expect(h.step("lint")).toMatchObject({ status: "failed", continuedOnError: true });
    expect(h.running()).toEqual(["ship"]);
    h.exit("ship");
    expect(h.state.status).toBe("succeeded");
  });
});

describe("concurrency", () => {
  it("caps running steps per run and fills slots as they free, in readiness order", () => {
    const h = harness(`
name: x
concurrency: 2
steps:
  - { id: a, run: a }
  - { id: b, run: b }
  - { id: c, run: c }
  - { id: d, run: d }
`);
    expect(h.running()).toEqual(["a", "b"]);
    h.exit("b");
    expect(h.running()).toEqual(["a", "c"]);
    h.exit("a");
    h.exit("c");
    expect(h.running()).toEqual(["d"]);
  });

  it("does not count approvals, gates, manual steps or retry waits against the cap", () => {
    const h = harness(`
name: x
concurrency: { steps: 1 }
steps:
  - id: approve
    approval: { approvers: { users: [alice] } }
  - id: watch
    gate: { condition: 'elapsed > duration("1h")', interval: 1m }
  - id: click
    manual: true
  - id: flaky
    run: flaky
    retry: { max: 1, backoff: { delay: 1m } }
  - id: work
    run: work
`);
    expect(h.step("approve")).toMatchObject({ status: "waiting", waitingFor: "approval" });
    expect(h.step("watch")).toMatchObject({ status: "waiting", waitingFor: "gate" });
    expect(h.step("click")).toMatchObject({ status: "waiting", waitingFor: "manual" });
    expect(h.running()).toEqual(["flaky"]);
    h.exit("flaky", 1);
    expect(h.running()).toEqual(["work"]);
    expect(h.state.status).toBe("running");
    h.exit("work");
    h.advance(MINUTE);
    h.exit("flaky", 0);
    expect(h.state.status).toBe("waiting");
  });
});

describe("approvals", () => {
  const yaml = (extra = "") => `
name: x
steps:
  - id: approve
    approval:
      approvers: { users: [alice, bob], teams: [sre], roles: [release-manager] }
      min-approvals: 2
      timeout: 8h
      message: Ship \${{ params.version }}?
${extra}
  - id: ship
    needs: approve
    run: ship \${{ steps.approve.outputs.approved_by }}
params:
  version: { type: string, default: "1.0" }
`;

  it("asks the approvers, needs min-approvals distinct people and passes who approved downstream", () => {
    const h = harness(yaml(), { startedBy: "carol" });
    expect(h.commandsOf("notify")).toEqual([
      expect.objectContaining({
        kind: "approval-requested",
        instance: "approve",
        message: "Ship 1.0?",
        minApprovals: 2,
        principals: { users: ["alice", "bob"], teams: ["sre"], roles: ["release-manager"] },
      }),
    ]);
    expect(h.state.status).toBe("waiting");
    expect(h.approve("approve", { id: "alice" }, "approve", "lgtm").ignored).toBeNull();
    expect(h.approve("approve", { id: "alice" }).ignored?.code).toBe("stale");
    expect(h.status("approve")).toBe("waiting");
    expect(h.approve("approve", { id: "dave", teams: ["sre"] }).ignored).toBeNull();
    expect(h.step("approve")).toMatchObject({
      status: "succeeded",
      outputs: { decision: "approved", approved_by: "alice,dave", comment: "" },
      actor: "dave",
    });
    expect(h.commandsOf("start-step")[0]?.run).toBe("ship alice,dave");
  });

  it("refuses people who are not approvers, and the run's author unless self-approval is allowed", () => {
    const h = harness(yaml(), { startedBy: "alice" });
    expect(h.approve("approve", { id: "mallory" }).ignored).toEqual({
      code: "forbidden",
      message: "mallory is not an approver of approve",
    });
    expect(h.approve("approve", { id: "alice" }).ignored?.code).toBe("forbidden");
    expect(h.approve("approve", { id: "eve", roles: ["release-manager"] }).ignored).toBeNull();
    const self = harness(
      `
name: x
steps:
  - id: approve
    approval: { approvers: { users: [alice] }, allow-self-approval: true }
`,
      { startedBy: "alice" },
    );
    expect(self.approve("approve", { id: "alice" }).ignored).toBeNull();
    expect(self.state.status).toBe("succeeded");
  });

  it("fails on one rejection, with the comment as the reason", () => {
    const h = harness(yaml());
    h.approve("approve", { id: "bob" }, "reject", "not during the freeze");
    expect(h.step("approve")).toMatchObject({
      status: "failed",
      reason: "rejected by bob: not during the freeze",
      outputs: { decision: "rejected", approved_by: "", comment: "not during the freeze" },
    });
    expect(h.status("ship")).toBe("skipped");
    expect(h.commandsOf("notify").at(-1)).toMatchObject({ kind: "approval-decided", decision: "rejected" });
  });

  it("keeps who approved in the step's history when the run is re-run", () => {
    const h = harness(yaml());
    h.approve("approve", { id: "alice" }, "approve", "ok");
    h.approve("approve", { id: "bob" });
    h.drain();
    h.send({ type: "control.rerun", runAttempt: 1, at: h.now });
    expect(h.step("approve")).toMatchObject({ status: "waiting", attempt: 2, approvals: [] });
    expect(h.step("approve").history).toEqual([
      expect.objectContaining({
        attempt: 1,
        status: "succeeded",
        actor: "bob",
        approvals: [expect.objectContaining({ by: "alice", comment: "ok" }), expect.objectContaining({ by: "bob" })],
      }),
    ]);
  });

  it("times out without a decision", () => {
    const h = harness(yaml());
    h.advance(8 * 60 * MINUTE);
    expect(h.step("approve")).toMatchObject({ status: "timed_out", reason: "no decision within 8h" });
    expect(h.state.status).toBe("failed");
    expect(h.approve("approve", { id: "alice" }).ignored?.code).toBe("invalid-state");
  });
});

describe("gates", () => {
  it("polls a condition without metrics on a timer until it holds", () => {
    const h = harness(`
name: x
steps:
  - id: soak
    gate: { condition: 'elapsed > duration("10m")', interval: 4m, timeout: 1h }
  - id: promote
    needs: soak
    run: promote
`);
    expect(h.step("soak").gate).toMatchObject({ poll: 1, lastValue: false, nextPollAt: T0 + 4 * MINUTE });
    h.advance(8 * MINUTE);
    expect(h.step("soak").gate).toMatchObject({ poll: 2, lastValue: false });
    h.advance(4 * MINUTE);
    expect(h.step("soak")).toMatchObject({
      status: "succeeded",
      gate: expect.objectContaining({ poll: 3, lastValue: true }),
    });
    expect(h.running()).toEqual(["promote"]);
    expect(h.timers.size).toBe(0);
  });

  it("asks for metric samples, evaluates them, and fails at the timeout", () => {
    const h = harness(`
name: x
steps:
  - id: healthy
    gate:
      condition: metrics.error_rate < 0.01
      metrics: { error_rate: { query: 'rate(errors[5m])', source: prometheus } }
      interval: 1m
      timeout: 3m
`);
    const [request] = h.commandsOf("evaluate-gate");
    expect(request).toMatchObject({
      poll: 1,
      metrics: { error_rate: { query: "rate(errors[5m])", source: "prometheus" } },
    });
    const answer = { type: "gate.evaluated", instance: "healthy", attempt: 1, at: h.now } as const;
    expect(h.send({ ...answer, poll: 2, metrics: { error_rate: 0 } }).ignored?.code).toBe("stale");
    h.send({ ...answer, poll: 1, metrics: { error_rate: 0.2 } });
    expect(h.step("healthy").gate).toMatchObject({ lastValue: false, nextPollAt: T0 + MINUTE });
    expect(h.send({ ...answer, poll: 1, metrics: { error_rate: 0 } }).ignored?.code).toBe("stale");
    h.advance(MINUTE);
    h.send({ ...answer, poll: 2, error: "prometheus unreachable", at: h.now });
    expect(h.step("healthy")).toMatchObject({
      status: "waiting",
      gate: expect.objectContaining({ lastError: "prometheus unreachable" }),
    });
    h.advance(2 * MINUTE);
    expect(h.step("healthy")).toMatchObject({
      status: "timed_out",
      reason: "the gate condition did not hold within 3m",
    });
  });

  it("passes when a sample satisfies the condition", () => {
    const h = harness(`
name: x
steps:
  - id: healthy
    gate:
      condition: metrics.error_rate < 0.01
      metrics: { error_rate: { query: errors } }
`);
    h.send({
      type: "gate.evaluated",
      instance: "healthy",
      attempt: 1,
      poll: 1,
      metrics: { error_rate: 0.001 },
      at: h.now,
    });
    expect(h.state.status).toBe("succeeded");
  });
});

describe("manual steps", () => {
  const yaml = `
name: x
steps:
  - id: go
    manual: { message: Start?, allowed: { teams: [dba] }, timeout: 1h }
  - id: migrate
    needs: go
    run: migrate \${{ steps.go.outputs.started_by }}
`;

  it("waits for an allowed person to start it", () => {
    const h = harness(yaml);
    expect(h.commandsOf("notify")).toEqual([expect.objectContaining({ kind: "manual-requested", message: "Start?" })]);
    expect(h.send({ type: "control.run", instance: "go", by: { id: "bob" }, at: h.now }).ignored?.code).toBe(
      "forbidden",
    );
    h.send({ type: "control.run", instance: "go", by: { id: "dana", teams: ["dba"] }, at: h.now });
    expect(h.step("go")).toMatchObject({ status: "succeeded", actor: "dana", outputs: { started_by: "dana" } });
    expect(h.commandsOf("start-step")[0]?.run).toBe("migrate dana");
  });

  it("can be skipped, which skips what needs it", () => {
    const h = harness(yaml);
    h.send({ type: "control.skip", instance: "go", by: { id: "dana", teams: ["dba"] }, at: h.now });
    expect(h.step("go")).toMatchObject({ status: "skipped", reason: "skipped by dana" });
    expect(h.status("migrate")).toBe("skipped");
    expect(h.state.status).toBe("succeeded");
    expect(
      h.send({ type: "control.run", instance: "go", by: { id: "dana", teams: ["dba"] }, at: h.now }).ignored?.code,
    ).toBe("invalid-state");
  });

  it("times out when nobody starts it", () => {
    const h = harness(yaml);
    h.advance(60 * MINUTE);
    expect(h.step("go")).toMatchObject({ status: "timed_out", reason: "nobody started it within 1h" });
  });
});

describe("handlers", () => {
  const yaml = `
name: x
steps:
  - id: migrate
    run: migrate
    rollback: migrate-down
  - id: deploy
    needs: migrate
    run: deploy
    rollback: undeploy
  - id: canary
    needs: deploy
    run: canary
    rollback: undeploy
    on-failure: [collect-logs]
  - id: smoke
    needs: canary
    run: smoke
handlers:
  - { id: migrate-down, run: down }
  - { id: undeploy, run: undeploy }
  - { id: collect-logs, run: logs }
  - { id: page, uses: notify, with: { channel: slack, to: "#ops", message: failed } }
  - { id: cleanup, run: cleanup, if: always() }
on-failure: [page]
finally: [cleanup]
`;

  it("on success runs only finally handlers; the others end as not triggered", () => {
    const h = harness(yaml);
    h.drain();
    expect(h.startOrder()).toEqual(["migrate", "deploy", "canary", "smoke", "finally/cleanup"]);
    expect(h.state.phase).toBe("done");
    expect(h.state.status).toBe("succeeded");
    expect(h.step("rollback/undeploy@deploy")).toMatchObject({ status: "skipped", reason: "not triggered" });
  });

  it("on failure rolls back what succeeded, newest first, one at a time, then on-failure, then finally", () => {
    const h = harness(yaml);
    h.exit("migrate");
    h.advance(1);
    h.exit("deploy");
    h.advance(1);
    h.exit("canary");
    h.advance(1);
    h.exit("smoke", 1);
    expect(h.state.phase).toBe("rollback");
    expect(h.running()).toEqual(["rollback/undeploy@canary"]);
    h.exit("rollback/undeploy@canary");
    expect(h.running()).toEqual(["rollback/undeploy@deploy"]);
    h.exit("rollback/undeploy@deploy");
    expect(h.running()).toEqual(["rollback/migrate-down@migrate"]);
    h.exit("rollback/migrate-down@migrate");
    expect(h.state.phase).toBe("on-failure");
    expect(h.running()).toEqual(["on-failure/page"]);
    h.exit("on-failure/page");
    expect(h.running()).toEqual(["finally/cleanup"]);
    h.exit("finally/cleanup");
    expect(h.state).toMatchObject({ phase: "done", status: "failed" });
    expect(h.commandsOf("start-step").find((c) => c.instance === "rollback/undeploy@canary")).toMatchObject({
      stepId: "undeploy",
      role: "rollback",
      trigger: "canary",
    });
  });

  it("runs a step's on-failure handler at once, and rolls back only what succeeded before the failure", () => {
    const h = harness(yaml);
    h.exit("migrate");
    h.exit("deploy");
    h.exit("canary", 1);
    expect(h.running()).toEqual(["on-failure/collect-logs@canary"]);
    expect(h.state.phase).toBe("dag");
    h.exit("on-failure/collect-logs@canary");
    expect(h.running()).toEqual(["rollback/undeploy@deploy"]);
    h.drain();
    expect(h.startOrder().slice(-3)).toEqual(["rollback/migrate-down@migrate", "on-failure/page", "finally/cleanup"]);
    expect(h.step("rollback/undeploy@canary").reason).toBe("not triggered");
  });

  it("fails the run when a finally handler fails", () => {
    const h = harness(yaml);
    h.drain((instance) => (instance === "finally/cleanup" ? 1 : 0));
    expect(h.state.status).toBe("failed");
  });
});

describe("cancel", () => {
  const yaml = `
name: x
steps:
  - { id: a, run: a }
  - { id: b, run: b }
  - { id: c, needs: [a, b], run: c }
  - { id: d, needs: c, if: always(), run: d }
handlers:
  - { id: cleanup, run: cleanup }
finally: [cleanup]
`;

  it("cancels the whole run: kills what runs, starts nothing but finally handlers", () => {
    const h = harness(yaml);
    h.exit("a");
    const cancelled = h.send({ type: "control.cancel", by: "alice", at: h.now });
    expect(
      cancelled.commands.filter((c) => c.type === "kill-step").map((c) => c.type === "kill-step" && c.instance),
    ).toEqual(["b"]);
    expect(h.statuses()).toMatchObject({ a: "succeeded", b: "cancelled", c: "cancelled", d: "cancelled" });
    expect(h.step("b").reason).toBe("run cancelled by alice");
    expect(h.running()).toEqual(["finally/cleanup"]);
    expect(h.send({ type: "step.exited", instance: "b", attempt: 1, exitCode: 0, at: h.now }).ignored?.code).toBe(
      "stale",
    );
    h.exit("finally/cleanup");
    expect(h.state).toMatchObject({ status: "cancelled", phase: "done" });
    expect(h.send({ type: "control.cancel", at: h.now }).ignored?.code).toBe("invalid-state");
  });

  it("a second cancel stops the finally handlers too", () => {
    const h = harness(yaml);
    h.send({ type: "control.cancel", at: h.now });
    h.send({ type: "control.cancel", at: h.now });
    expect(h.state).toMatchObject({ status: "cancelled", phase: "done" });
    expect(h.running()).toEqual([]);
    expect(h.status("finally/cleanup")).toBe("cancelled");
  });

  it("cancels one step: its dependents see it cancelled; the run ends cancelled", () => {
    const h = harness(yaml);
    h.send({ type: "control.cancel", instance: "b", by: "alice", at: h.now });
    expect(h.step("b")).toMatchObject({ status: "cancelled", reason: "cancelled by alice", actor: "alice" });
    h.exit("a");
    expect(h.status("c")).toBe("skipped");
    expect(h.running()).toEqual(["d"]);
    h.drain();
    expect(h.state.status).toBe("cancelled");
  });

  it("cancels a step that waits for its retry, and its timer with it", () => {
    const h = harness(`
name: x
steps:
  - { id: flaky, run: flaky, retry: { max: 2, backoff: { delay: 1m } } }
`);
    h.exit("flaky", 1);
    expect(h.timers.size).toBe(1);
    h.send({ type: "control.cancel", instance: "flaky", at: h.now });
    expect(h.step("flaky")).toMatchObject({ status: "cancelled", retryAt: null });
    expect(h.timers.size).toBe(0);
    expect(h.state.status).toBe("cancelled");
  });

  it("cancels a run that never started without running anything", () => {
    const graph = graphOf(yaml);
    const state = createRun(graph, { runId: "r", params: {}, startedBy: null, at: T0 });
    const result = reduce(graph, state, { type: "control.cancel", at: T0 });
    expect(result.state).toMatchObject({ status: "cancelled", phase: "done" });
    expect(result.commands.map((c) => c.type)).toEqual(["run-finished"]);
    expect(result.state.startedAt).toBeNull();
    expect(reduce(graph, result.state, { type: "run.started", at: T0 }).ignored?.code).toBe("stale");
  });

  it("times the run out: steps are cancelled, finally handlers still run", () => {
    const h = harness(yaml.replace("name: x", "name: x\ntimeout: 1h"));
    h.advance(60 * MINUTE);
    expect(h.statuses()).toMatchObject({ a: "cancelled", b: "cancelled", c: "cancelled" });
    expect(h.step("a").reason).toBe("the run timed out after 1h");
    h.exit("finally/cleanup");
    expect(h.state).toMatchObject({ status: "timed_out", phase: "done" });
  });
});

describe("the canary example", () => {
  const yaml = readFileSync(path.join(import.meta.dirname, "../examples/canary-with-gate.yaml"), "utf8");

  it("deploys, waits for healthy metrics and an approval, then promotes", () => {
    const h = new RunHarness(graphOf(yaml), { params: { "image-tag": "v42" }, startedBy: "carol" });
    h.start();
    expect(h.commandsOf("start-step")[0]?.env).toMatchObject({ TAG: "v42", PERCENT: "10", SERVICE: "payments-api" });
    h.exit("deploy-canary", 0, { revision: "r7" });
    const sample = (poll: number, errorRate: number) =>
      h.send({
        type: "gate.evaluated",
        instance: "canary-healthy",
        attempt: 1,
        poll,
        metrics: { error_rate: errorRate, p99_latency_ms: 120 },
        at: h.now,
      });
    sample(1, 0.001);
    expect(h.step("canary-healthy").gate).toMatchObject({ lastValue: false }); // not ten minutes yet
    for (let poll = 2; h.status("canary-healthy") === "waiting"; poll++) {
      h.advance(30_000);
      sample(poll, 0.001);
    }
    expect(h.step("canary-healthy")).toMatchObject({ status: "succeeded", finishedAt: T0 + 10 * MINUTE + 30_000 });
    expect(h.commandsOf("notify").at(-1)).toMatchObject({ message: "Canary r7 is healthy. Roll out to 100%?" });
    expect(h.approve("approve-rollout", { id: "zoe", roles: ["payments-owner"] }).ignored).toBeNull();
    expect(h.commandsOf("start-step").at(-1)?.run).toContain('--revision "r7"');
    h.exit("promote");
    h.exit("smoke-test");
    expect(h.state.status).toBe("succeeded");
  });

  it("rolls the canary back and pages when the rollout fails", () => {
    const h = new RunHarness(graphOf(yaml), { params: { "image-tag": "v42" } });
    h.start();
    h.exit("deploy-canary", 0, { revision: "r7" });
    h.send({ type: "control.cancel", instance: "canary-healthy", by: "zoe", at: h.now });
    expect(h.status("approve-rollout")).toBe("skipped");
    expect(h.state.status).toBe("cancelled");
    const failing = new RunHarness(graphOf(yaml), { params: { "image-tag": "v42" } });
    failing.start();
    failing.exit("deploy-canary", 0, { revision: "r7" });
    failing.advance(45 * MINUTE);
    expect(failing.step("canary-healthy")).toMatchObject({ status: "timed_out" });
    expect(failing.running()).toEqual(["rollback/rollback-canary@deploy-canary"]);
    expect(failing.commandsOf("start-step").at(-1)?.run).toContain('--revision "r7"');
    failing.exit("rollback/rollback-canary@deploy-canary");
    expect(failing.running()).toEqual(["on-failure/page-on-call"]);
    failing.exit("on-failure/page-on-call");
    expect(failing.state).toMatchObject({ status: "failed", phase: "done" });
  });
});

describe("re-run", () => {
  const yaml = `
name: x
timeout: 1h
steps:
  - id: build
    run: build
    outputs: [version]
    artifacts: { save: [{ name: dist, paths: [dist] }] }
  - id: test
    needs: build
    run: test
  - id: docs
    run: docs
  - id: deploy
    needs: test
    run: deploy \${{ steps.build.outputs.version }}
    artifacts: { fetch: [{ from: build, name: dist }] }
handlers:
  - { id: cleanup, run: cleanup }
finally: [cleanup]
`;

  function finished(): RunHarness {
    const h = harness(yaml);
    h.exit("build", 0, { version: "7" });
    h.exit("docs");
    h.exit("test", 1);
    h.drain();
    expect(h.state.status).toBe("failed");
    return h;
  }

  it("re-runs from a step: that step and its downstream, with upstream outputs and artifacts kept", () => {
    const h = finished();
    const build = h.step("build");
    const docs = h.step("docs");
    h.advance(MINUTE);
    const rerun = h.send({ type: "control.rerun", fromStep: "test", runAttempt: 1, by: "alice", at: h.now });
    expect(rerun.ignored).toBeNull();
    expect(h.state).toMatchObject({ runAttempt: 2, status: "running", phase: "dag", finishedAt: null });
    expect(h.step("build")).toBe(build);
    expect(h.step("docs")).toBe(docs);
    expect(h.running()).toEqual(["test"]);
    expect(h.step("test")).toMatchObject({
      attempt: 2,
      history: [expect.objectContaining({ attempt: 1, exitCode: 1 })],
    });
    h.exit("test");
    const deploy = h.commandsOf("start-step").at(-1);
    expect(deploy).toMatchObject({
      instance: "deploy",
      run: "deploy 7",
      attempt: 1,
      artifacts: { fetch: [{ from: "build", name: "dist", path: null, sources: [{ instance: "build", attempt: 1 }] }] },
    });
    h.drain();
    expect(h.state).toMatchObject({ status: "succeeded", runAttempt: 2 });
    expect(h.commandsOf("run-finished").map((c) => c.key)).toEqual(["run-1/finished/1", "run-1/finished/2"]);
  });

  it("re-runs everything, ignores events of the previous attempt and a duplicate re-run", () => {
    const h = finished();
    h.send({ type: "control.rerun", runAttempt: 1, at: h.now });
    expect(h.running()).toEqual(["build", "docs"]);
    expect(h.step("build").attempt).toBe(2);
    expect(h.send({ type: "control.rerun", runAttempt: 1, at: h.now }).ignored?.code).toBe("stale");
    expect(h.send({ type: "step.exited", instance: "build", attempt: 1, exitCode: 0, at: h.now }).ignored?.code).toBe(
      "stale",
    );
    expect(h.send({ type: "control.rerun", runAttempt: 2, at: h.now }).ignored?.code).toBe("invalid-state");
  });

  it("re-runs one matrix instance and the steps downstream of its step", () => {
    const h = harness(`
name: x
steps:
  - id: test
    matrix: { axes: { os: [linux, mac] }, fail-fast: false }
    run: test
  - id: report
    needs: test
    run: report
`);
    h.exit("test[os=linux]");
    h.exit("test[os=mac]", 1);
    expect(h.status("report")).toBe("skipped");
    h.send({ type: "control.rerun", fromStep: "test[os=mac]", runAttempt: 1, at: h.now });
    expect(h.running()).toEqual(["test[os=mac]"]);
    expect(h.step("test[os=linux]")).toMatchObject({ status: "succeeded", attempt: 1 });
    h.exit("test[os=mac]");
    h.exit("report");
    expect(h.state).toMatchObject({ status: "succeeded", runAttempt: 2 });
  });

  it("refuses an unknown step", () => {
    const h = finished();
    expect(h.send({ type: "control.rerun", fromStep: "nope", runAttempt: 1, at: h.now }).ignored?.code).toBe(
      "not-found",
    );
  });
});

describe("plan and resume", () => {
  it("plan is idempotent", () => {
    const h = harness("name: x\nsteps:\n  - { id: a, run: a }\n");
    const again = plan(h.graph, h.state, h.now);
    expect(again.state).toBe(h.state);
    expect(again.commands).toEqual([]);
  });

  it("resume re-issues dispatched starts, pending timers and gate samples with their original keys", () => {
    const h = harness(`
name: x
timeout: 2h
steps:
  - { id: a, run: a, timeout: 5m }
  - { id: b, run: b }
  - id: g
    gate: { condition: metrics.x > 1.0, metrics: { x: { query: x } } }
  - { id: r, run: r, retry: { max: 1, backoff: { delay: 1m } } }
`);
    h.started("a");
    h.exit("r", 1);
    const firstKeys = new Set(h.commands.map((command) => command.key));
    const resumed = resume(h.graph, h.state, h.now + 1);
    expect(resumed.state.version).toBe(h.state.version);
    const keys = resumed.commands.map((command) => command.key);
    expect(keys.sort()).toEqual(
      ["run-1/a/timeout/1", "run-1/b/1", "run-1/g/gate/1/1", "run-1/r/retry/1", "run-1/run-timeout/1"].sort(),
    );
    for (const key of keys) expect(firstKeys.has(key)).toBe(true);
  });
});

describe("params", () => {
  const graph = graphOf(`
name: x
params:
  target: { type: string, options: [staging, production], required: true }
  replicas: { type: integer, default: 2 }
  dry-run: { type: boolean, default: true }
steps:
  - { id: a, run: a }
`);

  it("applies defaults and coerces text from webhooks and schedules", () => {
    expect(resolveParams(graph, { target: "production", replicas: "5", "dry-run": "false" })).toEqual({
      ok: true,
      params: { target: "production", replicas: 5, "dry-run": false },
    });
    expect(resolveParams(graph, { target: "staging" })).toEqual({
      ok: true,
      params: { target: "staging", replicas: 2, "dry-run": true },
    });
  });

  it("reports missing, mistyped, unknown and out-of-options params", () => {
    const result = resolveParams(graph, { replicas: 1.5, "dry-run": "maybe", extra: 1 });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((error) => error.param).sort()).toEqual([
      "dry-run",
      "extra",
      "replicas",
      "target",
    ]);
    expect(resolveParams(graph, { target: "dev" })).toMatchObject({ ok: false, errors: [{ param: "target" }] });
  });
});

describe("examples", () => {
  const dir = path.join(import.meta.dirname, "../examples");
  for (const file of [
    "build-test-deploy.yaml",
    "canary-with-gate.yaml",
    "database-migration.yaml",
    "matrix-tests.yaml",
    "nightly-cleanup.yaml",
  ]) {
    it(`${file} compiles and every expression type-checks in the engine's environment`, () => {
      const parsed = parsePipeline(readFileSync(path.join(dir, file), "utf8"));
      expect(parsed.pipeline).not.toBeNull();
      const graph = compileRunGraph(parsed.pipeline as NonNullable<typeof parsed.pipeline>);
      for (const group of graph.groups) {
        const expressions = [
          group.condition?.expression ?? null,
          group.gate ? graph.conditions.expression(group.gate.condition) : null,
        ];
        for (const expression of expressions) {
          if (expression === null) continue;
          expect(expression.error).toBeNull();
          expect(expression.program?.check().valid, expression.source).toBe(true);
        }
      }
    });
  }
});

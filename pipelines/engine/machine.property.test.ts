// Property tests: random pipelines (needs, matrices, retries, timeouts, conditions, handlers,
// caps) driven by a random world (exits with random codes, lost executors, duplicated and
// stale events, timers fired out of order, cancels). After every event the invariants of the
// issue are checked; at the end the world settles and the run must be finished.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Pipeline, Step } from "../spec/schema";
import { validatePipeline } from "../spec/validate";
import { type GroupDef, needsOfGroup } from "./graph";
import { graphOfPipeline, RunHarness } from "./harness";
import { reduce, resume } from "./machine";
import { isTerminal, type RunEventInput, type RunState, type StartStepCommand, type Transition } from "./types";

interface StepSpec {
  needs: number[];
  retry: 0 | 1 | 2 | "codes" | "backoff";
  timeout: boolean;
  continueOnError: boolean;
  condition: null | "always" | "failure" | "not-cancelled" | "outcome";
  matrix: null | { failFast: boolean; maxParallel: number | null };
  noop: boolean;
  onFailure: boolean;
  rollback: boolean;
}

const stepArbitrary: fc.Arbitrary<StepSpec> = fc.record({
  needs: fc.array(fc.nat(), { maxLength: 4 }),
  retry: fc.constantFrom<StepSpec["retry"]>(0, 0, 0, 1, 2, "codes", "backoff"),
  timeout: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  continueOnError: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  condition: fc.constantFrom<StepSpec["condition"]>(
    null,
    null,
    null,
    null,
    "always",
    "failure",
    "not-cancelled",
    "outcome",
  ),
  matrix: fc.option(
    fc.record({ failFast: fc.boolean(), maxParallel: fc.option(fc.integer({ min: 1, max: 2 }), { nil: null }) }),
    { nil: null, freq: 5 },
  ),
  noop: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  onFailure: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  rollback: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
});

const pipelineArbitrary = fc
  .record({
    steps: fc.array(stepArbitrary, { minLength: 1, maxLength: 12 }),
    concurrency: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    finally: fc.boolean(),
    onFailure: fc.boolean(),
    timeout: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  })
  .map(buildPipeline);

function buildPipeline(spec: {
  steps: StepSpec[];
  concurrency: number | null;
  finally: boolean;
  onFailure: boolean;
  timeout: boolean;
}): Pipeline {
  const steps: Step[] = spec.steps.map((step, i) => {
    const needs = i === 0 ? [] : [...new Set(step.needs.map((n) => `s${n % i}`))];
    const out: Step = { id: `s${i}`, needs };
    if (step.noop) out.uses = "noop";
    else out.run = `work ${i}`;
    if (step.retry === "codes") out.retry = { max: 2, "exit-codes": [2] };
    else if (step.retry === "backoff") out.retry = { max: 1, backoff: { delay: "10s" } };
    else if (step.retry !== 0) out.retry = step.retry;
    if (step.timeout) out.timeout = "5m";
    if (step.continueOnError) out["continue-on-error"] = true;
    if (step.condition === "always") out.if = "always()";
    else if (step.condition === "failure") out.if = "failure()";
    else if (step.condition === "not-cancelled") out.if = "!cancelled()";
    else if (step.condition === "outcome" && needs.length > 0) out.if = `steps.${needs[0]}.outcome != "failure"`;
    if (step.matrix !== null) {
      out.matrix = { axes: { k: ["a", "b", "c"] }, "fail-fast": step.matrix.failFast };
      if (step.matrix.maxParallel !== null) out.matrix["max-parallel"] = step.matrix.maxParallel;
    }
    if (step.onFailure) out["on-failure"] = ["logs"];
    if (step.rollback) out.rollback = "undo";
    return out;
  });
  // Document order is not topological order.
  steps.reverse();
  const pipeline: Pipeline = {
    name: "random",
    steps,
    handlers: [
      { id: "logs", run: "logs" },
      { id: "undo", run: "undo" },
      { id: "page", run: "page" },
      { id: "cleanup", run: "cleanup" },
    ],
  };
  if (spec.concurrency !== null) pipeline.concurrency = spec.concurrency;
  if (spec.finally) pipeline.finally = ["cleanup"];
  if (spec.onFailure) pipeline["on-failure"] = ["page"];
  if (spec.timeout) pipeline.timeout = "1h";
  return pipeline;
}

type Action =
  | { kind: "exit"; pick: number; code: number }
  | { kind: "started"; pick: number }
  | { kind: "lose"; pick: number }
  | { kind: "replay"; pick: number }
  | { kind: "stale"; pick: number }
  | { kind: "timer"; pick: number }
  | { kind: "tick"; ms: number }
  | { kind: "cancel-step"; pick: number }
  | { kind: "cancel-run" }
  | { kind: "resume" };

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({ kind: fc.constant("exit" as const), pick: fc.nat(), code: fc.constantFrom(0, 0, 0, 1, 2) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("started" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("lose" as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("replay" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("stale" as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("timer" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 20 * 60_000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel-step" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel-run" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("resume" as const) }) },
);

/** Tracks what the invariants need across a run. */
class Checker {
  readonly started = new Set<string>();
  readonly startsPerInstance = new Map<string, number>();
  cancelled = false;
  forced = false;

  constructor(readonly h: RunHarness) {}

  /** Applies an event the way server/runs would, checking the invariants on the way. */
  send(event: RunEventInput): Transition {
    const h = this.h;
    const before = h.state;
    const transition = h.send(event);
    if (transition.ignored !== null) {
      expect(transition.state).toBe(before);
      expect(transition.commands).toEqual([]);
    } else {
      expect(transition.state.version).toBeGreaterThanOrEqual(before.version);
      // The incremental counters agree with counters rebuilt from a reloaded state.
      if (transition.state.version % 3 === 0) {
        const replayed = reduce(h.graph, structuredClone(before) as RunState, event);
        expect(replayed.state).toEqual(transition.state);
        expect(replayed.commands).toEqual(transition.commands);
      }
    }
    // Late or duplicate executor events and timers of another attempt are never applied.
    if (transition.ignored === null && "instance" in event && event.instance !== undefined && "attempt" in event) {
      const i = h.graph.index.get(event.instance) as number;
      const step = before.steps[i] as RunState["steps"][number];
      expect(step.attempt, `${event.type} for ${event.instance}`).toBe(event.attempt);
      if (event.type === "step.exited" || event.type === "step.lost" || event.type === "step.started") {
        expect(step.status).toBe("running");
      }
    }
    const isRunCancel =
      transition.ignored === null &&
      ((event.type === "control.cancel" && event.instance === undefined) ||
        (event.type === "timer.fired" && event.kind === "run-timeout"));
    if (isRunCancel) {
      if (this.cancelled && event.type === "control.cancel") this.forced = true;
      this.cancelled = true;
    }
    this.check(transition);
    return transition;
  }

  check(transition: Transition): void {
    const { graph } = this.h;
    const state = transition.state;
    for (const command of transition.commands) {
      if (command.type !== "start-step") continue;
      this.checkStart(command, state);
    }
    let running = 0;
    const perGroup = new Map<number, number>();
    for (let i = 0; i < state.steps.length; i++) {
      const step = state.steps[i] as RunState["steps"][number];
      const group = graph.groups[graph.instances[i]?.group as number] as GroupDef;
      if (step.status === "running") {
        running++;
        perGroup.set(group.index, (perGroup.get(group.index) ?? 0) + 1);
      }
      // Retries never exceed the policy.
      expect(step.retries).toBeLessThanOrEqual(group.retry?.max ?? 0);
      if (this.cancelled && group.role === "step") expect(isTerminal(step.status)).toBe(true);
    }
    expect(running).toBeLessThanOrEqual(graph.maxRunning);
    for (const [g, count] of perGroup) expect(count).toBeLessThanOrEqual((graph.groups[g] as GroupDef).maxParallel);
  }

  checkStart(command: StartStepCommand, state: RunState): void {
    const { graph } = this.h;
    // Every step runs at most once per attempt.
    const key = `${command.instance}#${command.attempt}`;
    expect(this.started.has(key), key).toBe(false);
    this.started.add(key);
    const count = (this.startsPerInstance.get(command.instance) ?? 0) + 1;
    this.startsPerInstance.set(command.instance, count);
    const i = graph.index.get(command.instance) as number;
    const group = graph.groups[graph.instances[i]?.group as number] as GroupDef;
    expect(count).toBeLessThanOrEqual(1 + (group.retry?.max ?? 0));
    // Cancel stops everything: after it only finally handlers start, after a second one nothing.
    if (this.forced) expect.fail(`${command.instance} started after the run was cancelled twice`);
    if (this.cancelled) expect(command.role).toBe("finally");
    // Dependencies always finish first.
    if (group.role === "step") {
      for (const need of needsOfGroup(graph, group.index)) {
        const needGroup = graph.groups[need] as GroupDef;
        for (let j = needGroup.first; j < needGroup.end; j++) {
          expect(
            isTerminal((state.steps[j] as RunState["steps"][number]).status),
            `${command.instance} needs ${needGroup.stepId}`,
          ).toBe(true);
        }
      }
    }
  }
}

function stepEvents(events: RunEventInput[]): Extract<RunEventInput, { attempt: number; instance: string }>[] {
  return events.filter(
    (event): event is Extract<RunEventInput, { attempt: number; instance: string }> =>
      "attempt" in event && "instance" in event && typeof event.instance === "string",
  );
}

function play(pipeline: Pipeline, actions: Action[]): void {
  const graph = graphOfPipeline(pipeline);
  const h = new RunHarness(graph);
  const checker = new Checker(h);
  const delivered: RunEventInput[] = [];
  const deliver = (event: RunEventInput) => {
    delivered.push(event);
    return checker.send(event);
  };
  deliver({ type: "run.started", at: h.now });
  const outstanding = () => [...h.outstanding.values()];
  for (const action of actions) {
    switch (action.kind) {
      case "exit":
      case "lose":
      case "started": {
        const list = outstanding();
        const command = list[action.pick % Math.max(1, list.length)];
        if (command === undefined) break;
        if (action.kind !== "started") h.outstanding.delete(command.instance);
        const base = { instance: command.instance, attempt: command.attempt, at: h.now };
        if (action.kind === "exit") deliver({ type: "step.exited", exitCode: action.code, ...base });
        else if (action.kind === "lose") deliver({ type: "step.lost", ...base });
        else deliver({ type: "step.started", ...base });
        break;
      }
      case "replay": {
        const event = delivered[action.pick % delivered.length];
        if (event !== undefined) checker.send({ ...event, at: h.now });
        break;
      }
      case "stale": {
        const events = stepEvents(delivered);
        const event = events[action.pick % Math.max(1, events.length)];
        if (event !== undefined && event.attempt > 1) checker.send({ ...event, attempt: event.attempt - 1, at: h.now });
        break;
      }
      case "timer": {
        const timers = [...h.timers.values()];
        const timer = timers[action.pick % Math.max(1, timers.length)];
        if (timer === undefined) break;
        h.timers.delete(timer.key);
        h.now = Math.max(h.now, timer.at);
        deliver(
          timer.instance === null
            ? { type: "timer.fired", kind: timer.kind, attempt: timer.attempt, at: h.now }
            : { type: "timer.fired", kind: timer.kind, instance: timer.instance, attempt: timer.attempt, at: h.now },
        );
        break;
      }
      case "tick":
        h.now += action.ms;
        break;
      case "cancel-step": {
        const step = graph.instances[action.pick % graph.instances.length];
        if (step !== undefined) deliver({ type: "control.cancel", instance: step.id, at: h.now });
        break;
      }
      case "cancel-run":
        deliver({ type: "control.cancel", at: h.now });
        break;
      case "resume": {
        const before = h.state;
        const resumed = resume(graph, before, h.now);
        expect(resumed.state).toBe(before);
        for (const command of resumed.commands) {
          // Re-issued, never new: an executor that has the key drops it.
          if (command.type === "start-step")
            expect(checker.started.has(`${command.instance}#${command.attempt}`)).toBe(true);
        }
        break;
      }
    }
  }
  // Let the world settle: every started step exits, every timer fires.
  for (let guard = 0; guard < 10_000 && h.state.phase !== "done"; guard++) {
    const next = outstanding()[0];
    if (next !== undefined) {
      h.outstanding.delete(next.instance);
      deliver({ type: "step.exited", instance: next.instance, attempt: next.attempt, exitCode: 0, at: h.now });
      continue;
    }
    const timer = [...h.timers.values()].sort((a, b) => a.at - b.at)[0];
    if (timer === undefined) break;
    h.timers.delete(timer.key);
    h.now = Math.max(h.now, timer.at);
    deliver(
      timer.instance === null
        ? { type: "timer.fired", kind: timer.kind, attempt: timer.attempt, at: h.now }
        : { type: "timer.fired", kind: timer.kind, instance: timer.instance, attempt: timer.attempt, at: h.now },
    );
  }
  // The run always terminates, with nothing left running.
  expect(h.state.phase).toBe("done");
  expect(["succeeded", "failed", "cancelled", "timed_out"]).toContain(h.state.status);
  for (const step of h.state.steps) expect(isTerminal(step.status), step.id).toBe(true);
  expect(h.commandsOf("run-finished")).toHaveLength(1);
}

describe("run state machine (random DAGs)", () => {
  it("generates valid pipelines", () => {
    fc.assert(
      fc.property(pipelineArbitrary, (pipeline) => {
        const errors = validatePipeline(pipeline).issues.filter((issue) => issue.severity === "error");
        expect(errors).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it("runs each step at most once per attempt, after its needs, within caps and retry policy; cancel stops everything; the run terminates", () => {
    fc.assert(
      fc.property(pipelineArbitrary, fc.array(actionArbitrary, { maxLength: 80 }), (pipeline, actions) => {
        play(pipeline, actions);
      }),
      { numRuns: 400 },
    );
  });

  it("re-running from a step re-runs exactly that step and its downstream and keeps everything else", () => {
    fc.assert(
      fc.property(
        pipelineArbitrary,
        fc.array(fc.constantFrom(0, 0, 0, 1, 2), { minLength: 1, maxLength: 20 }),
        fc.nat(),
        (pipeline, codes, pick) => {
          const graph = graphOfPipeline(pipeline);
          const h = new RunHarness(graph);
          const checker = new Checker(h);
          let k = 0;
          const exitCode = () => codes[k++ % codes.length] as number;
          checker.send({ type: "run.started", at: h.now });
          const settle = () => {
            for (let guard = 0; guard < 10_000 && h.state.phase !== "done"; guard++) {
              const next = h.outstanding.values().next();
              if (!next.done) {
                h.outstanding.delete(next.value.instance);
                checker.send({
                  type: "step.exited",
                  instance: next.value.instance,
                  attempt: next.value.attempt,
                  exitCode: exitCode(),
                  at: h.now,
                });
                continue;
              }
              const timer = [...h.timers.values()].sort((a, b) => a.at - b.at)[0];
              if (timer === undefined) break;
              h.timers.delete(timer.key);
              h.now = Math.max(h.now, timer.at);
              checker.send(
                timer.instance === null
                  ? { type: "timer.fired", kind: timer.kind, attempt: timer.attempt, at: h.now }
                  : {
                      type: "timer.fired",
                      kind: timer.kind,
                      instance: timer.instance,
                      attempt: timer.attempt,
                      at: h.now,
                    },
              );
            }
            expect(h.state.phase).toBe("done");
          };
          settle();
          const from = pipeline.steps[pick % pipeline.steps.length] as Step;
          // Downstream computed from the document, independently of the engine.
          const downstream = new Set([from.id]);
          for (let grew = true; grew; ) {
            grew = false;
            for (const step of pipeline.steps) {
              if (downstream.has(step.id)) continue;
              if ((step.needs as string[]).some((need) => downstream.has(need))) {
                downstream.add(step.id);
                grew = true;
              }
            }
          }
          const before = h.state;
          h.now += 60_000;
          const rerunAt = h.now;
          const commandsBefore = h.commands.length;
          checker.startsPerInstance.clear();
          const rerun = checker.send({ type: "control.rerun", fromStep: from.id, runAttempt: 1, at: h.now });
          expect(rerun.ignored).toBeNull();
          settle();
          const rerunStarts = h.commands.slice(commandsBefore).filter((command) => command.type === "start-step");
          for (const command of rerunStarts) {
            if (command.role === "step") expect(downstream.has(command.stepId), command.instance).toBe(true);
          }
          for (let i = 0; i < graph.dagInstances; i++) {
            const instance = graph.instances[i] as { id: string; group: number };
            const stepId = (graph.groups[instance.group] as GroupDef).stepId;
            const after = h.state.steps[i] as RunState["steps"][number];
            if (downstream.has(stepId)) {
              // Decided again in the re-run: started again, skipped again or cancelled again.
              expect(after.finishedAt ?? 0).toBeGreaterThanOrEqual(rerunAt);
            } else {
              // Untouched, outputs and all.
              expect(after).toBe(before.steps[i]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

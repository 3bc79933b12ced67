// An in-memory stand-in for server/runs, for tests and local experiments: it keeps one run's
// state, applies events through reduce(), remembers outstanding start-steps and timers, and
// has a clock. It checks nothing itself; tests assert on what it records.
import { parsePipeline } from "../spec/parse";
import type { Pipeline } from "../spec/schema";
import { compileRunGraph, type CompileOptions, type RunGraph, stepIndex } from "./graph";
import { createRun, reduce } from "./machine";
import { resolveParams } from "./params";
import type {
  Command,
  Principal,
  RunEventInput,
  RunState,
  ScheduleTimerCommand,
  StartStepCommand,
  StepState,
  Transition,
} from "./types";

export const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);

/** Parses and compiles a pipeline, failing loudly on any diagnostic. */
export function graphOf(yaml: string, options?: CompileOptions): RunGraph {
  const parsed = parsePipeline(yaml);
  const errors = parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error");
  if (parsed.pipeline === null || errors.length > 0) {
    throw new Error(`invalid pipeline:\n${errors.map((d) => `${d.line}:${d.column} ${d.message}`).join("\n")}`);
  }
  return compileRunGraph(parsed.pipeline, options);
}

export function graphOfPipeline(pipeline: Pipeline, options?: CompileOptions): RunGraph {
  return compileRunGraph(pipeline, options);
}

export interface HarnessOptions {
  params?: Record<string, unknown>;
  startedBy?: string | null;
  runId?: string;
}

export class RunHarness {
  state: RunState;
  now = T0;
  readonly commands: Command[] = [];
  /** Events applied and events ignored (with why), not the states: a 10,000-step run has 20,000. */
  applied = 0;
  readonly ignored: { event: RunEventInput; ignored: NonNullable<Transition["ignored"]> }[] = [];
  /** Start-steps sent and not yet answered with an exit or loss, by instance. */
  readonly outstanding = new Map<string, StartStepCommand>();
  /** Scheduled, not cancelled, not fired. */
  readonly timers = new Map<string, ScheduleTimerCommand>();

  constructor(
    readonly graph: RunGraph,
    options: HarnessOptions = {},
  ) {
    const params = resolveParams(graph, options.params ?? {});
    if (!params.ok) throw new Error(`invalid params: ${JSON.stringify(params.errors)}`);
    this.state = createRun(graph, {
      runId: options.runId ?? "run-1",
      params: params.params,
      startedBy: options.startedBy ?? "author",
      at: this.now,
    });
  }

  send(event: RunEventInput): Transition {
    const transition = reduce(this.graph, this.state, event);
    if (transition.ignored !== null) this.ignored.push({ event, ignored: transition.ignored });
    this.record(transition);
    return transition;
  }

  record(transition: Transition): void {
    if (transition.ignored === null) this.applied++;
    this.state = transition.state;
    for (const command of transition.commands) {
      this.commands.push(command);
      if (command.type === "start-step") this.outstanding.set(command.instance, command);
      else if (command.type === "schedule-timer") this.timers.set(command.key, command);
      else if (command.type === "cancel-timer") this.timers.delete(command.key);
      else if (command.type === "kill-step") this.outstanding.delete(command.instance);
    }
  }

  start(): Transition {
    return this.send({ type: "run.started", at: this.now });
  }

  step(id: string): StepState {
    const i = stepIndex(this.graph, id);
    if (i === undefined) throw new Error(`no step ${id}`);
    return this.state.steps[i] as StepState;
  }

  status(id: string): StepState["status"] {
    return this.step(id).status;
  }

  statuses(): Record<string, StepState["status"]> {
    return Object.fromEntries(this.state.steps.map((step) => [step.id, step.status]));
  }

  /** Instances with an outstanding start-step, in the order they were started. */
  running(): string[] {
    return [...this.outstanding.keys()];
  }

  started(id: string): Transition {
    const command = this.outstanding.get(id);
    if (command === undefined) throw new Error(`${id} was not started`);
    return this.send({ type: "step.started", instance: id, attempt: command.attempt, at: this.now });
  }

  exit(id: string, exitCode = 0, outputs?: Record<string, string>): Transition {
    const command = this.outstanding.get(id);
    if (command === undefined) throw new Error(`${id} was not started`);
    this.outstanding.delete(id);
    return this.send({ type: "step.exited", instance: id, attempt: command.attempt, exitCode, outputs, at: this.now });
  }

  lose(id: string): Transition {
    const command = this.outstanding.get(id);
    if (command === undefined) throw new Error(`${id} was not started`);
    this.outstanding.delete(id);
    return this.send({ type: "step.lost", instance: id, attempt: command.attempt, at: this.now });
  }

  approve(
    id: string,
    by: Partial<Principal> & { id: string },
    decision: "approve" | "reject" = "approve",
    comment?: string,
  ) {
    return this.send({ type: "approval.submitted", instance: id, by, decision, comment, at: this.now });
  }

  /** Moves the clock and fires every timer that is due, earliest first. */
  advance(ms: number): Transition[] {
    this.now += ms;
    const fired: Transition[] = [];
    for (;;) {
      const due = [...this.timers.values()].filter((timer) => timer.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return fired;
      this.timers.delete(due.key);
      fired.push(
        this.send(
          due.instance === null
            ? { type: "timer.fired", kind: due.kind, attempt: due.attempt, at: this.now }
            : { type: "timer.fired", kind: due.kind, instance: due.instance, attempt: due.attempt, at: this.now },
        ),
      );
    }
  }

  /** Runs every started step to its exit code (0 by default) until nothing is outstanding. */
  drain(exitCode: (instance: string, attempt: number) => number = () => 0): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.outstanding.values().next();
      if (next.done) return;
      const command = next.value;
      this.exit(command.instance, exitCode(command.instance, command.attempt));
    }
    throw new Error("drain did not settle");
  }

  /** drain(), then fire the next timer, until the run is done or nothing can happen. */
  complete(exitCode?: (instance: string, attempt: number) => number): void {
    for (let guard = 0; guard < 100_000; guard++) {
      this.drain(exitCode);
      if (this.state.phase === "done") return;
      const next = [...this.timers.values()].sort((a, b) => a.at - b.at)[0];
      if (next === undefined) return;
      this.advance(Math.max(0, next.at - this.now));
    }
  }

  commandsOf<T extends Command["type"]>(type: T): Extract<Command, { type: T }>[] {
    return this.commands.filter((command): command is Extract<Command, { type: T }> => command.type === type);
  }

  /** Instance ids in the order their first start-step (of any attempt) was sent. */
  startOrder(): string[] {
    return this.commandsOf("start-step").map((command) => command.instance);
  }
}

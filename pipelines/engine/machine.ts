// The run state machine: reduce(graph, state, event) -> {state, commands}. Pure: no clock (times
// come from events), no I/O, the input state is never mutated. Each event costs what it affects:
// counters derived from the state (remaining instances per step, unfinished needs, running
// slots, the ready queue) are built once per loaded state and then handed from each state to
// the next, so finishing one step touches that step, its dependents and their needs only.
import type { MatrixCombination } from "../graph/matrix";
import {
  type EvaluationScope,
  evaluate,
  evaluateCondition,
  type Rendered,
  renderTemplate,
  renderValue,
  type StatusValues,
  StepValue,
  toCelMatrix,
  toCelParams,
} from "./conditions";
import {
  ancestorsOf,
  dependentsOfGroup,
  downstreamGroups,
  type GroupDef,
  needsOfGroup,
  type Principals,
  type RunGraph,
  retryDelay,
} from "./graph";
import {
  account,
  buildDerived,
  CANCELLED,
  type Derived,
  FAILED,
  groupFlags,
  handOver,
  isFailure,
  isReady,
  isUntouched,
  NOT_OK,
  takeDerived,
  UPSTREAM_CANCELLED,
  UPSTREAM_FAILED,
} from "./derived";
import type { ReadyEntry } from "./ready-queue";
import {
  type ArtifactFetch,
  type AttemptRecord,
  type Command,
  type Ignored,
  isTerminal,
  type NotifyKind,
  type ParamValue,
  type Principal,
  type RunCancellation,
  type RunEventInput,
  type RunState,
  type RunStatus,
  type StartStepCommand,
  type StepState,
  type TimerKind,
  type Transition,
} from "./types";

// ---------------------------------------------------------------------------------------------
// Creating a run.

function emptyStep(id: string): StepState {
  return {
    id,
    status: "queued",
    attempt: 0,
    waitingFor: null,
    readyAt: null,
    dispatchedAt: null,
    startedAt: null,
    finishedAt: null,
    deadlineAt: null,
    retryAt: null,
    exitCode: null,
    outputs: {},
    reason: null,
    continuedOnError: false,
    approvals: [],
    gate: null,
    actor: null,
    retries: 0,
    history: [],
  };
}

export interface CreateRunInput {
  runId: string;
  /** Resolved with resolveParams. */
  params: Readonly<Record<string, ParamValue>>;
  startedBy: string | null;
  at: number;
}

/** A new run, every step queued; `run.started` sets it going. */
export function createRun(graph: RunGraph, input: CreateRunInput): RunState {
  return {
    runId: input.runId,
    status: "queued",
    phase: "dag",
    params: input.params,
    startedBy: input.startedBy,
    runAttempt: 1,
    createdAt: input.at,
    startedAt: null,
    finishedAt: null,
    deadlineAt: null,
    cancellation: null,
    steps: graph.instances.map((instance) => emptyStep(instance.id)),
    version: 0,
    updatedAt: input.at,
  };
}

// ---------------------------------------------------------------------------------------------
// One transition.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NO_OUTPUTS: Readonly<Record<string, string>> = Object.freeze({});

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

function isEligible(principals: Principals, who: Principal): boolean {
  if (principals.users.length === 0 && principals.teams.length === 0 && principals.roles.length === 0) return true;
  return (
    principals.users.includes(who.id) ||
    who.teams.some((team) => principals.teams.includes(team)) ||
    who.roles.some((role) => principals.roles.includes(role))
  );
}

function outcomeOf(step: StepState): string {
  switch (step.status) {
    case "succeeded":
      return "success";
    case "failed":
    case "timed_out":
      return "failure";
    case "cancelled":
      return "cancelled";
    default:
      return "skipped";
  }
}

class Tx {
  readonly run: Mutable<Omit<RunState, "steps" | "version">>;
  steps: StepState[];
  private copied = false;
  readonly commands: Command[] = [];
  readonly changed = new Set<number>();
  private runChanged = false;
  private readonly terminal: number[] = [];
  private terminalHead = 0;
  private readonly stepValues = new Map<number, StepValue>();
  private pipelineEnv: Record<string, string> | null = null;
  private celParams: Record<string, unknown> | null = null;

  constructor(
    readonly graph: RunGraph,
    readonly base: RunState,
    public derived: Derived,
    readonly now: number,
  ) {
    const { steps, version: _version, ...run } = base;
    this.run = { ...run, updatedAt: now };
    this.steps = steps as StepState[];
  }

  // --- state access -------------------------------------------------------------------------

  step(i: number): StepState {
    return this.steps[i] as StepState;
  }

  group(i: number): GroupDef {
    return this.graph.groups[(this.graph.instances[i] as { group: number }).group] as GroupDef;
  }

  setRun<K extends keyof Tx["run"]>(key: K, value: Tx["run"][K]): void {
    if (this.run[key] === value) return;
    this.run[key] = value;
    this.runChanged = true;
  }

  setStep(i: number, next: StepState): void {
    const prev = this.step(i);
    if (prev === next) return;
    if (!this.copied) {
      this.steps = this.steps.slice();
      this.copied = true;
    }
    account(this.derived, this.graph, i, prev, -1);
    account(this.derived, this.graph, i, next, 1);
    this.steps[i] = next;
    this.changed.add(i);
    if (!isTerminal(prev.status) && isTerminal(next.status)) this.terminal.push(i);
    if (isReady(next) && next.readyAt !== prev.readyAt)
      this.derived.queue.push({ at: next.readyAt as number, instance: i });
    if (prev.status === "running" && next.status !== "running") this.releaseDeferred(this.group(i).index);
  }

  /** Replaces many steps at once (a re-run) and rebuilds the counters instead of accounting. */
  replaceSteps(replace: (steps: StepState[]) => Iterable<number>): void {
    if (!this.copied) {
      this.steps = this.steps.slice();
      this.copied = true;
    }
    for (const i of replace(this.steps)) this.changed.add(i);
    this.derived = buildDerived(this.graph, this.steps);
  }

  patch(i: number, fields: Partial<StepState>): void {
    this.setStep(i, { ...this.step(i), ...fields });
  }

  emit(command: Command): void {
    this.commands.push(command);
  }

  private key(...parts: (string | number)[]): string {
    return [this.run.runId, ...parts].join("/");
  }

  scheduleTimer(kind: TimerKind, instance: number | null, attempt: number, at: number, suffix?: number): void {
    const id = instance === null ? null : this.step(instance).id;
    this.emit({
      type: "schedule-timer",
      key: this.timerKey(kind, id, attempt, suffix),
      runId: this.run.runId,
      kind,
      instance: id,
      attempt,
      at,
    });
  }

  private timerKey(kind: TimerKind, id: string | null, attempt: number, suffix?: number): string {
    const parts: (string | number)[] = id === null ? [kind, attempt] : [id, kind, attempt];
    if (suffix !== undefined) parts.push(suffix);
    return this.key(...parts);
  }

  cancelTimer(kind: TimerKind, instance: number | null, attempt: number, suffix?: number): void {
    const id = instance === null ? null : this.step(instance).id;
    this.emit({ type: "cancel-timer", key: this.timerKey(kind, id, attempt, suffix), runId: this.run.runId });
  }

  // --- result -------------------------------------------------------------------------------

  result(): Transition {
    if (this.copied || this.runChanged) {
      if (this.run.phase !== "done" && this.run.startedAt !== null) this.setRun("status", this.liveStatus());
      const state: RunState = { ...this.run, steps: this.steps, version: this.base.version + 1 };
      handOver(this.steps, this.derived);
      return {
        state,
        commands: this.commands,
        changed: [...this.changed].map((i) => this.step(i).id),
        ignored: null,
      };
    }
    handOver(this.base.steps, this.derived);
    return { state: this.base, commands: this.commands, changed: [], ignored: null };
  }

  ignore(ignored: Ignored): Transition {
    handOver(this.base.steps, this.derived);
    return { state: this.base, commands: [], changed: [], ignored };
  }

  private liveStatus(): RunStatus {
    const d = this.derived;
    if (d.running > 0 || d.ready > 0 || d.retrying > 0) return "running";
    return d.parked > 0 ? "waiting" : "running";
  }

  // --- the loop -----------------------------------------------------------------------------

  /** Propagates finished steps, fills free slots and moves through the phases until stable. */
  advance(): void {
    for (;;) {
      while (this.terminalHead < this.terminal.length) this.onTerminal(this.terminal[this.terminalHead++] as number);
      if (this.dispatch()) continue;
      if (this.settle()) continue;
      return;
    }
  }

  private canActivateDag(): boolean {
    return this.run.startedAt !== null && this.run.phase === "dag" && this.run.cancellation === null;
  }

  /** Activates every DAG group whose needs are complete and that has untouched instances. */
  activateEligible(): void {
    if (!this.canActivateDag()) return;
    for (let g = 0; g < this.graph.dagGroups; g++) {
      if (this.derived.pendingNeeds[g] !== 0) continue;
      const group = this.graph.groups[g] as GroupDef;
      for (let i = group.first; i < group.end; i++) {
        if (isUntouched(this.step(i))) {
          this.activateGroup(g);
          break;
        }
      }
    }
  }

  private onTerminal(i: number): void {
    const group = this.group(i);
    const g = group.index;
    if (g >= this.graph.dagGroups) return;
    const step = this.step(i);
    if (isFailure(step) && group.failFast && group.end - group.first > 1) {
      for (let j = group.first; j < group.end; j++) {
        if (j !== i && !isTerminal(this.step(j).status)) {
          this.cancelInstance(j, `cancelled by fail-fast: ${step.id} failed`, null);
        }
      }
    }
    if ((step.status === "failed" || step.status === "timed_out") && this.canActivateDag()) {
      for (const handler of group.onFailure) {
        const first = this.graph.groups[handler] as GroupDef;
        if (isUntouched(this.step(first.first))) this.activateGroup(handler);
      }
    }
    if (this.derived.remaining[g] === 0 && !this.derived.completed[g]) {
      this.derived.completed[g] = 1;
      this.derived.flags[g] = groupFlags(this.derived, this.graph, this.steps, g);
      for (const dependent of dependentsOfGroup(this.graph, g)) {
        const pending = (this.derived.pendingNeeds[dependent] as number) - 1;
        this.derived.pendingNeeds[dependent] = pending;
        if (pending === 0 && this.canActivateDag()) this.activateGroup(dependent);
      }
    }
  }

  private releaseDeferred(g: number): void {
    const held = this.derived.deferred.get(g);
    if (held === undefined) return;
    this.derived.deferred.delete(g);
    for (const entry of held) this.derived.queue.push(entry);
  }

  /** Starts ready instances while slots are free; true when something finished on the way. */
  private dispatch(): boolean {
    const d = this.derived;
    const before = this.terminal.length;
    while (d.running < this.graph.maxRunning && d.queue.size > 0) {
      const entry = d.queue.pop() as ReadyEntry;
      const i = entry.instance;
      const step = this.step(i);
      if (!isReady(step) || step.readyAt !== entry.at) continue;
      const group = this.group(i);
      if ((d.runningPerGroup[group.index] as number) >= group.maxParallel) {
        const held = d.deferred.get(group.index);
        if (held === undefined) d.deferred.set(group.index, [entry]);
        else held.push(entry);
        continue;
      }
      this.startInstance(i);
    }
    return this.terminal.length > before;
  }

  /** Moves through the phases once the current one is over; true when it did something. */
  private settle(): boolean {
    const run = this.run;
    const d = this.derived;
    if (run.startedAt === null || run.phase === "done") return false;
    switch (run.phase) {
      case "dag": {
        if (d.dagPending > 0 || d.live["step-on-failure"] > 0) return false;
        if (run.cancellation === null && d.dagFailures > 0) {
          this.setRun("phase", "rollback");
        } else {
          this.setRun("phase", "finally");
          this.activateHandlers(this.graph.finallyGroups);
        }
        return true;
      }
      case "rollback": {
        if (d.live.rollback > 0) return false;
        const next = run.cancellation === null ? this.nextRollback() : null;
        if (next !== null) {
          this.activateGroup(next);
          return true;
        }
        this.setRun("phase", "on-failure");
        if (run.cancellation === null) this.activateHandlers(this.graph.onFailureGroups);
        return true;
      }
      case "on-failure": {
        if (d.live["on-failure"] > 0) return false;
        this.setRun("phase", "finally");
        this.activateHandlers(this.graph.finallyGroups);
        return true;
      }
      case "finally": {
        if (d.live.finally > 0) return false;
        this.finishRun();
        return true;
      }
    }
  }

  private activateHandlers(groups: readonly number[]): void {
    for (const g of groups) {
      const group = this.graph.groups[g] as GroupDef;
      if (isUntouched(this.step(group.first))) this.activateGroup(g);
    }
  }

  /**
   * The next rollback, newest first: a step with a rollback handler that succeeded no later
   * than the last failure of the run (a later step failed after it succeeded).
   */
  private nextRollback(): number | null {
    let lastFailureAt = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.graph.dagInstances; i++) {
      const step = this.step(i);
      if (isFailure(step)) lastFailureAt = Math.max(lastFailureAt, step.finishedAt ?? 0);
    }
    let best: number | null = null;
    let bestAt = Number.NEGATIVE_INFINITY;
    for (const g of this.graph.rollbackGroups) {
      const handler = this.graph.groups[g] as GroupDef;
      if (!isUntouched(this.step(handler.first))) continue;
      const trigger = this.graph.groups[handler.trigger] as GroupDef;
      let succeededAt = Number.NEGATIVE_INFINITY;
      for (let i = trigger.first; i < trigger.end; i++) {
        const step = this.step(i);
        if (step.status === "succeeded") succeededAt = Math.max(succeededAt, step.finishedAt ?? 0);
      }
      if (succeededAt === Number.NEGATIVE_INFINITY || succeededAt > lastFailureAt) continue;
      if (
        succeededAt > bestAt ||
        (succeededAt === bestAt && best !== null && handler.trigger > (this.graph.groups[best] as GroupDef).trigger)
      ) {
        best = g;
        bestAt = succeededAt;
      }
    }
    return best;
  }

  finishRun(): void {
    for (let i = this.graph.dagInstances; i < this.steps.length; i++) {
      if (isUntouched(this.step(i)))
        this.patch(i, { status: "skipped", reason: "not triggered", finishedAt: this.now });
    }
    const run = this.run;
    const d = this.derived;
    let status: RunStatus;
    if (run.cancellation?.kind === "timeout") status = "timed_out";
    else if (d.dagFailures > 0 || d.handlerFailures > 0) status = "failed";
    else if (run.cancellation !== null || d.dagCancelled > 0) status = "cancelled";
    else status = "succeeded";
    this.setRun("phase", "done");
    this.setRun("status", status);
    this.setRun("finishedAt", this.now);
    if (run.deadlineAt !== null) {
      this.cancelTimer("run-timeout", null, run.runAttempt);
      this.setRun("deadlineAt", null);
    }
    this.emit({
      type: "run-finished",
      key: this.key("finished", run.runAttempt),
      runId: run.runId,
      runAttempt: run.runAttempt,
      status,
      at: this.now,
    });
  }

  // --- activation -----------------------------------------------------------------------------

  private statusFor(g: number): StatusValues {
    const d = this.derived;
    const runCancelled = this.run.cancellation !== null;
    if (g >= this.graph.dagGroups) {
      return {
        success: d.dagFailures === 0 && d.dagCancelled === 0 && !runCancelled,
        failure: d.dagFailures > 0,
        cancelled: runCancelled || d.dagCancelled > 0,
      };
    }
    let success = !runCancelled;
    let failure = false;
    let cancelled = runCancelled;
    for (const need of needsOfGroup(this.graph, g)) {
      const flags = d.flags[need] as number;
      if (flags & NOT_OK) success = false;
      if (flags & (FAILED | UPSTREAM_FAILED)) failure = true;
      if (flags & (CANCELLED | UPSTREAM_CANCELLED)) cancelled = true;
    }
    return { success, failure, cancelled };
  }

  private activateGroup(g: number): void {
    const group = this.graph.groups[g] as GroupDef;
    const status = this.statusFor(g);
    for (let i = group.first; i < group.end; i++) {
      if (isUntouched(this.step(i))) this.activateInstance(i, group, status);
    }
  }

  private activateInstance(i: number, group: GroupDef, status: StatusValues): void {
    const scope = this.scope(i, status);
    const verdict = evaluateCondition(group.condition, scope, group.role === "step");
    if (!verdict.ok) {
      this.finish(i, "failed", { reason: `condition error: ${verdict.error}` });
      return;
    }
    if (!verdict.value) {
      this.patch(i, {
        status: "skipped",
        reason: verdict.implied ? "skipped: a step it needs did not succeed" : "skipped: condition is false",
        finishedAt: this.now,
      });
      return;
    }
    const step = this.step(i);
    switch (group.kind) {
      case "run":
      case "uses": {
        if (group.inline) {
          const attempt = step.attempt + 1;
          this.patch(i, {
            status: "succeeded",
            attempt,
            dispatchedAt: this.now,
            startedAt: this.now,
            finishedAt: this.now,
            exitCode: 0,
          });
        } else {
          this.patch(i, { readyAt: this.now });
        }
        return;
      }
      case "approval": {
        const approval = group.approval as NonNullable<GroupDef["approval"]>;
        this.beginWaiting(i, group, "approval");
        this.notify(i, "approval-requested", approval.message, approval.approvers, {
          environment: approval.environment ?? null,
          minApprovals: approval["min-approvals"] ?? 1,
        });
        return;
      }
      case "manual": {
        const manual = group.manual as NonNullable<GroupDef["manual"]>;
        this.beginWaiting(i, group, "manual");
        this.notify(i, "manual-requested", manual.message, manual.allowed ?? { users: [], teams: [], roles: [] }, {});
        return;
      }
      case "gate": {
        this.beginWaiting(i, group, "gate");
        this.pollGate(i);
        return;
      }
    }
  }

  private beginWaiting(i: number, group: GroupDef, waitingFor: "approval" | "manual" | "gate"): void {
    const step = this.step(i);
    const attempt = step.attempt + 1;
    const deadlineAt = group.timeoutMs === null ? null : this.now + group.timeoutMs;
    this.patch(i, {
      status: "waiting",
      waitingFor,
      attempt,
      dispatchedAt: this.now,
      startedAt: this.now,
      deadlineAt,
      approvals: [],
      gate:
        waitingFor === "gate"
          ? { startedAt: this.now, poll: 0, nextPollAt: null, lastEvaluatedAt: null, lastValue: null, lastError: null }
          : null,
    });
    if (deadlineAt !== null) this.scheduleTimer("timeout", i, attempt, deadlineAt);
  }

  private notify(
    i: number,
    kind: NotifyKind,
    template: string | null | undefined,
    principals: Principals,
    extra: { environment?: string | null; minApprovals?: number; decision?: "approved" | "rejected" },
  ): void {
    const step = this.step(i);
    let message: string | null = null;
    if (template !== undefined && template !== null) {
      const rendered = renderTemplate(this.graph.conditions, template, this.scope(i, null));
      message = rendered.ok ? rendered.value : template;
    }
    this.emit({
      type: "notify",
      key: this.key(step.id, kind, step.attempt),
      runId: this.run.runId,
      kind,
      instance: step.id,
      attempt: step.attempt,
      message,
      principals,
      environment: extra.environment ?? null,
      minApprovals: extra.minApprovals ?? null,
      decision: extra.decision ?? null,
    });
  }

  // --- running steps --------------------------------------------------------------------------

  private startInstance(i: number): void {
    const attempt = this.step(i).attempt + 1;
    const command = this.startCommand(i, attempt);
    if (!command.ok) {
      this.patch(i, { attempt, readyAt: null, dispatchedAt: this.now });
      this.finish(i, "failed", { reason: `template error: ${command.error}` });
      return;
    }
    this.patch(i, {
      status: "running",
      attempt,
      readyAt: null,
      waitingFor: null,
      dispatchedAt: this.now,
      startedAt: null,
      finishedAt: null,
      retryAt: null,
      deadlineAt: null,
      exitCode: null,
    });
    this.emit(command.value);
  }

  startCommand(i: number, attempt: number): Rendered<StartStepCommand> {
    const group = this.group(i);
    const spec = this.renderSpec(i, group);
    if (!spec.ok) return spec;
    const id = this.step(i).id;
    const instance = this.graph.instances[i] as { matrix: MatrixCombination | null };
    return {
      ok: true,
      secrets: [],
      value: {
        ...spec.value,
        type: "start-step",
        key: this.key(id, attempt),
        runId: this.run.runId,
        instance: id,
        stepId: group.stepId,
        attempt,
        role: group.role,
        trigger: group.trigger === -1 ? null : (this.graph.groups[group.trigger] as GroupDef).stepId,
        matrix: instance.matrix,
        outputs: group.step.outputs ?? [],
        timeoutMs: group.timeoutMs,
      },
    };
  }

  private renderSpec(
    i: number,
    group: GroupDef,
  ): Rendered<
    Pick<
      StartStepCommand,
      "run" | "shell" | "image" | "workingDirectory" | "uses" | "with" | "env" | "secrets" | "artifacts"
    >
  > {
    const step = group.step;
    const scope = this.scope(i, null);
    const compiler = this.graph.conditions;
    const secrets = new Set<string>();
    const text = (value: string | undefined): Rendered<string | null> => {
      if (value === undefined) return { ok: true, value: null, secrets: [] };
      return renderTemplate(compiler, value, scope);
    };
    const parts = [text(step.run), text(step.image), text(step["working-directory"])];
    for (const part of parts) {
      if (!part.ok) return part;
      for (const secret of part.secrets) secrets.add(secret);
    }
    const env = this.envOf(i, scope);
    if (!env.ok) return env;
    for (const secret of env.secrets) secrets.add(secret);
    let inputs: Record<string, unknown> | null = null;
    if (step.with !== undefined) {
      const rendered = renderValue(compiler, step.with, scope);
      if (!rendered.ok) return rendered;
      for (const secret of rendered.secrets) secrets.add(secret);
      inputs = rendered.value as Record<string, unknown>;
    }
    const fetch: ArtifactFetch[] = (step.artifacts?.fetch ?? []).map((entry) => {
      const from = this.graph.groupByStepId.get(entry.from);
      const sources: { instance: string; attempt: number }[] = [];
      if (from !== undefined) {
        const source = this.graph.groups[from] as GroupDef;
        for (let j = source.first; j < source.end; j++) {
          const upstream = this.step(j);
          if (upstream.status === "succeeded" || upstream.continuedOnError)
            sources.push({ instance: upstream.id, attempt: upstream.attempt });
        }
      }
      return { from: entry.from, name: entry.name ?? null, path: entry.path ?? null, sources };
    });
    const [run, image, workingDirectory] = parts as { ok: true; value: string | null }[];
    return {
      ok: true,
      secrets: [],
      value: {
        run: run?.value ?? null,
        shell: step.shell ?? null,
        image: image?.value ?? null,
        workingDirectory: workingDirectory?.value ?? null,
        uses: step.uses ?? null,
        with: inputs,
        env: env.value,
        secrets: [...secrets].sort(),
        artifacts: {
          save: (step.artifacts?.save ?? []).map((entry) => ({
            name: entry.name,
            paths: entry.paths,
            expireIn: entry["expire-in"] ?? null,
          })),
          fetch,
        },
      },
    };
  }

  /** Retries after a failed attempt when the policy allows it; false when it does not. */
  finishWithRetry(i: number, reason: string, exitCode: number | null): boolean {
    const group = this.group(i);
    const policy = group.retry;
    const step = this.step(i);
    if (policy === null || step.retries >= policy.max) return false;
    if (exitCode !== null && policy.exitCodes !== null && !policy.exitCodes.has(exitCode)) return false;
    if (step.deadlineAt !== null) this.cancelTimer("timeout", i, step.attempt);
    const record: AttemptRecord = {
      attempt: step.attempt,
      status: "failed",
      dispatchedAt: step.dispatchedAt,
      startedAt: step.startedAt,
      finishedAt: this.now,
      exitCode,
      reason,
      approvals: [],
      actor: null,
    };
    const retries = step.retries + 1;
    const delay = retryDelay(policy, retries);
    const common = {
      retries,
      history: [...step.history, record],
      reason: `retry ${retries} of ${policy.max} after: ${reason}`,
      exitCode,
      deadlineAt: null,
      dispatchedAt: null,
      startedAt: null,
    };
    if (delay === 0) {
      this.patch(i, { ...common, status: "queued", waitingFor: null, readyAt: this.now, retryAt: null });
    } else {
      const retryAt = this.now + delay;
      this.patch(i, { ...common, status: "waiting", waitingFor: "retry", retryAt });
      this.scheduleTimer("retry", i, step.attempt, retryAt);
    }
    return true;
  }

  /** Ends the current attempt in a terminal status. */
  finish(
    i: number,
    status: "succeeded" | "failed" | "timed_out" | "cancelled" | "skipped",
    fields: Partial<StepState> = {},
  ): void {
    const step = this.step(i);
    if (step.deadlineAt !== null) this.cancelTimer("timeout", i, step.attempt);
    if (step.retryAt !== null) this.cancelTimer("retry", i, step.attempt);
    if (step.gate?.nextPollAt != null) this.cancelTimer("gate-poll", i, step.attempt, step.gate.poll);
    const failed = status === "failed" || status === "timed_out";
    const gate = fields.gate !== undefined ? fields.gate : step.gate;
    this.patch(i, {
      ...fields,
      status,
      waitingFor: null,
      readyAt: null,
      retryAt: null,
      deadlineAt: null,
      finishedAt: this.now,
      continuedOnError: failed && this.group(i).continueOnError,
      gate: gate === null ? null : { ...gate, nextPollAt: null },
    });
  }

  kill(i: number, reason: string): void {
    const step = this.step(i);
    this.emit({
      type: "kill-step",
      key: this.key(step.id, step.attempt, "kill"),
      runId: this.run.runId,
      instance: step.id,
      attempt: step.attempt,
      reason,
    });
  }

  cancelInstance(i: number, reason: string, actor: string | null): boolean {
    const step = this.step(i);
    if (isTerminal(step.status)) return false;
    if (step.status === "running") this.kill(i, reason);
    this.finish(i, "cancelled", { reason, actor });
    return true;
  }

  notifyDecision(i: number, decision: "approved" | "rejected"): void {
    const approval = this.group(i).approval as NonNullable<GroupDef["approval"]>;
    this.notify(i, "approval-decided", null, approval.approvers, {
      environment: approval.environment ?? null,
      decision,
    });
  }

  // --- gates ----------------------------------------------------------------------------------

  pollGate(i: number): void {
    const step = this.step(i);
    const gate = this.group(i).gate as NonNullable<GroupDef["gate"]>;
    const progress = step.gate as NonNullable<StepState["gate"]>;
    const poll = progress.poll + 1;
    this.patch(i, { gate: { ...progress, poll, nextPollAt: null } });
    if (Object.keys(gate.metrics ?? {}).length === 0) this.evaluateGate(i, {}, null);
    else this.requestGateSample(i);
  }

  /** Asks server/runs to sample the gate's metrics for the current poll. */
  requestGateSample(i: number): void {
    const step = this.step(i);
    const gate = this.group(i).gate as NonNullable<GroupDef["gate"]>;
    const poll = (step.gate as NonNullable<StepState["gate"]>).poll;
    this.emit({
      type: "evaluate-gate",
      key: this.key(step.id, "gate", step.attempt, poll),
      runId: this.run.runId,
      instance: step.id,
      attempt: step.attempt,
      poll,
      metrics: Object.fromEntries(
        Object.entries(gate.metrics ?? {}).map(([name, metric]) => [
          name,
          { query: metric.query, source: metric.source ?? null },
        ]),
      ),
    });
  }

  evaluateGate(i: number, metrics: Readonly<Record<string, number>>, samplingError: string | null): void {
    const step = this.step(i);
    const gate = this.group(i).gate as NonNullable<GroupDef["gate"]>;
    const progress = step.gate as NonNullable<StepState["gate"]>;
    let value: boolean | null = null;
    let error = samplingError;
    if (error === null) {
      const scope = { ...this.scope(i, null), gate: { metrics, startedAt: progress.startedAt } };
      const result = evaluate(this.graph.conditions.expression(gate.condition), scope);
      if (!result.ok) error = result.error;
      else if (typeof result.value !== "boolean") error = "the gate condition is not true or false";
      else value = result.value;
    }
    const evaluated = { ...progress, lastEvaluatedAt: this.now, lastValue: value, lastError: error };
    if (value === true) {
      this.finish(i, "succeeded", { gate: evaluated });
      return;
    }
    // False or not evaluable (a metrics source down): ask again; the timeout decides.
    const nextPollAt = this.now + gate.intervalMs;
    this.patch(i, { gate: { ...evaluated, nextPollAt } });
    this.scheduleTimer("gate-poll", i, step.attempt, nextPollAt, progress.poll);
  }

  // --- cancellation ---------------------------------------------------------------------------

  cancelRun(kind: RunCancellation["kind"], by: string | null, reason: string): boolean {
    const run = this.run;
    if (run.phase === "done") return false;
    if (run.cancellation !== null) {
      // A second cancel stops the finally handlers too.
      if (kind !== "cancel") return false;
      let changed = false;
      for (let i = this.graph.dagInstances; i < this.steps.length; i++) {
        if (isUntouched(this.step(i)) && this.group(i).role !== "finally") continue;
        if (this.cancelInstance(i, reason, by)) changed = true;
      }
      return changed;
    }
    this.setRun("cancellation", { kind, by, at: this.now, reason });
    if (run.startedAt === null) {
      for (let i = 0; i < this.steps.length; i++) this.cancelInstance(i, reason, by);
      this.finishRun();
      return true;
    }
    for (let i = 0; i < this.steps.length; i++) {
      // Finally handlers are still to come; handlers never triggered end as "not triggered".
      if (this.group(i).role === "finally" || (i >= this.graph.dagInstances && isUntouched(this.step(i)))) continue;
      this.cancelInstance(i, reason, by);
    }
    return true;
  }

  // --- scopes ---------------------------------------------------------------------------------

  private params(): Record<string, unknown> {
    this.celParams ??= toCelParams(this.graph.params, this.run.params);
    return this.celParams;
  }

  private stepValue(stepId: string): StepValue | undefined {
    const g = this.graph.groupByStepId.get(stepId);
    if (g === undefined) return undefined;
    const cached = this.stepValues.get(g);
    if (cached !== undefined) return cached;
    const group = this.graph.groups[g] as GroupDef;
    let value: StepValue;
    if (group.end - group.first === 1) {
      const step = this.step(group.first);
      value = new StepValue(outcomeOf(step), step.outputs);
    } else {
      let failure = false;
      let cancelled = false;
      let success = false;
      const outputs: Record<string, string> = {};
      for (let i = group.first; i < group.end; i++) {
        const step = this.step(i);
        const outcome = outcomeOf(step);
        if (outcome === "failure") failure = true;
        else if (outcome === "cancelled") cancelled = true;
        else if (outcome === "success") success = true;
        Object.assign(outputs, step.outputs);
      }
      value = new StepValue(failure ? "failure" : cancelled ? "cancelled" : success ? "success" : "skipped", outputs);
    }
    // Complete groups no longer change within this transition.
    if (this.derived.completed[g]) this.stepValues.set(g, value);
    return value;
  }

  private renderPipelineEnv(): Rendered<Record<string, string>> {
    if (this.pipelineEnv !== null) return { ok: true, value: this.pipelineEnv, secrets: [] };
    const scope: EvaluationScope = {
      params: this.params(),
      matrix: null,
      now: this.now,
      env: () => ({}),
      step: () => undefined,
      upstream: () => [],
      status: null,
    };
    const out: Record<string, string> = {};
    const secrets: string[] = [];
    for (const [name, value] of Object.entries(this.graph.pipeline.env ?? {})) {
      if (typeof value !== "string") {
        out[name] = String(value);
        continue;
      }
      const rendered = renderTemplate(this.graph.conditions, value, scope);
      if (!rendered.ok) return rendered;
      out[name] = rendered.value;
      secrets.push(...rendered.secrets);
    }
    if (secrets.length === 0) this.pipelineEnv = out;
    return { ok: true, value: out, secrets };
  }

  /** The pipeline's env and the step's, rendered. */
  private envOf(i: number, scope: EvaluationScope): Rendered<Record<string, string>> {
    const base = this.renderPipelineEnv();
    if (!base.ok) return base;
    const own = this.group(i).step.env;
    if (own === undefined) return base;
    const out = { ...base.value };
    const secrets = [...base.secrets];
    const inner: EvaluationScope = { ...scope, env: () => base.value };
    for (const [name, value] of Object.entries(own)) {
      if (typeof value !== "string") {
        out[name] = String(value);
        continue;
      }
      const rendered = renderTemplate(this.graph.conditions, value, inner);
      if (!rendered.ok) return rendered;
      out[name] = rendered.value;
      secrets.push(...rendered.secrets);
    }
    return { ok: true, value: out, secrets };
  }

  scope(i: number, status: StatusValues | null): EvaluationScope {
    const instance = this.graph.instances[i] as { group: number; matrix: MatrixCombination | null };
    let env: Record<string, string> | null = null;
    const scope: EvaluationScope = {
      params: this.params(),
      matrix: instance.matrix === null ? null : toCelMatrix(instance.matrix),
      now: this.now,
      env: () => {
        if (env === null) {
          const rendered = this.envOf(i, scope);
          env = rendered.ok ? rendered.value : {};
        }
        return env;
      },
      step: (stepId) => this.stepValue(stepId),
      upstream: () => ancestorsOf(this.graph, instance.group).map((g) => (this.graph.groups[g] as GroupDef).stepId),
      status,
    };
    return scope;
  }
}

// ---------------------------------------------------------------------------------------------
// The public functions.

function clampTime(state: RunState, at: number): number {
  return Math.max(at, state.updatedAt);
}

/**
 * Advances a run without an event: activates steps whose needs are done, fills free slots,
 * moves through the phases. Idempotent; reduce() already does it after every event.
 */
export function plan(graph: RunGraph, state: RunState, at: number): Transition {
  const tx = new Tx(graph, state, takeDerived(graph, state.steps), clampTime(state, at));
  tx.activateEligible();
  tx.advance();
  return tx.result();
}

/**
 * After a crash of whatever carries out commands: the commands the current state may still be
 * waiting for (start-step of dispatched steps, every pending timer, outstanding gate samples),
 * then plan(). Each re-issued command has the key it had the first time, so executors and the
 * job queue drop what they already have.
 */
export function resume(graph: RunGraph, state: RunState, at: number): Transition {
  const planned = plan(graph, state, at);
  const current = planned.state;
  const tx = new Tx(graph, current, takeDerived(graph, current.steps), clampTime(current, at));
  for (let i = 0; i < current.steps.length; i++) {
    const step = current.steps[i] as StepState;
    if (step.status === "running") {
      if (step.startedAt === null) {
        // The same key as the first time: an executor that has it already drops it.
        const command = tx.startCommand(i, step.attempt);
        if (command.ok) tx.emit(command.value);
      } else if (step.deadlineAt !== null) {
        tx.scheduleTimer("timeout", i, step.attempt, step.deadlineAt);
      }
    } else if (step.status === "waiting") {
      if (step.deadlineAt !== null) tx.scheduleTimer("timeout", i, step.attempt, step.deadlineAt);
      if (step.waitingFor === "retry" && step.retryAt !== null)
        tx.scheduleTimer("retry", i, step.attempt, step.retryAt);
      if (step.waitingFor === "gate" && step.gate !== null) {
        if (step.gate.nextPollAt !== null)
          tx.scheduleTimer("gate-poll", i, step.attempt, step.gate.nextPollAt, step.gate.poll);
        else tx.requestGateSample(i);
      }
    }
  }
  if (current.deadlineAt !== null && current.phase !== "done") {
    tx.scheduleTimer("run-timeout", null, current.runAttempt, current.deadlineAt);
  }
  const resumed = tx.result();
  return {
    state: resumed.state,
    commands: [...planned.commands, ...resumed.commands],
    changed: [...new Set([...planned.changed, ...resumed.changed])],
    ignored: null,
  };
}

function resolveInstance(graph: RunGraph, id: string): number[] | null {
  const i = graph.index.get(id);
  if (i !== undefined) return [i];
  const g = graph.groupByStepId.get(id);
  if (g === undefined) return null;
  const group = graph.groups[g] as GroupDef;
  return Array.from({ length: group.end - group.first }, (_, k) => group.first + k);
}

/**
 * Applies one event. Returns the new state, the commands to carry out after the transaction
 * commits, the instances whose rows changed, or why the event was ignored (the state is then
 * returned as it was). Never throws for a well-formed event: stale and duplicate events are
 * reported, not errors.
 */
export function reduce(graph: RunGraph, state: RunState, input: RunEventInput): Transition {
  const tx = new Tx(graph, state, takeDerived(graph, state.steps), clampTime(state, input.at));
  const ignored = apply(tx, state, input);
  if (ignored !== null) return tx.ignore(ignored);
  tx.advance();
  return tx.result();
}

const stale = (message: string): Ignored => ({ code: "stale", message });
const invalid = (message: string): Ignored => ({ code: "invalid-state", message });
const forbidden = (message: string): Ignored => ({ code: "forbidden", message });
const notFound = (message: string): Ignored => ({ code: "not-found", message });

function principalOf(input: { id: string; teams?: string[]; roles?: string[] }): Principal {
  return { id: input.id, teams: input.teams ?? [], roles: input.roles ?? [] };
}

function apply(tx: Tx, state: RunState, event: RunEventInput): Ignored | null {
  const graph = tx.graph;
  if (event.type === "run.started") {
    if (state.startedAt !== null || state.phase === "done") return stale("the run has already started or finished");
    tx.setRun("startedAt", tx.now);
    tx.setRun("status", "running");
    if (graph.timeoutMs !== null) {
      tx.setRun("deadlineAt", tx.now + graph.timeoutMs);
      tx.scheduleTimer("run-timeout", null, state.runAttempt, tx.now + graph.timeoutMs);
    }
    tx.activateEligible();
    return null;
  }
  if (event.type === "control.cancel" && event.instance === undefined) {
    const reason = event.reason ?? (event.by === undefined ? "run cancelled" : `run cancelled by ${event.by}`);
    if (!tx.cancelRun("cancel", event.by ?? null, reason)) {
      return state.phase === "done" ? invalid("the run has finished") : stale("the run is already cancelled");
    }
    return null;
  }
  if (event.type === "control.rerun") return rerun(tx, state, event);
  if (event.type === "timer.fired" && event.kind === "run-timeout") {
    if (event.attempt !== state.runAttempt || state.deadlineAt === null || tx.now < state.deadlineAt) {
      return stale("run timer of another attempt or not due");
    }
    const reason = `the run timed out after ${formatDuration(graph.timeoutMs ?? 0)}`;
    return tx.cancelRun("timeout", null, reason) ? null : stale("the run is already finished or cancelled");
  }
  if (state.startedAt === null) return invalid("the run has not started");

  const id = event.instance;
  if (id === undefined) return notFound("the event names no step");
  if (event.type === "control.cancel") {
    const targets = resolveInstance(graph, id);
    if (targets === null) return notFound(`no step "${id}" in this run`);
    const by = event.by ?? null;
    let changed = false;
    for (const i of targets) {
      if (tx.cancelInstance(i, event.reason ?? (by === null ? "cancelled" : `cancelled by ${by}`), by)) changed = true;
    }
    return changed ? null : invalid(`"${id}" has already finished`);
  }
  const i = graph.index.get(id);
  if (i === undefined) return notFound(`no step "${id}" in this run`);
  const step = tx.step(i);
  const group = tx.group(i);

  switch (event.type) {
    case "step.started": {
      if (step.status !== "running" || step.attempt !== event.attempt)
        return stale(`${id} is not running attempt ${event.attempt}`);
      if (step.startedAt !== null) return stale(`${id} attempt ${event.attempt} already started`);
      const deadlineAt = group.timeoutMs === null ? null : tx.now + group.timeoutMs;
      tx.patch(i, { startedAt: tx.now, deadlineAt });
      if (deadlineAt !== null) tx.scheduleTimer("timeout", i, step.attempt, deadlineAt);
      return null;
    }
    case "step.exited": {
      if (step.status !== "running" || step.attempt !== event.attempt)
        return stale(`${id} is not running attempt ${event.attempt}`);
      const outputs = event.outputs === undefined ? NO_OUTPUTS : { ...event.outputs };
      if (event.exitCode === 0) {
        tx.finish(i, "succeeded", { exitCode: 0, outputs, reason: null });
        return null;
      }
      const reason = `exited with code ${event.exitCode}`;
      if (!tx.finishWithRetry(i, reason, event.exitCode))
        tx.finish(i, "failed", { exitCode: event.exitCode, outputs, reason });
      return null;
    }
    case "step.lost": {
      if (step.status !== "running" || step.attempt !== event.attempt)
        return stale(`${id} is not running attempt ${event.attempt}`);
      const reason = event.detail === undefined ? "executor lost" : `executor lost: ${event.detail}`;
      if (!tx.finishWithRetry(i, reason, null)) tx.finish(i, "failed", { reason });
      return null;
    }
    case "timer.fired":
      return timerFired(tx, i, event.kind, event.attempt);
    case "gate.evaluated": {
      if (step.status !== "waiting" || step.waitingFor !== "gate" || step.attempt !== event.attempt) {
        return stale(`${id} is not waiting on its gate (attempt ${event.attempt})`);
      }
      if (step.gate === null || step.gate.poll !== event.poll || step.gate.nextPollAt !== null) {
        return stale(`${id} did not ask for evaluation ${event.poll}`);
      }
      tx.evaluateGate(i, event.metrics ?? {}, event.error ?? null);
      return null;
    }
    case "approval.submitted": {
      if (step.status !== "waiting" || step.waitingFor !== "approval")
        return invalid(`${id} is not waiting for approval`);
      const approval = group.approval as NonNullable<GroupDef["approval"]>;
      const by = principalOf(event.by);
      if (!isEligible(approval.approvers, by)) return forbidden(`${by.id} is not an approver of ${id}`);
      if (by.id === tx.run.startedBy && approval["allow-self-approval"] !== true) {
        return forbidden(`${by.id} started this run and may not approve it`);
      }
      if (step.approvals.some((record) => record.by === by.id)) return stale(`${by.id} has already decided on ${id}`);
      const record = { by: by.id, decision: event.decision, comment: event.comment ?? null, at: tx.now };
      const approvals = [...step.approvals, record];
      const approvedBy = approvals.filter((entry) => entry.decision === "approve").map((entry) => entry.by);
      const outputs = (decision: string) => ({
        decision,
        approved_by: approvedBy.join(","),
        comment: event.comment ?? "",
      });
      if (event.decision === "reject") {
        const reason = `rejected by ${by.id}${event.comment ? `: ${event.comment}` : ""}`;
        tx.finish(i, "failed", { approvals, outputs: outputs("rejected"), reason, actor: by.id });
        tx.notifyDecision(i, "rejected");
      } else if (approvedBy.length >= (approval["min-approvals"] ?? 1)) {
        tx.finish(i, "succeeded", { approvals, outputs: outputs("approved"), reason: null, actor: by.id });
        tx.notifyDecision(i, "approved");
      } else {
        tx.patch(i, { approvals });
      }
      return null;
    }
    case "control.run":
    case "control.skip": {
      if (step.status !== "waiting" || step.waitingFor !== "manual")
        return invalid(`${id} is not a manual step waiting to be started`);
      const by = principalOf(event.by);
      const allowed = (group.manual as NonNullable<GroupDef["manual"]>).allowed;
      if (allowed !== null && !isEligible(allowed, by)) return forbidden(`${by.id} may not start or skip ${id}`);
      if (event.type === "control.run")
        tx.finish(i, "succeeded", { outputs: { started_by: by.id }, actor: by.id, reason: null });
      else tx.finish(i, "skipped", { actor: by.id, reason: `skipped by ${by.id}` });
      return null;
    }
  }
}

function timerFired(tx: Tx, i: number, kind: TimerKind, attempt: number): Ignored | null {
  const step = tx.step(i);
  if (step.attempt !== attempt || isTerminal(step.status))
    return stale(`timer of ${step.id} attempt ${attempt} is stale`);
  switch (kind) {
    case "timeout": {
      if (step.deadlineAt === null || tx.now < step.deadlineAt) return stale(`${step.id} is not due to time out`);
      const limit = formatDuration(tx.group(i).timeoutMs ?? 0);
      if (step.status === "running") {
        tx.kill(i, `timed out after ${limit}`);
        tx.finish(i, "timed_out", { reason: `timed out after ${limit}` });
      } else if (step.status === "waiting" && step.waitingFor !== "retry") {
        const what =
          step.waitingFor === "approval"
            ? "no decision"
            : step.waitingFor === "gate"
              ? "the gate condition did not hold"
              : "nobody started it";
        tx.finish(i, "timed_out", { reason: `${what} within ${limit}` });
      } else {
        return stale(`${step.id} is not due to time out`);
      }
      return null;
    }
    case "retry": {
      if (step.status !== "waiting" || step.waitingFor !== "retry" || step.retryAt === null || tx.now < step.retryAt) {
        return stale(`${step.id} is not due to be retried`);
      }
      tx.patch(i, { status: "queued", waitingFor: null, retryAt: null, readyAt: tx.now });
      return null;
    }
    case "gate-poll": {
      if (
        step.status !== "waiting" ||
        step.waitingFor !== "gate" ||
        step.gate?.nextPollAt == null ||
        tx.now < step.gate.nextPollAt
      ) {
        return stale(`${step.id} is not due to evaluate its gate`);
      }
      tx.pollGate(i);
      return null;
    }
    default:
      return stale(`unexpected timer ${kind}`);
  }
}

function rerun(tx: Tx, state: RunState, event: Extract<RunEventInput, { type: "control.rerun" }>): Ignored | null {
  const graph = tx.graph;
  if (event.runAttempt !== state.runAttempt) return stale(`run attempt ${event.runAttempt} was already re-run`);
  if (state.phase !== "done") return invalid("the run is still active: cancel it or wait for it to finish");
  let targets: Uint8Array;
  if (event.fromStep === undefined) {
    targets = new Uint8Array(graph.instances.length).fill(1);
  } else {
    const i = graph.index.get(event.fromStep);
    const g =
      i === undefined ? graph.groupByStepId.get(event.fromStep) : (graph.instances[i] as { group: number }).group;
    if (g === undefined || g >= graph.dagGroups) return notFound(`no step "${event.fromStep}" in this run's graph`);
    targets = new Uint8Array(graph.instances.length);
    const downstream = downstreamGroups(graph, [g]);
    for (let d = 0; d < graph.dagGroups; d++) {
      if (!downstream[d]) continue;
      const group = graph.groups[d] as GroupDef;
      // From one matrix instance: that instance and whole groups downstream of its step.
      if (d === g && i !== undefined) targets[i] = 1;
      else targets.fill(1, group.first, group.end);
    }
    targets.fill(1, graph.dagInstances);
  }
  tx.replaceSteps(function* (steps) {
    for (let i = 0; i < steps.length; i++) {
      if (!targets[i]) continue;
      const step = steps[i] as StepState;
      const history: AttemptRecord[] =
        step.dispatchedAt !== null
          ? [
              ...step.history,
              {
                attempt: step.attempt,
                status: step.status,
                dispatchedAt: step.dispatchedAt,
                startedAt: step.startedAt,
                finishedAt: step.finishedAt,
                exitCode: step.exitCode,
                reason: step.reason,
                approvals: step.approvals,
                actor: step.actor,
              },
            ]
          : [...step.history];
      steps[i] = { ...emptyStep(step.id), attempt: step.attempt, history };
      yield i;
    }
  });
  const runAttempt = state.runAttempt + 1;
  tx.setRun("runAttempt", runAttempt);
  tx.setRun("phase", "dag");
  tx.setRun("status", "running");
  tx.setRun("cancellation", null);
  tx.setRun("finishedAt", null);
  tx.setRun("startedAt", tx.now);
  if (graph.timeoutMs !== null) {
    tx.setRun("deadlineAt", tx.now + graph.timeoutMs);
    tx.scheduleTimer("run-timeout", null, runAttempt, tx.now + graph.timeoutMs);
  }
  tx.activateEligible();
  return null;
}

import "server-only";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { RunEventInput, StartStepCommand } from "@/pipelines/engine/types";
import { stepKinds } from "@/pipelines/spec/schema";
import type { Database } from "@/server/db";
import { getLogger } from "@/server/observability/logger";
import { createMasker, type Masker } from "@/server/secrets/service";
import type { RunDriver } from "../driver";
import { StepLog } from "../logs";
import { countStepLost, observeStepStart, setStepsRunning } from "../metrics";
import { type QueuedJob, type RunQueue, STEP_QUEUE, type StepJobData } from "../queue";
import {
  claimAttempt,
  heartbeatExecutor,
  listLiveClaims,
  listUnwantedAttempts,
  registerExecutor,
  removeExecutor,
  setClaimPid,
} from "../repo";
import type { LogLinesEvent } from "../schema";
import { fetchArtifacts, saveArtifacts } from "./artifacts";
import { isInlineKind, runInlineKind } from "./inline-kinds";
import { MissingToolError, STEP_KEY_VARIABLE, startProcess } from "./local-process";
import { parseOutputFile, MAX_OUTPUT_BYTES } from "./outputs";

// The executor of this process: takes step jobs from the queue (up to its concurrency), claims
// each attempt once in the database, runs it (a local process, or a built-in kind in process),
// streams its log, and reports step.started / step.exited to the engine. It heartbeats; if it
// stops heartbeating (the process died), another replica reports its steps lost.

const log = getLogger("runs.executor");

/** What the executor needs to know of a run to set a step up. */
export interface RunInfo {
  runId: string;
  number: number;
  projectId: string;
  organizationSlug: string;
  projectSlug: string;
  pipelineSlug: string;
}

export interface ExecutorOptions {
  db: Database;
  queue: RunQueue;
  driver: RunDriver;
  concurrency: number;
  leaseSeconds: number;
  dataDir: string;
  maxLogBytes: number;
  publishLog(event: LogLinesEvent): void;
  runInfo(runId: string): Promise<RunInfo | null>;
  resolveSecrets(
    projectId: string,
    names: readonly string[],
  ): Promise<{ values: Map<string, string>; missing: string[] }>;
}

interface Execution {
  key: string;
  runId: string;
  idx: number;
  attempt: number;
  instance: string;
  abort: AbortController;
  /** Set when the server stops: the step is reported lost, not exited. */
  stopping: boolean;
  done: Promise<void>;
}

const SECRET_REFERENCE = /\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const POLL_INTERVAL_MS = 1_000;
const BACKGROUND_GRACE_MS = 2_000;
const REPORT_ATTEMPTS = 8;

/** Variables of the server's own environment that a step may see; nothing else leaks. */
const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL"];

function substituteSecrets(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(SECRET_REFERENCE, (whole, name: string) => values.get(name) ?? whole);
}

function substituteDeep(value: unknown, values: ReadonlyMap<string, string>): unknown {
  if (typeof value === "string") return substituteSecrets(value, values);
  if (Array.isArray(value)) return value.map((item) => substituteDeep(item, values));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteDeep(item, values)]));
  }
  return value;
}

function inside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

function checkoutScript(inputs: Record<string, unknown>): string {
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  const repository = inputs.repository === undefined ? null : String(inputs.repository);
  const destination = inputs.path === undefined ? "." : String(inputs.path);
  const depth = typeof inputs.depth === "number" ? inputs.depth : 1;
  const ref = inputs.ref === undefined ? null : String(inputs.ref);
  const submodules = inputs.submodules === true;
  if (repository === null) {
    return `echo "checkout: this project has no repository configured; give one with 'with: { repository: <url> }'" >&2\nexit 1\n`;
  }
  return [
    `dest=${quote(destination)}`,
    `mkdir -p "$dest"`,
    `git -C "$dest" init -q`,
    `git -C "$dest" remote remove origin 2>/dev/null || true`,
    `git -C "$dest" remote add origin ${quote(repository)}`,
    `echo "Fetching ${ref ?? "the default branch"} of ${repository.replaceAll('"', "")}"`,
    `git -C "$dest" fetch -q ${depth > 0 ? `--depth ${depth}` : ""} origin ${ref ? quote(ref) : "HEAD"}`,
    `git -C "$dest" checkout -q --force FETCH_HEAD`,
    submodules ? `git -C "$dest" submodule update -q --init --recursive ${depth > 0 ? `--depth ${depth}` : ""}` : "",
    `commit=$(git -C "$dest" rev-parse HEAD)`,
    `echo "Checked out $commit"`,
    `echo "commit=$commit" >> "$MICROSTACK_OUTPUT"`,
    `echo "ref=${ref ? ref.replaceAll('"', "") : "HEAD"}" >> "$MICROSTACK_OUTPUT"`,
    "",
  ].join("\n");
}

export class ExecutorHost {
  readonly id = randomUUID();
  private readonly running = new Map<string, Execution>();
  /** Claimed, not yet running (between the claim and begin()). */
  private readonly starting = new Set<string>();
  private pumping = false;
  private wanted = false;
  private stopped = true;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ExecutorOptions) {}

  get workspacesDir(): string {
    return path.join(this.options.dataDir, "workspaces");
  }

  get activeCount(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await registerExecutor(this.options.db, { id: this.id, hostname: os.hostname(), pid: process.pid });
    const beatMs = Math.max(500, (this.options.leaseSeconds * 1000) / 3);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), beatMs);
    this.heartbeatTimer.unref();
    if (this.options.concurrency > 0) {
      this.pollTimer = setInterval(() => this.wake(), POLL_INTERVAL_MS);
      this.pollTimer.unref();
      this.wake();
    }
  }

  /** Something may be waiting: fetch now rather than at the next poll. */
  wake(): void {
    if (this.stopped || this.options.concurrency === 0) return;
    this.wanted = true;
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.wanted && !this.stopped) {
        this.wanted = false;
        const free = this.options.concurrency - this.running.size;
        if (free <= 0) break;
        const jobs = await this.options.queue.fetch<StepJobData>(STEP_QUEUE, Math.min(free, 50));
        if (jobs.length === 0) break;
        await Promise.all(jobs.map((job) => this.take(job)));
        this.wanted = true; // there may be more
      }
    } catch (error) {
      log.warn({ err: error }, "fetching step jobs failed");
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Claims one job's step (completing the job in the same statement) and starts it. A step
   * cancelled since it was dispatched, or already claimed elsewhere, is simply not started.
   */
  private async take(job: QueuedJob<StepJobData>): Promise<void> {
    const { runId, idx, command } = job.data;
    // Marked before the claim exists, so the heartbeat's check of our claims never mistakes a
    // step being started for one we lost track of.
    this.starting.add(command.key);
    try {
      const claimed = await claimAttempt(this.options.db, {
        runId,
        idx,
        attempt: command.attempt,
        executorId: this.id,
        queue: STEP_QUEUE,
        jobId: job.id,
      });
      if (claimed) await this.begin(runId, idx, command);
    } catch (error) {
      log.error({ err: error, key: command.key }, "could not start a step; the job will be delivered again");
      await this.options.queue.fail(STEP_QUEUE, job.id, error).catch(() => {});
    } finally {
      this.starting.delete(command.key);
    }
  }

  private async begin(runId: string, idx: number, command: StartStepCommand): Promise<void> {
    const dispatchedAt = Date.now();
    const abort = new AbortController();
    let resolveDone: () => void = () => {};
    const execution: Execution = {
      key: command.key,
      runId,
      idx,
      attempt: command.attempt,
      instance: command.instance,
      abort,
      stopping: false,
      done: new Promise<void>((resolve) => {
        resolveDone = resolve;
      }),
    };
    this.running.set(command.key, execution);
    setStepsRunning(this.running.size);
    const masker = createMasker();
    const stepLog = new StepLog(
      this.options.db,
      { runId, idx, instance: command.instance, attempt: command.attempt },
      { masker, maxBytes: this.options.maxLogBytes, publish: this.options.publishLog },
    );
    void this.execute(execution, command, stepLog, masker, dispatchedAt)
      .catch((error: unknown) => log.error({ err: error, key: command.key }, "step execution failed"))
      .finally(() => {
        this.running.delete(command.key);
        setStepsRunning(this.running.size);
        resolveDone();
        this.wake();
      });
  }

  private async execute(
    execution: Execution,
    command: StartStepCommand,
    stepLog: StepLog,
    masker: Masker,
    dispatchedAt: number,
  ): Promise<void> {
    const { runId, idx } = execution;
    const controlDir = path.join(this.options.dataDir, "run-files", runId, `${idx}.${command.attempt}`);
    let result: { exitCode: number; outputs: Record<string, string> } = { exitCode: 1, outputs: {} };
    let startedReported = false;
    let madeControlDir = false;
    const reportStarted = async (kind: string) => {
      observeStepStart(kind, (Date.now() - dispatchedAt) / 1_000);
      startedReported = true;
      await this.options.driver.apply(runId, {
        type: "step.started",
        instance: command.instance,
        attempt: command.attempt,
        at: Date.now(),
      });
    };
    try {
      const info = await this.options.runInfo(runId);
      if (!info) return;
      const workspace = path.join(this.workspacesDir, runId);
      const inline = command.uses !== null && isInlineKind(command.uses);
      // Built-in kinds in process need no files, unless they move artifacts.
      if (!inline || command.artifacts.fetch.length > 0 || command.artifacts.save.length > 0) {
        await mkdir(workspace, { recursive: true });
      }
      stepLog.system(
        `Step ${command.instance}, attempt ${command.attempt}, on ${os.hostname()} (executor ${this.id.slice(0, 8)})`,
      );

      // Secrets: resolved now, never stored; their values are masked in the log from here on.
      const { values, missing } = await this.options.resolveSecrets(info.projectId, command.secrets);
      for (const value of values.values()) masker.add(value);
      if (missing.length > 0) {
        await reportStarted("local");
        stepLog.line(
          "stderr",
          `Secret${missing.length === 1 ? "" : "s"} ${missing.join(", ")} not defined in project ${info.projectSlug}: add ${missing.length === 1 ? "it" : "them"} in the project's secrets`,
        );
        result = { exitCode: 1, outputs: {} };
        return;
      }

      const artifactContext = {
        db: this.options.db,
        storeDir: path.join(this.options.dataDir, "artifacts"),
        runId,
        instance: command.instance,
        attempt: command.attempt,
        workspace,
      };
      if (command.artifacts.fetch.length > 0) {
        for (const note of await fetchArtifacts(artifactContext, command.artifacts.fetch)) stepLog.system(note);
      }

      const uses = command.uses;
      if (uses !== null && inline) {
        await reportStarted("inline");
        result = await runInlineKind(uses, substituteDeep(command.with, values) as Record<string, unknown> | null, {
          log: stepLog,
          signal: execution.abort.signal,
          describe: { runId, pipeline: info.pipelineSlug, runNumber: info.number, step: command.instance },
        });
      } else {
        const script =
          uses === "checkout"
            ? checkoutScript((substituteDeep(command.with, values) as Record<string, unknown> | null) ?? {})
            : uses !== null
              ? null
              : substituteSecrets(command.run ?? "", values);
        if (script === null) {
          await reportStarted("local");
          stepLog.line("stderr", `No executor runs step kind "${uses}" on this server`);
          result = { exitCode: 1, outputs: {} };
          return;
        }
        if (command.image) {
          stepLog.system(
            `Image ${command.image} is not used: this step runs as a local process (a Docker or Kubernetes executor runs it in a container)`,
          );
        }
        const cwd = path.resolve(workspace, command.workingDirectory ?? ".");
        if (!inside(workspace, cwd)) {
          await reportStarted("local");
          stepLog.line("stderr", `working-directory ${command.workingDirectory} is outside the workspace`);
          result = { exitCode: 1, outputs: {} };
          return;
        }
        await mkdir(cwd, { recursive: true });
        await mkdir(controlDir, { recursive: true, mode: 0o700 });
        madeControlDir = true;
        const outputFile = path.join(controlDir, "outputs");
        const env = this.environment(command, info, workspace, outputFile, values);
        let child: Awaited<ReturnType<typeof startProcess>>;
        let reading: Promise<unknown> = Promise.resolve();
        try {
          child = await startProcess({
            shell: command.shell,
            script,
            cwd,
            env,
            controlDir,
            attach: (stdout, stderr) => {
              reading = Promise.all([stepLog.follow("stdout", stdout), stepLog.follow("stderr", stderr)]);
            },
          });
        } catch (error) {
          await reportStarted("local");
          stepLog.line(
            "stderr",
            error instanceof MissingToolError ? error.message : `Could not start: ${(error as Error).message}`,
          );
          result = { exitCode: 127, outputs: {} };
          return;
        }
        execution.abort.signal.addEventListener("abort", () => child.kill(), { once: true });
        if (execution.abort.signal.aborted) child.kill();
        // Started now: the pid (for recovery after a crash) is recorded alongside.
        await Promise.all([
          setClaimPid(this.options.db, { runId, idx, attempt: command.attempt }, child.pid),
          reportStarted("local"),
        ]);
        const exit = await child.exit;
        // The step is over when its process is; what it left in the background (holding the
        // pipes or not) gets a moment to finish, then the step's process group is stopped.
        const drained = await Promise.race([
          Promise.all([reading, child.released]).then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), BACKGROUND_GRACE_MS).unref()),
        ]);
        if (!drained) {
          child.reap();
          await reading;
          stepLog.system("Processes the step left running in the background were stopped");
        }
        result = { exitCode: exit.exitCode, outputs: await this.readOutputs(outputFile, command, stepLog, masker) };
        if (exit.signal) stepLog.system(`The process was stopped by ${exit.signal}`);
      }
      if (result.exitCode === 0 && command.artifacts.save.length > 0) {
        try {
          for (const note of await saveArtifacts(artifactContext, command.artifacts.save)) stepLog.system(note);
        } catch (error) {
          stepLog.line("stderr", `Saving artifacts failed: ${(error as Error).message}`);
          result = { ...result, exitCode: 1 };
        }
      }
    } catch (error) {
      stepLog.line("stderr", `The step could not run: ${(error as Error).message}`);
      result = { exitCode: 1, outputs: {} };
      log.warn({ err: error, key: command.key }, "step failed before or while running");
    } finally {
      if (execution.stopping) stepLog.system("The server is stopping: this attempt is reported lost");
      else stepLog.system(`Exited with code ${result.exitCode}`);
      await stepLog.close().catch((error: unknown) => log.error({ err: error }, "could not store the last log lines"));
      if (madeControlDir) await rm(controlDir, { recursive: true, force: true }).catch(() => {});
      if (!startedReported && !execution.stopping) await reportStarted("local").catch(() => {});
      const at = Date.now();
      const event = execution.stopping
        ? ({
            type: "step.lost",
            instance: command.instance,
            attempt: command.attempt,
            detail: "the server running it stopped",
            at,
          } as const)
        : ({
            type: "step.exited",
            instance: command.instance,
            attempt: command.attempt,
            exitCode: result.exitCode,
            outputs: result.outputs,
            at,
          } as const);
      if (execution.stopping) countStepLost("executor-stopped");
      await this.report(runId, event, command.key);
    }
  }

  /**
   * Reports the end of a step, retrying through database hiccups: an end never reported would
   * leave the step "running" for good. If it still fails, the heartbeat's check of this
   * executor's claims reports the attempt lost instead.
   */
  private async report(runId: string, event: RunEventInput, key: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.driver.apply(runId, event);
        return;
      } catch (error) {
        if ((error as { code?: string }).code === "NOT_FOUND" || attempt >= REPORT_ATTEMPTS || this.stopped) {
          log.error({ err: error, key }, "could not report the end of a step");
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)).unref());
      }
    }
  }

  private environment(
    command: StartStepCommand,
    info: RunInfo,
    workspace: string,
    outputFile: string,
    secrets: ReadonlyMap<string, string>,
  ): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of INHERITED) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    env.LANG ??= "C.UTF-8";
    Object.assign(env, {
      CI: "true",
      MICROSTACK: "true",
      MICROSTACK_RUN_ID: info.runId,
      MICROSTACK_RUN_NUMBER: String(info.number),
      MICROSTACK_PIPELINE: info.pipelineSlug,
      MICROSTACK_PROJECT: info.projectSlug,
      MICROSTACK_ORGANIZATION: info.organizationSlug,
      MICROSTACK_STEP: command.stepId,
      MICROSTACK_STEP_INSTANCE: command.instance,
      MICROSTACK_STEP_ATTEMPT: String(command.attempt),
      MICROSTACK_WORKSPACE: workspace,
      MICROSTACK_OUTPUT: outputFile,
      [STEP_KEY_VARIABLE]: command.key,
    });
    for (const [key, value] of Object.entries(command.matrix ?? {})) {
      env[`MICROSTACK_MATRIX_${key.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`] = String(value);
    }
    for (const [name, value] of Object.entries(command.env)) env[name] = substituteSecrets(value, secrets);
    return env;
  }

  private async readOutputs(
    file: string,
    command: StartStepCommand,
    stepLog: StepLog,
    masker: Masker,
  ): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return {};
    }
    if (text.length > MAX_OUTPUT_BYTES) {
      stepLog.line("stderr", `Outputs larger than ${MAX_OUTPUT_BYTES} bytes are ignored`);
      return {};
    }
    const { values, problems } = parseOutputFile(text);
    for (const problem of problems) stepLog.line("stderr", `Outputs: ${problem}`);
    // A `uses` step's outputs are declared by its kind (checkout: commit, ref), not by `outputs:`.
    const declared = new Set([...command.outputs, ...((command.uses && stepKinds.get(command.uses)?.outputs) || [])]);
    const outputs: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (!declared.has(name)) {
        stepLog.line("stderr", `Output ${name} is not declared in the step's outputs: ignored`);
        continue;
      }
      // An output never carries a secret into the run record.
      outputs[name] = masker.mask(value);
    }
    return outputs;
  }

  /** Kills a step this executor runs (cancel, timeout); false when it is not here. */
  kill(key: string): boolean {
    const execution = this.running.get(key);
    if (!execution) return false;
    execution.abort.abort();
    return true;
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      const alive = await heartbeatExecutor(this.options.db, this.id);
      if (!alive) {
        // Reaped as dead (a long stall): our steps were reported lost and may run elsewhere.
        log.warn({ executor: this.id }, "this executor was declared lost; stopping its steps");
        for (const execution of this.running.values()) {
          execution.stopping = true;
          execution.abort.abort();
        }
        await registerExecutor(this.options.db, { id: this.id, hostname: os.hostname(), pid: process.pid });
        return;
      }
      // Attempts the database says we run but we do not (their end could not be reported):
      // lost, so the engine can retry or fail them instead of waiting forever.
      for (const claim of await listLiveClaims(this.options.db, this.id)) {
        const key = `${claim.run_id}/${claim.instance}/${claim.attempt}`;
        if (this.running.has(key) || this.starting.has(key)) continue;
        countStepLost("executor-gone");
        await this.report(
          claim.run_id,
          {
            type: "step.lost",
            instance: claim.instance,
            attempt: claim.attempt,
            detail: "executor lost track of the step",
            at: Date.now(),
          },
          key,
        );
      }
      // A cancel whose notification did not reach us: the row says the attempt is over.
      const unwanted = await listUnwantedAttempts(
        this.options.db,
        [...this.running.values()].map(({ runId, idx, attempt }) => ({ runId, idx, attempt })),
      );
      for (const attempt of unwanted) {
        for (const execution of this.running.values()) {
          if (
            execution.runId === attempt.run_id &&
            execution.idx === attempt.idx &&
            execution.attempt === attempt.attempt
          ) {
            execution.abort.abort();
          }
        }
      }
    } catch (error) {
      log.warn({ err: error }, "executor heartbeat failed");
    }
  }

  /**
   * Stops taking steps; gives running ones `graceMs` to finish, then kills them and reports
   * them lost (their retry policy decides whether another replica runs them again).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const pending = [...this.running.values()];
    if (pending.length > 0) {
      const settled = Promise.all(pending.map((execution) => execution.done));
      const timedOut = await Promise.race([
        settled.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
      ]);
      if (timedOut) {
        for (const execution of this.running.values()) {
          execution.stopping = true;
          execution.abort.abort();
        }
        await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 7_000).unref())]);
      }
    }
    await removeExecutor(this.options.db, this.id).catch(() => {});
  }
}

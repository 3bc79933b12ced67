import "server-only";
import { type ChildProcess, type ForkOptions, fork } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, readFile, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";

// One step as a local child process: the script in a file, run by its shell in its own process
// group (so cancel and timeout kill the whole tree, not just the shell), stdout and stderr piped.
// The process is started by the spawner (spawner.mjs, a small child of this process that
// forks cheaply) and its output relayed from there.

const SHELLS: Record<string, { command: string; args: (file: string) => string[]; extension: string }> = {
  bash: { command: "bash", args: (file) => ["--noprofile", "--norc", "-eo", "pipefail", file], extension: "sh" },
  sh: { command: "sh", args: (file) => ["-e", file], extension: "sh" },
  python: { command: "python3", args: (file) => ["-u", file], extension: "py" },
  pwsh: {
    command: "pwsh",
    args: (file) => ["-NoLogo", "-NoProfile", "-NonInteractive", "-File", file],
    extension: "ps1",
  },
};

/**
 * Runs the step's shell under a watchdog. Its stdin is a pipe the server holds open and never
 * writes: when the server dies (even kill -9), the pipe reads end-of-file and the watchdog kills
 * the step's whole process group, so no step outlives the process that reports its result (a
 * step that kept running would finish unseen while the engine runs it again). POSIX sh.
 *
 * fd 4 is a pipe only the step's processes hold (the watchdog lets go of it): it reads
 * end-of-file once the step and everything it started are gone, including background processes
 * that redirected their output away from the step's stdout and stderr.
 */
const WATCHDOG = [
  "exec 3<&0 </dev/null",
  '"$@" 3<&- &',
  "step=$!",
  // cat, not read: read returns early when a signal interrupts it; cat only at end-of-file.
  "( cat <&3 >/dev/null; kill -KILL 0 ) 4>&- &",
  "watchdog=$!",
  "exec 4>&-",
  'wait "$step"',
  "code=$?",
  'kill "$watchdog" 2>/dev/null',
  'exit "$code"',
].join("\n");

/** The environment variable that marks a step's processes, so an orphan can be recognised. */
export const STEP_KEY_VARIABLE = "MICROSTACK_STEP_KEY";
const KILL_GRACE_MS = 5_000;

export interface ProcessSpec {
  shell: string | null;
  script: string;
  cwd: string;
  env: Record<string, string>;
  /** A private directory for the script file. */
  controlDir: string;
  /**
   * Called at once with the child's output streams, before anything else is awaited: a child
   * that exits quickly has its unread output discarded by Node (and the streams never end for
   * a reader that comes later).
   */
  attach(stdout: Readable, stderr: Readable): void;
}

export interface Exit {
  exitCode: number;
  signal: NodeJS.Signals | null;
}

export interface StepProcess {
  pid: number;
  exit: Promise<Exit>;
  /** Resolves once no process of the step is left (the shell and whatever it started). */
  released: Promise<void>;
  /** SIGTERM to the process group, SIGKILL after a grace period if it is still there. */
  kill(): void;
  /** Stops what the step left running in the background (its process group) and its pipes. */
  reap(): void;
}

export class MissingToolError extends Error {}

/** Where a command is on the step's PATH, or null. */
async function findOnPath(command: string, pathVariable: string | undefined): Promise<string | null> {
  for (const dir of (pathVariable ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export async function startProcess(spec: ProcessSpec): Promise<StepProcess> {
  const shell = SHELLS[spec.shell ?? "bash"] ?? (SHELLS.bash as (typeof SHELLS)["bash"]);
  if ((await findOnPath(shell.command, spec.env.PATH)) === null) {
    throw new MissingToolError(
      `${shell.command} is not installed on this executor (needed for shell: ${spec.shell ?? "bash"})`,
    );
  }
  const file = path.join(spec.controlDir, `script.${shell.extension}`);
  await writeFile(file, spec.script, { mode: 0o600 });
  const launched = spawner().launch(
    { command: "/bin/sh", args: ["-c", WATCHDOG, "microstack-step", shell.command, ...shell.args(file)] },
    spec.cwd,
    spec.env,
  );
  spec.attach(launched.stdout, launched.stderr);
  let pid: number;
  try {
    pid = await launched.spawned;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new MissingToolError(
        `${shell.command} is not installed on this executor (needed for shell: ${spec.shell ?? "bash"})`,
      );
    }
    throw error;
  }
  let killTimer: NodeJS.Timeout | undefined;
  const exit = launched.exit.then((raw) => {
    if (killTimer) clearTimeout(killTimer);
    // What a shell reports for a signal: 128 + its number.
    const exitCode = raw.code ?? (raw.signal ? 128 + (constants.signals[raw.signal] ?? 0) : 1);
    return { exitCode: Math.min(255, Math.max(0, exitCode)), signal: raw.signal };
  });
  return {
    pid,
    exit,
    released: launched.released,
    kill() {
      signalGroup(pid, "SIGTERM");
      killTimer ??= setTimeout(() => signalGroup(pid, "SIGKILL"), KILL_GRACE_MS);
      killTimer.unref();
    },
    reap() {
      signalGroup(pid, "SIGKILL");
      launched.reap();
    },
  };
}

// ---- The spawner: step processes are started by a small child process (spawner.mjs) ----

interface RawExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type FromSpawner =
  | { t: "ready" }
  | { t: "spawned"; id: number; pid: number }
  | { t: "error"; id: number; code: string | null; message: string }
  | { t: "data"; id: number; fd: 1 | 2; chunk: Uint8Array }
  | { t: "end"; id: number; fd: 1 | 2 }
  | { t: "exit"; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { t: "released"; id: number };

interface Launched {
  stdout: Readable;
  stderr: Readable;
  /** The pid, once the process runs. */
  spawned: Promise<number>;
  exit: Promise<RawExit>;
  released: Promise<void>;
  /** Stops relaying the step's output (its processes are killed by the caller). */
  reap(): void;
}

interface Relay {
  streams: { 1: Readable; 2: Readable };
  /** Bytes handed to the streams and not yet acknowledged to the spawner. */
  unacked: number;
  /** Of stdout's end, stderr's end and the release: how many are still to come. */
  pending: number;
  spawned(pid: number): void;
  failed(error: Error): void;
  exited(exit: RawExit): void;
  released(): void;
}

/** Acknowledged in batches; the spawner pauses a step more than a megabyte ahead. */
const ACK_BYTES = 256 * 1024;

class Spawner {
  private readonly child: ChildProcess;
  private readonly relays = new Map<number, Relay>();
  private nextId = 1;
  dead = false;

  constructor() {
    // Plain node (no loader, no inherited flags) and a bare environment: the steps get theirs
    // with each request.
    // Through Reflect.apply: Next's bundler traces fork() calls as module references, and this
    // file, which only the custom server runs, is also in its bundle (through service.ts).
    const options: ForkOptions = {
      execArgv: [],
      env: { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" } as unknown as NodeJS.ProcessEnv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    };
    this.child = Reflect.apply(fork, undefined, [path.join(import.meta.dirname, "spawner.mjs"), [], options]);
    this.child.on("message", (message: FromSpawner) => this.receive(message));
    this.child.on("error", () => {});
    this.child.once("exit", () => this.lost());
    this.idle();
  }

  launch(program: { command: string; args: string[] }, cwd: string, env: Record<string, string>): Launched {
    const id = this.nextId++;
    let spawned!: (pid: number) => void;
    let failed!: (error: Error) => void;
    let exited!: (exit: RawExit) => void;
    let released!: () => void;
    const started = new Promise<number>((resolve, reject) => {
      spawned = resolve;
      failed = reject;
    });
    const exit = new Promise<RawExit>((resolve) => {
      exited = resolve;
    });
    const gone = new Promise<void>((resolve) => {
      released = resolve;
    });
    const relay: Relay = {
      streams: { 1: this.stream(id), 2: this.stream(id) },
      unacked: 0,
      pending: 3,
      spawned,
      failed,
      exited,
      released,
    };
    this.relays.set(id, relay);
    this.child.channel?.ref();
    this.child.send({ t: "spawn", id, command: program.command, args: program.args, cwd, env });
    return {
      stdout: relay.streams[1],
      stderr: relay.streams[2],
      spawned: started,
      exit,
      released: gone,
      reap: () => {
        if (this.relays.get(id) !== relay) return;
        this.finish(id, relay);
        if (!this.dead) this.child.send({ t: "reap", id });
      },
    };
  }

  private stream(id: number): Readable {
    return new Readable({
      // The reader wants more: what it took is acknowledged, so a paused step goes on.
      read: () => {
        const relay = this.relays.get(id);
        if (relay && relay.unacked > 0) this.ack(id, relay);
      },
    });
  }

  private ack(id: number, relay: Relay): void {
    if (!this.dead) this.child.send({ t: "ack", id, bytes: relay.unacked });
    relay.unacked = 0;
  }

  private receive(message: FromSpawner): void {
    if (message.t === "ready") return;
    const relay = this.relays.get(message.id);
    if (!relay) return;
    switch (message.t) {
      case "spawned":
        relay.spawned(message.pid);
        break;
      case "error": {
        const error: NodeJS.ErrnoException = new Error(message.message);
        if (message.code !== null) error.code = message.code;
        relay.failed(error);
        relay.exited({ code: 127, signal: null });
        this.finish(message.id, relay);
        break;
      }
      case "data": {
        const chunk = Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength);
        relay.unacked += chunk.length;
        if (relay.streams[message.fd].push(chunk) && relay.unacked >= ACK_BYTES) this.ack(message.id, relay);
        break;
      }
      case "end":
        relay.streams[message.fd].push(null);
        if (--relay.pending === 0) this.finish(message.id, relay);
        break;
      case "exit":
        relay.exited({ code: message.code, signal: message.signal });
        break;
      case "released":
        relay.released();
        if (--relay.pending === 0) this.finish(message.id, relay);
        break;
    }
  }

  /** The step needs nothing more from the spawner (or cannot get it): its streams end here. */
  private finish(id: number, relay: Relay): void {
    this.relays.delete(id);
    for (const stream of [relay.streams[1], relay.streams[2]]) if (!stream.readableEnded) stream.push(null);
    relay.released();
    this.idle();
  }

  /** Nothing running: the spawner does not keep the server's process alive. */
  private idle(): void {
    if (this.relays.size === 0) this.child.channel?.unref();
  }

  /**
   * The spawner died: the steps' stdin pipes closed with it, so their watchdogs killed them.
   * Each is reported as killed; the next step starts a new spawner.
   */
  private lost(): void {
    this.dead = true;
    if (current === this) current = undefined;
    for (const [id, relay] of this.relays) {
      relay.failed(new Error("the process that starts steps stopped"));
      relay.exited({ code: null, signal: "SIGKILL" });
      this.finish(id, relay);
    }
  }
}

let current: Spawner | undefined;

/** The process's spawner, started on first use (and again if it died). */
export function spawner(): Spawner {
  if (current === undefined || current.dead) current = new Spawner();
  return current;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Kills the process group of a step left behind by a server that died (kill -9): only if that
 * process still carries the step's key, so a recycled pid is never hit. Linux only (/proc).
 */
export async function killOrphan(pid: number, stepKey: string): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8");
    if (!environ.split("\0").includes(`${STEP_KEY_VARIABLE}=${stepKey}`)) return false;
  } catch {
    return false;
  }
  signalGroup(pid, "SIGKILL");
  return true;
}

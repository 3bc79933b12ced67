import "server-only";
import { type ChildProcess, spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, readFile, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";

// One step as a local child process: the script in a file, run by its shell in its own process
// group (so cancel and timeout kill the whole tree, not just the shell), stdout and stderr piped.

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
  child: ChildProcess;
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
  const child = spawn("/bin/sh", ["-c", WATCHDOG, "microstack-step", shell.command, ...shell.args(file)], {
    cwd: spec.cwd,
    // The step's own environment only (typed as ProcessEnv, which Next augments with NODE_ENV).
    env: spec.env as unknown as NodeJS.ProcessEnv,
    detached: true,
    stdio: ["pipe", "pipe", "pipe", "ignore", "pipe"],
  });
  // All piped (see stdio above): none of these is null.
  const [stdin, stdout, stderr] = [child.stdin as Writable, child.stdout as Readable, child.stderr as Readable];
  // Held open for the life of this process; never written.
  stdin.on("error", () => {});
  spec.attach(stdout, stderr);
  const liveness = child.stdio[4] as Readable;
  liveness.resume();
  const released = finished(liveness).catch(() => {});
  const spawned = await new Promise<{ ok: true } | { ok: false; error: NodeJS.ErrnoException }>((resolve) => {
    child.once("spawn", () => resolve({ ok: true }));
    child.once("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, error }));
  });
  if (!spawned.ok) {
    if (spawned.error.code === "ENOENT") {
      throw new MissingToolError(
        `${shell.command} is not installed on this executor (needed for shell: ${spec.shell ?? "bash"})`,
      );
    }
    throw spawned.error;
  }
  const pid = child.pid as number;
  let killTimer: NodeJS.Timeout | undefined;
  // "exit", not "close": a background process the step started may keep the pipes open.
  const exit = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      // The watchdog's job is done: let its reader see end-of-file and go away.
      stdin.end();
      // What a shell reports for a signal: 128 + its number.
      const exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
      resolve({ exitCode: Math.min(255, Math.max(0, exitCode)), signal });
    });
  });
  return {
    pid,
    child,
    exit,
    released,
    kill() {
      signalGroup(pid, "SIGTERM");
      killTimer ??= setTimeout(() => signalGroup(pid, "SIGKILL"), KILL_GRACE_MS);
      killTimer.unref();
    },
    reap() {
      signalGroup(pid, "SIGKILL");
      child.stdout?.destroy();
      child.stderr?.destroy();
      liveness.destroy();
    },
  };
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

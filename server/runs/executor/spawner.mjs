// The process that starts step processes for the server (local-process.ts forks it once).
//
// Starting a process forks its parent, and fork copies the parent's page tables: from a server
// holding hundreds of megabytes that costs 20-60 ms of blocked event loop per step on this kind
// of machine, while this process, holding a few dozen, forks in a few. So the server asks here,
// over its IPC channel, and this process spawns, watches and relays: the children's stdout and
// stderr as chunks (paused while the server is more than HIGH_WATER bytes behind), their start,
// exit and release (fd 4 reads end-of-file once no process of the step is left).
//
// The children's stdin is a pipe held here and never written: the step's watchdog (see
// local-process.ts) kills the step's process group when it reads end-of-file, and it does when
// this process ends, which it does as soon as the server's channel closes (even after kill -9).
//
// Plain JavaScript: it runs without the server's TypeScript loader, so it stays small.
import { spawn } from "node:child_process";

const HIGH_WATER = 1024 * 1024;

/** @type {Map<number, { child: import("node:child_process").ChildProcess, inflight: number, paused: boolean }>} */
const steps = new Map();

function send(message) {
  if (process.connected) process.send(message);
}

function start({ id, command, args, cwd, env }) {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ["pipe", "pipe", "pipe", "ignore", "pipe"] });
  const step = { child, inflight: 0, paused: false };
  steps.set(id, step);
  child.stdin.on("error", () => {});
  let open = 4;
  const done = () => {
    if (--open === 0) steps.delete(id);
  };
  for (const fd of [1, 2]) {
    const stream = child.stdio[fd];
    stream.on("data", (chunk) => {
      send({ t: "data", id, fd, chunk });
      step.inflight += chunk.length;
      if (!step.paused && step.inflight > HIGH_WATER) {
        step.paused = true;
        child.stdout.pause();
        child.stderr.pause();
      }
    });
    stream.once("close", () => {
      send({ t: "end", id, fd });
      done();
    });
    stream.on("error", () => {});
  }
  const liveness = child.stdio[4];
  liveness.on("error", () => {});
  liveness.once("close", () => {
    send({ t: "released", id });
    done();
  });
  liveness.resume();
  child.once("spawn", () => send({ t: "spawned", id, pid: child.pid }));
  child.once("error", (error) => {
    send({ t: "error", id, code: error.code ?? null, message: error.message });
    steps.delete(id);
  });
  child.once("exit", (code, signal) => {
    // The watchdog's job is done: let its reader see end-of-file and go away.
    child.stdin.end();
    send({ t: "exit", id, code, signal });
    done();
  });
}

process.on("message", (message) => {
  switch (message.t) {
    case "spawn":
      start(message);
      break;
    case "ack": {
      const step = steps.get(message.id);
      if (!step) break;
      step.inflight -= message.bytes;
      if (step.paused && step.inflight <= HIGH_WATER / 2) {
        step.paused = false;
        step.child.stdout.resume();
        step.child.stderr.resume();
      }
      break;
    }
    case "reap": {
      const step = steps.get(message.id);
      if (!step) break;
      steps.delete(message.id);
      step.child.stdout.destroy();
      step.child.stderr.destroy();
      step.child.stdio[4].destroy();
      break;
    }
  }
});

// The server is gone (or let go of us): so are the steps' stdin pipes, and with them the steps.
process.on("disconnect", () => process.exit(0));
send({ t: "ready" });

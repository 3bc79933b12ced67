import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { encode } from "next-auth/jwt";
import { io as connectSocket, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, it } from "vitest";
import { resetEnvCache } from "@/server/env";
import type { ClientToServerEvents, ServerToClientEvents } from "@/server/realtime/events";
import { attachRealtime, type RealtimeServer } from "@/server/realtime/socket-server";
import { registerRunSocketHandlers } from "./realtime";
import type { LogLinesEvent, RunUpdatedEvent, SubscribeAck } from "./schema";
import { getRun, runManualStep, startRun } from "./service";
import { createRunsFixture, type RunsFixture, savePipeline, stepOf } from "./test-support";
import { runWhenDone, stepReaches } from "./test-waits";

// Live run updates over socket.io as the browser gets them: a real HTTP server with the
// project's own realtime wiring, a client authenticated by a next-auth session cookie, run
// updates as steps change, another tenant refused, and a step's log followed line by line while
// it prints, across a reconnect, with the write-to-receipt latency measured.
//
// On PostgreSQL only: what is tested here sits above the database (socket.io, subscriptions,
// the order of stored and live lines), log storage is tested on both databases in
// logs.int.test.ts, and starting PGlite in this test process would cost more than the rest of
// the file. PostgreSQL's pool is also where a line's write and a subscriber's read run on
// different connections, which lets live lines overtake stored ones unless the subscription
// holds them back.

const AUTH_SECRET = "live-runs-test-auth-secret-0123456789abcdef";
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Actor = RunsFixture["actors"]["admin"];

/** 5,000 lines over about 2 s, each with the time it was written (epoch seconds, microseconds). */
const EMITTER = `name: emitter
steps:
  - id: emit
    run: |
      for i in $(seq 1 5000); do
        printf '%d %s\\n' "$i" "$EPOCHREALTIME"
        if [ $((i % 100)) -eq 0 ]; then sleep 0.04; fi
      done
`;

interface Received {
  seq: number;
  text: string;
  stream: string;
  at: number;
}

let previousSecret: string | undefined;

beforeAll(() => {
  previousSecret = process.env.AUTH_SECRET;
  process.env.AUTH_SECRET = AUTH_SECRET;
  resetEnvCache();
  // Once per process, as the app server does: handlers apply to every server attached later.
  registerRunSocketHandlers();
});
afterAll(() => {
  if (previousSecret === undefined) delete process.env.AUTH_SECRET;
  else process.env.AUTH_SECRET = previousSecret;
  resetEnvCache();
});

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

describe.each(["postgres"] as const)("live run updates on %s", (kind) => {
  let fixture: RunsFixture;
  let server: Server;
  let io: RealtimeServer;
  let url: string;
  const clients: Client[] = [];

  async function connect(actor: Actor | null): Promise<Client> {
    const cookie = actor
      ? `next-auth.session-token=${await encode({ token: { sub: actor.id, email: actor.email }, secret: AUTH_SECRET })}`
      : undefined;
    const socket: Client = connectSocket(url, {
      path: "/socket.io",
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      ...(cookie ? { extraHeaders: { cookie } } : {}),
    });
    clients.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return socket;
  }

  function subscribeRun(socket: Client, runId: string): Promise<SubscribeAck> {
    return socket.timeout(10_000).emitWithAck("runs:subscribe", { runId });
  }

  function subscribeLog(socket: Client, runId: string, after: number) {
    return socket.timeout(10_000).emitWithAck("logs:subscribe", { runId, step: "emit", attempt: 1, after });
  }

  /** Records every log line the socket receives, in arrival order. */
  function recordLines(socket: Client): Received[] {
    const received: Received[] = [];
    socket.on("log:lines", (event: LogLinesEvent) => {
      const at = Date.now();
      for (const line of event.lines) received.push({ seq: line.seq, text: line.text, stream: line.stream, at });
    });
    return received;
  }

  async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  beforeAll(async () => {
    fixture = await createRunsFixture(kind);
    server = createServer((_req, res) => res.writeHead(404).end());
    io = attachRealtime(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const socket of clients) socket.disconnect();
    await io?.close();
    await fixture?.close();
  });

  describe.concurrent("over socket.io", { timeout: 90_000 }, () => {
    it("refuses a connection without a session", async ({ expect }) => {
      await expect(connect(null)).rejects.toThrow("UNAUTHORIZED");
    });

    it("sends run:updated as the steps of a subscribed run change", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: watched
steps:
  - id: go
    manual: true
  - id: build
    needs: go
    run: echo built
  - id: test
    needs: build
    run: echo tested
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      await stepReaches(fixture, run.id, "go", (step) => step.status === "waiting");

      const socket = await connect(actors.developer);
      const events: RunUpdatedEvent[] = [];
      socket.on("run:updated", (event) => events.push(event));
      expect(await subscribeRun(socket, run.id)).toEqual({ ok: true });
      expect(events).toEqual([]);

      await runManualStep(actors.maintainer, run.id, { step: "go" });
      await until("the run to finish live", () => events.some((event) => event.finishedAt !== null));
      expect(events.every((event) => event.runId === run.id)).toBe(true);
      // In commit order: versions only go up.
      expect(events.every((event, i) => i === 0 || event.version > (events[i - 1] as RunUpdatedEvent).version)).toBe(
        true,
      );
      const changes = events.flatMap((event) => event.steps.map((step) => `${step.id}:${step.status}`));
      for (const step of ["build", "test"]) {
        expect(changes.indexOf(`${step}:running`)).toBeGreaterThanOrEqual(0);
        expect(changes.indexOf(`${step}:succeeded`)).toBeGreaterThan(changes.indexOf(`${step}:running`));
      }
      expect(changes.indexOf("go:succeeded")).toBeLessThan(changes.indexOf("build:running"));
      expect(changes.indexOf("build:succeeded")).toBeLessThan(changes.indexOf("test:running"));
      const last = events.at(-1) as RunUpdatedEvent;
      expect(last).toMatchObject({ status: "succeeded", phase: "done" });
      // What arrived live is what the API says.
      const detail = await getRun(actors.developer, run.id);
      expect(last.version).toBe(detail.version);
      const test = last.steps.find((step) => step.id === "test");
      expect(test).toEqual({
        id: "test",
        status: "succeeded",
        attempt: 1,
        waitingFor: null,
        reason: null,
        exitCode: 0,
        startedAt: stepOf(detail, "test").startedAt,
        finishedAt: stepOf(detail, "test").finishedAt,
      });
    });

    it("answers NOT_FOUND to a user of another organization and sends them nothing", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: private\nsteps:\n  - id: emit\n    run: for i in 1 2 3; do echo "line $i"; sleep 0.1; done\n`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const outsider = await connect(actors.globex);
      const leaked: string[] = [];
      outsider.on("run:updated", () => leaked.push("run:updated"));
      outsider.on("log:lines", () => leaked.push("log:lines"));
      expect(await subscribeRun(outsider, run.id)).toMatchObject({ ok: false, code: "NOT_FOUND" });
      expect(await subscribeLog(outsider, run.id, 0)).toMatchObject({ ok: false, code: "NOT_FOUND" });
      await runWhenDone(fixture, actors.developer, run.id);
      // A round trip after the run finished: anything emitted to this socket has arrived by now.
      await outsider.timeout(5_000).emitWithAck("ping");
      expect(leaked).toEqual([]);
    });

    it("streams every line of a step in order while it prints, to the first subscriber and to latecomers", async ({
      expect,
    }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(fixture, EMITTER);

      // Follow a step from its first line; others join while it prints, from its first line too
      // (their backlog is read while new lines are being stored and published).
      const run = await startRun(actors.developer, pipelineId, {});
      const socket = await connect(actors.developer);
      const received = recordLines(socket);
      const ack = await subscribeLog(socket, run.id, 0);
      expect(ack).toMatchObject({ ok: true });
      const isLast = (line: Received) => line.text.startsWith("Exited with code");
      const latecomers: Received[][] = [];
      while (!received.some(isLast)) {
        await new Promise((resolve) => setTimeout(resolve, 80));
        if (received.length < 100 || received.some(isLast)) continue;
        const late = await connect(actors.developer);
        latecomers.push(recordLines(late));
        expect(await subscribeLog(late, run.id, 0)).toMatchObject({ ok: true });
      }
      await until("the step's last line everywhere", () => latecomers.every((got) => got.some(isLast)));
      expect(latecomers.length).toBeGreaterThanOrEqual(2);
      for (const got of latecomers) {
        // The backlog first, then live lines: in order, no gap, nothing twice.
        expect(got.map((line) => line.seq)).toEqual(got.map((_, i) => i + 1));
      }
      // Every line, in order, with no gap and nothing twice; the step's output as it printed it.
      expect(received.map((line) => line.seq)).toEqual(received.map((_, i) => i + 1));
      const output = received.filter((line) => line.stream === "stdout");
      expect(output.map((line) => Number(line.text.split(" ")[0]))).toEqual(output.map((_, i) => i + 1));
      expect(output).toHaveLength(5_000);
      expect(received.at(-1)?.text).toBe("Exited with code 0");

      // Latency of the lines that arrived live (after the backlog the subscription sent).
      const backlogUpTo = (ack as { lastSeq?: number }).lastSeq ?? 0;
      const written = (line: Received) => Number(line.text.split(" ")[1]) * 1_000;
      const live = output.filter((line) => line.seq > backlogUpTo);
      const latencies = live.map((line) => line.at - written(line)).sort((a, b) => a - b);
      expect(live.length).toBeGreaterThan(1_000);
      console.log(
        `[live ${kind}] ${live.length} lines live: write-to-receipt p50 ${percentile(latencies, 50).toFixed(0)} ms, ` +
          `p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${(latencies.at(-1) as number).toFixed(0)} ms`,
      );
      // Streamed, not delivered at the end: the first live line arrived long before the last was written.
      expect((live[0] as Received).at).toBeLessThan(written(output.at(-1) as Received) - 500);
    });

    it("resumes after a reconnect from the last line received: every line exactly once", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(fixture, EMITTER);
      // Disconnect in the middle, reconnect, resume after the last line received; several times,
      // so that some resumes land while a chunk of lines is being stored and published.
      const second = await startRun(actors.developer, pipelineId, {});
      const sessions: Received[][] = [];
      let lastSeq = 0;
      for (let k = 0; ; k++) {
        const socket = await connect(actors.developer);
        const got = recordLines(socket);
        sessions.push(got);
        expect(await subscribeLog(socket, second.id, lastSeq)).toMatchObject({ ok: true });
        const finished = () => got.some((line) => line.text.startsWith("Exited with code"));
        if (k < 6) await until("more lines", () => finished() || got.length >= 400);
        else await until("the step's last line", finished);
        socket.disconnect();
        // Each session on its own: the backlog first, then live lines, in order, nothing twice.
        expect(got.map((line) => line.seq)).toEqual(got.map((_, i) => lastSeq + i + 1));
        lastSeq = got.at(-1)?.seq ?? lastSeq;
        if (finished()) break;
        // Lines go on being written while nobody listens.
        await new Promise((resolve) => setTimeout(resolve, 50 + 40 * k));
      }
      // At least one disconnect happened in the middle of the step's output.
      expect(sessions.length).toBeGreaterThanOrEqual(2);
      const union = sessions
        .flat()
        .map((line) => line.seq)
        .sort((a, b) => a - b);
      expect(union).toEqual(union.map((_, i) => i + 1));
      expect(sessions.flat().filter((line) => line.stream === "stdout")).toHaveLength(5_000);
    });
  });
});

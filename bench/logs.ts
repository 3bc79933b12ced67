// Step log ingestion and live delivery (server/runs/logs.ts + realtime.ts), end to end:
//   npm run bench:logs                PostgreSQL at TEST_PG_ADMIN_URL (a database of its own)
//   npm run bench:logs -- --pglite    the embedded database
//   options: --lines 1000000 --rate 50000 --seconds 10
// A real step (a child process on the local executor) prints lines; they are split, masked,
// sequenced and stored in chunks, then published to a socket.io client subscribed to the step's
// log over a real HTTP server with a session cookie.
//   A. throughput: `lines` lines as fast as the process can print them: lines stored per second
//      (first line written to last line stored).
//   B. live delivery at `rate` lines/s for `seconds`: each line carries the time it was written;
//      the client measures write-to-receipt latency (p50/p99) and checks every sequence number
//      arrived once, in order.
// The last line is one JSON object with the figures.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { encode } from "next-auth/jwt";
import { io as connectSocket } from "socket.io-client";

process.env.AUTH_SECRET ??= randomBytes(32).toString("base64url");

const { values } = parseArgs({
  options: {
    pglite: { type: "boolean", default: false },
    lines: { type: "string", default: "1000000" },
    rate: { type: "string", default: "50000" },
    seconds: { type: "string", default: "10" },
  },
});
const LINES = Number(values.lines);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** A generator: prints `total` lines of ~100 characters at `rate` per second (0: flat out). */
const GENERATOR = `
const total = Number(process.argv[2]), rate = Number(process.argv[3]), batch = 500;
const pad = "x".repeat(60);
let n = 0; const start = Date.now();
function tick() {
  while (n < total) {
    if (rate > 0 && n >= ((Date.now() - start) / 1000) * rate) return setTimeout(tick, 2);
    let chunk = "";
    const t = Date.now();
    for (let k = 0; k < batch && n < total; k++) { n++; chunk += "t=" + t + " n=" + n + " " + pad + "\\n"; }
    if (!process.stdout.write(chunk)) return process.stdout.once("drain", tick);
  }
}
tick();
`;

async function main(): Promise<void> {
  const { seedDemoData } = await import("@/prisma/seed");
  const { getActorById } = await import("@/server/auth/service");
  const { stopAuthzRuntime } = await import("@/server/authz/runtime");
  const { createDatabase, setDatabase } = await import("@/server/db");
  const { getAuthSecret } = await import("@/server/env");
  const { applyMigrations } = await import("@/server/migrations/migrator");
  const { createPipeline } = await import("@/server/pipelines/service");
  const { attachRealtime } = await import("@/server/realtime/socket-server");
  const { registerRunSocketHandlers } = await import("@/server/runs/realtime");
  const { startRunsRuntime, stopRunsRuntime } = await import("@/server/runs/runtime");
  const { getRun, startRun } = await import("@/server/runs/service");
  const { createEmptyPostgresDatabase } = await import("@/test/db");

  const kind = values.pglite ? "pglite" : "postgres";
  let drop: () => Promise<void> = async () => {};
  let db: Awaited<ReturnType<typeof createDatabase>>;
  if (kind === "postgres") {
    const empty = await createEmptyPostgresDatabase();
    db = await createDatabase({ kind: "postgres", url: empty.url, poolMax: 10 });
    drop = empty.drop;
  } else {
    db = await createDatabase({ kind: "pglite" });
  }
  await applyMigrations(db);
  setDatabase(db);
  await seedDemoData(db.prisma, { password: "bench-logs-password" });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "microstack-bench-logs-"));
  const generatorFile = path.join(dataDir, "generator.cjs");
  await writeFile(generatorFile, GENERATOR);
  await startRunsRuntime({
    db,
    dataDir,
    executorConcurrency: 4,
    leaseSeconds: 30,
    maxLogBytes: 4 * 1024 ** 3,
    logRetentionDays: 30,
  });
  const server = createServer((_req, res) => res.writeHead(404).end());
  attachRealtime(server);
  registerRunSocketHandlers();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const users = await db.prisma.user.findMany();
  const developer = await getActorById(users.find((user) => user.email.startsWith("developer@"))?.id ?? "");
  const maintainer = await getActorById(users.find((user) => user.email.startsWith("maintainer@"))?.id ?? "");
  if (!developer || !maintainer) throw new Error("demo users missing");
  const cookie = `next-auth.session-token=${await encode({ token: { sub: developer.id }, secret: getAuthSecret() })}`;
  console.log(`bench:logs on ${kind}, ${os.cpus().length} cores, Node ${process.version}`);

  async function follow(lines: number, rate: number) {
    const pipeline = await createPipeline(maintainer as NonNullable<typeof maintainer>, "acme", "storefront", {
      slug: `bench-logs-${randomBytes(3).toString("hex")}`,
      yaml: `name: bench-logs\nsteps:\n  - id: gen\n    run: '"${process.execPath}" "${generatorFile}" ${lines} ${rate}'\n`,
    });
    const socket = connectSocket(`http://127.0.0.1:${port}`, {
      path: "/socket.io",
      transports: ["websocket"],
      extraHeaders: { cookie },
    });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("connect_error", reject));
    const latencies: number[] = [];
    let expected = 1;
    let outOfOrder = 0;
    let firstWrite = 0;
    let lastReceived = 0;
    const seen = new Set<number>();
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    let genLines = 0;
    socket.on("log:lines", (event) => {
      const now = Date.now();
      for (const line of event.lines) {
        if (seen.has(line.seq)) continue;
        seen.add(line.seq);
        if (line.seq !== expected) outOfOrder++;
        expected = line.seq + 1;
        const match = /^t=(\d+) n=(\d+)/.exec(line.text);
        if (match) {
          const written = Number(match[1]);
          if (firstWrite === 0) firstWrite = written;
          latencies.push(now - written);
          genLines++;
          lastReceived = now;
          if (genLines === lines) resolveDone();
        }
      }
    });
    const run = await startRun(developer as NonNullable<typeof developer>, pipeline.id, {});
    const ack = await socket.emitWithAck("logs:subscribe", { runId: run.id, step: "gen", attempt: 1, after: 0 });
    if (!ack.ok) throw new Error(`subscribe failed: ${ack.message}`);
    const timeout = setTimeout(resolveDone, Math.max(120_000, (lines / Math.max(rate, 20_000)) * 5_000));
    await done;
    clearTimeout(timeout);
    // Stored, as the API reads them: how long until the last line is in the database.
    let storedAt = Date.now();
    for (;;) {
      const [row] = await db.query<{ last: number | null }>(
        `SELECT max(last_seq) AS last FROM run_log_chunks WHERE run_id = $1`,
        [run.id],
      );
      if ((row?.last ?? 0) >= lines) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
      storedAt = Date.now();
    }
    socket.close();
    for (let i = 0; i < 200; i++) {
      if ((await getRun(developer as NonNullable<typeof developer>, run.id)).status === "succeeded") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    latencies.sort((a, b) => a - b);
    return {
      received: genLines,
      outOfOrder,
      seconds: (Math.max(lastReceived, storedAt) - firstWrite) / 1_000,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  }

  const a = await follow(LINES, 0);
  const linesPerS = a.received / a.seconds;
  console.log(
    `A. ${a.received} lines flat out: ${round(a.seconds, 2)} s, ${Math.round(linesPerS)} lines/s stored and delivered; ` +
      `live p50 ${a.p50} ms, p99 ${a.p99} ms (queueing included), ${a.outOfOrder} out of order`,
  );
  const b = await follow(RATE * SECONDS, RATE);
  console.log(
    `B. ${b.received} lines at ${RATE}/s: live delivery p50 ${b.p50} ms, p99 ${b.p99} ms, ${b.outOfOrder} out of order`,
  );

  await stopRunsRuntime();
  await stopAuthzRuntime();
  await new Promise((resolve) => server.close(resolve));
  await db.close();
  await drop();
  await rm(dataDir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      bench: "logs",
      db: kind,
      lines_per_s: Math.round(linesPerS),
      live_p50_ms: b.p50,
      live_p99_ms: b.p99,
      live_rate_lines_per_s: RATE,
      flat_out_lines: a.received,
      flat_out_live_p99_ms: a.p99,
      out_of_order: a.outOfOrder + b.outOfOrder,
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

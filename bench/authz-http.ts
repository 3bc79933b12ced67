// Loopback latency of the OPA-compatible Data API (server/authz/opa-http.ts): POST
// /v1/data/microstack/allow over a keep-alive connection, one request in flight, against an
// in-process HTTP server on an in-memory PGlite with the seeded demo data.
//   npm run bench:authz-http [-- --requests 50000] [-- --decision-log off]
// (= node --import tsx --import ./scripts/hooks/register.mjs bench/authz-http.ts)
//
// The server runs on the main thread the way start.ts mounts the handler: request id, route
// template, request context and the request-duration metric around it (the per-request pino line
// is left out: at this rate it would measure the terminal). The decision log is on and writes to
// the audit module's table, as in production. Two clients, each in a worker thread so it does not
// share the server's event loop (a sidecar is another process):
//   raw    a socket writing prepared requests and reading Content-Length framed answers: what
//          the server adds, plus the loopback.
//   http   node:http with a keep-alive agent, as a Node OPA client would call it.
// Requests rotate over demo users and actions (allowed and denied). Goals (the issue): p50 at
// most 100 us and p99 at most 1 ms. The last line printed is one JSON object.
import { createServer, request as httpRequest, Agent } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

interface ClientJob {
  port: number;
  token: string;
  bodies: string[];
  requests: number;
  warmup: number;
  kind: "raw" | "http";
}

interface ClientResult {
  kind: string;
  latenciesUs: Float64Array;
  seconds: number;
  allowed: number;
}

const PATH = "/v1/data/microstack/allow";

// ---- Client (worker thread) ----

async function runRawClient(job: ClientJob): Promise<ClientResult> {
  const socket = connect(job.port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const requests = job.bodies.map((body) =>
    Buffer.from(
      `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${job.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    ),
  );
  const total = job.warmup + job.requests;
  const latenciesUs = new Float64Array(job.requests);
  let allowed = 0;
  let pending: Buffer = Buffer.alloc(0);
  let sent = 0;
  let started = 0n;
  let measureStart = 0n;
  return new Promise((resolve, reject) => {
    const sendNext = () => {
      started = process.hrtime.bigint();
      socket.write(requests[sent % requests.length] as Buffer);
    };
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const headerEnd = pending.indexOf("\r\n\r\n");
      if (headerEnd === -1) return;
      const head = pending.subarray(0, headerEnd).toString("latin1");
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
      if (pending.length < headerEnd + 4 + length) return;
      const elapsed = process.hrtime.bigint() - started;
      if (!head.startsWith("HTTP/1.1 200")) {
        reject(new Error(`unexpected answer: ${pending.toString("utf8")}`));
        return;
      }
      const body = pending.subarray(headerEnd + 4, headerEnd + 4 + length).toString("utf8");
      pending = pending.subarray(headerEnd + 4 + length);
      if (sent >= job.warmup) {
        latenciesUs[sent - job.warmup] = Number(elapsed) / 1_000;
        if (body.startsWith('{"result":true')) allowed++;
      }
      sent++;
      if (sent === job.warmup) measureStart = process.hrtime.bigint();
      if (sent === total) {
        const seconds = Number(process.hrtime.bigint() - measureStart) / 1e9;
        socket.end();
        resolve({ kind: "raw", latenciesUs, seconds, allowed });
        return;
      }
      sendNext();
    });
    sendNext();
  });
}

async function runHttpClient(job: ClientJob): Promise<ClientResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latenciesUs = new Float64Array(job.requests);
  let allowed = 0;
  let measureStart = 0n;
  const once = (body: string) =>
    new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port: job.port,
          path: PATH,
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${job.token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(text))));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  for (let i = 0; i < job.warmup + job.requests; i++) {
    if (i === job.warmup) measureStart = process.hrtime.bigint();
    const started = process.hrtime.bigint();
    const text = await once(job.bodies[i % job.bodies.length] as string);
    const elapsed = process.hrtime.bigint() - started;
    if (i >= job.warmup) {
      latenciesUs[i - job.warmup] = Number(elapsed) / 1_000;
      if (text.startsWith('{"result":true')) allowed++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - measureStart) / 1e9;
  agent.destroy();
  return { kind: "http", latenciesUs, seconds, allowed };
}

if (!isMainThread) {
  const job = workerData as ClientJob;
  const result = await (job.kind === "raw" ? runRawClient(job) : runHttpClient(job));
  parentPort?.postMessage(result, [result.latenciesUs.buffer as ArrayBuffer]);
}

// ---- Server and report (main thread) ----

function summarize(result: ClientResult) {
  const sorted = Float64Array.from(result.latenciesUs).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    p50_us: round(at(0.5)),
    p90_us: round(at(0.9)),
    p99_us: round(at(0.99)),
    p999_us: round(at(0.999)),
    max_us: round(sorted[sorted.length - 1] as number),
    mean_us: round(mean),
    requests_per_second: Math.round(sorted.length / result.seconds),
    allowed: result.allowed,
  };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      requests: { type: "string", default: "50000" },
      warmup: { type: "string", default: "10000" },
      "decision-log": { type: "string", default: "all" },
    },
  });
  const requests = Number(args.requests);
  const warmup = Number(args.warmup);
  const decisionLogMode = args["decision-log"] === "off" ? "off" : "all";
  const token = "bench-authz-http-token-0123456789abcdef";
  process.env.LOG_LEVEL ??= "warn";
  process.env.MICROSTACK_AUTHZ_API_TOKEN = token;

  // Loaded after the environment is set: the logger and env read it once.
  const [
    { seedDemoData },
    { createDatabase, setDatabase },
    { applyMigrations },
    { recordAuthzDecisions },
    { getDecisionLogStats },
    { createOpaHandler, matchOpaRoute },
    { startAuthz, stopAuthz },
    { observeRequest },
    { requestIdFrom, runWithRequestContext, REQUEST_ID_HEADER },
  ] = await Promise.all([
    import("@/prisma/seed"),
    import("@/server/db"),
    import("@/server/migrations/migrator"),
    import("@/server/audit/service"),
    import("@/server/authz/decision-log"),
    import("@/server/authz/opa-http"),
    import("@/server/authz/service"),
    import("@/server/observability/metrics"),
    import("@/server/observability/request-context"),
  ]);

  const db = await createDatabase({ kind: "pglite" });
  await applyMigrations(db);
  setDatabase(db);
  await seedDemoData(db.prisma, { password: "bench-authz-http-password" });
  await startAuthz({
    decisionLog: {
      mode: decisionLogMode,
      sampleRate: 1,
      sink: (entries) => recordAuthzDecisions(entries, { retentionDays: 30 }),
    },
  });

  const ids = new Map<string, string>();
  for (const user of await db.prisma.user.findMany()) ids.set(user.email.split("@")[0] as string, user.id);
  const acme = await db.prisma.organization.findUniqueOrThrow({ where: { slug: "acme" } });
  const projects = await db.prisma.project.findMany({ where: { organizationId: acme.id } });
  const bodies: string[] = [];
  for (const user of ["admin", "maintainer", "developer", "approver", "viewer"]) {
    for (const project of projects) {
      for (const action of ["pipeline:run", "pipeline:read", "deployment:approve", "audit:read"]) {
        const type = action.slice(0, action.indexOf(":"));
        bodies.push(
          JSON.stringify({
            input: {
              principal: { type: "user", id: ids.get(user) },
              action,
              resource: { type, organizationId: acme.id, projectId: project.id, environment: "staging" },
            },
          }),
        );
      }
    }
  }

  // As start.ts mounts it (minus the log line): request id, route label, context, metric.
  const handleOpa = createOpaHandler({ apiToken: token, decisionLogging: decisionLogMode !== "off" });
  const server = createServer((req, res) => {
    const started = performance.now();
    const requestId = requestIdFrom(req.headers);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const method = req.method ?? "GET";
    const route = matchOpaRoute(method, req.url ?? "/", req.headers)?.template ?? "unmatched";
    res.once("close", () => {
      observeRequest({ route, method, status: res.statusCode, durationMs: performance.now() - started });
    });
    runWithRequestContext({ requestId, route }, () => {
      if (!handleOpa(req, res)) {
        res.statusCode = 404;
        res.end();
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const run = (kind: ClientJob["kind"]) =>
    new Promise<ClientResult>((resolve, reject) => {
      const job: ClientJob = { port, token, bodies, requests, warmup, kind };
      // The worker registers tsx itself: Node 20 does not apply --import loaders to workers.
      const bootstrap = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
      const worker = new Worker(bootstrap, { eval: true, workerData: job, execArgv: [] });
      worker.once("message", resolve);
      worker.once("error", reject);
    });

  // Where the tail comes from: how long the server's event loop was blocked (the decision log's
  // sink writes to PGlite, which runs on this thread) versus neighbours on a shared machine.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const raw = summarize(await run("raw"));
  const http = summarize(await run("http"));
  loopDelay.disable();
  const loopMaxMs = Math.round(loopDelay.max / 1e5) / 10;
  const loopP99Ms = Math.round(loopDelay.percentile(99) / 1e5) / 10;
  const log = getDecisionLogStats();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await stopAuthz();
  await db.close();

  const goal = { p50_us: 100, p99_us: 1_000 };
  const lines = [
    `OPA-compatible API, POST ${PATH}, keep-alive, one request in flight, ${requests} requests after ${warmup} warm-up`,
    `  raw socket client : p50 ${raw.p50_us} us  p90 ${raw.p90_us} us  p99 ${raw.p99_us} us  p99.9 ${raw.p999_us} us  max ${raw.max_us} us  (${raw.requests_per_second} req/s)`,
    `  node:http client  : p50 ${http.p50_us} us  p90 ${http.p90_us} us  p99 ${http.p99_us} us  p99.9 ${http.p999_us} us  max ${http.max_us} us  (${http.requests_per_second} req/s)`,
    `  decision log ${decisionLogMode}: ${log.written} written, ${log.dropped} dropped`,
    `  server event loop delay: p99 ${loopP99Ms} ms, max ${loopMaxMs} ms`,
    `  goal p50 <= ${goal.p50_us} us, p99 <= ${goal.p99_us} us (raw client): ${raw.p50_us <= goal.p50_us && raw.p99_us <= goal.p99_us ? "met" : "MISSED"}`,
  ];
  for (const line of lines) console.log(line);
  console.log(
    JSON.stringify({
      bench: "authz-http",
      node: process.version,
      cpus: availableParallelism(),
      load1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      requests,
      decision_log: decisionLogMode,
      decision_log_written: log.written,
      decision_log_dropped: log.dropped,
      event_loop_delay_p99_ms: loopP99Ms,
      event_loop_delay_max_ms: loopMaxMs,
      p50_us: raw.p50_us,
      p99_us: raw.p99_us,
      p999_us: raw.p999_us,
      mean_us: raw.mean_us,
      requests_per_second: raw.requests_per_second,
      http_client: http,
      goal,
      goal_met: raw.p50_us <= goal.p50_us && raw.p99_us <= goal.p99_us,
    }),
  );
}

if (isMainThread) await main();

import "server-only";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";
import next from "next";
import type { Env } from "@/server/env";
import { recordAuthzDecisions } from "@/server/audit/service";
import { createOpaHandler, matchOpaRoute } from "@/server/authz/opa-http";
import { startAuthz, stopAuthz } from "@/server/authz/service";
import { closeDatabase, getDatabase } from "@/server/db";
import { intervalWorker, WorkerHost } from "@/server/jobs/worker-host";
import { checkReadiness } from "@/server/observability/health";
import { getLogger } from "@/server/observability/logger";
import { countUnhandledError, observeRequest } from "@/server/observability/metrics";
import {
  CLIENT_IP_HEADER,
  clientIpFrom,
  REQUEST_ID_HEADER,
  requestIdFrom,
  runWithRequestContext,
} from "@/server/observability/request-context";
import {
  createRouteMatcher,
  createRouteMatcherFromTemplates,
  routeTemplatesFromBuild,
} from "@/server/observability/route-templates";
import { setActiveSpanRoute, shutdownTracing } from "@/server/observability/tracing";
import { attachRealtime, closeRealtimeAdapter } from "@/server/realtime/socket-server";
import { registerRunSocketHandlers } from "@/server/runs/realtime";
import { startRunsRuntime, stopRunsRuntime } from "@/server/runs/service";

const log = getLogger("server");
const DRAIN_GRACE_MS = 300;
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics", "/_next/static", "/_next/*", "/__nextjs*"]);

export interface RunningApp {
  server: Server;
  url: string;
  shutdown(reason: string): Promise<void>;
}

/**
 * One Node HTTP server hosting Next.js, socket.io (same port) and the background workers.
 * Every request gets a request id (echoed in x-request-id), an async context that logs and
 * audit events read, and a metric labelled by its route template.
 */
export async function startAppServer(env: Env, options: { dir?: string } = {}): Promise<RunningApp> {
  const dir = options.dir ?? process.cwd();
  const dev = env.NODE_ENV === "development";
  const app = next({ dev, dir, hostname: env.HOST, port: env.PORT });
  await app.prepare();
  // Rules loaded and change notifications subscribed before the first request is accepted.
  await startAuthz({
    decisionLog: {
      mode: env.MICROSTACK_AUTHZ_DECISION_LOG,
      sampleRate: env.MICROSTACK_AUTHZ_DECISION_LOG_SAMPLE,
      sink: (entries) =>
        recordAuthzDecisions(entries, { retentionDays: env.MICROSTACK_AUTHZ_DECISION_LOG_RETENTION_DAYS }),
    },
  });
  const handle = app.getRequestHandler();
  // The OPA-compatible Data API (/v1/data, /v0/data, POST /) is answered before Next sees it.
  const handleOpa = createOpaHandler({
    apiToken: env.MICROSTACK_AUTHZ_API_TOKEN,
    decisionLogging: env.MICROSTACK_AUTHZ_DECISION_LOG !== "off",
  });
  const routes = existsSync(path.join(dir, "app"))
    ? createRouteMatcher(path.join(dir, "app"), { publicDir: path.join(dir, "public") })
    : createRouteMatcherFromTemplates(routeTemplatesFromBuild(path.join(dir, env.MICROSTACK_NEXT_DIST_DIR)));

  let inFlight = 0;
  let shuttingDown = false;
  let drained: (() => void) | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = requestIdFrom(req.headers);
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    if (shuttingDown) res.setHeader("connection", "close");
    const url = req.url ?? "/";
    const method = req.method ?? "GET";
    const route = matchOpaRoute(method, url, req.headers)?.template ?? routes.match(url);
    inFlight++;
    res.once("close", () => {
      inFlight--;
      const durationMs = performance.now() - started;
      const status = res.writableFinished ? res.statusCode : 499;
      observeRequest({ route, method, status, durationMs });
      const entry = { requestId, method, route, status, durationMs: Math.round(durationMs * 10) / 10 };
      if (QUIET_ROUTES.has(route)) log.debug(entry, "request");
      else log.info(entry, "request");
      if (shuttingDown && inFlight === 0) drained?.();
    });
    const clientIp = clientIpFrom(req, env.MICROSTACK_TRUST_PROXY);
    if (!env.MICROSTACK_TRUST_PROXY) {
      // Forwarding headers are believed only from a trusted proxy; otherwise they describe this
      // very connection (next-auth derives its redirect origin from them).
      req.headers["x-forwarded-proto"] = "encrypted" in req.socket && req.socket.encrypted ? "https" : "http";
      if (req.headers.host) req.headers["x-forwarded-host"] = req.headers.host;
      else delete req.headers["x-forwarded-host"];
    }
    setActiveSpanRoute(method, route);
    if (clientIp) req.headers[CLIENT_IP_HEADER] = clientIp;
    else delete req.headers[CLIENT_IP_HEADER];
    runWithRequestContext({ requestId, route, clientIp }, () => {
      if (handleOpa(req, res)) return;
      handle(req, res).catch((error: unknown) => {
        log.error({ err: error, requestId }, "request handler failed");
        countUnhandledError("process");
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader("content-type", "application/problem+json");
          res.end(JSON.stringify({ title: "Something went wrong", status: 500, code: "INTERNAL", requestId }));
        } else res.destroy();
      });
    });
  };

  const server = createServer(onRequest);
  server.keepAliveTimeout = 5_000;
  const io = attachRealtime(server, { postgresUrl: env.DATABASE_URL });
  registerRunSocketHandlers();
  // Next's dev server needs its own upgrade handling for hot reload; socket.io takes /socket.io.
  const handleUpgrade = app.getUpgradeHandler();
  server.on("upgrade", (req, socket, head) => {
    if (req.url?.startsWith("/socket.io")) return;
    handleUpgrade(req, socket, head).catch((error: unknown) => {
      log.warn({ err: error }, "upgrade failed");
      socket.destroy();
    });
  });

  const workers = new WorkerHost();
  // Keeps microstack_database_up current and logs outages and recoveries as they happen.
  let lastReady: boolean | undefined;
  workers.register(
    intervalWorker("readiness-monitor", 5_000, async () => {
      const readiness = await checkReadiness();
      if (readiness.ready !== lastReady) {
        if (readiness.ready) log.info({ checks: readiness.checks }, "ready");
        else log.warn({ checks: readiness.checks, detail: readiness.detail }, "not ready");
        lastReady = readiness.ready;
      }
    }),
  );

  // The run engine: job queue, executor, timers, crash recovery (server/runs).
  workers.register({
    name: "runs",
    start: async () => {
      await startRunsRuntime({
        db: await getDatabase(),
        dataDir: env.dataDir,
        executorConcurrency: env.MICROSTACK_EXECUTOR_CONCURRENCY,
        leaseSeconds: env.MICROSTACK_EXECUTOR_LEASE_SECONDS,
        maxLogBytes: env.MICROSTACK_LOG_MAX_BYTES_PER_STEP,
        logRetentionDays: env.MICROSTACK_LOG_RETENTION_DAYS,
        prometheusUrl: env.MICROSTACK_PROMETHEUS_URL,
        stopGraceMs: Math.max(500, Math.min(3_000, env.MICROSTACK_SHUTDOWN_TIMEOUT_MS / 4)),
      });
    },
    stop: () => stopRunsRuntime(),
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await workers.start();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.PORT;
  const url = `http://localhost:${port}`;

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    shutdownPromise ??= (async () => {
      shuttingDown = true;
      log.info({ reason, inFlight }, "shutting down: no new connections, draining requests");
      server.close();
      // Connections accepted just before the signal may not have sent their request yet: give
      // them a moment, answer what arrives (with Connection: close), then wait for the rest.
      const deadline = Date.now() + env.MICROSTACK_SHUTDOWN_TIMEOUT_MS - 2_000;
      await new Promise((r) => setTimeout(r, DRAIN_GRACE_MS));
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))),
        ]);
      }
      server.closeAllConnections();
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await closeRealtimeAdapter();
      await workers.stop();
      await stopAuthz().catch((error: unknown) => log.warn({ err: error }, "authorization shutdown failed"));
      await app.close().catch(() => {});
      await closeDatabase();
      await shutdownTracing();
      log.info("stopped");
    })();
    return shutdownPromise;
  };

  return { server, url, shutdown };
}

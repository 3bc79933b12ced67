import "server-only";
import { createRequire, syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { AlwaysOffSampler, NoopSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { PrismaInstrumentation } from "@prisma/instrumentation";
import { singleton } from "./singleton";

// Incoming requests that would only add noise: probes, the scraper, and immutable assets.
const UNTRACED_PATHS = ["/healthz", "/readyz", "/metrics"];
const UNTRACED_PREFIXES = ["/_next/static/"];

function isUntraced(url: string | undefined): boolean {
  if (!url) return false;
  const pathname = url.split("?", 1)[0] ?? url;
  return UNTRACED_PATHS.includes(pathname) || UNTRACED_PREFIXES.some((prefix) => pathname.startsWith(prefix));
}

/** Whether the standard OTLP variables name a collector (env.ts leaves OTEL_* to the SDK). */
function isExportConfigured(): boolean {
  if (process.env.OTEL_TRACES_EXPORTER?.trim() === "none") return false;
  return Boolean(
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim(),
  );
}

interface TracingState {
  sdk?: NodeSDK;
  isExporting: boolean;
}

// Per process, so a second call (hot reload, a test, the other module graph) finds the first SDK.
const state = singleton<TracingState>("tracing", () => ({ isExporting: false }));

/**
 * Starts OpenTelemetry for the process: HTTP server/client spans, Prisma spans, W3C trace
 * context. Exports over OTLP/HTTP only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; without
 * a collector it still installs a tracer provider, sampling nothing, so every request has a
 * trace id for logs and audit events at almost no cost. Safe to call twice.
 *
 * main.ts calls it first, before it creates the HTTP server. The http patch reaches modules
 * that imported node:http earlier too (see below); Prisma's instrumentation is a global hook the
 * client consults per query, so load order does not matter for it.
 */
export function startTracing({ serviceName }: { serviceName: string }): { isExporting: boolean } {
  if (state.sdk) return { isExporting: state.isExporting };

  const isExporting = isExportConfigured();
  const sdk = new NodeSDK({
    serviceName,
    // Traces only: metrics are prom-client's at /metrics and logs are pino's on stdout. Without
    // these empty lists the SDK would start OTLP metric and log exporters of its own.
    metricReaders: [],
    logRecordProcessors: [],
    ...(isExporting
      ? // Reads the endpoint, headers and timeouts from the standard OTEL_* variables itself.
        { traceExporter: new OTLPTraceExporter() }
      : // The SDK registers no tracer provider without a processor; a no-op one keeps ids flowing.
        // AlwaysOff still mints (or continues) trace ids, it only skips recording spans nobody reads.
        { spanProcessors: [new NoopSpanProcessor()], sampler: new AlwaysOffSampler() }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => isUntraced(request.url),
      }),
      // Prisma 7 runs queries through the driver adapter in process and asks this global hook for
      // spans (prisma:client:operation, :compile, :db_query with db.query.text): no engine spans.
      new PrismaInstrumentation(),
    ],
  });
  sdk.start();
  state.sdk = sdk;
  state.isExporting = isExporting;

  // The http instrumentation patches when someone require()s http after start; under tsx main.ts
  // imports node:http as ESM (hoisted above any call), which that hook never sees. Requiring it
  // here applies the patch to the shared module object, and syncing updates ESM named imports.
  const require = createRequire(path.join(process.cwd(), "noop.js"));
  require("node:http");
  require("node:https");
  syncBuiltinESMExports();

  return { isExporting };
}

/** Flushes pending spans and stops the SDK; part of graceful shutdown. Safe to call twice. */
export async function shutdownTracing(): Promise<void> {
  const sdk = state.sdk;
  if (!sdk) return;
  state.sdk = undefined;
  await sdk.shutdown();
}

/** The trace id of the active span, for audit events and error responses. */
export function currentTraceId(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/**
 * Names the active HTTP server span after the route template ("GET /api/v1/runs/[runId]"), as
 * the semantic conventions ask; the http instrumentation alone only knows the method.
 */
export function setActiveSpanRoute(method: string, route: string): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttribute("http.route", route);
  span.updateName(`${method.toUpperCase()} ${route}`);
}

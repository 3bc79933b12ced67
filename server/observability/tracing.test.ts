import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentTraceId, shutdownTracing, startTracing } from "./tracing";

const UPSTREAM_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

describe("tracing", () => {
  let server: http.Server;
  let baseUrl: string;
  const seen = new Map<string, string | undefined>();

  beforeAll(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    expect(startTracing({ serviceName: "microstack-test" })).toEqual({ isExporting: false });
    // A second call (hot reload, the other module graph) is a no-op, not a crash.
    expect(startTracing({ serviceName: "microstack-test" })).toEqual({ isExporting: false });

    // Created after startTracing, as main.ts does; node:http itself was imported earlier (ESM).
    server = http.createServer((req, res) => {
      seen.set(req.url ?? "", currentTraceId());
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await shutdownTracing();
    await shutdownTracing();
  });

  it("gives every incoming request a trace id without an exporter configured", async () => {
    await fetch(`${baseUrl}/api/v1/projects`);
    expect(seen.get("/api/v1/projects")).toMatch(/^[0-9a-f]{32}$/);
  });

  it("continues the caller's trace from traceparent", async () => {
    await fetch(`${baseUrl}/audit`, { headers: { traceparent: `00-${UPSTREAM_TRACE_ID}-b7ad6b7169203331-01` } });
    expect(seen.get("/audit")).toBe(UPSTREAM_TRACE_ID);
  });

  it("does not trace probes and the metrics scrape", async () => {
    await fetch(`${baseUrl}/healthz`);
    await fetch(`${baseUrl}/metrics`);
    expect(seen.has("/healthz")).toBe(true);
    expect(seen.get("/healthz")).toBeUndefined();
    expect(seen.get("/metrics")).toBeUndefined();
  });

  it("has no trace id outside a request", () => {
    expect(currentTraceId()).toBeUndefined();
  });
});

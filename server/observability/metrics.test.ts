import { describe, expect, it, vi } from "vitest";
import { getMetricsRegistry, getOrCreateCounter, observeRequest, renderMetrics } from "./metrics";

describe("metrics", () => {
  it("renders request metrics labelled by route template, plus the default process metrics", async () => {
    observeRequest({ route: "/api/v1/projects/[projectId]", method: "get", status: 200, durationMs: 42 });
    observeRequest({ route: "/api/v1/projects/[projectId]", method: "GET", status: 404, durationMs: 3 });
    observeRequest({ route: "unmatched", method: "PROPFIND", status: 404, durationMs: 1 });

    const { contentType, body } = await renderMetrics();

    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain("# TYPE microstack_requests_duration_ms histogram");
    expect(body).toMatch(
      /microstack_requests_duration_ms_bucket\{le="50",route="\/api\/v1\/projects\/\[projectId\]",method="GET",status_code="200"\} 1/,
    );
    expect(body).toMatch(
      /microstack_requests_code_total\{route="\/api\/v1\/projects\/\[projectId\]",method="GET",code="404"\} 1/,
    );
    // Unknown methods collapse into one label value.
    expect(body).toMatch(/microstack_requests_code_total\{route="unmatched",method="OTHER",code="404"\} 1/);
    expect(body).toContain("process_cpu_user_seconds_total");
    expect(body).toContain("nodejs_heap_size_used_bytes");
  });

  it("hands out the registered metric again instead of failing on double registration", () => {
    const config = { name: "microstack_test_things_total", help: "test", labelNames: ["kind"] as const };
    const first = getOrCreateCounter(config);
    expect(getOrCreateCounter(config)).toBe(first);
  });

  it("shares one registry with a second module graph", async () => {
    vi.resetModules();
    const other = await import("./metrics");
    expect(other.getMetricsRegistry()).toBe(getMetricsRegistry());
    other.observeRequest({ route: "/audit", method: "GET", status: 200, durationMs: 7 });
    expect((await renderMetrics()).body).toMatch(
      /microstack_requests_code_total\{route="\/audit",method="GET",code="200"\} 1/,
    );
  });
});

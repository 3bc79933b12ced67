import { Writable } from "node:stream";
import { context, TraceFlags, trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { createRootLogger, getLogger } from "./logger";
import { runWithRequestContext } from "./request-context";
import { startTracing } from "./tracing";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createRootLogger({ level: "info", destination }) };
}

describe("logger", () => {
  it("writes JSON lines with the service, module and level name", () => {
    const { lines, logger } = capture();
    logger.child({ module: "runs" }).info({ runId: "r1" }, "run started");
    expect(lines[0]).toMatchObject({
      service: "microstack",
      module: "runs",
      level: "info",
      msg: "run started",
      runId: "r1",
    });
    expect(lines[0]).not.toHaveProperty("requestId");
  });

  it("adds the request id inside runWithRequestContext", async () => {
    const { lines, logger } = capture();
    await runWithRequestContext({ requestId: "req-42", actorId: "u1" }, async () => {
      await Promise.resolve();
      logger.child({ module: "api" }).warn("slow");
    });
    expect(lines[0]).toMatchObject({ requestId: "req-42", actorId: "u1", module: "api" });
  });

  it("adds the trace and span ids of the active span", () => {
    startTracing({ serviceName: "microstack-test" });
    const { lines, logger } = capture();
    const spanContext = {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
    };
    context.with(trace.setSpanContext(context.active(), spanContext), () => logger.info("inside"));
    logger.info("outside");
    expect(lines[0]).toMatchObject({ traceId: spanContext.traceId, spanId: spanContext.spanId });
    expect(lines[1]).not.toHaveProperty("traceId");
  });

  it("redacts secrets", () => {
    const { lines, logger } = capture();
    logger.info({ password: "hunter2", headers: { cookie: "session=abc" } }, "login");
    expect(JSON.stringify(lines[0])).not.toMatch(/hunter2|session=abc/);
  });

  it("is silent in tests unless LOG_LEVEL asks otherwise", () => {
    expect(getLogger("any").level).toBe(process.env.LOG_LEVEL ?? "silent");
  });
});

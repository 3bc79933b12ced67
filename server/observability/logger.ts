import "server-only";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { getEnv } from "@/server/env";
import { getRequestContext } from "./request-context";
import { singleton } from "./singleton";

export type { Logger } from "pino";

type LogLevel = NonNullable<LoggerOptions["level"]>;

function defaultLevel(): LogLevel {
  try {
    const env = getEnv();
    // env.ts defaults LOG_LEVEL to info, so only the raw variable tells "unset" from "info":
    // tests stay quiet unless someone asks for their logs.
    if (env.NODE_ENV === "test" && !process.env.LOG_LEVEL) return "silent";
    return env.LOG_LEVEL;
  } catch {
    // An invalid environment must still be reportable through the logger that reports it.
    return "info";
  }
}

/**
 * Fields every line gets from where it was logged: the request it serves and the trace it
 * belongs to, so a log line, an audit event and a span can be joined on requestId/traceId.
 */
function contextFields(): Record<string, string> {
  const fields: Record<string, string> = {};
  const context = getRequestContext();
  if (context) {
    fields.requestId = context.requestId;
    if (context.actorId) fields.actorId = context.actorId;
  }
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext && isSpanContextValid(spanContext)) {
    fields.traceId = spanContext.traceId;
    fields.spanId = spanContext.spanId;
  }
  return fields;
}

const REDACTED_PATHS = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "headers.authorization",
  "headers.cookie",
  "*.headers.authorization",
  "*.headers.cookie",
];

/** A JSON root logger; the process uses one (getLogger), tests build their own with a destination. */
export function createRootLogger(options: { level?: LogLevel; destination?: DestinationStream } = {}): Logger {
  const loggerOptions: LoggerOptions = {
    level: options.level ?? defaultLevel(),
    base: { service: "microstack" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names, not numbers: log shippers and people grep for "error".
    formatters: { level: (label) => ({ level: label }) },
    mixin: contextFields,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
  };
  return options.destination ? pino(loggerOptions, options.destination) : pino(loggerOptions);
}

// One root per process: both module graphs (tsx and Next) write through the same stream.
function rootLogger(): Logger {
  return singleton("logger", () => createRootLogger());
}

/** A child logger tagged with the module it logs for, e.g. getLogger("runs"). */
export function getLogger(module: string): Logger {
  return rootLogger().child({ module });
}

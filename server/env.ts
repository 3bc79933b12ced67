import "server-only";
import path from "node:path";
import { z } from "zod";

// The whole configuration surface of the process. Nothing else reads process.env for settings
// (libraries that read their own standard variables, such as OTEL_*, excepted).

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

const postgresUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      if (!/^postgres(ql)?:\/\//.test(value)) return false;
      try {
        return new URL(value).hostname !== "";
      } catch {
        return false;
      }
    },
    { message: "must be a postgres:// or postgresql:// URL with a host" },
  );

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  MICROSTACK_DATA_DIR: z.string().trim().min(1).default("./.data"),
  DATABASE_URL: z.preprocess(
    (value) => (typeof value === "string" && value.trim() === "" ? undefined : value),
    postgresUrl.optional(),
  ),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  MICROSTACK_MASTER_KEY: optionalString,
  MICROSTACK_PREVIOUS_MASTER_KEYS: optionalString,
  AUTH_SECRET: optionalString,
  NEXTAUTH_SECRET: optionalString,
  NEXTAUTH_URL: optionalString,
  /** Default: demo, except production on PostgreSQL (no demo accounts in a real deployment). */
  MICROSTACK_SEED: z.enum(["demo", "none"]).optional(),
  /** Fixes the demo users' password (tests, screenshots); otherwise a random one is printed. */
  MICROSTACK_DEMO_PASSWORD: z.preprocess(
    (value) => (typeof value === "string" && value.trim() === "" ? undefined : value),
    z.string().min(8).max(200).optional(),
  ),
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  MICROSTACK_METRICS_TOKEN: optionalString,
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** Behind a load balancer: take the client IP from the first X-Forwarded-For entry. */
  MICROSTACK_TRUST_PROXY: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((value) => value === "true" || value === "1"),
  MICROSTACK_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Which authorization decisions the decision log keeps: all, only denies, or none. */
  MICROSTACK_AUTHZ_DECISION_LOG: z.enum(["all", "deny", "off"]).default("all"),
  /** Fraction of allow decisions kept when logging all (denies are always kept). */
  MICROSTACK_AUTHZ_DECISION_LOG_SAMPLE: z.coerce.number().min(0).max(1).default(1),
  /** Days the decision log is kept. */
  MICROSTACK_AUTHZ_DECISION_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /**
   * Bearer token for machine clients of the OPA-compatible API (/v1/data, /v0/data, POST /),
   * such as sidecars, until service accounts exist. Unset: only signed-in users may query.
   */
  MICROSTACK_AUTHZ_API_TOKEN: z.preprocess(
    (value) => (typeof value === "string" && value.trim() === "" ? undefined : value),
    z.string().min(32, "must be at least 32 characters").max(512).optional(),
  ),
  /** Steps this process executes at once (local processes and built-in step kinds); 0: none. */
  MICROSTACK_EXECUTOR_CONCURRENCY: z.coerce.number().int().min(0).max(1_000).default(8),
  /**
   * Seconds an executor may go without a heartbeat before its steps count as lost (retried
   * when their retry policy allows, else failed with "executor lost") by another replica.
   */
  MICROSTACK_EXECUTOR_LEASE_SECONDS: z.coerce.number().int().min(2).max(3_600).default(30),
  /** Days step logs are kept after their run finished (a project may set its own). */
  MICROSTACK_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(90),
  /** Bytes of log one step attempt may store; the rest is dropped with a marker line. */
  MICROSTACK_LOG_MAX_BYTES_PER_STEP: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(16 * 1024 ** 3)
    .default(256 * 1024 ** 2),
  /** Next's build directory (next.config.mjs reads the same variable at build time). */
  MICROSTACK_NEXT_DIST_DIR: z.string().trim().min(1).default(".next"),
  /** Prometheus base URL gates query when a metric names no source (`source` may be a URL). */
  MICROSTACK_PROMETHEUS_URL: z.preprocess(
    (value) => (typeof value === "string" && value.trim() === "" ? undefined : value),
    z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
  ),
});

export type Env = Omit<z.infer<typeof envSchema>, "MICROSTACK_SEED"> & {
  MICROSTACK_SEED: "demo" | "none";
  /** Absolute path of MICROSTACK_DATA_DIR. */
  dataDir: string;
  /** "postgres" when DATABASE_URL is set, else the embedded PGlite. */
  databaseKind: "postgres" | "pglite";
};

export class EnvError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid environment:\n${issues.map((issue) => `  - ${issue}`).join("\n")}`);
    this.name = "EnvError";
  }
}

export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    throw new EnvError(result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`));
  }
  const env = result.data;
  return {
    ...env,
    MICROSTACK_SEED: env.MICROSTACK_SEED ?? (env.NODE_ENV === "production" && env.DATABASE_URL ? "none" : "demo"),
    dataDir: path.resolve(env.MICROSTACK_DATA_DIR),
    databaseKind: env.DATABASE_URL ? "postgres" : "pglite",
  };
}

let cached: Env | undefined;

/** The validated environment of this process, parsed once. */
export function getEnv(): Env {
  cached ??= parseEnv();
  return cached;
}

/** For tests and the boot sequence after it writes generated secrets into process.env. */
export function resetEnvCache(): void {
  cached = undefined;
}

/** The secret next-auth signs sessions with (AUTH_SECRET wins over NEXTAUTH_SECRET). */
export function getAuthSecret(env: Env = getEnv()): string {
  const secret = env.AUTH_SECRET ?? env.NEXTAUTH_SECRET;
  if (!secret) {
    throw new EnvError(["AUTH_SECRET: required (the embedded start generates one into the data dir)"]);
  }
  return secret;
}

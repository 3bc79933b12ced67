import "server-only";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { seedDemoData, type SeedResult } from "@/prisma/seed";
import { createDatabase, type Database, setDatabase } from "@/server/db";
import { type Env, getEnv, resetEnvCache } from "@/server/env";
import { applyMigrations, MigrationError } from "@/server/migrations/migrator";
import { getLogger } from "@/server/observability/logger";
import { ensureMasterKey } from "@/server/secrets/keyring";

/** A start-up failure that ends the process with one clear line and a non-zero status. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}

const AUTH_SECRET_FILE = "auth.secret";
const DEMO_LOGIN_FILE = "demo-login.txt";

/**
 * Fills in the secrets an embedded start may generate (session signing secret, master key)
 * into the data dir, and exports them to process.env so next-auth and every module graph in
 * this process see the same values. A production deployment on PostgreSQL must set them: a
 * secret generated on one replica's disk would differ from the next replica's.
 */
export function prepareSecrets(env: Env): { generated: string[] } {
  const generated: string[] = [];
  const mustBeGiven = env.NODE_ENV === "production" && env.databaseKind === "postgres";
  mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });

  if (!env.AUTH_SECRET && !env.NEXTAUTH_SECRET) {
    if (mustBeGiven) {
      throw new StartupError("AUTH_SECRET is required in production with DATABASE_URL (every replica must share it)");
    }
    const file = path.join(env.dataDir, AUTH_SECRET_FILE);
    if (!existsSync(file)) {
      writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
      generated.push(file);
    }
    process.env.AUTH_SECRET = readFileSync(file, "utf8").trim();
  }
  process.env.NEXTAUTH_SECRET = process.env.AUTH_SECRET ?? env.NEXTAUTH_SECRET;

  if (!env.MICROSTACK_MASTER_KEY && mustBeGiven) {
    throw new StartupError(
      "MICROSTACK_MASTER_KEY is required in production with DATABASE_URL (every replica must share it)",
    );
  }
  const master = ensureMasterKey({ dataDir: env.dataDir, env });
  if (master.generated && master.path) generated.push(master.path);
  process.env.MICROSTACK_MASTER_KEY = master.key;

  // next-auth v4 builds redirect URLs from NEXTAUTH_URL. Without one (the embedded default,
  // opened as localhost, 127.0.0.1 or a LAN address alike) it must follow the Host header the
  // browser used, which AUTH_TRUST_HOST enables. Deployments behind TLS set NEXTAUTH_URL.
  if (!env.NEXTAUTH_URL) process.env.AUTH_TRUST_HOST ??= "true";
  resetEnvCache();
  return { generated };
}

function describeConnectError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { errors?: Error[] };
  const inner = e.errors?.[0] as NodeJS.ErrnoException | undefined;
  return [e.code ?? inner?.code, e.message || inner?.message].filter(Boolean).join(": ");
}

/** Opens the database (failing fast with the host and the cause) and installs it for the process. */
export async function openDatabase(env: Env): Promise<Database> {
  let db: Database;
  try {
    db = env.DATABASE_URL
      ? await createDatabase({ kind: "postgres", url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX })
      : await createDatabase({ kind: "pglite", dataDir: path.join(env.dataDir, "pglite") });
  } catch (error) {
    throw new StartupError(`Cannot open the database: ${(error as Error).message}`, { cause: error });
  }
  try {
    await db.query("select 1");
  } catch (error) {
    await db.close().catch(() => {});
    throw new StartupError(`Cannot reach the database (${db.description}): ${describeConnectError(error)}`, {
      cause: error,
    });
  }
  setDatabase(db);
  return db;
}

export async function migrate(db: Database, options: { migrationsDir?: string } = {}): Promise<string[]> {
  const log = getLogger("migrations");
  try {
    const { applied } = await applyMigrations(db, { ...options, log: (message) => log.info(message) });
    return applied;
  } catch (error) {
    if (error instanceof MigrationError) {
      // The migrator's message already names the migration and what happened to it.
      throw new StartupError(error.message, { cause: error });
    }
    throw error;
  }
}

/** Seeds the demo data on an empty database and returns what to print. */
export async function seedIfEmpty(db: Database, env: Env): Promise<SeedResult> {
  if (env.MICROSTACK_SEED === "none") return { seeded: false, logins: [] };
  const result = await seedDemoData(db.prisma, { password: env.MICROSTACK_DEMO_PASSWORD });
  if (result.seeded) {
    const file = path.join(env.dataDir, DEMO_LOGIN_FILE);
    const lines = [
      "Microstack demo logins (created at first start)",
      `password for every demo user: ${result.password}`,
      ...result.logins.map((l) => `${l.email}  (${l.role}, ${l.scope})`),
      "",
    ];
    writeFileSync(file, lines.join("\n"), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return result;
}

export function demoLoginFile(env: Env): string | undefined {
  const file = path.join(env.dataDir, DEMO_LOGIN_FILE);
  return existsSync(file) ? file : undefined;
}

export function loadEnvOrFail(): Env {
  try {
    return getEnv();
  } catch (error) {
    throw new StartupError((error as Error).message, { cause: error });
  }
}

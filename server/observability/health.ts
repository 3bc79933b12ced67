import "server-only";
import { getDatabase } from "@/server/db";
import { getMigrationStatus } from "@/server/migrations/migrator";
import { getOrCreateGauge } from "./metrics";
import { singleton } from "./singleton";

const CHECK_TIMEOUT_MS = 2_000;

export interface Readiness {
  ready: boolean;
  checks: {
    database: "up" | "down";
    migrations: "applied" | "pending" | "unknown";
  };
  detail?: string;
}

const databaseUp = () =>
  getOrCreateGauge({ name: "microstack_database_up", help: "1 when the database answered the last probe" });

// Once migrations are seen applied they stay applied for this process's lifetime.
const state = singleton("health.state", () => ({ migrationsApplied: false }));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** /readyz: the database answers and every migration in the folder is applied. */
export async function checkReadiness(): Promise<Readiness> {
  try {
    const db = await getDatabase();
    await withTimeout(db.query("select 1"), CHECK_TIMEOUT_MS, "the database");
    databaseUp().set(1);
    if (!state.migrationsApplied) {
      const status = await withTimeout(getMigrationStatus(db), CHECK_TIMEOUT_MS, "the migration status");
      state.migrationsApplied = status.upToDate;
      if (!status.upToDate) {
        return {
          ready: false,
          checks: { database: "up", migrations: "pending" },
          detail: `pending migrations: ${status.pending.join(", ")}`,
        };
      }
    }
    return { ready: true, checks: { database: "up", migrations: "applied" } };
  } catch (error) {
    databaseUp().set(0);
    return {
      ready: false,
      checks: { database: "down", migrations: state.migrationsApplied ? "applied" : "unknown" },
      detail: (error as Error).message,
    };
  }
}

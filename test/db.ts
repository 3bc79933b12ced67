// Test databases: every integration test runs against both the embedded PGlite and the real
// PostgreSQL on 127.0.0.1, each in a database of its own, migrated by the real migrator.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDatabase, type Database } from "@/server/db";
import { applyMigrations } from "@/server/migrations/migrator";

export const TEST_PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type TestDbKind = "pglite" | "postgres";
export const TEST_DB_KINDS: TestDbKind[] = ["pglite", "postgres"];

export interface TestDatabase {
  db: Database;
  /** postgres:// URL of the test database (postgres kind only). */
  url?: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty PostgreSQL database and returns its URL and a dropper. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `ms_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    name,
    url: withDatabase(TEST_PG_ADMIN_URL, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A fresh, migrated database of the given kind. */
export async function createTestDatabase(kind: TestDbKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const migrate = options.migrate ?? true;
  if (kind === "pglite") {
    const db = await createDatabase({ kind: "pglite" });
    if (migrate) await applyMigrations(db);
    return { db, drop: () => db.close() };
  }
  const empty = await createEmptyPostgresDatabase();
  const db = await createDatabase({ kind: "postgres", url: empty.url, poolMax: 4 });
  if (migrate) await applyMigrations(db);
  return {
    db,
    url: empty.url,
    drop: async () => {
      await db.close();
      await empty.drop();
    },
  };
}

import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "@/server/db";
import { createEmptyPostgresDatabase, createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";
import { readMigrationFiles } from "./migration-files";
import { applyMigrations, getMigrationStatus, MigrationError } from "./migrator";
import { NO_FILTERS, openSchemaEngine, type SchemaEngine } from "./schema-engine";

const REAL_DIR = path.resolve(import.meta.dirname, "../../prisma/migrations");

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "ms-migrations-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A migrations folder of its own: { folderName: sql }. */
async function migrationsDir(migrations: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(scratch, "dir-"));
  for (const [name, sql] of Object.entries(migrations)) {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

async function tableNames(db: Database): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

async function historyNames(db: Database): Promise<string[]> {
  const rows = await db.query<{ migration_name: string }>(
    `SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`,
  );
  return rows.map((r) => r.migration_name);
}

/** Prisma's schema engine (WASM) connected to a PostgreSQL database. */
async function withPrismaEngine<T>(url: string | undefined, fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  const factory = new PrismaPg(pool);
  // adapter-pg 7.10 splits scripts on every ";", which breaks $$ function bodies; Prisma's
  // native engine, the one `prisma migrate deploy` runs, sends the script whole, like this.
  const connect = factory.connect.bind(factory);
  const engine = await openSchemaEngine({
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () =>
      Object.assign(await connect(), {
        executeScript: async (script: string) => {
          await pool.query(script);
        },
      }),
    connectToShadowDb: () => factory.connectToShadowDb(),
  });
  try {
    return await fn(engine);
  } finally {
    engine.free();
    await pool.end();
  }
}

async function captureError(promise: Promise<unknown>): Promise<MigrationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrationError);
  return error as MigrationError;
}

describe.each(TEST_DB_KINDS)("migrator on %s", (kind) => {
  describe("with the project's migrations", () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await createTestDatabase(kind, { migrate: false });
    });
    afterAll(async () => {
      await t?.drop();
    });

    it("reports every migration pending on an empty database", async () => {
      const files = await readMigrationFiles(REAL_DIR);
      expect(files.length).toBeGreaterThan(0);
      const status = await getMigrationStatus(t.db, { migrationsDir: REAL_DIR });
      expect(status).toEqual({ applied: [], pending: files.map((f) => f.name), upToDate: false });
    });

    it("applies them all, then nothing on a second run", async () => {
      const files = await readMigrationFiles(REAL_DIR);
      const messages: string[] = [];
      const first = await applyMigrations(t.db, { migrationsDir: REAL_DIR, log: (m) => messages.push(m) });
      expect(first).toEqual({ applied: files.map((f) => f.name), alreadyApplied: 0 });
      expect(messages.join("\n")).toContain(files[0]?.name);
      expect(await tableNames(t.db)).toEqual(
        expect.arrayContaining(["_prisma_migrations", "organizations", "memberships", "audit_events"]),
      );

      const second = await applyMigrations(t.db, { migrationsDir: REAL_DIR });
      expect(second).toEqual({ applied: [], alreadyApplied: files.length });
      expect(await getMigrationStatus(t.db, { migrationsDir: REAL_DIR })).toEqual({
        applied: files.map((f) => f.name),
        pending: [],
        upToDate: true,
      });
    });

    it("records each migration the way Prisma does", async () => {
      const rows = await t.db.query<Record<string, unknown>>(
        `SELECT * FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      const files = await readMigrationFiles(REAL_DIR);
      expect(rows).toHaveLength(files.length);
      for (const [i, file] of files.entries()) {
        const bytes = await readFile(path.join(REAL_DIR, file.name, "migration.sql"));
        const row = rows[i] as Record<string, unknown>;
        expect(row.migration_name).toBe(file.name);
        expect(row.checksum).toBe(createHash("sha256").update(bytes).digest("hex"));
        expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(row.finished_at).toBeInstanceOf(Date);
        expect(row.started_at).toBeInstanceOf(Date);
        expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
        expect(row.logs).toBeNull();
        expect(row.rolled_back_at).toBeNull();
        expect(row.applied_steps_count).toBe(1);
      }
      const columns = await t.db.query<{
        column_name: string;
        data_type: string;
        max: number | null;
        nullable: string;
      }>(
        `SELECT column_name, data_type, character_maximum_length AS max, is_nullable AS nullable
           FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
      );
      expect(columns.map((c) => `${c.column_name} ${c.data_type}${c.max ? `(${c.max})` : ""} ${c.nullable}`)).toEqual([
        "id character varying(36) NO",
        "checksum character varying(64) NO",
        "finished_at timestamp with time zone YES",
        "migration_name character varying(255) NO",
        "logs text YES",
        "rolled_back_at timestamp with time zone YES",
        "started_at timestamp with time zone NO",
        "applied_steps_count integer NO",
      ]);
    });

    it("enforces the hand-written rules of the init migration", async () => {
      const [org] = await t.db.query<{ id: string }>(
        `INSERT INTO organizations (id, slug, name, updated_at) VALUES (gen_random_uuid(), 'acme', 'Acme', now()) RETURNING id`,
      );
      await expect(
        t.db.query(`INSERT INTO memberships (id, organization_id, role) VALUES (gen_random_uuid(), $1, 'viewer')`, [
          org?.id,
        ]),
      ).rejects.toThrow(/memberships_user_or_team_check/);

      await t.db.exec(`INSERT INTO audit_events (id, occurred_at, actor_type, action, outcome, prev_hash, hash)
        VALUES (gen_random_uuid(), now(), 'system', 'test', 'success', repeat('0', 64), repeat('a', 64))`);
      await expect(t.db.exec(`UPDATE audit_events SET action = 'changed'`)).rejects.toThrow(/append-only/);
      await expect(t.db.exec(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
    });

    it("refuses a migration modified after it was applied, naming it", async () => {
      const dir = await mkdtemp(path.join(scratch, "copy-"));
      await cp(REAL_DIR, dir, { recursive: true });
      const [first] = await readMigrationFiles(dir);
      const file = path.join(dir, first?.name ?? "", "migration.sql");
      await writeFile(file, `${await readFile(file, "utf8")}\n-- an edit\n`);

      const error = await captureError(applyMigrations(t.db, { migrationsDir: dir }));
      expect(error.migrationName).toBe(first?.name);
      expect(error.message).toContain(`${first?.name} was modified after it was applied`);
    });

    it("refuses a history with migrations missing from the folder", async () => {
      const dir = await migrationsDir({});
      const error = await captureError(applyMigrations(t.db, { migrationsDir: dir }));
      expect(error.message).toMatch(/missing from the migrations folder/);
      expect(error.migrationName).toBe((await readMigrationFiles(REAL_DIR))[0]?.name);
    });
  });

  it("rolls a failing migration back entirely and names it", async () => {
    const t = await createTestDatabase(kind, { migrate: false });
    try {
      const failingFirst = await migrationsDir({
        "20250101000000_broken": `CREATE TABLE widgets (id int PRIMARY KEY);\nINSERT INTO nowhere VALUES (1);\n`,
      });
      const first = await captureError(applyMigrations(t.db, { migrationsDir: failingFirst }));
      expect(first.migrationName).toBe("20250101000000_broken");
      expect(first.message).toContain("20250101000000_broken");
      expect(first.message).toMatch(/relation "nowhere" does not exist/);
      // Not even the history table: the database is as empty as before.
      expect(await tableNames(t.db)).toEqual([]);

      const failingSecond = await migrationsDir({
        "20250101000000_widgets": `CREATE TABLE widgets (id int PRIMARY KEY);\n`,
        "20250102000000_gadgets": `CREATE TABLE gadgets (id int PRIMARY KEY);\nALTER TABLE widgets ADD COLUMN id int;\n`,
        "20250103000000_later": `CREATE TABLE later (id int);\n`,
      });
      const second = await captureError(applyMigrations(t.db, { migrationsDir: failingSecond }));
      expect(second.migrationName).toBe("20250102000000_gadgets");
      expect(second.message).toMatch(/column "id" of relation "widgets" already exists/);
      expect(await tableNames(t.db)).toEqual(["_prisma_migrations", "widgets"]);
      expect(await historyNames(t.db)).toEqual(["20250101000000_widgets"]);
      expect(await getMigrationStatus(t.db, { migrationsDir: failingSecond })).toEqual({
        applied: ["20250101000000_widgets"],
        pending: ["20250102000000_gadgets", "20250103000000_later"],
        upToDate: false,
      });
    } finally {
      await t.drop();
    }
  });
});

describe("migrator on postgres, several processes", () => {
  it("applies each migration once when two migrators start together", async () => {
    const dir = await migrationsDir({
      "20250101000000_a": "CREATE TABLE a (id int);\nSELECT pg_sleep(0.2);\n",
      "20250102000000_b": "CREATE TABLE b (id int);\n",
      "20250103000000_c": "CREATE TABLE c (id int);\nSELECT pg_sleep(0.1);\n",
    });
    const empty = await createEmptyPostgresDatabase();
    const one = await createDatabase({ kind: "postgres", url: empty.url, poolMax: 2 });
    const two = await createDatabase({ kind: "postgres", url: empty.url, poolMax: 2 });
    try {
      const [r1, r2] = await Promise.all([
        applyMigrations(one, { migrationsDir: dir }),
        applyMigrations(two, { migrationsDir: dir }),
      ]);
      expect([...r1.applied, ...r2.applied].sort()).toEqual([
        "20250101000000_a",
        "20250102000000_b",
        "20250103000000_c",
      ]);
      expect(r1.alreadyApplied + r2.alreadyApplied).toBe(3);
      expect(await historyNames(one)).toEqual(["20250101000000_a", "20250102000000_b", "20250103000000_c"]);
    } finally {
      await Promise.all([one.close(), two.close()]);
      await empty.drop();
    }
  });

  it("keeps a history Prisma's own engine accepts, and accepts Prisma's", async () => {
    const files = await readMigrationFiles(REAL_DIR);
    const migrationsList = {
      baseDir: REAL_DIR,
      lockfile: {
        path: "migration_lock.toml",
        content: await readFile(path.join(REAL_DIR, "migration_lock.toml"), "utf8"),
      },
      shadowDbInitScript: "",
      migrationDirectories: files.map((f) => ({
        path: f.name,
        migrationFile: { path: "migration.sql", content: { tag: "ok" as const, value: f.sql } },
      })),
    };
    const ours = await createTestDatabase("postgres", { migrate: false });
    const theirs = await createTestDatabase("postgres", { migrate: false });
    try {
      await applyMigrations(ours.db, { migrationsDir: REAL_DIR });
      // What `prisma migrate status` asks: no edited, failed or unapplied migrations.
      await withPrismaEngine(ours.url, async (engine) => {
        expect(
          await engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters: NO_FILTERS }),
        ).toEqual({ editedMigrationNames: [], failedMigrationNames: [], hasMigrationsTable: true, history: null });
      });

      // What `prisma migrate deploy` writes, our migrator reads as applied.
      await withPrismaEngine(theirs.url, (engine) => engine.applyMigrations({ migrationsList, filters: NO_FILTERS }));
      expect(await applyMigrations(theirs.db, { migrationsDir: REAL_DIR })).toEqual({
        applied: [],
        alreadyApplied: files.length,
      });
    } finally {
      await Promise.all([ours.drop(), theirs.drop()]);
    }
  });
});

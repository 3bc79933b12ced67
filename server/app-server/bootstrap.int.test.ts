import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase } from "@/server/db";
import { parseEnv } from "@/server/env";
import { migrate, prepareSecrets, StartupError } from "./bootstrap";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ms-boot-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("start-up migrations", () => {
  it("refuses to start with the failing migration's name and leaves the database as it was", async () => {
    const migrations = tempDir();
    const write = (name: string, sql: string) => {
      mkdirSync(path.join(migrations, name));
      writeFileSync(path.join(migrations, name, "migration.sql"), sql);
    };
    write("20260101000000_good", "CREATE TABLE good (id int primary key);");
    write("20260102000000_bad", "CREATE TABLE half (id int);\nINSERT INTO missing_table VALUES (1);");
    const db = await createDatabase({ kind: "pglite" });
    try {
      const error = await migrate(db, { migrationsDir: migrations }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StartupError);
      expect((error as Error).message).toMatch(
        /^Migration 20260102000000_bad failed and was rolled back: .*missing_table/,
      );
      const tables = await db.query<{ name: string }>(
        "select table_name as name from information_schema.tables where table_schema = 'public' order by 1",
      );
      // The good migration stays applied; nothing of the bad one exists.
      expect(tables.map((t) => t.name)).toEqual(["_prisma_migrations", "good"]);
      const rows = await db.query<{ migration_name: string }>("select migration_name from _prisma_migrations");
      expect(rows.map((r) => r.migration_name)).toEqual(["20260101000000_good"]);
    } finally {
      await db.close();
    }
  });
});

describe("generated secrets", () => {
  it("generates the session secret and master key into the data dir once, private to the owner", () => {
    const dataDir = tempDir();
    const saved = { ...process.env };
    try {
      delete process.env.AUTH_SECRET;
      delete process.env.NEXTAUTH_SECRET;
      delete process.env.MICROSTACK_MASTER_KEY;
      const env = parseEnv({ MICROSTACK_DATA_DIR: dataDir, NODE_ENV: "development" });
      const first = prepareSecrets(env);
      expect(first.generated.map((f) => path.basename(f)).sort()).toEqual(["auth.secret", "master.key"]);
      const secret = readFileSync(path.join(dataDir, "auth.secret"), "utf8").trim();
      expect(secret.length).toBeGreaterThanOrEqual(43);
      expect(process.env.NEXTAUTH_SECRET).toBe(secret);
      expect(statSync(path.join(dataDir, "master.key")).mode & 0o077).toBe(0);
      delete process.env.AUTH_SECRET;
      const second = prepareSecrets(parseEnv({ MICROSTACK_DATA_DIR: dataDir, NODE_ENV: "development" }));
      expect(second.generated).toEqual([]);
      expect(process.env.AUTH_SECRET).toBe(secret);
    } finally {
      process.env = saved;
    }
  });

  it("refuses to generate them in production on PostgreSQL", () => {
    const env = parseEnv({
      MICROSTACK_DATA_DIR: tempDir(),
      NODE_ENV: "production",
      DATABASE_URL: "postgres://db.internal:5432/ms",
    });
    expect(() => prepareSecrets(env)).toThrow(/AUTH_SECRET is required in production/);
  });
});

describe("the embedded database directory", () => {
  it("is opened by one process at a time, and a stale lock is taken over", async () => {
    const dir = path.join(tempDir(), "pglite");
    const first = await createDatabase({ kind: "pglite", dataDir: dir });
    try {
      // Same check a second process makes: the lock names a live pid that is not ours to share.
      writeFileSync(`${dir}.lock`, `${process.ppid}\n`);
      await expect(createDatabase({ kind: "pglite", dataDir: `${dir}` })).rejects.toThrow(
        new RegExp(`in use by process ${process.ppid}: stop that process first`),
      );
    } finally {
      await first.close();
    }
    writeFileSync(`${dir}.lock`, "999999999\n"); // a pid that cannot exist
    const again = await createDatabase({ kind: "pglite", dataDir: dir });
    await again.close();
  });
});

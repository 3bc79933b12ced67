import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMigration, diffMigrationsToSchema, toMigrationSlug } from "./diff";

const ROOT = path.resolve(import.meta.dirname, "../..");
const REAL_DIR = path.join(ROOT, "prisma/migrations");
const REAL_SCHEMA = path.join(ROOT, "prisma/schema.prisma");

describe("db:migrate:new", () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "ms-migrate-new-"));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("finds nothing to do: the committed migrations match schema.prisma", async () => {
    expect(await diffMigrationsToSchema({ migrationsDir: REAL_DIR, schemaPath: REAL_SCHEMA })).toBeNull();
  });

  it("writes a migration for a new model, and nothing once it exists", async () => {
    const migrationsDir = path.join(scratch, "migrations");
    await cp(REAL_DIR, migrationsDir, { recursive: true });
    const schemaPath = path.join(scratch, "schema.prisma");
    const schema = await readFile(REAL_SCHEMA, "utf8");
    await writeFile(
      schemaPath,
      `${schema}\nmodel Widget {\n  id   String @id @db.Uuid\n  name String @db.VarChar(100)\n\n  @@map("widgets")\n}\n`,
    );
    const before = await readdir(migrationsDir);

    const migration = await createMigration("Add widgets", {
      migrationsDir,
      schemaPath,
      now: new Date("2000-01-01T00:00:00Z"),
    });
    expect(migration).not.toBeNull();
    expect(migration?.sql).toContain(`CREATE TABLE "widgets"`);
    expect(migration?.sql).not.toContain("organizations");
    // Named after the request and ordered after the existing ones, even with a clock behind.
    expect(migration?.name).toMatch(/^\d{14}_add_widgets$/);
    expect([...before.filter((n) => /^\d/.test(n)), migration?.name].sort().at(-1)).toBe(migration?.name);
    expect(await readFile(path.join(migrationsDir, migration?.name ?? "", "migration.sql"), "utf8")).toBe(
      migration?.sql,
    );

    const again = await createMigration("again", { migrationsDir, schemaPath });
    expect(again).toBeNull();
    expect((await readdir(migrationsDir)).length).toBe(before.length + 1);
  });

  it("turns a free-form name into a folder-safe one", () => {
    expect(toMigrationSlug("  Add pipelines & runs! ")).toBe("add_pipelines_runs");
    expect(() => toMigrationSlug("!!!")).toThrow(/Invalid migration name/);
  });
});

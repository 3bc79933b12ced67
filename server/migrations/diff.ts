// The core of `npm run db:migrate:new`: what `prisma migrate dev --create-only` does, offline.
// Prisma's own schema engine (WASM) replays prisma/migrations into a throwaway in-memory PGlite
// (the shadow database) and diffs the result against schema.prisma, so the SQL is exactly what
// Prisma would write. Development tooling only: no "server-only" marker (see schema-engine.ts).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  defaultMigrationsDir,
  LOCK_FILE,
  LOCK_FILE_CONTENT,
  MIGRATION_FILE,
  readLockFile,
  readMigrationFiles,
} from "./migration-files";
import { inMemoryPGliteFactory, NO_FILTERS, openSchemaEngine } from "./schema-engine";

export interface SchemaDiffOptions {
  /** Defaults to prisma/migrations under the working directory. */
  migrationsDir?: string;
  /** Defaults to prisma/schema.prisma under the working directory. */
  schemaPath?: string;
}

/** The SQL that takes a database migrated with migrationsDir to schemaPath, or null if none. */
export async function diffMigrationsToSchema(options: SchemaDiffOptions = {}): Promise<string | null> {
  const migrationsDir = path.resolve(options.migrationsDir ?? defaultMigrationsDir());
  const schemaPath = path.resolve(options.schemaPath ?? path.join(process.cwd(), "prisma/schema.prisma"));
  const [schema, migrations, lockFile] = await Promise.all([
    readFile(schemaPath, "utf8"),
    readMigrationFiles(migrationsDir),
    readLockFile(migrationsDir),
  ]);

  const databases = inMemoryPGliteFactory();
  const engine = await openSchemaEngine(databases);
  try {
    const result = await engine.diff({
      from: {
        tag: "migrations",
        baseDir: migrationsDir,
        // Without a lock file (no migration yet) the engine cannot tell the provider.
        lockfile: { path: LOCK_FILE, content: lockFile ?? LOCK_FILE_CONTENT },
        shadowDbInitScript: "",
        migrationDirectories: migrations.map((m) => ({
          path: m.name,
          migrationFile: { path: MIGRATION_FILE, content: { tag: "ok", value: m.sql } },
        })),
      },
      to: { tag: "schemaDatamodel", files: [{ path: schemaPath, content: schema }] },
      script: true,
      // exitCode 2 means "there is a difference", as with `prisma migrate diff --exit-code`.
      exitCode: true,
      filters: NO_FILTERS,
    });
    return result.exitCode === 2 && result.stdout ? result.stdout : null;
  } finally {
    engine.free();
    await databases.close();
  }
}

export interface NewMigration {
  /** Folder name, e.g. 20250101120000_add_pipelines. */
  name: string;
  /** Absolute path of the migration.sql written. */
  file: string;
  sql: string;
}

/**
 * Writes <migrationsDir>/<timestamp>_<name>/migration.sql with the SQL from
 * diffMigrationsToSchema (and migration_lock.toml if missing). Returns null, writing nothing,
 * when the schema matches the migrations.
 */
export async function createMigration(
  name: string,
  options: SchemaDiffOptions & { now?: Date } = {},
): Promise<NewMigration | null> {
  const slug = toMigrationSlug(name);
  const migrationsDir = path.resolve(options.migrationsDir ?? defaultMigrationsDir());
  const sql = await diffMigrationsToSchema({ ...options, migrationsDir });
  if (sql === null) return null;

  const existing = await readMigrationFiles(migrationsDir);
  const folder = `${nextTimestamp(options.now ?? new Date(), existing.at(-1)?.name)}_${slug}`;
  const file = path.join(migrationsDir, folder, MIGRATION_FILE);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, sql);
  if ((await readLockFile(migrationsDir)) === null) {
    await writeFile(path.join(migrationsDir, LOCK_FILE), LOCK_FILE_CONTENT);
  }
  return { name: folder, file, sql };
}

/** "Add pipelines!" -> "add_pipelines", the way Prisma names migration folders. */
export function toMigrationSlug(name: string): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 200);
  if (!slug) throw new Error(`Invalid migration name ${JSON.stringify(name)}: use letters, digits and _.`);
  return slug;
}

/** UTC YYYYMMDDHHMMSS, moved past the last existing migration so the new one sorts last. */
function nextTimestamp(now: Date, lastName: string | undefined): string {
  let stamp = formatTimestamp(now);
  const last = lastName?.match(/^(\d{14})_/)?.[1];
  if (last && stamp <= last) stamp = formatTimestamp(new Date(parseTimestamp(last).getTime() + 1_000));
  return stamp;
}

function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

function parseTimestamp(stamp: string): Date {
  const [, y, mo, d, h, mi, s] = stamp.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/) ?? [];
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

import "server-only";
import { randomUUID } from "node:crypto";
import type { Database, RawTx } from "@/server/db";
import { defaultMigrationsDir, type MigrationFile, readMigrationFiles } from "./migration-files";

// Applies prisma/migrations without Prisma's native engine (which cannot be downloaded here),
// keeping the history in Prisma's own `_prisma_migrations` table and format, so
// `prisma migrate status/deploy` accept a database migrated by this code and vice versa.
// Unlike Prisma, each migration runs in one transaction together with its history row: a
// failing migration leaves nothing behind, not even a "failed" row to resolve by hand.

export class MigrationError extends Error {
  override name = "MigrationError";
  /** The migration that failed or is in the way, when there is one. */
  migrationName?: string;

  constructor(message: string, options: { migrationName?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.migrationName = options.migrationName;
  }
}

export interface MigrationOptions {
  /** Folder of <timestamp>_<name>/migration.sql; defaults to prisma/migrations under the cwd. */
  migrationsDir?: string;
  log?: (message: string) => void;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  upToDate: boolean;
}

// Prisma's own migrate lock key: our migrator and `prisma migrate deploy` exclude each other.
const ADVISORY_LOCK_KEY = 72707369;

// Exactly the table Prisma's schema engine creates for PostgreSQL.
const CREATE_HISTORY_TABLE = `CREATE TABLE "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | string | null;
  rolled_back_at: Date | string | null;
}

/** Applies the pending migrations in name order, one transaction each. */
export async function applyMigrations(
  db: Database,
  options: MigrationOptions = {},
): Promise<{ applied: string[]; alreadyApplied: number }> {
  const log = options.log ?? (() => {});
  const files = await readMigrationFiles(options.migrationsDir ?? defaultMigrationsDir());
  const history = await readHistory(db);
  assertHistoryMatches(history, files);

  const done = appliedRows(history);
  const applied: string[] = [];
  let alreadyApplied = 0;
  for (const file of files) {
    if (done.has(file.name)) {
      alreadyApplied++;
      continue;
    }
    const startedAt = Date.now();
    const didApply = await db.transaction((tx) => applyOne(db, tx, file));
    if (didApply) {
      applied.push(file.name);
      log(`Applied migration ${file.name} (${Date.now() - startedAt} ms)`);
    } else {
      // Another process applied it while we waited for the lock.
      alreadyApplied++;
    }
  }
  log(
    applied.length === 0
      ? `No pending migrations (${alreadyApplied} already applied)`
      : `Applied ${applied.length} migration(s); ${alreadyApplied} were already applied`,
  );
  return { applied, alreadyApplied };
}

/** Which migrations are applied and which are waiting (the readiness probe's question). */
export async function getMigrationStatus(db: Database, options: MigrationOptions = {}): Promise<MigrationStatus> {
  const files = await readMigrationFiles(options.migrationsDir ?? defaultMigrationsDir());
  const done = appliedRows(await readHistory(db));
  const applied = files.filter((f) => done.has(f.name)).map((f) => f.name);
  const pending = files.filter((f) => !done.has(f.name)).map((f) => f.name);
  return { applied, pending, upToDate: pending.length === 0 };
}

async function applyOne(db: Database, tx: RawTx, file: MigrationFile): Promise<boolean> {
  // Held until commit: a concurrent migrator (or `prisma migrate deploy`) waits here, then sees
  // the row this transaction wrote. PGlite has a single connection, so nothing to exclude.
  if (db.kind === "postgres") await tx.query("SELECT pg_advisory_xact_lock($1)", [ADVISORY_LOCK_KEY]);
  // Created in the first migration's transaction, so a failure leaves an empty database empty.
  if (!(await hasHistoryTable(tx))) await tx.exec(CREATE_HISTORY_TABLE);

  const existing = await tx.query<HistoryRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"
      WHERE migration_name = $1 AND rolled_back_at IS NULL`,
    [file.name],
  );
  if (existing.length > 0) {
    assertHistoryMatches(existing, [file]);
    return false;
  }

  const id = randomUUID();
  await tx.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, clock_timestamp(), 0)`,
    [id, file.checksum, file.name],
  );
  try {
    await tx.exec(file.sql);
  } catch (error) {
    throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${describeDbError(error)}`, {
      migrationName: file.name,
      cause: error,
    });
  }
  await tx.query(
    `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
    [id],
  );
  return true;
}

async function hasHistoryTable(db: Pick<Database, "query">): Promise<boolean> {
  // A plain query on pg_class, not to_regclass(): after waiting for the lock, this statement's
  // snapshot sees a table another migrator just created, while the backend's catalog cache
  // that to_regclass() reads may still say it does not exist.
  const [row] = await db.query<{ exists: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = '_prisma_migrations' AND n.nspname = current_schema()
     ) AS "exists"`,
  );
  return row?.exists === true;
}

async function readHistory(db: Database): Promise<HistoryRow[]> {
  if (!(await hasHistoryTable(db))) return [];
  return db.query<HistoryRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"
      ORDER BY started_at, migration_name`,
  );
}

/** Names of the migrations that finished and were not rolled back. */
function appliedRows(history: HistoryRow[]): Set<string> {
  return new Set(
    history.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name),
  );
}

/** Refuses to go on when the history and the folder disagree, as `prisma migrate deploy` does. */
function assertHistoryMatches(history: HistoryRow[], files: MigrationFile[]): void {
  const byName = new Map(files.map((f) => [f.name, f]));
  const live = history.filter((r) => r.rolled_back_at === null);

  const failed = live.find((r) => r.finished_at === null);
  if (failed) {
    throw new MigrationError(
      `Migration ${failed.migration_name} failed in an earlier run (it was started but never finished, ` +
        "e.g. by `prisma migrate deploy`). Fix the database by hand, then mark it with " +
        "`prisma migrate resolve --rolled-back` or `--applied`.",
      { migrationName: failed.migration_name },
    );
  }

  const modified = live.find((r) => {
    const file = byName.get(r.migration_name);
    return file !== undefined && file.checksum !== r.checksum;
  });
  if (modified) {
    throw new MigrationError(
      `Migration ${modified.migration_name} was modified after it was applied. Restore its ` +
        "migration.sql as it was, and put further changes in a new migration.",
      { migrationName: modified.migration_name },
    );
  }

  const missing = live.filter((r) => !byName.has(r.migration_name)).map((r) => r.migration_name);
  const [firstMissing] = missing;
  if (firstMissing !== undefined) {
    throw new MigrationError(
      `Migration(s) applied to the database but missing from the migrations folder: ${missing.join(", ")}. ` +
        "Is this an older checkout of the code than the one that migrated this database?",
      { migrationName: firstMissing },
    );
  }
}

function describeDbError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & { detail?: string; hint?: string };
  return [e.message, e.detail && `Detail: ${e.detail}`, e.hint && `Hint: ${e.hint}`].filter(Boolean).join(". ");
}

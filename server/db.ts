import "server-only";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { type Prisma, PrismaClient } from "@/generated/prisma/client";
import { getEnv } from "./env";

export type DbClient = PrismaClient;
/** What repos accept: the client or an interactive transaction. */
export type DbTx = Prisma.TransactionClient | PrismaClient;

/**
 * A connected database: the Prisma client plus raw SQL access for the migrator, readiness
 * probe and hot paths that batch. Either the embedded PGlite or a PostgreSQL pool.
 */
export interface Database {
  readonly kind: "pglite" | "postgres";
  /** host:port/database, or the PGlite data directory; for messages, never with a password. */
  readonly description: string;
  readonly prisma: PrismaClient;
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** Runs one statement with $1.. parameters. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * One statement with parameters, or several without: the rows of the last one. For libraries
   * that bring their own SQL (pg-boss sends multi-statement scripts without parameters).
   */
  execute(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  /** Runs fn inside one transaction on one connection (raw SQL), rolled back if it throws. */
  transaction<T>(fn: (tx: RawTx) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on a channel. PostgreSQL: one dedicated connection that reconnects by
   * itself and calls onReconnect after a gap (notifications sent meanwhile are lost, so the
   * caller resynchronizes). Closing the database ends every subscription.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface RawTx {
  exec(sql: string): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export type DatabaseOptions =
  | { kind: "pglite"; dataDir?: string; pglite?: PGlite }
  | { kind: "postgres"; url: string; poolMax?: number };

export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  return options.kind === "pglite" ? createPGliteDatabase(options) : createPostgresDatabase(options);
}

async function createPGliteDatabase(options: { dataDir?: string; pglite?: PGlite }): Promise<Database> {
  let client = options.pglite;
  let releaseLock = () => {};
  if (!client) {
    if (options.dataDir) {
      mkdirSync(options.dataDir, { recursive: true });
      releaseLock = lockDataDir(options.dataDir);
    }
    try {
      client = await PGlite.create(options.dataDir);
    } catch (error) {
      releaseLock();
      throw error;
    }
  }
  const pglite = client;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: "pglite",
    description: options.dataDir ? `PGlite at ${options.dataDir}` : "PGlite in memory",
    prisma,
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
    execute: async (sql, params) => {
      if (params !== undefined && params.length > 0) {
        return { rows: (await pglite.query<Record<string, unknown>>(sql, params)).rows };
      }
      const results = await pglite.exec(sql);
      return { rows: (results.at(-1)?.rows ?? []) as Record<string, unknown>[] };
    },
    transaction: (fn) =>
      pglite.transaction((tx) =>
        fn({
          exec: async (sql) => {
            await tx.exec(sql);
          },
          query: async <T>(sql: string, params?: unknown[]) => (await tx.query<T>(sql, params)).rows,
        }),
      ),
    listen: async (channel, onPayload) => pglite.listen(channel, onPayload),
    close: async () => {
      await prisma.$disconnect();
      if (!pglite.closed) await pglite.close();
      releaseLock();
    },
  };
}

/**
 * PGlite is one process's database: a second process opening the same directory (a second
 * `npm run dev`, a script while the server runs) would corrupt it. A lock file beside the
 * directory holds the owner's pid; a lock whose process is gone is stale and taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const file = `${path.resolve(dataDir)}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(readFileSync(file, "utf8"), 10);
      if (Number.isInteger(owner) && owner > 0 && isProcessAlive(owner)) {
        throw new Error(
          `the embedded database at ${dataDir} is in use by process ${owner}: stop that process first (or use DATABASE_URL)`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock the embedded database at ${dataDir}`);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function createPostgresDatabase(options: { url: string; poolMax?: number }): Promise<Database> {
  const url = new URL(options.url);
  const description = `PostgreSQL at ${url.hostname}:${url.port || "5432"}${url.pathname}`;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool replaces it and /readyz reports the outage meanwhile.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const listeners = new Set<PostgresListener>();
  return {
    kind: "postgres",
    description,
    prisma,
    exec: async (sql) => {
      await pool.query(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await pool.query(sql, params as unknown[])).rows as T[],
    execute: async (sql, params) => {
      const result = (await pool.query(sql, params as unknown[])) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(result) ? result.at(-1) : result;
      return { rows: (last?.rows ?? []) as Record<string, unknown>[] };
    },
    transaction: async (fn) => {
      const conn = await pool.connect();
      try {
        await conn.query("BEGIN");
        const result = await fn({
          exec: async (sql) => {
            await conn.query(sql);
          },
          query: async <T>(sql: string, params?: unknown[]) => (await conn.query(sql, params as unknown[])).rows as T[],
        });
        await conn.query("COMMIT");
        return result;
      } catch (error) {
        await conn.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        conn.release();
      }
    },
    listen: (channel, onPayload, onReconnect) => {
      const listener = listenPostgres(options.url, channel, onPayload, onReconnect);
      listeners.add(listener);
      return listener.ready.then(() => async () => {
        listeners.delete(listener);
        await listener.stop();
      });
    },
    close: async () => {
      await Promise.all([...listeners].map((listener) => listener.stop()));
      listeners.clear();
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

interface PostgresListener {
  ready: Promise<void>;
  stop(): Promise<void>;
}

const RECONNECT_DELAYS_MS = [100, 500, 1_000, 2_000, 5_000];

/** A LISTEN connection that outlives database restarts: reconnects with backoff, then resyncs. */
function listenPostgres(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
  onReconnect?: () => void,
): PostgresListener {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;
  const quoted = `"${channel.replaceAll('"', '""')}"`;

  // Resolves once listening. A first attempt that fails keeps retrying in the background (and
  // resynchronizes through onReconnect when it succeeds); the caller is not left without
  // notifications because the database was briefly away at start.
  let firstSettled = false;
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  const connect = async (isReconnect: boolean): Promise<void> => {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    next.on("notification", (message) => {
      if (message.channel === channel) onPayload(message.payload ?? "");
    });
    next.on("error", () => {});
    next.on("end", () => {
      if (stopped || client !== next) return;
      client = undefined;
      schedule();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${quoted}`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
    attempt = 0;
    if (isReconnect) onReconnect?.();
  };

  const schedule = () => {
    if (stopped || timer) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)] ?? 5_000;
    attempt++;
    timer = setTimeout(() => {
      timer = undefined;
      connect(true).catch(schedule);
    }, delay);
    timer.unref();
  };

  connect(false).then(
    () => {
      firstSettled = true;
      resolveReady();
    },
    () => {
      if (!firstSettled) {
        firstSettled = true;
        resolveReady();
      }
      schedule();
    },
  );

  return {
    ready,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}

// One database per process, shared by every module graph in it: the custom server (tsx) and
// Next's compiled route handlers load this file separately, and two PGlite instances on one
// data directory would corrupt it. Hence a process-global slot rather than a module variable.
const SLOT = Symbol.for("microstack.database");
type Slot = { current?: Database; pending?: Promise<Database>; closed?: boolean };
function slot(): Slot {
  const store = globalThis as unknown as Record<symbol, Slot | undefined>;
  store[SLOT] ??= {};
  return store[SLOT];
}

/** The process database, opened from the environment on first use. */
export async function getDatabase(): Promise<Database> {
  const s = slot();
  if (s.current) return s.current;
  // After shutdown closed it, nothing may reopen it (a late handler would open a second PGlite).
  if (s.closed) throw new Error("the database is closed: the process is shutting down");
  s.pending ??= openFromEnv().then(
    (db) => {
      s.current = db;
      return db;
    },
    (error: unknown) => {
      s.pending = undefined; // the next call tries again
      throw error;
    },
  );
  return s.pending;
}

/** The Prisma client of the process database. */
export async function getPrisma(): Promise<PrismaClient> {
  return (await getDatabase()).prisma;
}

/** Installs db as the process database (the boot sequence and tests). */
export function setDatabase(db: Database | undefined): void {
  const s = slot();
  s.current = db;
  s.pending = db ? Promise.resolve(db) : undefined;
  s.closed = false;
}

function openFromEnv(): Promise<Database> {
  const env = getEnv();
  if (env.DATABASE_URL) {
    return createDatabase({ kind: "postgres", url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX });
  }
  return createDatabase({ kind: "pglite", dataDir: path.join(env.dataDir, "pglite") });
}

/** Closes the process database (graceful shutdown, end of a script). */
export async function closeDatabase(): Promise<void> {
  const s = slot();
  const db = s.current ?? (s.pending ? await s.pending.catch(() => undefined) : undefined);
  setDatabase(undefined);
  s.closed = true;
  await db?.close();
}

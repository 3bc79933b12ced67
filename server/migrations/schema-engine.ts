// Prisma's schema engine (what runs behind `prisma migrate`) from @prisma/schema-engine-wasm,
// driven over driver adapters instead of the native binary, which cannot be downloaded here.
// Development tooling only (db:migrate:new and tests): no "server-only" marker, because
// `tsx scripts/db-migrate-new.ts` runs without the hook that neutralises it.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { SchemaEngine } from "@prisma/schema-engine-wasm/schema_engine_bg";
import { PrismaPGlite } from "pglite-prisma-adapter";

export type { SchemaEngine };

type EngineModule = typeof import("@prisma/schema-engine-wasm/schema_engine_bg");

let enginePromise: Promise<EngineModule> | undefined;

/**
 * Loads the WASM once per process. The package's entry imports the .wasm file as an ES module,
 * which Node 20 cannot do without a flag, so the bindings are instantiated by hand.
 */
function loadEngineModule(): Promise<EngineModule> {
  enginePromise ??= (async () => {
    const bindings: EngineModule = await import("@prisma/schema-engine-wasm/schema_engine_bg");
    const require = createRequire(import.meta.url);
    const bindingsPath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await readFile(path.join(path.dirname(bindingsPath), "schema_engine_bg.wasm"));
    const module = await WebAssembly.compile(bytes);
    const instance = await WebAssembly.instantiate(module, { "./schema_engine_bg.js": bindings });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bindings;
  })();
  return enginePromise;
}

/** The part of Prisma's `SqlMigrationAwareDriverAdapterFactory` the engine uses. */
export interface MigrationAdapterFactory {
  readonly provider: string;
  readonly adapterName: string;
  connect(): Promise<object>;
  connectToShadowDb(): Promise<object>;
}

/** Starts an engine whose main and shadow databases come from factory. */
export async function openSchemaEngine(factory: MigrationAdapterFactory): Promise<SchemaEngine> {
  const { SchemaEngine } = await loadEngineModule();
  const log = process.env.DEBUG_SCHEMA_ENGINE ? (line: string) => console.error(line) : () => {};
  return SchemaEngine.new({ datamodels: undefined }, log, bindFactory(factory));
}

export const NO_FILTERS = { externalTables: [], externalEnums: [] };

/** A factory whose databases must be closed once the engine is done with them. */
export interface ClosableAdapterFactory extends MigrationAdapterFactory {
  close(): Promise<void>;
}

/**
 * Adapters for the engine on throwaway in-memory PGlite databases. The engine only probes the
 * main database's version before a diff from the migrations folder, so the main connection and
 * the first shadow database share one PGlite: each costs seconds to boot.
 */
export function inMemoryPGliteFactory(): ClosableAdapterFactory {
  const opened: PGlite[] = [];
  const boot = () => {
    const created = bootPGlite();
    created.then((db) => opened.push(db)).catch(() => {});
    return created;
  };
  let shared: Promise<PGlite> | undefined;
  let isSharedTaken = false;
  const getShared = () => {
    shared ??= boot();
    return shared;
  };
  return {
    provider: "postgres",
    adapterName: "microstack-pglite-memory",
    connect: async () => lazyAdapter(async () => pgliteAdapter(await getShared(), { closeOnDispose: false })),
    connectToShadowDb: async () => {
      if (!isSharedTaken) {
        isSharedTaken = true;
        return pgliteAdapter(await getShared(), { closeOnDispose: false });
      }
      return pgliteAdapter(await boot(), { closeOnDispose: true });
    },
    close: async () => {
      await Promise.all(opened.map((db) => (db.closed ? undefined : db.close())));
    },
  };
}

// A fresh cluster's data directory, kept from the first boot: loading it is several times
// faster than initdb, which matters when one process diffs more than once (tests).
let emptyDataDir: Promise<Blob> | undefined;

async function bootPGlite(): Promise<PGlite> {
  if (emptyDataDir) return PGlite.create({ loadDataDir: await emptyDataDir });
  const pglite = await PGlite.create();
  emptyDataDir ??= pglite.dumpDataDir("none");
  await emptyDataDir.catch(() => {
    emptyDataDir = undefined;
  });
  return pglite;
}

type Adapter = Record<string, unknown> & {
  queryRaw(query: unknown): Promise<unknown>;
  executeRaw(query: unknown): Promise<unknown>;
  executeScript(script: string): Promise<void>;
  startTransaction(isolationLevel?: string): Promise<object>;
  getConnectionInfo?(): unknown;
  dispose(): Promise<void>;
};

async function pgliteAdapter(pglite: PGlite, options: { closeOnDispose: boolean }): Promise<Adapter> {
  const adapter = (await new PrismaPGlite(pglite).connect()) as unknown as Adapter;
  // pglite-prisma-adapter 0.7 does not await executeScript: a failing migration would surface
  // as an unhandled rejection instead of an error the engine reports.
  adapter.executeScript = async (script: string) => {
    try {
      await pglite.exec(script);
    } catch (error) {
      throw toDriverAdapterError(error);
    }
  };
  adapter.dispose = async () => {
    if (options.closeOnDispose && !pglite.closed) await pglite.close();
  };
  return adapter;
}

function lazyAdapter(open: () => Promise<Adapter>): Adapter {
  let opened: Promise<Adapter> | undefined;
  const get = () => {
    opened ??= open();
    return opened;
  };
  return {
    provider: "postgres",
    adapterName: "microstack-pglite-memory",
    queryRaw: async (query) => (await get()).queryRaw(query),
    executeRaw: async (query) => (await get()).executeRaw(query),
    executeScript: async (script) => (await get()).executeScript(script),
    startTransaction: async (level) => (await get()).startTransaction(level),
    getConnectionInfo: () => ({ supportsRelationJoins: true }),
    dispose: async () => {
      if (opened) await (await opened).dispose();
    },
  };
}

/** A PostgreSQL error in the shape the engine reads (driver-adapter-utils' `postgres` kind). */
function toDriverAdapterError(error: unknown): unknown {
  const e = error as { code?: unknown; message?: unknown; severity?: unknown; detail?: unknown; hint?: unknown };
  if (typeof e?.code !== "string" || typeof e.message !== "string") return error;
  const wrapped = new Error(e.message);
  wrapped.name = "DriverAdapterError";
  wrapped.cause = {
    kind: "postgres",
    code: e.code,
    severity: typeof e.severity === "string" ? e.severity : "ERROR",
    message: e.message,
    detail: typeof e.detail === "string" ? e.detail : undefined,
    column: undefined,
    hint: typeof e.hint === "string" ? e.hint : undefined,
  };
  return wrapped;
}

// The engine calls adapter methods unbound and expects Result objects ({ ok, value } or
// { ok: false, error }) instead of exceptions; errors it cannot decode are looked up by id in
// errorRegistry. This mirrors @prisma/driver-adapter-utils' binder, which is not a direct
// dependency of the project.
type Result = { ok: true; value: unknown } | { ok: false; error: unknown };

class ErrorRegistry {
  private readonly errors: ({ error: unknown } | undefined)[] = [];
  consumeError(id: number): { error: unknown } | undefined {
    const entry = this.errors[id];
    this.errors[id] = undefined;
    return entry;
  }
  registerNewError(error: unknown): number {
    let id = 0;
    while (this.errors[id] !== undefined) id++;
    this.errors[id] = { error };
    return id;
  }
}

function toResult(registry: ErrorRegistry, error: unknown): Result {
  const e = error as { name?: unknown; cause?: unknown };
  if (e?.name === "DriverAdapterError" && typeof e.cause === "object") return { ok: false, error: e.cause };
  return { ok: false, error: { kind: "GenericJs", id: registry.registerNewError(error) } };
}

function wrapAsync<A extends unknown[]>(
  registry: ErrorRegistry,
  fn: (...args: A) => Promise<unknown>,
  map: (value: unknown) => unknown = (value) => value,
): (...args: A) => Promise<Result> {
  return async (...args) => {
    try {
      return { ok: true, value: map(await fn(...args)) };
    } catch (error) {
      return toResult(registry, error);
    }
  };
}

function bindFactory(factory: MigrationAdapterFactory): object {
  const registry = new ErrorRegistry();
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    errorRegistry: registry,
    connect: wrapAsync(
      registry,
      () => factory.connect(),
      (a) => bindAdapter(registry, a as Adapter),
    ),
    connectToShadowDb: wrapAsync(
      registry,
      () => factory.connectToShadowDb(),
      (a) => bindAdapter(registry, a as Adapter),
    ),
  };
}

function bindAdapter(registry: ErrorRegistry, adapter: Adapter): object {
  const bound: Record<string, unknown> = {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    errorRegistry: registry,
    queryRaw: wrapAsync(registry, adapter.queryRaw.bind(adapter)),
    executeRaw: wrapAsync(registry, adapter.executeRaw.bind(adapter)),
    executeScript: wrapAsync(registry, adapter.executeScript.bind(adapter)),
    dispose: wrapAsync(registry, adapter.dispose.bind(adapter)),
    startTransaction: wrapAsync(registry, adapter.startTransaction.bind(adapter), (tx) =>
      bindTransaction(registry, tx as Adapter),
    ),
  };
  const getConnectionInfo = adapter.getConnectionInfo;
  if (getConnectionInfo) {
    bound.getConnectionInfo = () => {
      try {
        return { ok: true, value: getConnectionInfo.call(adapter) };
      } catch (error) {
        return toResult(registry, error);
      }
    };
  }
  return bound;
}

function bindTransaction(registry: ErrorRegistry, tx: Record<string, unknown>): object {
  const bound: Record<string, unknown> = {
    provider: tx.provider,
    adapterName: tx.adapterName,
    options: tx.options,
  };
  for (const method of [
    "queryRaw",
    "executeRaw",
    "commit",
    "rollback",
    "createSavepoint",
    "rollbackToSavepoint",
    "releaseSavepoint",
  ]) {
    const fn = tx[method];
    if (typeof fn === "function") bound[method] = wrapAsync(registry, fn.bind(tx));
  }
  return bound;
}

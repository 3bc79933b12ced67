import "server-only";
import { type Database, getDatabase } from "@/server/db";
import { getLogger } from "@/server/observability/logger";
import { singleton } from "@/server/observability/singleton";
import { compileCondition } from "./cel/compile";
import { buildSnapshot, type Compile, EMPTY_SNAPSHOT, replaceOrganizations, type Snapshot } from "./engine/snapshot";
import { compileDuration, policyRevision, reloadDuration, reloads, ruleCount, ruleProblems } from "./metrics";
import { loadOrganizationRules, loadRuleSet } from "./repo";

// The process's current rule snapshot and how it stays current.
//
// - First use loads every organization's rules and subscribes to NOTIFY microstack_authz (the
//   migration's triggers send the changed organization's id at commit).
// - A notification schedules a reload of the named organizations; notifications that arrive
//   while a reload runs are folded into the next one. An empty payload, a lost LISTEN
//   connection or a failed partial reload triggers a full reload.
// - The writer's own process does not wait for its notification: the service refreshes the
//   organization right after commit, so the writer's next decision already sees the change.
// - Reloads build a complete new snapshot off to the side and swap one reference: a decision
//   sees the old rules or the new ones, never a mixture.
//
// Process-global (singleton): Next's route handlers and the custom server are separate module
// graphs in one process and must share one snapshot and one LISTEN connection.

const logger = getLogger("authz");

export const AUTHZ_CHANNEL = "microstack_authz";

interface RuntimeState {
  snapshot: Snapshot | undefined;
  database: Database | undefined;
  loading: Promise<Snapshot> | undefined;
  unlisten: (() => Promise<void>) | undefined;
  pendingOrganizations: Set<string>;
  pendingFull: boolean;
  reloading: Promise<void> | undefined;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** Bumped by stop: a start that was still subscribing must not install its listener. */
  generation: number;
}

const state = singleton<RuntimeState>("authz-runtime", () => ({
  snapshot: undefined,
  database: undefined,
  loading: undefined,
  unlisten: undefined,
  pendingOrganizations: new Set(),
  pendingFull: false,
  reloading: undefined,
  failures: 0,
  retryTimer: undefined,
  generation: 0,
}));

const RETRY_DELAYS_MS = [200, 1_000, 5_000, 15_000, 30_000];

function scheduleRetry(): void {
  if (state.retryTimer) return;
  const delay = RETRY_DELAYS_MS[Math.min(state.failures, RETRY_DELAYS_MS.length - 1)] ?? 30_000;
  state.failures++;
  state.retryTimer = setTimeout(() => {
    state.retryTimer = undefined;
    if (state.snapshot) void drainReloads();
  }, delay);
  state.retryTimer.unref();
}

const timedCompile: Compile = (source) => {
  const started = performance.now();
  try {
    return compileCondition(source);
  } finally {
    compileDuration.observe((performance.now() - started) / 1_000);
  }
};

function install(snapshot: Snapshot): Snapshot {
  state.snapshot = snapshot;
  policyRevision.set(snapshot.revision);
  ruleCount.set(snapshot.ruleCount);
  ruleProblems.set(snapshot.problems.length);
  for (const problem of snapshot.problems.slice(0, 20)) {
    logger.warn({ authzProblem: problem }, "authorization rule does not compile; it fails closed");
  }
  return snapshot;
}

async function fullLoad(): Promise<Snapshot> {
  const started = performance.now();
  try {
    const snapshot = buildSnapshot(await loadRuleSet(), timedCompile);
    reloads.inc({ kind: "full", result: "success" });
    return install(snapshot);
  } catch (error) {
    reloads.inc({ kind: "full", result: "failure" });
    throw error;
  } finally {
    reloadDuration.observe({ kind: "full" }, (performance.now() - started) / 1_000);
  }
}

async function reloadOrganizations(organizationIds: readonly string[]): Promise<void> {
  // A change notified while the first load runs may have committed after that load read its
  // rows: wait for the load, then reload those organizations on top of it.
  const previous = state.snapshot ?? (state.loading ? await state.loading.catch(() => undefined) : undefined);
  if (!previous) {
    state.pendingFull = true;
    return;
  }
  const started = performance.now();
  try {
    const { revision, organizations } = await loadOrganizationRules(organizationIds);
    const found = new Map(organizations.map((rules) => [rules.organizationId, rules]));
    // Another reload may have swapped in a newer snapshot meanwhile; build on the current one.
    const base = state.snapshot ?? previous;
    install(
      replaceOrganizations(
        base,
        revision,
        organizationIds.map((organizationId) => ({ organizationId, rules: found.get(organizationId) ?? null })),
        timedCompile,
      ),
    );
    reloads.inc({ kind: "organization", result: "success" });
  } catch (error) {
    reloads.inc({ kind: "organization", result: "failure" });
    throw error;
  } finally {
    reloadDuration.observe({ kind: "organization" }, (performance.now() - started) / 1_000);
  }
}

/** Runs queued reloads until none are left; one at a time. */
function drainReloads(): Promise<void> {
  state.reloading ??= (async () => {
    try {
      while (state.pendingFull || state.pendingOrganizations.size > 0) {
        const full = state.pendingFull;
        const organizations = [...state.pendingOrganizations];
        state.pendingFull = false;
        state.pendingOrganizations.clear();
        try {
          if (full) await fullLoad();
          else await reloadOrganizations(organizations);
          state.failures = 0;
        } catch (error) {
          // Keep the previous snapshot and try again with backoff: a lost revocation must not
          // stay lost until some unrelated change arrives.
          logger.error({ err: error }, "authorization rules reload failed; keeping the previous snapshot, retrying");
          state.pendingFull = true;
          scheduleRetry();
          break;
        }
      }
    } finally {
      state.reloading = undefined;
    }
  })();
  return state.reloading;
}

function onNotification(payload: string): void {
  if (payload === "") state.pendingFull = true;
  else state.pendingOrganizations.add(payload);
  void drainReloads();
}

async function start(database: Database): Promise<Snapshot> {
  await stopListening();
  const generation = ++state.generation;
  state.database = database;
  state.snapshot = undefined;
  try {
    const unlisten = await database.listen(AUTHZ_CHANNEL, onNotification, () => onNotification(""));
    if (generation !== state.generation) await unlisten().catch(() => {});
    else state.unlisten = unlisten;
  } catch (error) {
    logger.warn({ err: error }, "could not subscribe to authorization rule changes; this process reloads only its own");
  }
  return fullLoad();
}

async function stopListening(): Promise<void> {
  const unlisten = state.unlisten;
  state.unlisten = undefined;
  await unlisten?.().catch(() => {});
}

/**
 * The current snapshot, loading it on first use. The database identity is checked so tests that
 * install a fresh database (setDatabase) never decide against another database's rules.
 */
export async function getSnapshot(): Promise<Snapshot> {
  const database = await getDatabase();
  if (state.snapshot && state.database === database) return state.snapshot;
  if (state.loading && state.database === database) return state.loading;
  state.database = database;
  state.loading = start(database).finally(() => {
    state.loading = undefined;
  });
  return state.loading;
}

/** The current snapshot if loaded (benchmarks, metrics), without loading it. */
export function peekSnapshot(): Snapshot {
  return state.snapshot ?? EMPTY_SNAPSHOT;
}

/**
 * Makes a committed change visible to this process's next decision (the writer's process does
 * not wait for its own notification). Other processes follow through NOTIFY.
 */
export async function refreshOrganization(organizationId: string): Promise<void> {
  if (!state.snapshot) return;
  state.pendingOrganizations.add(organizationId);
  await drainReloads();
  // A reload that was already running when the change committed may not include it.
  if (state.pendingOrganizations.size > 0 || state.pendingFull) await drainReloads();
}

/** Stops listening and forgets the snapshot (shutdown, tests). */
export async function stopAuthzRuntime(): Promise<void> {
  state.generation++;
  if (state.retryTimer) clearTimeout(state.retryTimer);
  state.retryTimer = undefined;
  await stopListening();
  await state.reloading;
  state.snapshot = undefined;
  state.database = undefined;
}

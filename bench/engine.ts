// The run engine under load (server/runs on pg-boss, the pure engine, the local executor):
//   npm run bench:engine                 PostgreSQL at TEST_PG_ADMIN_URL (a database of its own)
//   npm run bench:engine -- --pglite     the embedded database
//   options: --runs 100 --steps 20 --burst 5000 --big 10000
// Phases, each through the service layer as the API calls it (authorization and audit included):
//   1. transitions and throughput: `runs` runs of a `steps`-step chain at once, every step a
//      built-in kind that does nothing (`sleep 0s`, executed in process): each step costs a
//      dispatch, a step.started and a step.exited transition. Reports the transition time (lock,
//      compute, write, enqueue, commit) p50/p99 and step completions per second.
//   2. local executor start latency: chains of `run: "true"` steps; from dispatch (the step's
//      `dispatchedAt`) to the process running (`startedAt`), p50/p99.
//   3. burst: `burst` runs submitted at once (32 submitters): seconds until every one has started,
//      and until every one has finished.
//   4. a 10,000-step run of `noop` steps (completed inside the engine): create to finish.
// The last line is one JSON object with the figures.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { seedDemoData } from "@/prisma/seed";
import type { Actor } from "@/server/auth/schema";
import { getActorById } from "@/server/auth/service";
import { stopAuthzRuntime } from "@/server/authz/runtime";
import { createDatabase, type Database, getDatabase, setDatabase } from "@/server/db";
import { applyMigrations } from "@/server/migrations/migrator";
import { createPipeline } from "@/server/pipelines/service";
import { startRunsRuntime, stopRunsRuntime } from "@/server/runs/runtime";
import { getRun, startRun } from "@/server/runs/service";
import { createEmptyPostgresDatabase } from "@/test/db";

const { values } = parseArgs({
  options: {
    pglite: { type: "boolean", default: false },
    runs: { type: "string", default: "100" },
    steps: { type: "string", default: "20" },
    burst: { type: "string", default: "5000" },
    big: { type: "string", default: "10000" },
  },
});
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const BURST = Number(values.burst);
const BIG = Number(values.big);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

function chain(name: string, steps: number, body: string): string {
  const lines = [`name: ${name}`, "steps:"];
  for (let i = 1; i <= steps; i++) {
    lines.push(`  - id: s${i}`);
    if (i > 1) lines.push(`    needs: s${i - 1}`);
    lines.push(`    ${body}`);
  }
  return `${lines.join("\n")}\n`;
}

async function waitAll(actor: Actor, runIds: readonly string[], done: (status: string) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(runIds);
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} runs did not get there within ${timeoutMs} ms`);
    const db = await getDatabase();
    const rows = await db.query<{ id: string; status: string; started_at: Date | null }>(
      `SELECT id, status, started_at FROM runs WHERE id = ANY($1::uuid[])`,
      [[...pending]],
    );
    for (const row of rows) if (done(row.status)) pending.delete(row.id);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  void actor;
}

const queryCounts = new Map<string, number>();
function countQueries(db: Database): void {
  const note = (sql: string) => {
    const key = sql.replace(/\s+/g, " ").trim().slice(0, 70);
    queryCounts.set(key, (queryCounts.get(key) ?? 0) + 1);
  };
  const target = db as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ["query", "execute", "exec"] as const) {
    const original = target[name]?.bind(db);
    if (!original) continue;
    target[name] = (sql: unknown, ...rest: unknown[]) => {
      note(String(sql));
      return original(sql, ...rest);
    };
  }
  const transaction = db.transaction.bind(db);
  (db as { transaction: Database["transaction"] }).transaction = (fn) =>
    transaction((tx) => {
      note("BEGIN..COMMIT");
      return fn({
        exec: (sql) => {
          note(`tx ${sql}`);
          return tx.exec(sql);
        },
        query: (sql, params) => {
          note(`tx ${sql}`);
          return tx.query(sql, params);
        },
      });
    });
  process.on("exit", () => {
    for (const [key, count] of [...queryCounts].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
      console.error(String(count).padStart(7), key);
    }
  });
}

const FINISHED = (status: string) => ["succeeded", "failed", "cancelled", "timed_out"].includes(status);

async function main(): Promise<void> {
  const kind = values.pglite ? "pglite" : "postgres";
  let db: Database;
  let drop: () => Promise<void> = async () => {};
  if (kind === "postgres") {
    const empty = await createEmptyPostgresDatabase();
    db = await createDatabase({ kind: "postgres", url: empty.url, poolMax: 20 });
    drop = empty.drop;
  } else {
    db = await createDatabase({ kind: "pglite" });
  }
  await applyMigrations(db);
  if (process.env.BENCH_COUNT_QUERIES) countQueries(db);
  setDatabase(db);
  await seedDemoData(db.prisma, { password: "bench-engine-password" });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "microstack-bench-engine-"));
  const transitions: number[] = [];
  let recording = false;
  await startRunsRuntime({
    db,
    dataDir,
    executorConcurrency: 64,
    leaseSeconds: 30,
    maxLogBytes: 64 * 1024 * 1024,
    logRetentionDays: 30,
    onTransition: (ms) => {
      if (recording) transitions.push(ms);
    },
  });
  const users = await db.prisma.user.findMany();
  const actorOf = async (prefix: string) =>
    (await getActorById(users.find((user) => user.email.startsWith(`${prefix}@`))?.id ?? "")) as Actor;
  const maintainer = await actorOf("maintainer");
  const developer = await actorOf("developer");
  const save = async (slug: string, yaml: string) =>
    (await createPipeline(maintainer, "acme", "storefront", { slug, yaml })).id;
  console.log(`bench:engine on ${kind}, ${os.cpus().length} cores, Node ${process.version}`);

  // 1. Transitions and step completions across concurrent runs.
  const inline = await save("bench-inline", chain("bench-inline", STEPS, "uses: sleep\n    with: { duration: 0s }"));
  recording = true;
  const started1 = performance.now();
  const runs1 = await Promise.all(
    Array.from({ length: RUNS }, () => startRun(developer, inline, {}).then((run) => run.id)),
  );
  await waitAll(developer, runs1, FINISHED, 600_000);
  const seconds1 = (performance.now() - started1) / 1_000;
  recording = false;
  const sorted = [...transitions].sort((a, b) => a - b);
  const completionsPerS = (RUNS * STEPS) / seconds1;
  console.log(
    `1. ${RUNS} runs x ${STEPS} steps: ${round(seconds1)} s, ${round(completionsPerS, 0)} step completions/s; ` +
      `${transitions.length} transitions, p50 ${round(percentile(sorted, 50))} ms, p99 ${round(percentile(sorted, 99))} ms`,
  );

  // 2. Local executor: dispatch to process start.
  const local = await save("bench-local", chain("bench-local", 20, 'run: "true"'));
  const runs2 = await Promise.all(
    Array.from({ length: 5 }, () => startRun(developer, local, {}).then((run) => run.id)),
  );
  await waitAll(developer, runs2, FINISHED, 300_000);
  const startLatencies: number[] = [];
  for (const runId of runs2) {
    const run = await getRun(developer, runId);
    const rows = await db.query<{ state: { dispatchedAt: number | null; startedAt: number | null } }>(
      `SELECT state FROM run_steps WHERE run_id = $1`,
      [runId],
    );
    for (const { state } of rows) {
      if (state.dispatchedAt !== null && state.startedAt !== null)
        startLatencies.push(state.startedAt - state.dispatchedAt);
    }
    if (run.status !== "succeeded") throw new Error(`local run ${runId} ${run.status}`);
  }
  startLatencies.sort((a, b) => a - b);
  console.log(
    `2. local executor, ${startLatencies.length} steps: dispatch to process started p50 ${percentile(startLatencies, 50)} ms, p99 ${percentile(startLatencies, 99)} ms`,
  );

  // 3. Burst.
  const single = await save(
    "bench-burst",
    "name: bench-burst\nsteps:\n  - id: only\n    uses: sleep\n    with: { duration: 0s }\n",
  );
  const burstIds: string[] = [];
  const started3 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < BURST) {
        next++;
        burstIds.push((await startRun(developer, single, {})).id);
      }
    }),
  );
  await waitAll(developer, burstIds, (status) => status !== "queued", 600_000);
  const burstStarted = (performance.now() - started3) / 1_000;
  await waitAll(developer, burstIds, FINISHED, 900_000);
  const burstFinished = (performance.now() - started3) / 1_000;
  console.log(
    `3. burst of ${BURST} runs: all started in ${round(burstStarted)} s, all finished in ${round(burstFinished)} s`,
  );

  // 4. A 10,000-step run.
  const big = await save("bench-big", chain("bench-big", BIG, "uses: noop"));
  const started4 = performance.now();
  const bigRun = await startRun(developer, big, {});
  await waitAll(developer, [bigRun.id], FINISHED, 600_000);
  const bigSeconds = (performance.now() - started4) / 1_000;
  const bigStatus = (await getRun(developer, bigRun.id)).status;
  console.log(`4. one run of ${BIG} noop steps: ${bigStatus} in ${round(bigSeconds)} s`);

  await stopRunsRuntime();
  await stopAuthzRuntime();
  await db.close();
  await drop();
  await rm(dataDir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      bench: "engine",
      db: kind,
      transition_p50_ms: round(percentile(sorted, 50)),
      transition_p99_ms: round(percentile(sorted, 99)),
      completions_per_s: round(completionsPerS, 0),
      burst_5000_started_s: round(burstStarted),
      burst_finished_s: round(burstFinished),
      start_p50_ms: percentile(startLatencies, 50),
      start_p99_ms: percentile(startLatencies, 99),
      run_10000_noop_s: round(bigSeconds),
      runs: RUNS,
      steps: STEPS,
      burst: BURST,
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

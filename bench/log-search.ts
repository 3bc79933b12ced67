// Log search on a 1,000,000-line (about 100 MB) step log straight against the database, on
// PGlite and on PostgreSQL, without the app or a browser:
//   npm run bench:log-search            (LOG_SEARCH_KINDS=pglite or postgres for one of them)
// The log is printed by the same awk program as bench:studio's and stored through StepLog, so
// the chunks are the ones a real step makes. Each search runs as the search API runs it
// (searchStepLogs minus the run lookup); figures are medians of a few. The last line is one JSON
// object with the figures.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import os from "node:os";
import { StepLog } from "@/server/runs/logs";
import { planLogSearch, runLogSearch } from "@/server/runs/log-search";
import { findLogChunksBetween, listLogChunkExtents } from "@/server/runs/repo";
import { createMasker } from "@/server/secrets/masking";
import { createTestDatabase, type TestDbKind } from "@/test/db";
import { BIG_LOG_PIPELINE } from "./studio-logs";

const RUNS = 5;
const SEARCHES: { label: string; q: string; regex?: boolean; caseSensitive?: boolean; limit?: number }[] = [
  { label: "error", q: "error", limit: 1000 },
  { label: "/error|failed|fatal/i", q: "error|failed|fatal", regex: true },
  {
    label: "/^\\S+ ERROR .*\\(code (\\d+)\\)$/",
    q: "^\\S+ ERROR .*\\(code (\\d+)\\)$",
    regex: true,
    caseSensitive: true,
  },
  { label: "'quota' case-sensitive", q: "quota", caseSensitive: true },
  { label: "'status=ok' (every line), limit 10", q: "status=ok", limit: 10 },
  { label: "'item 0999' (a few hundred lines)", q: "item 0999" },
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** The awk program of the big-log pipeline, run here. */
function awkProgram(): string {
  const script = /awk '([\s\S]*?)'\n/.exec(BIG_LOG_PIPELINE)?.[1];
  if (!script) throw new Error("no awk program in BIG_LOG_PIPELINE");
  return script;
}

async function benchKind(kind: TestDbKind): Promise<Record<string, number>> {
  const test = await createTestDatabase(kind);
  const db = test.db;
  const figures: Record<string, number> = {};
  const key = { runId: randomUUID(), idx: 0, attempt: 1 };
  try {
    // A log without its run: the chunks are all the search reads.
    await db.exec("ALTER TABLE run_log_chunks DROP CONSTRAINT run_log_chunks_run_id_fkey");
    const stepLog = new StepLog(
      db,
      { ...key, instance: "big" },
      { masker: createMasker([]), maxBytes: 256 * 1024 * 1024, publish: () => {} },
    );
    let started = performance.now();
    const child = spawn("awk", [awkProgram()], { stdio: ["ignore", "pipe", "inherit"] });
    await stepLog.follow("stdout", child.stdout);
    await stepLog.close();
    const stored = Math.round(performance.now() - started);
    const [stats] = await db.query<{ chunks: number; bytes: string; stored: string; lines: number }>(
      `SELECT count(*)::int AS chunks, sum(bytes)::text AS bytes,
              pg_total_relation_size('run_log_chunks')::text AS stored, max(last_seq) AS lines
       FROM run_log_chunks WHERE run_id = $1`,
      [key.runId],
    );
    console.log(
      `[${kind}] ${stats?.lines} lines in ${stats?.chunks} chunks (${Math.round(Number(stats?.bytes) / 1e6)} MB of text, ${Math.round(Number(stats?.stored) / 1e6)} MB on disk) stored in ${stored} ms`,
    );
    figures.store_ms = stored;

    for (const search of process.env.LOG_SEARCH_STORE_ONLY ? [] : SEARCHES) {
      const timings: number[] = [];
      let outcome: Awaited<ReturnType<typeof runLogSearch>> | undefined;
      for (let i = 0; i < RUNS; i++) {
        started = performance.now();
        const plan = planLogSearch({
          q: search.q,
          regex: search.regex ?? false,
          caseSensitive: search.caseSensitive ?? false,
        });
        const extents = await listLogChunkExtents(db, key);
        outcome = await runLogSearch(
          plan,
          { extents, read: (range, filter, timeoutMs) => findLogChunksBetween(db, key, range, filter, timeoutMs) },
          { limit: search.limit ?? 100, concurrency: db.kind === "postgres" ? 3 : 1 },
        );
        timings.push(performance.now() - started);
      }
      const ms = Math.round(median(timings));
      console.log(
        `[${kind}] search ${search.label}: ${outcome?.total} lines${outcome?.truncated ? " (truncated)" : ""}; ${timings
          .map((t) => Math.round(t))
          .join(", ")} ms (median ${ms} ms)`,
      );
      figures[`search_${search.label.replace(/[^a-z0-9]+/gi, "_").replace(/^_|_$/g, "")}_ms`] = ms;
    }
  } finally {
    if (process.env.LOG_SEARCH_KEEP && test.url) console.log(`[${kind}] kept ${test.url} (run ${key.runId})`);
    else await test.drop();
  }
  return figures;
}

async function main(): Promise<void> {
  const kinds = (process.env.LOG_SEARCH_KINDS ?? "pglite,postgres").split(",") as TestDbKind[];
  const all: Record<string, Record<string, number>> = {};
  for (const kind of kinds) all[kind] = await benchKind(kind);
  console.log(
    `load average ${os
      .loadavg()
      .map((value) => value.toFixed(1))
      .join(" ")} on ${os.cpus().length} CPUs`,
  );
  console.log(JSON.stringify({ bench: "log-search", ...all }));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

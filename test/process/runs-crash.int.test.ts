// Durable runs across process deaths, with the real server (production build):
// - kill -9 of the only server during a 20-step run, then a restart on the same data: the run
//   completes, no step that had finished runs again, the interrupted one is retried (its retry
//   policy allows it), and every finished step's log is whole;
// - two replicas on one PostgreSQL: kill -9 one mid-run, the other reports its step lost after
//   the executor lease and finishes the run.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmptyPostgresDatabase } from "@/test/db";
import { assertBuilt, freePort, type RunningProcess, runNode, signInOverHttp, waitFor } from "./harness";

const PASSWORD = "runs-crash-test-password";
const STEPS = 20;
const LINES = 40;

/** A chain of 20 steps; each records that it ran (in a file outside any workspace) and logs 40 lines. */
function chainPipeline(): string {
  const steps = Array.from({ length: STEPS }, (_, i) => {
    const id = `s${String(i + 1).padStart(2, "0")}`;
    return `  - id: ${id}
${i > 0 ? `    needs: s${String(i).padStart(2, "0")}\n` : ""}    retry: 2
    run: |
      echo "${id} $MICROSTACK_STEP_ATTEMPT start" >> "\${{ params.journal }}"
      for n in $(seq 1 ${LINES}); do echo "${id} line $n"; done
      sleep \${{ params.pause }}
      echo "${id} $MICROSTACK_STEP_ATTEMPT done" >> "\${{ params.journal }}"`;
  });
  return `name: crash-chain\nparams:\n  journal: { type: string, required: true }\n  pause: { type: string, default: "0.4" }\nsteps:\n${steps.join("\n")}\n`;
}

interface Server {
  proc: RunningProcess;
  url: string;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const proc = runNode("server/main.ts", {
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    MICROSTACK_DEMO_PASSWORD: PASSWORD,
    MICROSTACK_EXECUTOR_LEASE_SECONDS: "5",
    LOG_LEVEL: "warn",
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "the server to be ready",
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`server exited: ${proc.stderr.join("\n")}`);
      const response = await fetch(`${url}/readyz`).catch(() => null);
      return response?.ok ? true : undefined;
    },
    90_000,
  );
  return { proc, url };
}

async function kill9(server: Server): Promise<void> {
  server.proc.child.kill("SIGKILL");
  await server.proc.exited;
}

async function api<T>(server: Server, cookie: string, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: { cookie, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface RunView {
  status: string;
  stepList: { id: string; status: string; attempt: number; reason: string | null }[];
}

async function startChain(server: Server, cookie: string, journal: string, pause = "0.4") {
  const pipeline = await api<{ id: string }>(
    server,
    cookie,
    "POST",
    "/api/v1/organizations/acme/projects/storefront/pipelines",
    {
      slug: `crash-${randomBytes(3).toString("hex")}`,
      yaml: chainPipeline(),
    },
  );
  return api<{ id: string }>(server, cookie, "POST", `/api/v1/pipelines/${pipeline.id}/runs`, {
    params: { journal, pause },
  });
}

function journalOf(file: string): string[] {
  try {
    return readFileSync(file, "utf8").trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Every step not retried started and finished once. A retried step (its first attempt's executor
 * was lost) started twice and its second attempt finished; its first attempt may have finished
 * too, when the process died after the step's own last line but before its exit was recorded.
 */
function checkJournal(lines: string[], retried: readonly string[]) {
  const journal = lines.join(", ");
  for (let i = 1; i <= STEPS; i++) {
    const id = `s${String(i).padStart(2, "0")}`;
    const starts = lines.filter((line) => line.startsWith(`${id} `) && line.endsWith(" start"));
    const done = lines.filter((line) => line.startsWith(`${id} `) && line.endsWith(" done"));
    if (retried.includes(id)) {
      expect(starts, `${id} ran two attempts; journal: ${journal}`).toEqual([`${id} 1 start`, `${id} 2 start`]);
      expect(
        done.filter((line) => line === `${id} 2 done`),
        `${id}'s second attempt finished once`,
      ).toHaveLength(1);
    } else {
      expect(starts, `${id} started once; journal: ${journal}`).toEqual([`${id} 1 start`]);
      expect(done, `${id} finished once; journal: ${journal}`).toEqual([`${id} 1 done`]);
    }
  }
}

async function checkLogsWhole(server: Server, cookie: string, runId: string, steps: readonly string[]) {
  for (const step of steps) {
    const page = await api<{ lines: { seq: number; text: string }[]; complete: boolean }>(
      server,
      cookie,
      "GET",
      `/api/v1/runs/${runId}/logs?step=${step}&attempt=1&limit=10000`,
    );
    const own = page.lines.filter((line) => line.text.startsWith(`${step} line `));
    expect(
      own.map((line) => line.text),
      `${step}'s log`,
    ).toEqual(Array.from({ length: LINES }, (_, n) => `${step} line ${n + 1}`));
    expect(page.lines.map((line) => line.seq)).toEqual(page.lines.map((_, i) => i + 1));
  }
}

describe.each(["pglite", "postgres"] as const)("kill -9 during a run, restart (%s)", (kind) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "microstack-crash-"));
  const journal = path.join(dataDir, "journal.txt");
  let env: Record<string, string>;
  let dropDatabase: (() => Promise<void>) | undefined;
  let server: Server | undefined;

  beforeAll(async () => {
    assertBuilt();
    env = { MICROSTACK_DATA_DIR: dataDir };
    if (kind === "postgres") {
      const database = await createEmptyPostgresDatabase();
      dropDatabase = database.drop;
      Object.assign(env, {
        DATABASE_URL: database.url,
        AUTH_SECRET: randomBytes(32).toString("base64url"),
        MICROSTACK_MASTER_KEY: `crash:${randomBytes(32).toString("base64")}`,
        MICROSTACK_SEED: "demo",
      });
    }
  }, 120_000);

  afterAll(async () => {
    if (server && server.proc.child.exitCode === null) await kill9(server);
    await dropDatabase?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("completes the run; finished steps never run twice; their logs are whole", async () => {
    server = await startServer(env);
    let cookie = await signInOverHttp(server.url, "developer@demo.microstack.dev", PASSWORD);
    const run = await startChain(server, cookie, journal);
    // Crash while the 6th step runs.
    await waitFor("step s06 to start", () => (journalOf(journal).includes("s06 1 start") ? true : undefined), 60_000);
    await kill9(server);
    const before = journalOf(journal);
    const interrupted = [
      ...new Set(before.filter((l) => l.endsWith(" start")).map((l) => l.split(" ")[0] as string)),
    ].filter((id) => !before.includes(`${id} 1 done`));
    expect(interrupted).toEqual(["s06"]);

    server = await startServer(env);
    cookie = await signInOverHttp(server.url, "developer@demo.microstack.dev", PASSWORD);
    const finished = await waitFor(
      "the run to finish after the restart",
      async () => {
        const view = await api<RunView>(server as Server, cookie, "GET", `/api/v1/runs/${run.id}`);
        return ["succeeded", "failed", "cancelled", "timed_out"].includes(view.status) ? view : undefined;
      },
      90_000,
    );
    expect(finished.status).toBe("succeeded");
    const retried = finished.stepList.filter((step) => step.attempt > 1).map((step) => step.id);
    expect(retried).toEqual(interrupted);
    checkJournal(journalOf(journal), retried);
    await checkLogsWhole(server, cookie, run.id, ["s01", "s02", "s03", "s04", "s05"]);
    // The lost attempt says why.
    const history = await api<{ stepList: { id: string; history: { attempt: number; reason: string | null }[] }[] }>(
      server,
      cookie,
      "GET",
      `/api/v1/runs/${run.id}`,
    );
    expect(history.stepList.find((step) => step.id === "s06")?.history[0]?.reason).toMatch(/executor lost/);
  }, 240_000);
});

describe("two replicas on one PostgreSQL", () => {
  const shared = mkdtempSync(path.join(tmpdir(), "microstack-replicas-"));
  const journal = path.join(shared, "journal.txt");
  let dropDatabase: (() => Promise<void>) | undefined;
  const servers: Server[] = [];

  afterAll(async () => {
    for (const server of servers) if (server.proc.child.exitCode === null) await kill9(server);
    await dropDatabase?.();
    rmSync(shared, { recursive: true, force: true });
  });

  it("kill -9 of one replica mid-run: the other finishes the run", async () => {
    assertBuilt();
    const database = await createEmptyPostgresDatabase();
    dropDatabase = database.drop;
    const common = {
      DATABASE_URL: database.url,
      AUTH_SECRET: randomBytes(32).toString("base64url"),
      MICROSTACK_MASTER_KEY: `replicas:${randomBytes(32).toString("base64")}`,
      MICROSTACK_SEED: "demo",
    };
    const a = await startServer({ ...common, MICROSTACK_DATA_DIR: path.join(shared, "a") });
    servers.push(a);
    const cookieA = await signInOverHttp(a.url, "developer@demo.microstack.dev", PASSWORD);
    // Long steps, so the run is still going once the second replica is up.
    const run = await startChain(a, cookieA, journal, "1.5");
    const executorOf = async (server: Server, cookie: string, step: string) => {
      const page = await api<{ lines: { text: string }[] }>(
        server,
        cookie,
        "GET",
        `/api/v1/runs/${run.id}/logs?step=${step}&attempt=1`,
      );
      return /\(executor ([0-9a-f]{8})\)/.exec(page.lines[0]?.text ?? "")?.[1];
    };
    // Only A exists yet: s01 runs there, and its log names A's executor.
    const executorA = await waitFor("s01 to start on A", () => executorOf(a, cookieA, "s01"), 60_000);
    const b = await startServer({ ...common, MICROSTACK_DATA_DIR: path.join(shared, "b") });
    servers.push(b);
    const cookieB = await signInOverHttp(b.url, "developer@demo.microstack.dev", PASSWORD);
    // Both replicas take steps now; wait for one running on A, then kill A.
    const stepOnA = await waitFor(
      "a step running on replica A",
      async () => {
        const lines = journalOf(journal);
        const open = lines
          .filter((line) => line.endsWith(" 1 start"))
          .map((line) => line.split(" ")[0] as string)
          .filter((id) => !lines.includes(`${id} 1 done`));
        const current = open.at(-1);
        if (!current) return undefined;
        return (await executorOf(b, cookieB, current)) === executorA ? current : undefined;
      },
      90_000,
    );
    await kill9(a);
    const finished = await waitFor(
      "replica B to finish the run",
      async () => {
        const view = await api<RunView>(b, cookieB, "GET", `/api/v1/runs/${run.id}`);
        return ["succeeded", "failed", "cancelled", "timed_out"].includes(view.status) ? view : undefined;
      },
      120_000,
    );
    expect(finished.status).toBe("succeeded");
    // The step A was running when it died ran again (on B); every other step ran once.
    const retried = finished.stepList.filter((step) => step.attempt > 1).map((step) => step.id);
    expect(retried).toEqual([stepOnA]);
    checkJournal(journalOf(journal), retried);
    const history = await api<{ stepList: { id: string; history: { reason: string | null }[] }[] }>(
      b,
      cookieB,
      "GET",
      `/api/v1/runs/${run.id}`,
    );
    expect(history.stepList.find((step) => step.id === stepOnA)?.history[0]?.reason).toMatch(/executor lost/);
    expect(await executorOf(b, cookieB, stepOnA).catch(() => undefined)).toBe(executorA);
  }, 300_000);
});

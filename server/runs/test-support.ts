// Shared set-up for the runs integration tests: a migrated, seeded database of either kind,
// the runs runtime on a temporary data directory, the demo users as actors, and polling helpers.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { seedDemoData } from "@/prisma/seed";
import type { Actor } from "@/server/auth/schema";
import { getActorById } from "@/server/auth/service";
import { stopAuthzRuntime } from "@/server/authz/runtime";
import { setDatabase } from "@/server/db";
import { createPipeline } from "@/server/pipelines/service";
import { createTestDatabase, type TestDatabase, type TestDbKind } from "@/test/db";
import { type RunsRuntime, type RunsRuntimeOptions, startRunsRuntime, stopRunsRuntime } from "./runtime";
import type { RunDetail } from "./schema";
import { getRun } from "./service";

export interface RunsFixture {
  test: TestDatabase;
  runtime: RunsRuntime;
  dataDir: string;
  actors: Record<"admin" | "maintainer" | "developer" | "approver" | "viewer" | "globex", Actor>;
  close(): Promise<void>;
}

export async function createRunsFixture(
  kind: TestDbKind,
  options: Partial<Omit<RunsRuntimeOptions, "db" | "dataDir">> = {},
): Promise<RunsFixture> {
  const test = await createTestDatabase(kind);
  setDatabase(test.db);
  await seedDemoData(test.db.prisma, { password: "runs-test-password" });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "microstack-runs-"));
  const runtime = await startRunsRuntime({
    db: test.db,
    dataDir,
    executorConcurrency: 8,
    leaseSeconds: 5,
    maxLogBytes: 64 * 1024 * 1024,
    logRetentionDays: 30,
    stopGraceMs: 500,
    reconcileIntervalMs: 500,
    ...options,
  });
  const actors = {} as RunsFixture["actors"];
  for (const user of await test.db.prisma.user.findMany()) {
    const actor = await getActorById(user.id);
    if (!actor) continue;
    const key = user.email.startsWith("owner@globex") ? "globex" : user.email.split("@")[0];
    (actors as Record<string, Actor>)[key as string] = actor;
  }
  return {
    test,
    runtime,
    dataDir,
    actors,
    close: async () => {
      await stopRunsRuntime();
      await stopAuthzRuntime();
      await test.drop();
      setDatabase(undefined);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let slugCounter = 0;

/** Saves a pipeline in acme/storefront as the maintainer; returns its id. */
export async function savePipeline(fixture: RunsFixture, yaml: string, slug?: string): Promise<string> {
  slugCounter++;
  const pipeline = await createPipeline(fixture.actors.maintainer, "acme", "storefront", {
    slug: slug ?? `pipeline-${slugCounter}`,
    yaml,
  });
  return pipeline.id;
}

/** Polls the run until `until` holds (or fails with the last state after the timeout). */
export async function waitForRun(
  actor: Actor,
  runId: string,
  until: (run: RunDetail) => boolean,
  timeoutMs = 20_000,
): Promise<RunDetail> {
  const deadline = Date.now() + timeoutMs;
  let run = await getRun(actor, runId);
  while (!until(run)) {
    if (Date.now() > deadline) {
      throw new Error(
        `run ${runId} did not reach the expected state: ${run.status}, steps ${run.stepList
          .map((step) => `${step.id}=${step.status}${step.reason ? `(${step.reason})` : ""}`)
          .join(", ")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    run = await getRun(actor, runId);
  }
  return run;
}

export const isFinished = (run: RunDetail) => ["succeeded", "failed", "cancelled", "timed_out"].includes(run.status);

export function stepOf(run: RunDetail, id: string) {
  const step = run.stepList.find((candidate) => candidate.id === id);
  if (!step) throw new Error(`run has no step ${id}`);
  return step;
}

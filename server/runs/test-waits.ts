// Waits for integration tests that run many runs at once. They poll one row with a plain query
// rather than the whole run through the service (getRun is a dozen queries and authorization
// checks): twenty tests polling getRun every 50 ms keep PGlite's single connection so busy that
// the runs they wait for slow down. The run is read through the service once, at the end.
import type { StepState } from "@/pipelines/engine/types";
import type { Actor } from "@/server/auth/schema";
import type { RunDetail } from "./schema";
import { getRun } from "./service";
import type { RunsFixture } from "./test-support";

const POLL_MS = 100;
/** Generous: the box may be busy with other work. */
export const WAIT_MS = 45_000;

async function pollUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  detail: () => Promise<string>,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${await detail()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function describeRun(fixture: RunsFixture, runId: string): Promise<string> {
  const steps = await fixture.test.db.query<{ instance: string; status: string }>(
    `SELECT instance, status FROM run_steps WHERE run_id = $1 ORDER BY idx`,
    [runId],
  );
  return steps.map((step) => `${step.instance}=${step.status}`).join(", ");
}

/** The run once it is done (its attempt `runAttempt` or a later one), as `actor` reads it. */
export async function runWhenDone(
  fixture: RunsFixture,
  actor: Actor,
  runId: string,
  options: { runAttempt?: number; timeoutMs?: number } = {},
): Promise<RunDetail> {
  await pollUntil(
    `run ${runId} to finish`,
    async () => {
      const [row] = await fixture.test.db.query<{ phase: string; run_attempt: number }>(
        `SELECT phase, run_attempt FROM runs WHERE id = $1`,
        [runId],
      );
      return row?.phase === "done" && row.run_attempt >= (options.runAttempt ?? 1);
    },
    options.timeoutMs ?? WAIT_MS,
    () => describeRun(fixture, runId),
  );
  return getRun(actor, runId);
}

/** Waits until a step instance's stored state satisfies `until`. */
export async function stepReaches(
  fixture: RunsFixture,
  runId: string,
  instance: string,
  until: (step: StepState) => boolean,
  timeoutMs = WAIT_MS,
): Promise<void> {
  await pollUntil(
    `step ${instance} of run ${runId}`,
    async () => {
      const [row] = await fixture.test.db.query<{ state: StepState }>(
        `SELECT state FROM run_steps WHERE run_id = $1 AND instance = $2`,
        [runId, instance],
      );
      return row !== undefined && until(row.state);
    },
    timeoutMs,
    () => describeRun(fixture, runId),
  );
}

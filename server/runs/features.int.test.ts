import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createPipeline } from "@/server/pipelines/service";
import type { StepState } from "@/pipelines/engine/types";
import { TEST_DB_KINDS } from "@/test/db";
import type { StepDto } from "./schema";
import { cancelRun, getRun, readStepLogs, rerunRun, startRun } from "./service";
import { createRunsFixture, type RunsFixture, savePipeline, stepOf } from "./test-support";
import { runWhenDone, stepReaches } from "./test-waits";

// What a pipeline author relies on, run for real through the local executor on both databases
// and checked the way a person would see it: step statuses, reasons, outputs, logs, files in
// the workspace, requests that reached a server. The tests of one database run concurrently
// (each in its own run, and the project-cap test in its own project) to keep the file short.

type Actor = RunsFixture["actors"]["admin"];

async function logTexts(actor: Actor, runId: string, step: string, attempt?: number): Promise<string[]> {
  const page = await readStepLogs(actor, runId, { step, limit: 10_000, ...(attempt ? { attempt } : {}) });
  return page.lines.map((line) => line.text);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ms = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso));

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Answer {
  status: number;
  body: string;
  contentType?: string;
}

/** A local HTTP server answering with `answer`; it records every request it got. */
async function startServer(answer: (request: Received, index: number) => Answer) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const request = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, at: Date.now() };
      received.push(request);
      const reply = answer(request, received.length - 1);
      res.writeHead(reply.status, { "content-type": reply.contentType ?? "text/plain" });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Prometheus' HTTP API (`GET /api/v1/query`): an instant vector of one series with this value. */
function prometheusVector(value: number): Answer {
  return {
    status: 200,
    contentType: "application/json",
    body: JSON.stringify({
      status: "success",
      data: { resultType: "vector", result: [{ metric: {}, value: [Date.now() / 1000, String(value)] }] },
    }),
  };
}

describe.each(TEST_DB_KINDS)("pipeline features on %s", (kind) => {
  let fixture: RunsFixture;

  beforeAll(async () => {
    fixture = await createRunsFixture(kind);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  describe.concurrent("timeouts and retries", { timeout: 90_000 }, () => {
    it("kills a step at its timeout: timed_out with a reason, its processes gone", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: slow
steps:
  - id: slow
    timeout: 1s
    run: |
      echo "shell $$"
      sleep 10 &
      echo "sleeper $!"
      wait
  - id: after
    needs: slow
    run: echo never
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      const slow = stepOf(done, "slow");
      expect(slow).toMatchObject({ status: "timed_out", reason: "timed out after 1s" });
      const took = ms(slow.finishedAt) - ms(slow.startedAt);
      expect(took).toBeGreaterThanOrEqual(1_000);
      expect(took).toBeLessThan(6_000);
      expect(done.status).toBe("failed");
      expect(stepOf(done, "after").status).toBe("skipped");

      const texts = await logTexts(actors.developer, run.id, "slow");
      const pids = ["shell", "sleeper"].map((name) =>
        Number(
          texts
            .find((text) => text.startsWith(`${name} `))
            ?.split(" ")
            .at(1),
        ),
      );
      expect(pids.every((pid) => Number.isInteger(pid) && pid > 0)).toBe(true);
      // The shell and the sleep it started died with the step's process group.
      await expect.poll(() => pids.filter(isAlive), { timeout: 8_000 }).toEqual([]);
    });

    it("retries a failing step with backoff until it succeeds, keeping each attempt's history", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: flaky
steps:
  - id: flaky
    retry: { max: 2, backoff: { delay: 1s } }
    run: |
      n=$(cat counter 2>/dev/null || echo 0)
      n=$((n + 1))
      echo "$n" > counter
      echo "try $n as attempt $MICROSTACK_STEP_ATTEMPT"
      if [ "$n" -lt 3 ]; then echo "not yet" >&2; exit 1; fi
  - id: after
    needs: flaky
    run: echo after
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      // Between attempts the step waits for its backoff, visibly.
      let waiting: StepState | undefined;
      await stepReaches(fixture, run.id, "flaky", (step) => {
        if (step.status === "waiting" && step.waitingFor === "retry") waiting = step;
        return waiting !== undefined;
      });
      expect(waiting).toMatchObject({ attempt: 1, reason: "retry 1 of 2 after: exited with code 1" });

      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      const flaky = stepOf(done, "flaky");
      expect(flaky).toMatchObject({ status: "succeeded", attempt: 3, exitCode: 0 });
      expect(flaky.history.map((h) => [h.attempt, h.status, h.exitCode, h.reason])).toEqual([
        [1, "failed", 1, "exited with code 1"],
        [2, "failed", 1, "exited with code 1"],
      ]);
      // The backoff held: each attempt started at least the delay after the previous ended.
      const [first, second] = flaky.history as [StepDto["history"][number], StepDto["history"][number]];
      expect(ms(second.startedAt) - ms(first.finishedAt)).toBeGreaterThanOrEqual(1_000);
      expect(ms(flaky.startedAt) - ms(second.finishedAt)).toBeGreaterThanOrEqual(1_000);
      expect(await readFile(path.join(fixture.runtime.workspaceOf(run.id), "counter"), "utf8")).toBe("3\n");
      // Each attempt has its own log.
      expect(await logTexts(actors.developer, run.id, "flaky", 1)).toContain("try 1 as attempt 1");
      expect(await logTexts(actors.developer, run.id, "flaky", 2)).toContain("not yet");
      expect(await logTexts(actors.developer, run.id, "flaky")).toContain("try 3 as attempt 3");
    });

    it("retries only the exit codes listed in exit-codes", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: picky
steps:
  - id: picky
    retry: { max: 3, exit-codes: [75] }
    run: |
      if [ -f first-done ]; then echo "now a real failure"; exit 3; fi
      touch first-done
      echo "temporary failure"
      exit 75
  - id: strict
    retry: { max: 3, exit-codes: [75] }
    run: exit 2
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("failed");
      // 75 is listed: retried; 3 is not: the step fails at attempt 2 although retries are left.
      const picky = stepOf(done, "picky");
      expect(picky).toMatchObject({ status: "failed", attempt: 2, exitCode: 3, reason: "exited with code 3" });
      expect(picky.history.map((h) => [h.attempt, h.exitCode])).toEqual([[1, 75]]);
      const strict = stepOf(done, "strict");
      expect(strict).toMatchObject({ status: "failed", attempt: 1, exitCode: 2, history: [] });
    });
  });

  describe.concurrent("matrices", { timeout: 90_000 }, () => {
    it("runs every combination with its matrix env and templates; a later step reads the merged outputs", async ({
      expect,
    }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: matrix
steps:
  - id: build
    matrix:
      axes: { os: [linux, mac], node: [20, 22] }
    outputs: [linux_20, linux_22, mac_20, mac_22]
    run: |
      echo "env=$MICROSTACK_MATRIX_OS/$MICROSTACK_MATRIX_NODE template=\${{ matrix.os }}/\${{ matrix.node }}"
      echo "\${{ matrix.os }}_\${{ matrix.node }}=built-$MICROSTACK_MATRIX_OS-$MICROSTACK_MATRIX_NODE" >> "$MICROSTACK_OUTPUT"
  - id: report
    needs: build
    run: |
      echo "merged \${{ steps.build.outputs.linux_20 }} \${{ steps.build.outputs.linux_22 }} \${{ steps.build.outputs.mac_20 }} \${{ steps.build.outputs.mac_22 }}"
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      const instances = done.stepList.filter((step) => step.stepId === "build");
      expect(instances.map((step) => step.id).sort()).toEqual([
        "build[node=20,os=linux]",
        "build[node=20,os=mac]",
        "build[node=22,os=linux]",
        "build[node=22,os=mac]",
      ]);
      for (const instance of instances) {
        const { os: system, node } = instance.matrix as { os: string; node: number };
        expect(instance.status).toBe("succeeded");
        expect(await logTexts(actors.developer, run.id, instance.id)).toContain(
          `env=${system}/${node} template=${system}/${node}`,
        );
        expect(instance.outputs).toEqual({ [`${system}_${node}`]: `built-${system}-${node}` });
      }
      expect(await logTexts(actors.developer, run.id, "report")).toContain(
        "merged built-linux-20 built-linux-22 built-mac-20 built-mac-22",
      );
    });

    it("never runs two instances at once under max-parallel: 1", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: one-at-a-time
steps:
  - id: job
    matrix:
      axes: { n: [1, 2, 3, 4] }
      max-parallel: 1
    run: |
      echo "start \${{ matrix.n }} $(date +%s%N)" >> "$MICROSTACK_WORKSPACE/timeline.txt"
      sleep 0.3
      echo "end \${{ matrix.n }} $(date +%s%N)" >> "$MICROSTACK_WORKSPACE/timeline.txt"
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      const lines = (await readFile(path.join(fixture.runtime.workspaceOf(run.id), "timeline.txt"), "utf8"))
        .trim()
        .split("\n");
      expect(lines).toHaveLength(8);
      const spans = new Map<string, { start: bigint; end: bigint }>();
      for (const line of lines) {
        const [what, n, at] = line.split(" ") as ["start" | "end", string, string];
        const span = spans.get(n) ?? { start: -1n, end: -1n };
        span[what] = BigInt(at);
        spans.set(n, span);
      }
      const ordered = [...spans.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
      expect(ordered).toHaveLength(4);
      for (let i = 1; i < ordered.length; i++) {
        const previous = ordered[i - 1] as { end: bigint };
        expect((ordered[i] as { start: bigint }).start >= previous.end).toBe(true);
      }
    });
  });

  describe.concurrent("artifacts", { timeout: 90_000 }, () => {
    it("fetches a saved artifact into a later step, and again on a re-run from that step", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: artifacts
steps:
  - id: build
    run: |
      mkdir -p dist/assets
      echo "app built by attempt $MICROSTACK_STEP_ATTEMPT" > dist/app.js
      echo "body{}" > dist/assets/site.css
      echo "not an artifact" > notes.txt
    artifacts:
      save: [{ name: dist, paths: ["dist/**"] }]
  - id: use
    needs: build
    artifacts:
      fetch: [{ from: build, name: dist, path: fetched }]
    run: |
      rm -rf dist
      cat fetched/dist/app.js
      cat fetched/dist/assets/site.css
      test ! -e fetched/notes.txt
      echo "read by attempt $MICROSTACK_STEP_ATTEMPT"
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      expect(await logTexts(actors.developer, run.id, "build")).toContain("Artifact dist: saved 2 files (30 bytes)");
      const used = await logTexts(actors.developer, run.id, "use");
      expect(used).toContain("Fetched artifact dist of build into fetched");
      expect(used).toEqual(expect.arrayContaining(["app built by attempt 1", "body{}", "read by attempt 1"]));

      // Nothing of the first attempt is left in the workspace: the re-run must fetch from the store.
      const workspace = fixture.runtime.workspaceOf(run.id);
      await rm(path.join(workspace, "fetched"), { recursive: true, force: true });
      await rerunRun(actors.developer, run.id, { fromStep: "use" });
      const rerun = await runWhenDone(fixture, actors.developer, run.id, { runAttempt: 2 });
      expect(rerun.status).toBe("succeeded");
      expect(stepOf(rerun, "build").attempt).toBe(1);
      expect(stepOf(rerun, "use").attempt).toBe(2);
      const again = await logTexts(actors.developer, run.id, "use");
      expect(again).toContain("Fetched artifact dist of build into fetched");
      expect(again).toEqual(expect.arrayContaining(["app built by attempt 1", "read by attempt 2"]));
      expect(await readFile(path.join(workspace, "fetched/dist/app.js"), "utf8")).toBe("app built by attempt 1\n");
    });
  });

  describe.concurrent("conditions and handlers", { timeout: 90_000 }, () => {
    it("runs failure() cleanup, a step's on-failure handler and finally after a failure; continue-on-error goes on", async ({
      expect,
    }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: handlers
steps:
  - id: build
    run: |
      echo "build breaks"
      exit 4
    on-failure: [collect]
  - id: cleanup
    needs: build
    if: failure()
    run: echo "cleanup after \${{ steps.build.outcome }}"
  - id: deploy
    needs: build
    run: echo never deployed
  - id: lint
    continue-on-error: true
    run: exit 1
  - id: docs
    needs: lint
    run: echo "docs after lint \${{ steps.lint.outcome }}"
handlers:
  - id: collect
    run: echo "collecting what the build left"
  - id: tidy
    run: echo "tidy up"
finally: [tidy]
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("failed");
      expect(stepOf(done, "build")).toMatchObject({ status: "failed", exitCode: 4, reason: "exited with code 4" });
      expect(stepOf(done, "cleanup").status).toBe("succeeded");
      expect(await logTexts(actors.developer, run.id, "cleanup")).toContain("cleanup after failure");
      expect(stepOf(done, "deploy")).toMatchObject({
        status: "skipped",
        reason: "skipped: a step it needs did not succeed",
      });
      expect(stepOf(done, "lint")).toMatchObject({ status: "failed", continuedOnError: true });
      expect(stepOf(done, "docs").status).toBe("succeeded");
      expect(await logTexts(actors.developer, run.id, "docs")).toContain("docs after lint failure");

      const collect = stepOf(done, "on-failure/collect@build");
      expect(collect.status).toBe("succeeded");
      expect(ms(collect.startedAt)).toBeGreaterThanOrEqual(ms(stepOf(done, "build").finishedAt));
      expect(await logTexts(actors.developer, run.id, "on-failure/collect@build")).toContain(
        "collecting what the build left",
      );
      const tidy = stepOf(done, "finally/tidy");
      expect(tidy.status).toBe("succeeded");
      // finally runs once everything else is over.
      const lastOther = Math.max(
        ...done.stepList.filter((step) => step.id !== tidy.id).map((step) => ms(step.finishedAt)),
      );
      expect(ms(tidy.startedAt)).toBeGreaterThanOrEqual(lastOther);
      expect(await logTexts(actors.developer, run.id, "finally/tidy")).toContain("tidy up");
    });

    it("succeeds despite a continue-on-error failure, runs finally and leaves on-failure untriggered", async ({
      expect,
    }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: tolerant
steps:
  - id: flaky-check
    continue-on-error: true
    run: |
      echo "flaky"
      exit 2
  - id: ship
    needs: flaky-check
    run: echo shipped
handlers:
  - id: tidy
    run: echo "tidy after \${{ steps.ship.outcome }}"
  - id: page
    run: echo paging
on-failure: [page]
finally: [tidy]
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      expect(stepOf(done, "flaky-check")).toMatchObject({ status: "failed", exitCode: 2, continuedOnError: true });
      expect(stepOf(done, "ship").status).toBe("succeeded");
      expect(stepOf(done, "finally/tidy").status).toBe("succeeded");
      expect(await logTexts(actors.developer, run.id, "finally/tidy")).toContain("tidy after success");
      expect(stepOf(done, "on-failure/page")).toMatchObject({ status: "skipped", reason: "not triggered" });
    });

    it("runs finally after a cancel", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: cancellable
steps:
  - id: work
    run: sleep 30
  - id: more
    needs: work
    run: echo never
handlers:
  - id: tidy
    run: echo "tidy after cancel"
finally: [tidy]
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      await stepReaches(fixture, run.id, "work", (step) => step.startedAt !== null);
      await cancelRun(actors.developer, run.id, { reason: "changed my mind" });
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("cancelled");
      expect(done.cancellation).toMatchObject({ kind: "cancel", reason: "changed my mind" });
      expect(stepOf(done, "work").status).toBe("cancelled");
      expect(stepOf(done, "more").status).toBe("cancelled");
      expect(stepOf(done, "finally/tidy").status).toBe("succeeded");
      expect(await logTexts(actors.developer, run.id, "finally/tidy")).toContain("tidy after cancel");
    });
  });

  describe.concurrent("concurrency across runs", { timeout: 90_000 }, () => {
    it("queues a second run of a pipeline with runs: 1 until the first finishes", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: serial
concurrency: { runs: 1 }
steps:
  - id: work
    run: sleep 1.5
`,
      );
      const first = await startRun(actors.developer, pipelineId, {});
      expect(first.queuedForSlot).toBe(false);
      const second = await startRun(actors.developer, pipelineId, {});
      expect(second).toMatchObject({ status: "queued", queuedForSlot: true, startedAt: null });

      await stepReaches(fixture, first.id, "work", (step) => step.startedAt !== null);
      const meanwhile = await getRun(actors.developer, second.id);
      expect(meanwhile).toMatchObject({ status: "queued", queuedForSlot: true });
      expect(stepOf(meanwhile, "work").status).toBe("queued");

      const firstDone = await runWhenDone(fixture, actors.developer, first.id);
      expect(firstDone.status).toBe("succeeded");
      const secondDone = await runWhenDone(fixture, actors.developer, second.id);
      expect(secondDone).toMatchObject({ status: "succeeded", queuedForSlot: false });
      expect(ms(stepOf(secondDone, "work").startedAt)).toBeGreaterThanOrEqual(ms(firstDone.finishedAt));
    });

    it("cancels the running run for a new one with cancel-in-progress", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: latest-wins
concurrency: { runs: 1, cancel-in-progress: true }
params:
  seconds: { type: integer, default: 30 }
steps:
  - id: deploy
    run: sleep \${{ params.seconds }}
`,
      );
      const first = await startRun(actors.developer, pipelineId, {});
      await stepReaches(fixture, first.id, "deploy", (step) => step.startedAt !== null);
      const second = await startRun(actors.developer, pipelineId, { params: { seconds: 0 } });
      expect(second.queuedForSlot).toBe(false);
      const cancelled = await runWhenDone(fixture, actors.developer, first.id);
      expect(cancelled.status).toBe("cancelled");
      expect(cancelled.cancellation?.reason).toContain(`#${second.number}`);
      expect(stepOf(cancelled, "deploy").status).toBe("cancelled");
      const secondDone = await runWhenDone(fixture, actors.developer, second.id);
      expect(secondDone.status).toBe("succeeded");
    });

    it("queues runs of different pipelines behind the project's max active runs", async ({ expect }) => {
      const { actors } = fixture;
      // The payments project, so that the cap holds back no other test's runs.
      const [project] = await fixture.test.db.query<{ id: string }>(`SELECT id FROM projects WHERE slug = 'payments'`);
      await fixture.test.db.query(`UPDATE projects SET max_active_runs = 1 WHERE id = $1`, [project?.id]);
      try {
        const create = async (slug: string, seconds: number) =>
          (
            await createPipeline(actors.admin, "acme", "payments", {
              slug,
              yaml: `name: ${slug}\nsteps:\n  - id: work\n    run: sleep ${seconds}\n`,
            })
          ).id;
        const a = await create(`capped-a-${kind}`, 1.5);
        const b = await create(`capped-b-${kind}`, 0);
        const first = await startRun(actors.developer, a, {});
        expect(first.queuedForSlot).toBe(false);
        const second = await startRun(actors.developer, b, {});
        expect(second).toMatchObject({ status: "queued", queuedForSlot: true });
        await stepReaches(fixture, first.id, "work", (step) => step.startedAt !== null);
        expect(await getRun(actors.developer, second.id)).toMatchObject({ status: "queued", queuedForSlot: true });
        const firstDone = await runWhenDone(fixture, actors.developer, first.id);
        const secondDone = await runWhenDone(fixture, actors.developer, second.id);
        expect(secondDone).toMatchObject({ status: "succeeded", queuedForSlot: false });
        expect(ms(stepOf(secondDone, "work").startedAt)).toBeGreaterThanOrEqual(ms(firstDone.finishedAt));
      } finally {
        await fixture.test.db.query(`UPDATE projects SET max_active_runs = NULL WHERE id = $1`, [project?.id]);
      }
    });
  });

  describe.concurrent("built-in step kinds", { timeout: 90_000 }, () => {
    it("uses: http sends the request, records the status and fails on an unexpected one", async ({ expect }) => {
      const { actors } = fixture;
      const server = await startServer((request) => {
        if (request.url === "/health") return { status: 200, body: "ok" };
        if (request.url === "/items" && request.method === "POST") return { status: 201, body: "created" };
        return { status: 503, body: "down for maintenance" };
      });
      try {
        const pipelineId = await savePipeline(
          fixture,
          `name: http-kind
steps:
  - id: ping
    uses: http
    with: { url: "${server.url}/health" }
  - id: create
    uses: http
    with: { url: "${server.url}/items", method: POST, body: { name: widget }, expect-status: [201] }
  - id: report
    needs: [ping, create]
    run: echo "ping \${{ steps.ping.outputs.status }} \${{ steps.ping.outputs.body }}, create \${{ steps.create.outputs.status }}"
  - id: broken
    uses: http
    with: { url: "${server.url}/broken" }
  - id: picky
    uses: http
    with: { url: "${server.url}/health", expect-status: [204] }
`,
        );
        const run = await startRun(actors.developer, pipelineId, {});
        const done = await runWhenDone(fixture, actors.developer, run.id);
        expect(done.status).toBe("failed");
        expect(stepOf(done, "ping")).toMatchObject({ status: "succeeded", outputs: { status: "200", body: "ok" } });
        expect(stepOf(done, "create")).toMatchObject({ status: "succeeded", outputs: { status: "201" } });
        expect(await logTexts(actors.developer, run.id, "report")).toContain("ping 200 ok, create 201");
        const post = server.received.find((request) => request.method === "POST");
        expect(post?.headers["content-type"]).toBe("application/json");
        expect(JSON.parse(post?.body ?? "null")).toEqual({ name: "widget" });

        expect(stepOf(done, "broken")).toMatchObject({ status: "failed", exitCode: 1, outputs: { status: "503" } });
        expect(await logTexts(actors.developer, run.id, "broken")).toContain("unexpected status 503 (expected 2xx)");
        expect(stepOf(done, "picky")).toMatchObject({ status: "failed", outputs: { status: "200" } });
        expect(await logTexts(actors.developer, run.id, "picky")).toContain("unexpected status 200 (expected 204)");
      } finally {
        await server.close();
      }
    });

    it("uses: notify posts the run's JSON to a webhook", async ({ expect }) => {
      const { actors } = fixture;
      const server = await startServer(() => ({ status: 204, body: "" }));
      try {
        const slug = `notify-${kind}`;
        const pipelineId = await savePipeline(
          fixture,
          `name: notify-kind
params:
  version: { type: string, default: 1.2.3 }
steps:
  - id: tell
    uses: notify
    with:
      channel: webhook
      to: "${server.url}/hooks/deployments"
      title: Deployed
      message: "Release \${{ params.version }} is out"
`,
          slug,
        );
        const run = await startRun(actors.developer, pipelineId, {});
        const done = await runWhenDone(fixture, actors.developer, run.id);
        expect(done.status).toBe("succeeded");
        expect(server.received).toHaveLength(1);
        const [hook] = server.received as [Received];
        expect(hook).toMatchObject({ method: "POST", url: "/hooks/deployments" });
        expect(hook.headers["content-type"]).toBe("application/json");
        expect(JSON.parse(hook.body)).toEqual({
          title: "Deployed",
          message: "Release 1.2.3 is out",
          run: { runId: run.id, pipeline: slug, runNumber: 1, step: "tell" },
        });
        expect(await logTexts(actors.developer, run.id, "tell")).toContain(
          `webhook: delivered to ${new URL(server.url).host}`,
        );
      } finally {
        await server.close();
      }
    });

    it("uses: sleep waits for its duration", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: sleepy\nsteps:\n  - id: nap\n    uses: sleep\n    with: { duration: 1s }\n  - id: after\n    needs: nap\n    run: echo awake\n`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      const nap = stepOf(done, "nap");
      expect(ms(nap.finishedAt) - ms(nap.startedAt)).toBeGreaterThanOrEqual(1_000);
      expect(ms(stepOf(done, "after").startedAt)).toBeGreaterThanOrEqual(ms(nap.finishedAt));
    });

    it("uses: checkout clones a git repository into the workspace and outputs the commit", async ({ expect }) => {
      const { actors } = fixture;
      const repo = await mkdtemp(path.join(os.tmpdir(), "microstack-repo-"));
      try {
        const git = (...args: string[]) =>
          execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
            cwd: repo,
            encoding: "utf8",
          }).trim();
        git("init", "-q", "-b", "main");
        await writeFile(path.join(repo, "README.md"), "hello from the repository\n");
        git("add", "README.md");
        git("commit", "-q", "-m", "first");
        const sha = git("rev-parse", "HEAD");

        const pipelineId = await savePipeline(
          fixture,
          `name: checkout-kind
steps:
  - id: checkout
    uses: checkout
    with: { repository: "${repo}", path: src }
  - id: read
    needs: checkout
    run: |
      cat src/README.md
      echo "commit \${{ steps.checkout.outputs.commit }}"
`,
        );
        const run = await startRun(actors.developer, pipelineId, {});
        const done = await runWhenDone(fixture, actors.developer, run.id);
        expect(done.status).toBe("succeeded");
        expect(stepOf(done, "checkout").outputs.commit).toBe(sha);
        expect(await readFile(path.join(fixture.runtime.workspaceOf(run.id), "src", "README.md"), "utf8")).toBe(
          "hello from the repository\n",
        );
        expect(await logTexts(actors.developer, run.id, "read")).toEqual(
          expect.arrayContaining(["hello from the repository", `commit ${sha}`]),
        );
      } finally {
        await rm(repo, { recursive: true, force: true });
      }
    });
  });

  describe.concurrent("gates", { timeout: 90_000 }, () => {
    const QUERY = "sum(rate(http_errors_total[5m]))";
    const gatePipeline = (source: string, timeout: string) => `name: gated-release
steps:
  - id: deploy
    run: echo deployed
  - id: healthy
    needs: deploy
    gate:
      metrics:
        errors: { query: '${QUERY}', source: "${source}" }
      condition: metrics.errors < 1
      interval: 1s
      timeout: ${timeout}
  - id: promote
    needs: healthy
    run: echo promoted
`;

    it("passes once Prometheus answers a value that satisfies the condition", async ({ expect }) => {
      const { actors } = fixture;
      const prometheus = await startServer((request, index) =>
        request.url.startsWith("/api/v1/query?")
          ? prometheusVector(index === 0 ? 7.5 : 0.25)
          : { status: 404, body: "" },
      );
      try {
        const pipelineId = await savePipeline(fixture, gatePipeline(prometheus.url, "10s"));
        const run = await startRun(actors.developer, pipelineId, {});
        const done = await runWhenDone(fixture, actors.developer, run.id);
        expect(done.status).toBe("succeeded");
        const gate = stepOf(done, "healthy");
        expect(gate.status).toBe("succeeded");
        expect(gate.gate).toMatchObject({ condition: "metrics.errors < 1", lastValue: true, lastError: null });
        expect(stepOf(done, "promote").status).toBe("succeeded");
        // First sample too high, the second (an interval later) low enough.
        expect(prometheus.received).toHaveLength(2);
        for (const request of prometheus.received) {
          expect(request.method).toBe("GET");
          const url = new URL(request.url, prometheus.url);
          expect(url.pathname).toBe("/api/v1/query");
          expect(url.searchParams.get("query")).toBe(QUERY);
        }
        const [first, second] = prometheus.received as [Received, Received];
        expect(second.at - first.at).toBeGreaterThanOrEqual(900);
      } finally {
        await prometheus.close();
      }
    });

    it("times out with the last sampling error when the source answers errors", async ({ expect }) => {
      const { actors } = fixture;
      const prometheus = await startServer(() => ({
        status: 400,
        contentType: "application/json",
        body: JSON.stringify({
          status: "error",
          errorType: "bad_data",
          error: "1:5: parse error: unexpected character",
        }),
      }));
      try {
        const pipelineId = await savePipeline(fixture, gatePipeline(prometheus.url, "3s"));
        const run = await startRun(actors.developer, pipelineId, {});
        const done = await runWhenDone(fixture, actors.developer, run.id);
        expect(done.status).toBe("failed");
        const gate = stepOf(done, "healthy");
        expect(gate).toMatchObject({ status: "timed_out", reason: "the gate condition did not hold within 3s" });
        expect(gate.gate?.lastError).toContain("parse error: unexpected character");
        expect(stepOf(done, "promote").status).toBe("skipped");
        expect(prometheus.received.length).toBeGreaterThanOrEqual(2);
      } finally {
        await prometheus.close();
      }
    });
  });
});

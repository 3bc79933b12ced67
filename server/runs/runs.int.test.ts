import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppError } from "@/server/http/errors";
import { putProjectSecret } from "@/server/secrets/service";
import { TEST_DB_KINDS } from "@/test/db";
import {
  approveStep,
  cancelRun,
  getRun,
  listPendingActions,
  listProjectRuns,
  readStepLogs,
  rejectStep,
  rerunRun,
  runManualStep,
  startRun,
} from "./service";
import { createRunsFixture, isFinished, type RunsFixture, savePipeline, stepOf, waitForRun } from "./test-support";

// The run engine end to end with the local executor, on both databases: a pipeline saved
// through the service, started by a person, its steps run as processes, outputs flowing
// downstream, a secret masked, an approval refused to the author and given by an approver,
// logs read back in order, controls authorized for the right people only.

const DELIVERY = `
name: delivery
params:
  greeting: { type: string, default: hello }
steps:
  - id: build
    run: |
      echo "\${{ params.greeting }} from build"
      echo "to stderr" >&2
      echo "version=1.2.\${{ params.greeting == 'hello' ? '3' : '4' }}" >> "$MICROSTACK_OUTPUT"
    outputs: [version]
  - id: test
    needs: build
    run: echo "testing \${{ steps.build.outputs.version }}" && echo "$MICROSTACK_STEP_INSTANCE" > test-ran.txt
  - id: approve
    needs: test
    approval:
      approvers: { roles: [approver, maintainer] }
      message: Ship \${{ steps.build.outputs.version }}?
  - id: deploy
    needs: approve
    run: |
      echo "using token \${{ secrets.DEPLOY_TOKEN }}"
      echo "approved by \${{ steps.approve.outputs.approved_by }}"
`;

describe.each(TEST_DB_KINDS)("runs on %s", (kind) => {
  let fixture: RunsFixture;

  beforeAll(async () => {
    fixture = await createRunsFixture(kind);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("runs a pipeline through an approval, with outputs, a masked secret and ordered logs", async () => {
    const { actors } = fixture;
    await putProjectSecret(actors.admin, "acme", "storefront", "DEPLOY_TOKEN", { value: "s3cr3t-token-value" });
    const pipelineId = await savePipeline(fixture, DELIVERY);
    const started = await startRun(actors.developer, pipelineId, { params: {} }, "manual");
    expect(started.number).toBe(1);
    expect(started.startedBy?.id).toBe(actors.developer.id);

    const waiting = await waitForRun(
      actors.developer,
      started.id,
      (run) => stepOf(run, "approve").status === "waiting",
    );
    expect(waiting.status).toBe("waiting");
    expect(stepOf(waiting, "build")).toMatchObject({ status: "succeeded", exitCode: 0, outputs: { version: "1.2.3" } });
    expect(stepOf(waiting, "test").status).toBe("succeeded");
    expect(stepOf(waiting, "deploy").status).toBe("queued");
    // The step ran in the run's workspace.
    expect(await readFile(path.join(fixture.runtime.workspaceOf(started.id), "test-ran.txt"), "utf8")).toBe("test\n");

    const logs = await readStepLogs(actors.viewer, started.id, { step: "build" });
    const texts = logs.lines.map((line) => line.text);
    expect(texts).toContain("hello from build");
    expect(logs.lines.find((line) => line.text === "to stderr")?.stream).toBe("stderr");
    expect(logs.lines.map((line) => line.seq)).toEqual(logs.lines.map((_, i) => i + 1));
    expect(logs.complete).toBe(true);
    expect(texts.at(-1)).toBe("Exited with code 0");

    // The approver sees it in the inbox; the author (a developer, not an approver) does not.
    const inbox = await listPendingActions(actors.approver);
    expect(inbox.map((item) => [item.runId, item.step, item.message])).toContainEqual([
      started.id,
      "approve",
      "Ship 1.2.3?",
    ]);
    expect((await listPendingActions(actors.developer)).some((item) => item.runId === started.id)).toBe(false);

    // The author cannot approve; the viewer has no run:approve at all.
    await expect(approveStep(actors.developer, started.id, { step: "approve" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(approveStep(actors.viewer, started.id, { step: "approve" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    // Another tenant cannot even see the run.
    await expect(getRun(actors.globex, started.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(approveStep(actors.globex, started.id, { step: "approve" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });

    const approved = await approveStep(actors.approver, started.id, { step: "approve", comment: "go" });
    expect(stepOf(approved, "approve")).toMatchObject({ status: "succeeded" });
    expect(stepOf(approved, "approve").approvals[0]).toMatchObject({ byName: "Alex Approver", comment: "go" });

    const done = await waitForRun(actors.developer, started.id, isFinished);
    expect(done.status).toBe("succeeded");
    const deployLog = (await readStepLogs(actors.developer, started.id, { step: "deploy" })).lines.map((l) => l.text);
    expect(deployLog).toContain("using token ***");
    expect(deployLog.join("\n")).not.toContain("s3cr3t-token-value");
    expect(deployLog).toContain(`approved by ${actors.approver.email}`);

    const page = await listProjectRuns(actors.viewer, "acme", "storefront", { pipeline: pipelineId });
    expect(page.runs[0]).toMatchObject({ id: started.id, status: "succeeded", steps: { total: 4, succeeded: 4 } });
  });

  it("refuses bad params, unknown pipelines and people without pipeline:run", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: typed\nparams:\n  replicas: { type: integer, required: true }\nsteps:\n  - id: a\n    run: "true"\n`,
    );
    const missing = await startRun(actors.developer, pipelineId, { params: {} }).catch((error: AppError) => error);
    expect(missing).toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "params.replicas" }] });
    const wrongType = await startRun(actors.developer, pipelineId, { params: { replicas: "many" } }).catch(
      (error: AppError) => error,
    );
    expect(wrongType).toMatchObject({ code: "INVALID_INPUT" });
    expect((wrongType as AppError).message).toContain("integer");
    await expect(startRun(actors.viewer, pipelineId, { params: { replicas: 1 } })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(startRun(actors.globex, pipelineId, { params: { replicas: 1 } })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    // Nothing half-written: the refused starts left no run behind.
    expect((await listProjectRuns(actors.admin, "acme", "storefront", { pipeline: pipelineId })).runs).toHaveLength(0);
  });

  it("fails a step on a non-zero exit, skips what needs it, and re-runs from the failed step", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: flaky
steps:
  - id: prepare
    run: echo prepared >> prepare-count.txt
  - id: check
    needs: prepare
    run: |
      if [ -f fixed ]; then echo fixed; else echo "broken" >&2; exit 3; fi
  - id: publish
    needs: check
    run: echo published
`,
    );
    const run = await startRun(actors.developer, pipelineId, {});
    const failed = await waitForRun(actors.developer, run.id, isFinished);
    expect(failed.status).toBe("failed");
    expect(stepOf(failed, "check")).toMatchObject({ status: "failed", exitCode: 3 });
    expect(stepOf(failed, "publish").status).toBe("skipped");
    await expect(rerunRun(actors.viewer, run.id, { fromStep: "check" })).rejects.toMatchObject({ code: "FORBIDDEN" });

    // Fix the cause in the workspace, then re-run from the failed step: prepare is not run again.
    const { writeFile } = await import("node:fs/promises");
    await writeFile(path.join(fixture.runtime.workspaceOf(run.id), "fixed"), "");
    await rerunRun(actors.developer, run.id, { fromStep: "check" });
    const rerun = await waitForRun(actors.developer, run.id, (r) => r.runAttempt === 2 && isFinished(r));
    expect(rerun.status).toBe("succeeded");
    expect(stepOf(rerun, "check")).toMatchObject({ status: "succeeded", attempt: 2 });
    expect(stepOf(rerun, "prepare").attempt).toBe(1);
    expect(await readFile(path.join(fixture.runtime.workspaceOf(run.id), "prepare-count.txt"), "utf8")).toBe(
      "prepared\n",
    );
    // Each attempt keeps its own log.
    const first = await readStepLogs(actors.developer, run.id, { step: "check", attempt: 1 });
    expect(first.lines.map((line) => line.text)).toContain("broken");
    const second = await readStepLogs(actors.developer, run.id, { step: "check" });
    expect(second.attempt).toBe(2);
    expect(second.lines.map((line) => line.text)).toContain("fixed");
  });

  it("cancels a running step's whole process tree and records who cancelled", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: long
steps:
  - id: wait
    run: |
      sleep 30 &
      echo "child $!"
      wait
  - id: after
    needs: wait
    run: echo never
`,
    );
    const run = await startRun(actors.developer, pipelineId, {});
    const running = await waitForRun(
      actors.developer,
      run.id,
      (r) => stepOf(r, "wait").status === "running" && stepOf(r, "wait").startedAt !== null,
    );
    expect(running.status).toBe("running");
    await waitForLogLine(fixture, actors.developer, run.id, "wait", /^child \d+$/);
    const childPid = Number(
      (await readStepLogs(actors.developer, run.id, { step: "wait" })).lines
        .find((line) => line.text.startsWith("child "))
        ?.text.split(" ")[1],
    );
    await expect(cancelRun(actors.viewer, run.id)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const cancelled = await cancelRun(actors.developer, run.id, { reason: "wrong branch" });
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.cancellation).toMatchObject({
      kind: "cancel",
      by: actors.developer.email,
      reason: "wrong branch",
    });
    expect(stepOf(cancelled, "after").status).toBe("cancelled");
    // The grandchild (sleep) died with its process group.
    await expect.poll(() => isAlive(childPid), { timeout: 10_000 }).toBe(false);
  });

  it("runs a manual step when a person starts it", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: manual
steps:
  - id: build
    run: echo built
  - id: release
    needs: build
    manual: { message: Release now? }
  - id: announce
    needs: release
    run: echo "released by \${{ steps.release.outputs.started_by }}"
`,
    );
    const run = await startRun(actors.developer, pipelineId, {});
    await waitForRun(actors.developer, run.id, (r) => stepOf(r, "release").status === "waiting");
    await expect(runManualStep(actors.viewer, run.id, { step: "release" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await runManualStep(actors.maintainer, run.id, { step: "release" });
    const done = await waitForRun(actors.developer, run.id, isFinished);
    expect(done.status).toBe("succeeded");
    const log = await readStepLogs(actors.developer, run.id, { step: "announce" });
    expect(log.lines.map((line) => line.text)).toContain(`released by ${actors.maintainer.email}`);
  });

  it("fails the approval when an approver rejects, with the comment as the reason", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: gated\nsteps:\n  - id: ok\n    approval: { approvers: { roles: [approver] } }\n  - id: go\n    needs: ok\n    run: echo go\n`,
    );
    const run = await startRun(actors.developer, pipelineId, {});
    await waitForRun(actors.developer, run.id, (r) => stepOf(r, "ok").status === "waiting");
    const rejected = await rejectStep(actors.approver, run.id, { step: "ok", comment: "not today" });
    expect(stepOf(rejected, "ok")).toMatchObject({ status: "failed" });
    expect(stepOf(rejected, "ok").reason).toContain("not today");
    const done = await waitForRun(actors.developer, run.id, isFinished);
    expect(done.status).toBe("failed");
    expect(stepOf(done, "go").status).toBe("skipped");
  });
});

async function waitForLogLine(
  fixture: RunsFixture,
  actor: RunsFixture["actors"]["admin"],
  runId: string,
  step: string,
  pattern: RegExp,
) {
  void fixture;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const page = await readStepLogs(actor, runId, { step });
    if (page.lines.some((line) => pattern.test(line.text))) return;
    if (Date.now() > deadline) throw new Error(`no log line matching ${pattern} in ${step}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

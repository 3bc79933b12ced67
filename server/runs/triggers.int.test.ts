import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putProjectSecret } from "@/server/secrets/service";
import { TEST_DB_KINDS } from "@/test/db";
import { deliverWebhook, fireDueSchedules, listPipelineRuns } from "./service";
import { createRunsFixture, isFinished, type RunsFixture, savePipeline, waitForRun } from "./test-support";

// Runs started by triggers rather than people: a schedule fires once per due time across the
// processes that check it, never for a time before it existed; a webhook delivery starts a run
// only with a valid signature and when the trigger's condition holds, with params from the payload.

describe.each(TEST_DB_KINDS)("triggers on %s", (kind) => {
  let fixture: RunsFixture;

  beforeAll(async () => {
    fixture = await createRunsFixture(kind);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("fires a schedule once per due time, with its params, and not for times before it existed", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: nightly
params:
  target: { type: string, default: staging }
triggers:
  manual: false
  schedule:
    - { cron: "0 3 * * *", timezone: Europe/Berlin, params: { target: nightly-env } }
steps:
  - id: report
    run: echo "target \${{ params.target }}"
`,
    );
    // Ahead of the real clock, so the runtime's own periodic pass (real time) cannot interleave.
    const day = Date.now() + 2 * 86_400_000;
    await fireDueSchedules(day);
    // The first look only records where the schedule stands.
    expect((await listPipelineRuns(actors.viewer, pipelineId, {})).runs).toHaveLength(0);
    // The next day, twice (two replicas checking at once): one run.
    await Promise.all([fireDueSchedules(day + 86_400_000), fireDueSchedules(day + 86_400_000)]);
    const runs = (await listPipelineRuns(actors.viewer, pipelineId, {})).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "schedule", startedBy: null, params: { target: "nightly-env" } });
    const done = await waitForRun(actors.viewer, runs[0]?.id as string, isFinished);
    expect(done.status).toBe("succeeded");
    // Nothing more until the next due time.
    await fireDueSchedules(day + 86_400_000 + 3_600_000);
    expect((await listPipelineRuns(actors.viewer, pipelineId, {})).runs).toHaveLength(1);
  });

  it("starts a run from a signed webhook delivery when its condition holds", async () => {
    const { actors } = fixture;
    await putProjectSecret(actors.admin, "acme", "storefront", "HOOK_SECRET", { value: "hook-secret-value" });
    const pipelineId = await savePipeline(
      fixture,
      `name: on-push
params:
  ref: { type: string, required: true }
triggers:
  webhook:
    - id: push
      secret: \${{ secrets.HOOK_SECRET }}
      if: payload.ref.startsWith("refs/heads/")
      params: { ref: "\${{ payload.ref }}" }
steps:
  - id: build
    run: echo "building \${{ params.ref }}"
`,
    );
    const sign = (body: string, secret = "hook-secret-value") =>
      `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    const body = JSON.stringify({ ref: "refs/heads/main" });

    await expect(
      deliverWebhook(pipelineId, "push", body, { "x-hub-signature-256": sign(body, "wrong") }),
    ).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(deliverWebhook(pipelineId, "push", body, {})).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(deliverWebhook(pipelineId, "nope", body, { "x-hub-signature-256": sign(body) })).rejects.toMatchObject(
      {
        code: "NOT_FOUND",
      },
    );

    const tag = JSON.stringify({ ref: "v1.2.0" });
    expect(await deliverWebhook(pipelineId, "push", tag, { "x-microstack-signature-256": sign(tag) })).toMatchObject({
      started: false,
      reason: expect.stringContaining("condition is false"),
    });

    const delivered = await deliverWebhook(pipelineId, "push", body, { "x-hub-signature-256": sign(body) });
    expect(delivered).toMatchObject({ started: true, run: { trigger: "webhook", params: { ref: "refs/heads/main" } } });
    const done = await waitForRun(actors.viewer, delivered.run?.id as string, isFinished);
    expect(done.status).toBe("succeeded");
    // GitLab's token header works too.
    const viaGitlab = await deliverWebhook(pipelineId, "push", body, { "x-gitlab-token": "hook-secret-value" });
    expect(viaGitlab.started).toBe(true);
  });
});

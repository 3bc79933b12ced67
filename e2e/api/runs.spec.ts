import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import { ADMIN, DEVELOPER, GLOBEX_OWNER, signIn, VIEWER } from "../helpers";

// The pipelines, runs and approvals REST API over real HTTP against the built server (PGlite
// and PostgreSQL): the contract a CLI or another service relies on, with the refusals a user of
// another organization, a viewer and the author of a run must get.

const APPROVER = "approver@demo.microstack.dev";
const MAINTAINER = "maintainer@demo.microstack.dev";
const BASE = "/api/v1/organizations/acme/projects/storefront";

function slug(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function asUser(page: Page, email: string): Promise<APIRequestContext> {
  await signIn(page, email);
  return page.request;
}

async function pollRun(
  request: APIRequestContext,
  runId: string,
  until: (run: { status: string; stepList: { id: string; status: string }[] }) => boolean,
) {
  let run = await (await request.get(`/api/v1/runs/${runId}`)).json();
  for (let i = 0; i < 300 && !until(run); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    run = await (await request.get(`/api/v1/runs/${runId}`)).json();
  }
  return run;
}

test("a pipeline is created, versioned and run over the API; approvals are enforced", async ({ page }) => {
  const request = await asUser(page, MAINTAINER);
  const name = slug("api-delivery");
  const yaml = `# kept verbatim
name: API delivery
steps:
  - id: build
    run: echo "built" && echo "artifact=web.tar" >> "$MICROSTACK_OUTPUT"
    outputs: [artifact]
  - id: approve
    needs: build
    approval: { approvers: { roles: [approver] }, message: "Ship \${{ steps.build.outputs.artifact }}?" }
  - id: deploy
    needs: approve
    run: echo "deployed \${{ steps.build.outputs.artifact }}"
`;
  const created = await request.post(`${BASE}/pipelines`, { data: { slug: name, yaml, message: "first" } });
  expect(created.status()).toBe(201);
  const pipeline = await created.json();
  expect(pipeline).toMatchObject({ slug: name, name: "API delivery", currentVersion: 1, yaml });

  // Saving over an older version is refused with the current version named.
  const saved = await request.put(`/api/v1/pipelines/${pipeline.id}`, {
    data: { yaml: yaml.replace("# kept verbatim", "# second"), baseVersion: 1, message: "second" },
  });
  expect(saved.status()).toBe(200);
  expect((await saved.json()).currentVersion).toBe(2);
  const stale = await request.put(`/api/v1/pipelines/${pipeline.id}`, { data: { yaml, baseVersion: 1 } });
  expect(stale.status()).toBe(409);
  expect(await stale.json()).toMatchObject({ code: "CONFLICT", details: { currentVersion: 2, baseVersion: 1 } });
  const versions = await (await request.get(`/api/v1/pipelines/${pipeline.id}/versions`)).json();
  expect(
    versions.map((version: { version: number; isCurrent: boolean }) => [version.version, version.isCurrent]),
  ).toEqual([
    [2, true],
    [1, false],
  ]);

  // A developer starts it; the run waits for the approval.
  const developer = await page.context().browser()?.newContext({ baseURL: test.info().project.use.baseURL });
  const developerPage = await (developer as NonNullable<typeof developer>).newPage();
  const devRequest = await asUser(developerPage, DEVELOPER);
  const started = await devRequest.post(`/api/v1/pipelines/${pipeline.id}/runs`, { data: {} });
  expect(started.status()).toBe(201);
  const run = await started.json();
  expect(run).toMatchObject({ number: 1, pipelineVersion: 2, trigger: "api" });
  const waiting = await pollRun(devRequest, run.id, (r) =>
    r.stepList.some((s) => s.id === "approve" && s.status === "waiting"),
  );
  expect(waiting.status).toBe("waiting");
  expect(waiting.stepList.find((s: { id: string }) => s.id === "approve").notice).toBe("Ship web.tar?");

  // The author may not approve (403 with the reason); the approver may.
  const selfApproval = await devRequest.post(`/api/v1/runs/${run.id}/approve`, { data: { step: "approve" } });
  expect(selfApproval.status()).toBe(403);
  expect((await selfApproval.json()).code).toBe("FORBIDDEN");

  const approverContext = await page.context().browser()?.newContext({ baseURL: test.info().project.use.baseURL });
  const approverPage = await (approverContext as NonNullable<typeof approverContext>).newPage();
  const approverRequest = await asUser(approverPage, APPROVER);
  const inbox = await (await approverRequest.get("/api/v1/approvals")).json();
  expect(
    inbox.some((item: { runId: string; message: string }) => item.runId === run.id && item.message === "Ship web.tar?"),
  ).toBe(true);
  const approved = await approverRequest.post(`/api/v1/runs/${run.id}/approve`, {
    data: { step: "approve", comment: "lgtm" },
  });
  expect(approved.status()).toBe(200);

  const done = await pollRun(devRequest, run.id, (r) => r.status === "succeeded" || r.status === "failed");
  expect(done.status).toBe("succeeded");
  const logs = await (await devRequest.get(`/api/v1/runs/${run.id}/logs?step=deploy`)).json();
  expect(logs.lines.map((line: { text: string }) => line.text)).toContain("deployed web.tar");
  expect(logs.complete).toBe(true);

  const page1 = await (await devRequest.get(`${BASE}/runs?pipeline=${pipeline.id}&limit=1`)).json();
  expect(page1.runs[0]).toMatchObject({ id: run.id, status: "succeeded" });
  await developer?.close();
  await approverContext?.close();
});

test("bad input is a 400 naming the field and the reason; nothing is saved", async ({ page }) => {
  const request = await asUser(page, MAINTAINER);
  const name = slug("bad");
  const invalid = await request.post(`${BASE}/pipelines`, {
    data: { slug: name, yaml: "name: broken\nsteps:\n  - id: a\n    needs: b\n    run: echo\n" },
  });
  expect(invalid.status()).toBe(400);
  const problem = await invalid.json();
  expect(problem).toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "yaml" }] });
  expect(problem.invalidParams[0].reason).toMatch(/line 4, column \d+: .*b/);
  expect(problem.details.diagnostics[0]).toMatchObject({ code: "unknown-need", line: 4 });
  const list = await (await request.get(`${BASE}/pipelines`)).json();
  expect(list.some((p: { slug: string }) => p.slug === name)).toBe(false);

  expect((await request.post(`${BASE}/pipelines`, { data: { slug: "Not A Slug", yaml: "x" } })).status()).toBe(400);
  const runOfNothing = await request.post("/api/v1/pipelines/00000000-0000-7000-8000-000000000000/runs", { data: {} });
  expect(runOfNothing.status()).toBe(404);
  const badLogs = await request.get("/api/v1/runs/not-a-uuid/logs?step=a");
  expect(badLogs.status()).toBe(400);
  expect((await badLogs.json()).invalidParams[0].name).toBe("params.runId");

  const validation = await (
    await request.post("/api/v1/pipelines/validate", { data: { yaml: "name: x\nsteps:\n  - id: a\n    rnu: echo\n" } })
  ).json();
  expect(validation.valid).toBe(false);
  expect(validation.diagnostics[0].message).toMatch(/run/);
});

test("another organization's owner sees nothing; a viewer may read but not run", async ({ page, browser }) => {
  const admin = await asUser(page, ADMIN);
  const pipelines = await (await admin.get(`${BASE}/pipelines`)).json();
  const demo = pipelines.find((p: { slug: string }) => p.slug === "web-delivery");
  expect(demo).toBeDefined();

  const globexContext = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const globex = await asUser(await globexContext.newPage(), GLOBEX_OWNER);
  expect((await globex.get(`/api/v1/pipelines/${demo.id}`)).status()).toBe(404);
  expect((await globex.post(`/api/v1/pipelines/${demo.id}/runs`, { data: {} })).status()).toBe(404);
  expect((await globex.get(`${BASE}/pipelines`)).status()).toBe(404);
  expect((await globex.get(`${BASE}/secrets`)).status()).toBe(404);

  const viewerContext = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const viewer = await asUser(await viewerContext.newPage(), VIEWER);
  expect((await viewer.get(`/api/v1/pipelines/${demo.id}`)).status()).toBe(200);
  const refused = await viewer.post(`/api/v1/pipelines/${demo.id}/runs`, { data: {} });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).detail).toMatch(/pipeline:run/);
  expect((await viewer.get(`${BASE}/secrets`)).status()).toBe(403);
  await globexContext.close();
  await viewerContext.close();
});

test("secrets are write-only and masked in run logs", async ({ page }) => {
  const admin = await asUser(page, ADMIN);
  const put = await admin.put(`${BASE}/secrets/E2E_TOKEN`, {
    data: { value: "very-secret-e2e-value", description: "test" },
  });
  expect(put.status()).toBe(200);
  const listed = await (await admin.get(`${BASE}/secrets`)).json();
  expect(JSON.stringify(listed)).not.toContain("very-secret-e2e-value");
  expect(listed.some((secret: { name: string }) => secret.name === "E2E_TOKEN")).toBe(true);
  expect((await admin.put(`${BASE}/secrets/bad-name`, { data: { value: "x" } })).status()).toBe(400);

  const created = await admin.post(`${BASE}/pipelines`, {
    data: {
      slug: slug("secret"),
      yaml: 'name: s\nsteps:\n  - id: use\n    run: echo "token=${{ secrets.E2E_TOKEN }}"\n',
    },
  });
  const pipeline = await created.json();
  const run = await (await admin.post(`/api/v1/pipelines/${pipeline.id}/runs`, { data: {} })).json();
  await pollRun(admin, run.id, (r) => r.status === "succeeded" || r.status === "failed");
  const logs = await (await admin.get(`/api/v1/runs/${run.id}/logs?step=use`)).json();
  const text = logs.lines.map((line: { text: string }) => line.text).join("\n");
  expect(text).toContain("token=***");
  expect(text).not.toContain("very-secret-e2e-value");
});

test("the OpenAPI document and its reference page", async ({ page }) => {
  const openapi = await page.request.get("/api/v1/openapi.json");
  expect(openapi.status()).toBe(200);
  const document = await openapi.json();
  expect(document.openapi).toBe("3.1.0");
  expect(document.paths["/api/v1/pipelines/{pipelineId}/runs"].post.operationId).toBe("startRun");
  await signIn(page, VIEWER);
  await page.goto("/api-docs");
  await expect(page.getByRole("heading", { level: 1, name: "API reference" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "/api/v1/runs/{runId}/approve" })).toBeVisible();
});

test("a project's run settings: caps and log retention, for those who may update the project", async ({
  page,
  browser,
}) => {
  const admin = await asUser(page, ADMIN);
  const before = await (await admin.get(`${BASE}/settings`)).json();
  expect(before).toEqual({ maxActiveRuns: null, maxRunningSteps: null, logRetentionDays: null });
  const changed = await admin.patch(`${BASE}/settings`, { data: { maxActiveRuns: 5, logRetentionDays: 14 } });
  expect(changed.status()).toBe(200);
  expect(await changed.json()).toEqual({ maxActiveRuns: 5, maxRunningSteps: null, logRetentionDays: 14 });
  const bad = await admin.patch(`${BASE}/settings`, { data: { logRetentionDays: 0 } });
  expect(bad.status()).toBe(400);
  expect((await bad.json()).invalidParams[0].name).toBe("body.logRetentionDays");
  expect((await admin.patch(`${BASE}/settings`, { data: { maxActiveRuns: null } })).status()).toBe(200);

  const viewerContext = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const viewer = await asUser(await viewerContext.newPage(), VIEWER);
  expect((await viewer.get(`${BASE}/settings`)).status()).toBe(200);
  expect((await viewer.patch(`${BASE}/settings`, { data: { maxActiveRuns: 1 } })).status()).toBe(403);
  await viewerContext.close();
});

import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext, type Browser, expect, type Page, test } from "@playwright/test";
import { DEVELOPER, signIn } from "./helpers";

// The runs lists and the pipeline page: a project's pipelines and recent runs, a pipeline's
// header and runs (filters, "Load more", live status), and the run dialog generated from the
// pipeline's params (required ones checked on the field, the server's errors on theirs).

const MAINTAINER = "maintainer@demo.microstack.dev";
const BASE = "/api/v1/organizations/acme/projects/storefront";
const PROJECT = "/projects/acme/storefront";

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function userPage(browser: Browser, email: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const page = await context.newPage();
  await signIn(page, email);
  return page;
}

async function createPipeline(maintainer: Page, yaml: string, message?: string) {
  const created = await maintainer.request.post(`${BASE}/pipelines`, {
    data: { slug: unique("list"), yaml, ...(message ? { message } : {}) },
  });
  expect(created.status()).toBe(201);
  return (await created.json()) as { id: string; slug: string; name: string };
}

async function startRun(request: APIRequestContext, pipelineId: string, params: Record<string, unknown> = {}) {
  const started = await request.post(`/api/v1/pipelines/${pipelineId}/runs`, { data: { params } });
  expect(started.status()).toBe(201);
  return (await started.json()) as { id: string; number: number };
}

async function waitForRun(request: APIRequestContext, runId: string, status: string) {
  await expect
    .poll(async () => (await (await request.get(`/api/v1/runs/${runId}`)).json()).status, { timeout: 30_000 })
    .toBe(status);
}

test("the run dialog asks for the declared params, shows errors on their fields, and opens the run", async ({
  page,
  browser,
}) => {
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `Param delivery ${unique("p")}`;
  const pipeline = await createPipeline(
    maintainer,
    `name: ${name}
description: Ships a release with a few knobs.
params:
  release:
    type: string
    required: true
    description: The tag to ship
  replicas:
    type: integer
    default: 2
  target:
    type: string
    options: [staging, production]
    default: staging
  dry-run:
    type: boolean
    default: true
steps:
  - id: ship
    run: echo "shipping \${{ params.release }} x\${{ params.replicas }} to \${{ params.target }}"
`,
    "first cut",
  );

  // The project page lists the pipeline (never run yet) above the members.
  await signIn(page, DEVELOPER);
  await page.goto(PROJECT);
  const pipelines = page.getByRole("table", { name: "Pipelines" });
  const row = pipelines.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("Never run");
  await expect(page.getByRole("heading", { name: "Members", level: 2 })).toBeVisible();
  await row.getByRole("link", { name }).click();

  // The pipeline's page: header, links, an empty runs list.
  await expect(page).toHaveURL(new RegExp(`${PROJECT}/pipelines/${pipeline.slug}$`));
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  await expect(page.getByText("Ships a release with a few knobs.")).toBeVisible();
  await expect(page.getByText(/Version 1 · saved by Max Maintainer on .* · “first cut”/)).toBeVisible();
  await expect(page.getByRole("link", { name: "Edit" })).toHaveAttribute(
    "href",
    `${PROJECT}/pipelines/${pipeline.slug}/edit`,
  );
  await expect(page.getByText("No runs yet.")).toBeVisible();
  await page.getByRole("link", { name: "Versions" }).click();
  await expect(page.getByRole("heading", { name: `Versions of ${name}`, level: 1 })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "first cut" })).toContainText("Current");
  await page.getByRole("link", { name: `Back to ${name}` }).click();

  // The dialog: a field per param, defaults filled in.
  await page.getByRole("button", { name: "Run pipeline" }).click();
  const dialog = page.getByRole("dialog", { name: `Run ${name}` });
  await expect(dialog).toBeVisible();
  const release = dialog.getByRole("textbox", { name: "release (required)" });
  const replicas = dialog.getByRole("textbox", { name: "replicas" });
  await expect(release).toHaveAccessibleDescription("The tag to ship");
  await expect(replicas).toHaveValue("2");
  await expect(dialog.getByRole("combobox", { name: "target" })).toHaveValue("staging");
  await expect(dialog.getByRole("checkbox", { name: "dry-run" })).toBeChecked();

  // A required param left empty: the error is on its field, and nothing is sent.
  await dialog.getByRole("button", { name: "Start run" }).click();
  await expect(release).toHaveAttribute("aria-invalid", "true");
  await expect(release).toHaveAccessibleDescription(/Enter a value: this param is required\./);
  await expect(release).toBeFocused();

  // The server's own check (an integer) comes back on the replicas field.
  await release.fill("v1.2.3");
  await expect(release).not.toHaveAttribute("aria-invalid", "true");
  await replicas.fill("2.5");
  await dialog.getByRole("button", { name: "Start run" }).click();
  await expect(replicas).toHaveAttribute("aria-invalid", "true");
  await expect(replicas).toHaveAccessibleDescription(/must be an integer/);
  await expect(replicas).toBeFocused();

  // A valid start opens the run.
  await replicas.fill("3");
  await dialog.getByRole("combobox", { name: "target" }).selectOption("production");
  await dialog.getByRole("checkbox", { name: "dry-run" }).uncheck();
  await dialog.getByRole("button", { name: "Start run" }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  const runId = /\/runs\/([0-9a-f-]{36})$/.exec(page.url())?.[1] as string;
  const run = await (await page.request.get(`/api/v1/runs/${runId}`)).json();
  expect(run.params).toEqual({ release: "v1.2.3", replicas: 3, target: "production", "dry-run": false });
  await waitForRun(page.request, runId, "succeeded");

  // Back on the pipeline's page, the run is listed with its status as an icon and a word.
  await page.goto(`${PROJECT}/pipelines/${pipeline.slug}`);
  const runRow = page.getByRole("table", { name: "Runs of this pipeline" }).getByRole("row").nth(1);
  await expect(runRow).toContainText("Succeeded");
  await expect(runRow).toContainText("Dana Developer");
  await expect(runRow).toContainText("1 of 1 done");
  await expect(runRow.getByRole("link", { name: `Run #${run.number} of ${name}` })).toHaveAttribute(
    "href",
    `/runs/${runId}`,
  );
  // And the project page shows its last run.
  await page.goto(PROJECT);
  await expect(page.getByRole("table", { name: "Pipelines" }).getByRole("row").filter({ hasText: name })).toContainText(
    "Succeeded",
  );
  await maintainer.context().close();
});

test("runs are filtered and paged on the server, and follow their status live", async ({ page, browser }) => {
  test.setTimeout(120_000); // 27 runs to start and wait for
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `Busy pipeline ${unique("p")}`;
  const pipeline = await createPipeline(
    maintainer,
    `name: ${name}
params:
  fail: { type: boolean, default: false }
  pause: { type: integer, default: 0 }
steps:
  - id: work
    run: |
      sleep \${{ params.pause }}
      if [ "\${{ params.fail }}" = "true" ]; then echo "broken" >&2; exit 1; fi
      echo ok
`,
  );
  await signIn(page, DEVELOPER);
  // 26 runs: one more than a page. The last one fails.
  const runs: { id: string; number: number }[] = [];
  for (let i = 0; i < 25; i++) runs.push(await startRun(page.request, pipeline.id));
  const failing = await startRun(page.request, pipeline.id, { fail: true });
  await waitForRun(page.request, failing.id, "failed");

  await page.goto(`${PROJECT}/pipelines/${pipeline.slug}`);
  const table = page.getByRole("table", { name: "Runs of this pipeline" });
  await expect(page.getByText("25 runs shown")).toBeVisible();
  await expect(table.getByRole("row").nth(1)).toContainText(`#${failing.number}`);
  await expect(table.getByRole("row").nth(1)).toContainText("Failed");
  await expect(table.getByRole("row").nth(1)).toContainText("1 failed");
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(page.getByText("26 runs shown · That is all of them.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
  await expect(table.getByRole("link", { name: `Run #${runs[0]?.number} of ${name}` })).toBeVisible();

  // Filters: trigger (the status filter has its own test below).
  const filters = page.getByRole("search", { name: "Filter runs" });
  await filters.getByLabel("Trigger").selectOption("schedule");
  await expect(page.getByText("No runs match these filters.")).toBeVisible();
  await filters.getByLabel("Trigger").selectOption("api");
  await expect(page.getByText("25 runs shown")).toBeVisible();
  await filters.getByRole("button", { name: "Clear filters" }).click();

  // Live: a slow run shown while it runs turns "Succeeded" without a reload.
  const slow = await startRun(page.request, pipeline.id, { pause: 4 });
  await page.reload();
  const slowRow = table
    .getByRole("row")
    .filter({ has: page.getByRole("link", { name: `Run #${slow.number} of ${name}` }) });
  await expect(slowRow).toContainText(/Queued|Running/);
  await expect(slowRow).toContainText("Succeeded", { timeout: 20_000 });
  await expect(slowRow).toContainText("1 of 1 done");

  // The project's runs page has the same list, with a pipeline filter.
  await page.goto(`${PROJECT}/runs`);
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await page.getByRole("search", { name: "Filter runs" }).getByLabel("Pipeline").selectOption({ label: name });
  const projectTable = page.getByRole("table", { name: "Runs, newest first" });
  await expect(projectTable.getByRole("row").nth(1)).toContainText(`#${slow.number}`);
  await expect(projectTable.getByRole("row").nth(1)).toContainText(name);
  // And the project page's recent runs link to it.
  await page.goto(PROJECT);
  await expect(page.getByRole("table", { name: "Recent runs" }).getByRole("row")).toHaveCount(11);
  await page.getByRole("link", { name: "All runs of the project" }).click();
  await expect(page).toHaveURL(new RegExp(`${PROJECT}/runs$`));
  await maintainer.context().close();
});

test("runs are filtered by several statuses at once", async ({ page, browser }) => {
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `Status filter ${unique("p")}`;
  const pipeline = await createPipeline(
    maintainer,
    `name: ${name}
params:
  fail: { type: boolean, default: false }
steps:
  - id: work
    run: |
      if [ "\${{ params.fail }}" = "true" ]; then exit 1; fi
`,
  );
  await signIn(page, DEVELOPER);
  await waitForRun(page.request, (await startRun(page.request, pipeline.id)).id, "succeeded");
  await waitForRun(page.request, (await startRun(page.request, pipeline.id, { fail: true })).id, "failed");
  await page.goto(`${PROJECT}/pipelines/${pipeline.slug}`);
  const table = page.getByRole("table", { name: "Runs of this pipeline" });
  const filters = page.getByRole("search", { name: "Filter runs" });
  await filters.getByRole("checkbox", { name: "Failed" }).check();
  await expect(page.getByText("1 run shown")).toBeVisible();
  await expect(table.getByRole("row")).toHaveCount(2);
  await expect(table.getByRole("row").nth(1)).toContainText("Failed");
  await filters.getByRole("checkbox", { name: "Succeeded" }).check();
  await expect(page.getByText("2 runs shown")).toBeVisible();
  await filters.getByRole("checkbox", { name: "Failed" }).uncheck();
  await filters.getByRole("checkbox", { name: "Succeeded" }).uncheck();
  await filters.getByRole("checkbox", { name: "Timed out" }).check();
  await expect(page.getByText("No runs match these filters.")).toBeVisible();
  await maintainer.context().close();
});

test("the pipeline page has no serious accessibility violations, in both themes", async ({ page, browser }) => {
  test.setTimeout(180_000); // three pages and a dialog in two themes, an axe run each
  const maintainer = await userPage(browser, MAINTAINER);
  const pipeline = await createPipeline(
    maintainer,
    `name: A11y pipeline ${unique("p")}
params:
  note: { type: string, required: true, description: Why }
  level: { type: string, options: [low, high] }
steps:
  - id: a
    run: echo a
`,
  );
  await signIn(page, DEVELOPER);
  await startRun(page.request, pipeline.id, { note: "seed" });
  for (const theme of ["light", "dark"] as const) {
    await page.keyboard.press("Control+k");
    await page.keyboard.type(`use ${theme} theme`);
    const saved = page.waitForResponse((response) => response.request().method() === "POST");
    await page.keyboard.press("Enter");
    await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
    expect((await saved).ok()).toBe(true);
    for (const path of [`${PROJECT}/pipelines/${pipeline.slug}`, `${PROJECT}/runs`, PROJECT]) {
      await page.goto(path);
      await expect(page.getByRole("main")).toBeVisible();
      await expect(page.getByRole("table").first()).toBeVisible();
      const results = await new AxeBuilder({ page }).analyze();
      const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect(serious.map((v) => `${theme} ${path}: ${v.id} ${v.help}`)).toEqual([]);
    }
    // The run dialog, with an error showing.
    await page.goto(`${PROJECT}/pipelines/${pipeline.slug}`);
    await page.getByRole("button", { name: "Run pipeline" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Start run" }).click();
    await expect(page.getByText("Enter a value: this param is required.")).toBeVisible();
    const dialogResults = await new AxeBuilder({ page }).analyze();
    expect(
      dialogResults.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${theme} dialog: ${v.id} ${v.help}`),
    ).toEqual([]);
    await page.keyboard.press("Escape");
    await expect(page.getByRole("dialog")).toBeHidden();
    await expect(page.getByRole("button", { name: "Run pipeline" })).toBeFocused();
  }
  await page.keyboard.press("Control+k");
  await page.keyboard.type("use system theme");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  await maintainer.context().close();
});

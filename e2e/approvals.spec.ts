import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext, type Browser, expect, type Locator, type Page, test } from "@playwright/test";
import { DEVELOPER, signIn } from "./helpers";

// The approvals inbox: what waits for a person, across projects. The author of a run is not
// offered its approval (and is refused over the API); the approver sees it with what they need
// to decide, approves from the palette by keyboard alone, rejects with a comment, and the
// sidebar badge follows. Manual steps are run or skipped from the same inbox.

const APPROVER = "approver@demo.microstack.dev";
const MAINTAINER = "maintainer@demo.microstack.dev";
const BASE = "/api/v1/organizations/acme/projects/storefront";

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function userPage(browser: Browser, email: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const page = await context.newPage();
  await signIn(page, email);
  return page;
}

interface StepState {
  id: string;
  status: string;
  approvals: { decision: string; comment: string | null }[];
}

async function waitForStep(request: APIRequestContext, runId: string, step: string, status: string) {
  let run: { status: string; stepList: StepState[] } | null = null;
  await expect
    .poll(
      async () => {
        run = await (await request.get(`/api/v1/runs/${runId}`)).json();
        return run?.stepList.find((s) => s.id === step)?.status;
      },
      { timeout: 30_000 },
    )
    .toBe(status);
  return run as unknown as { status: string; stepList: StepState[] };
}

/** A pipeline whose deploy waits for the approver role, in a production environment. */
async function createApprovalPipeline(maintainer: Page, name: string) {
  const yaml = `name: ${name}
params:
  target:
    type: string
    options: [staging, production]
    default: production
steps:
  - id: build
    run: echo built
  - id: approve
    name: Release approval
    needs: build
    approval:
      approvers: { roles: [approver] }
      environment: production
      message: "Ship to \${{ params.target }}?"
      timeout: 2h
  - id: deploy
    needs: approve
    run: echo "deployed to \${{ params.target }}"
`;
  const created = await maintainer.request.post(`${BASE}/pipelines`, { data: { slug: unique("inbox"), yaml } });
  expect(created.status()).toBe(201);
  return (await created.json()) as { id: string; slug: string; name: string };
}

async function startRun(request: APIRequestContext, pipelineId: string, params: Record<string, unknown> = {}) {
  const started = await request.post(`/api/v1/pipelines/${pipelineId}/runs`, { data: { params } });
  expect(started.status()).toBe(201);
  return (await started.json()) as { id: string; number: number };
}

function approvalsLink(page: Page): Locator {
  return page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: /^Approvals/ });
}

/** The count the sidebar announces ("Approvals, 3 items waiting"). */
async function badgeCount(page: Page): Promise<number> {
  const link = approvalsLink(page);
  await expect(link).toHaveAttribute("aria-label", /Approvals, /);
  const label = (await link.getAttribute("aria-label")) ?? "";
  return label.includes("nothing") ? 0 : Number(/(\d+)/.exec(label)?.[1] ?? Number.NaN);
}

function inboxItem(page: Page, name: string, number: number): Locator {
  return page.getByRole("article", { name: `${name} · Run #${number}` });
}

test("the author is not offered their approval; the approver approves from the palette and rejects with a comment", async ({
  page,
  browser,
}) => {
  test.setTimeout(120_000); // three people, three runs
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `Inbox delivery ${unique("p")}`;
  const pipeline = await createApprovalPipeline(maintainer, name);

  // The developer starts two runs; both wait at the approval.
  await signIn(page, DEVELOPER);
  const first = await startRun(page.request, pipeline.id);
  const second = await startRun(page.request, pipeline.id);
  await waitForStep(page.request, first.id, "approve", "waiting");
  await waitForStep(page.request, second.id, "approve", "waiting");

  // They are listed on the pipeline's page, waiting.
  await page.goto(`/projects/acme/storefront/pipelines/${pipeline.slug}`);
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  const runsTable = page.getByRole("table", { name: "Runs of this pipeline" });
  await expect(runsTable.getByRole("row").filter({ hasText: `#${first.number}` })).toContainText("Waiting");
  await expect(runsTable.getByRole("row").filter({ hasText: `#${second.number}` })).toContainText("Dana Developer");

  // Their own approval is not offered to them, and approving it over the API is refused with why.
  await page.keyboard.press("g");
  await page.keyboard.press("i");
  await expect(page).toHaveURL(/\/approvals$/);
  await expect(page.getByRole("heading", { name: "Approvals", level: 1 })).toBeVisible();
  await expect(page.getByRole("heading", { name: /^Waiting for you/ })).toContainText(/waiting/);
  await expect(inboxItem(page, name, first.number)).toHaveCount(0);
  const refused = await page.request.post(`/api/v1/runs/${first.id}/approve`, { data: { step: "approve" } });
  expect(refused.status()).toBe(403);
  const problem = await refused.json();
  expect(problem.code).toBe("FORBIDDEN");
  expect(problem.detail).toMatch(/run:approve/);

  // The approver's inbox has both, with what they need to decide.
  const approver = await userPage(browser, APPROVER);
  await approver.keyboard.press("g");
  await approver.keyboard.press("i");
  await expect(approver).toHaveURL(/\/approvals$/);
  const item = inboxItem(approver, name, first.number);
  await expect(item).toBeVisible();
  await expect(inboxItem(approver, name, second.number)).toBeVisible();
  await expect(item).toContainText("Approval");
  await expect(item).toContainText("Ship to production?");
  await expect(item).toContainText("Release approval");
  await expect(item).toContainText("Dana Developer");
  await expect(item).toContainText("0 of 1");
  await expect(item).toContainText(/\dh \d\dm left|\d+m \d\ds left/);
  await expect(item).toContainText("Production-like: production");
  await expect(item.getByRole("table", { name: "Params" })).toContainText("target");
  await expect(item.getByRole("table", { name: "Params" })).toContainText("production");
  // The run number links to the run's page (whatever that page shows today).
  await expect(item.getByRole("link", { name: `Run #${first.number}` })).toHaveAttribute("href", `/runs/${first.id}`);

  const before = await badgeCount(approver);
  expect(before).toBeGreaterThanOrEqual(2);

  // Approve the first from the palette, keyboard only: the command opens a small dialog, the
  // comment field has focus, Enter approves.
  await approver.keyboard.press("Control+k");
  await expect(approver.getByRole("dialog", { name: "Command palette" })).toBeVisible();
  await approver.keyboard.type(`Approve run #${first.number} of ${name}`);
  await expect(
    approver.getByRole("option", { name: new RegExp(`Approve run #${first.number} of ${name} \\(production\\)`) }),
  ).toBeVisible();
  await approver.keyboard.press("Enter");
  const confirm = approver.getByRole("dialog", { name: `Approve run #${first.number} of ${name}` });
  await expect(confirm).toBeVisible();
  const comment = confirm.getByRole("textbox", { name: "Comment (optional)" });
  await expect(comment).toBeFocused();
  await approver.keyboard.type("lgtm from the palette");
  await approver.keyboard.press("Enter");
  await expect(confirm).toBeHidden();
  await expect(item).toHaveCount(0);
  await expect.poll(() => badgeCount(approver)).toBe(before - 1);
  const approved = await waitForStep(approver.request, first.id, "approve", "succeeded");
  expect(approved.stepList.find((s) => s.id === "approve")?.approvals[0]).toMatchObject({
    decision: "approve",
    comment: "lgtm from the palette",
  });

  // Reject the second: a comment is required.
  const secondItem = inboxItem(approver, name, second.number);
  await secondItem.getByRole("button", { name: `Reject run #${second.number} of ${name}` }).click();
  const reason = secondItem.getByRole("textbox", { name: "Comment (required)" });
  await expect(reason).toBeFocused();
  await secondItem.getByRole("button", { name: "Reject", exact: true }).click();
  await expect(secondItem.getByText("Say why you reject it: a comment is required.")).toBeVisible();
  await expect(reason).toHaveAttribute("aria-invalid", "true");
  await reason.fill("not during the freeze");
  await approver.keyboard.press("Enter");
  await expect(secondItem).toHaveCount(0);
  await expect(approver.getByRole("status").filter({ hasText: "rejected" })).toHaveText(
    `Run #${second.number} of ${name} rejected.`,
  );
  await expect.poll(() => badgeCount(approver)).toBe(before - 2);
  const rejected = await waitForStep(approver.request, second.id, "approve", "failed");
  expect(rejected.stepList.find((s) => s.id === "approve")?.approvals[0]).toMatchObject({
    decision: "reject",
    comment: "not during the freeze",
  });

  // The run link leads to the run's address.
  const third = await startRun(page.request, pipeline.id);
  await waitForStep(page.request, third.id, "approve", "waiting");
  const thirdItem = inboxItem(approver, name, third.number);
  await expect(thirdItem).toBeVisible(); // arrived live (approvals:changed)
  await expect.poll(() => badgeCount(approver)).toBe(before - 1);
  await thirdItem.getByRole("link", { name: `Run #${third.number}` }).click();
  await expect(approver).toHaveURL(new RegExp(`/runs/${third.id}$`));
  await approver.context().close();
  await maintainer.context().close();
});

test("a refusal shows the server's reason next to the item", async ({ page, browser }) => {
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `Refused delivery ${unique("p")}`;
  const pipeline = await createApprovalPipeline(maintainer, name);
  await signIn(page, DEVELOPER);
  const run = await startRun(page.request, pipeline.id, { target: "staging" });
  await waitForStep(page.request, run.id, "approve", "waiting");

  const approver = await userPage(browser, APPROVER);
  await approver.goto("/approvals");
  const item = inboxItem(approver, name, run.number);
  await expect(item).toBeVisible();
  // The environment is production-like; the staging target is not.
  await expect(item).toContainText("Production-like: production (environment production)");

  // The page goes offline for live events while the author cancels the run: the item stays, and
  // approving it is refused by the server, whose reason is shown with it.
  await approver.evaluate(() =>
    (window as unknown as { __microstackSocket: { disconnect(): void } }).__microstackSocket.disconnect(),
  );
  expect((await page.request.post(`/api/v1/runs/${run.id}/cancel`, { data: {} })).status()).toBe(200);
  await item.getByRole("button", { name: `Approve run #${run.number} of ${name}` }).click();
  await item.getByRole("textbox", { name: "Comment (optional)" }).fill("too late");
  await item.getByRole("button", { name: "Approve", exact: true }).click();
  const alert = item.getByRole("alert");
  await expect(alert).toContainText("Not done.");
  await expect(alert).toContainText(/cannot be done in the current state|Not found/);
  // The refusal describes the comment field too, so it is read where the person is.
  await expect(item.getByRole("textbox", { name: "Comment (optional)" })).toHaveAccessibleDescription(
    /cannot be done in the current state|Not found/,
  );
  await approver.context().close();
  await maintainer.context().close();
});

test("manual steps are run or skipped from the inbox", async ({ page, browser }) => {
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `Manual release ${unique("p")}`;
  const created = await maintainer.request.post(`${BASE}/pipelines`, {
    data: {
      slug: unique("manual"),
      yaml: `name: ${name}
steps:
  - id: build
    run: echo built
  - id: smoke
    name: Smoke test by hand
    needs: build
    manual: { message: "Check the preview, then start the smoke test" }
  - id: done
    needs: smoke
    run: echo done
`,
    },
  });
  expect(created.status()).toBe(201);
  const pipeline = await created.json();
  await signIn(page, DEVELOPER);
  const toRun = await startRun(page.request, pipeline.id);
  const toSkip = await startRun(page.request, pipeline.id);
  await waitForStep(page.request, toRun.id, "smoke", "waiting");
  await waitForStep(page.request, toSkip.id, "smoke", "waiting");

  await page.goto("/approvals");
  const runItem = inboxItem(page, name, toRun.number);
  await expect(runItem).toContainText("Manual step");
  await expect(runItem).toContainText("Check the preview, then start the smoke test");
  await runItem.getByRole("button", { name: "Run step" }).click();
  await expect(runItem).toHaveCount(0);
  await expect(page.getByRole("status").filter({ hasText: "started" })).toHaveText(
    `Step Smoke test by hand of run #${toRun.number} started.`,
  );
  await waitForStep(page.request, toRun.id, "smoke", "succeeded");

  const skipItem = inboxItem(page, name, toSkip.number);
  await skipItem.getByRole("button", { name: "Skip step" }).click();
  const confirmSkip = skipItem.getByRole("button", { name: "Skip Smoke test by hand?" });
  await expect(confirmSkip).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(skipItem).toHaveCount(0);
  await waitForStep(page.request, toSkip.id, "smoke", "skipped");
  await maintainer.context().close();
});

test("the inbox has no serious accessibility violations in both themes, and reads in Chinese", async ({
  page,
  browser,
}) => {
  test.setTimeout(180_000); // two themes, two languages, axe each time
  const maintainer = await userPage(browser, MAINTAINER);
  const name = `A11y delivery ${unique("p")}`;
  const pipeline = await createApprovalPipeline(maintainer, name);
  const developer = await userPage(browser, DEVELOPER);
  const run = await startRun(developer.request, pipeline.id);
  await waitForStep(developer.request, run.id, "approve", "waiting");

  await signIn(page, APPROVER);
  for (const theme of ["light", "dark"] as const) {
    await page.keyboard.press("Control+k");
    await page.keyboard.type(`use ${theme} theme`);
    const saved = page.waitForResponse((response) => response.request().method() === "POST");
    await page.keyboard.press("Enter");
    await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
    expect((await saved).ok()).toBe(true);
    await page.goto("/approvals");
    const item = inboxItem(page, name, run.number);
    await expect(item).toBeVisible();
    // With a form open too: the comment field, its hint and the buttons.
    await item.getByRole("button", { name: `Reject run #${run.number} of ${name}` }).click();
    await item.getByRole("button", { name: "Reject", exact: true }).click();
    await expect(item.getByText("Say why you reject it: a comment is required.")).toBeVisible();
    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${theme}: ${v.id} ${v.help} ${v.nodes.map((n) => n.target).join(", ")}`)).toEqual([]);
  }

  // In Chinese: the page, the item and the sidebar's count.
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+k");
  await page.keyboard.type("简体中文");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await page.reload();
  await expect(page.getByRole("heading", { name: "审批", level: 1 })).toBeVisible();
  const zhItem = page.getByRole("article", { name: `${name} · 第 ${run.number} 次运行` });
  await expect(zhItem).toContainText("类生产环境：production");
  await expect(zhItem).toContainText("0/1");
  await expect(zhItem.getByRole("button", { name: `批准 ${name} 的第 ${run.number} 次运行` })).toBeVisible();
  await expect(
    page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: /^审批，\d+ 项待处理$/ }),
  ).toBeVisible();

  // Back to English and the system theme (preferences live in the account).
  await page.keyboard.press("Control+k");
  await page.keyboard.type("English");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await page.keyboard.press("Control+k");
  await page.keyboard.type("system theme");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  await developer.context().close();
  await maintainer.context().close();
});

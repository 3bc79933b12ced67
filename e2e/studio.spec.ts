import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext, type Browser, expect, type Page, test } from "@playwright/test";
import { signIn } from "./helpers";

// The pipeline studio and the run view, as people use them: building a pipeline with the
// keyboard alone, editing on the canvas while the YAML keeps its comments, running it and
// watching it live, approving as an approver and being refused as the run's author, two people
// saving the same pipeline, and unsaved work surviving a reload.

const MAINTAINER = "maintainer@demo.microstack.dev";
const APPROVER = "approver@demo.microstack.dev";
const PROJECT = "/api/v1/organizations/acme/projects/storefront";

function uniqueSlug(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

async function userPage(browser: Browser, email: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const page = await context.newPage();
  await signIn(page, email);
  return page;
}

async function createPipeline(
  request: APIRequestContext,
  slug: string,
  yaml: string,
): Promise<{ id: string; slug: string }> {
  const response = await request.post(`${PROJECT}/pipelines`, { data: { slug, yaml } });
  expect(response.status(), await response.text()).toBe(201);
  return response.json();
}

const graph = (page: Page) => page.getByRole("application", { name: /Pipeline graph|Steps of the run/ });

test("a pipeline is built with the keyboard alone", async ({ page }) => {
  await signIn(page, MAINTAINER);
  await page.goto("/projects/acme/storefront/pipelines/new");
  await expect(page.getByRole("heading", { name: "New pipeline", level: 1 })).toBeVisible();

  // To the canvas, select the starting step, add an approval after it, then a script.
  await graph(page).focus();
  await page.keyboard.press("ArrowRight");
  await expect(page.locator(".step-node.selected")).toContainText("build");
  await page.keyboard.press("a");
  await expect(page.getByRole("dialog", { name: "Add a step" })).toBeVisible();
  await page.keyboard.type("approval");
  await page.keyboard.press("Enter");
  await expect(page.locator(".step-node.selected")).toContainText("approval");
  await graph(page).focus();
  await page.keyboard.press("a");
  await page.keyboard.type("script");
  await page.keyboard.press("Enter");
  await expect(page.locator(".step-node")).toHaveCount(3);
  const yaml = page.locator(".cm-content");
  await expect(yaml).toContainText("needs: approval");

  // Undo and redo from the canvas.
  await graph(page).focus();
  await page.keyboard.press("Control+z");
  await expect(page.locator(".step-node")).toHaveCount(2);
  await page.keyboard.press("Control+Shift+z");
  await expect(page.locator(".step-node")).toHaveCount(3);

  // Enter opens the selected step's form (focus on its first field, the id); Tab to the name.
  await page.keyboard.press("Enter");
  await expect(page.getByLabel("Id", { exact: true })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Name", { exact: true })).toBeFocused();
  await page.keyboard.type("Publish");
  await page.keyboard.press("Enter");
  await expect(yaml).toContainText("name: Publish");
  await page.keyboard.press("Escape");
  await expect(graph(page)).toBeFocused();

  // A slug, then Ctrl+S creates it and opens it for editing.
  const slug = uniqueSlug("keyboard");
  await page.getByLabel("Slug").focus();
  await page.keyboard.type(slug);
  await page.keyboard.press("Control+s");
  await expect(page).toHaveURL(new RegExp(`/pipelines/${slug}/edit$`));
  const saved = await (await page.request.get(`${PROJECT}/pipelines`)).json();
  expect(saved.find((p: { slug: string }) => p.slug === slug)).toBeDefined();
});

test("canvas edits keep the YAML's comments and formatting; an invalid pipeline is not saved", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const slug = uniqueSlug("comments");
  const source = `# Delivery of the storefront.
name: commented
steps:
  - id: build # compile everything
    run: |
      make build   # the real work
  - id: test
    needs: build
    run: make test
`;
  await createPipeline(page.request, slug, source);
  await page.goto(`/projects/acme/storefront/pipelines/${slug}/edit`);
  await graph(page).focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await expect(page.locator(".step-node.selected")).toContainText("test");
  await page.keyboard.press("Enter");
  const name = page.getByLabel("Name", { exact: true });
  await name.fill("Unit tests");
  await name.press("Enter");
  const yaml = page.locator(".cm-content");
  await expect(yaml).toContainText("name: Unit tests");
  for (const comment of ["# Delivery of the storefront.", "# compile everything", "# the real work"]) {
    await expect(yaml).toContainText(comment);
  }

  // Break it: a need that does not exist is marked on the node and in the problems; saving refuses.
  await page.getByLabel("Condition (if)").fill('steps.nope.outcome == "success"');
  await page.getByLabel("Condition (if)").press("Enter");
  await expect(page.getByText(/problem/).first()).toBeVisible();
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("alert").filter({ hasText: "Not saved" })).toBeVisible();
  await page.getByRole("button", { name: "Undo", exact: true }).click();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText(/Saved as version 2/)).toBeVisible();
  const stored = await (await page.request.get(`${PROJECT}/pipelines`)).json();
  const detail = await (
    await page.request.get(`/api/v1/pipelines/${stored.find((p: { slug: string }) => p.slug === slug).id}`)
  ).json();
  expect(detail.yaml).toContain("# compile everything");
  expect(detail.yaml).toContain("name: Unit tests");

  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
});

test("two people save the same pipeline: the second sees the difference instead of overwriting", async ({
  page,
  browser,
}) => {
  await signIn(page, MAINTAINER);
  const slug = uniqueSlug("conflict");
  await createPipeline(page.request, slug, "name: shared\nsteps:\n  - id: one\n    run: echo one\n");
  const other = await userPage(browser, "admin@demo.microstack.dev");
  await page.goto(`/projects/acme/storefront/pipelines/${slug}/edit`);
  await other.goto(`/projects/acme/storefront/pipelines/${slug}/edit`);
  for (const [who, text] of [
    [page, "echo mine"],
    [other, "echo theirs"],
  ] as const) {
    await graph(who).focus();
    await who.keyboard.press("ArrowRight");
    await who.keyboard.press("Enter");
    await who.getByLabel("Script").fill(text);
    await who.getByLabel("Script").blur();
    await expect(who.locator(".cm-content")).toContainText(text);
  }
  await other.keyboard.press("Control+s");
  await expect(other.getByText(/Saved as version 2/)).toBeVisible();
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("heading", { name: /Version 2 was saved while you were editing/ })).toBeVisible();
  await expect(page.locator(".diff-line.added")).toContainText("echo mine");
  await expect(page.locator(".diff-line.removed")).toContainText("echo theirs");
  await other.context().close();
});

test("unsaved changes survive a reload", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const slug = uniqueSlug("draft");
  await createPipeline(page.request, slug, "name: drafty\nsteps:\n  - id: one\n    run: echo one\n");
  await page.goto(`/projects/acme/storefront/pipelines/${slug}/edit`);
  await graph(page).focus();
  await page.keyboard.press("a");
  await page.keyboard.type("script");
  await page.keyboard.press("Enter");
  await expect(page.locator(".step-node")).toHaveCount(2);
  await page.waitForTimeout(600); // the draft is written 300 ms after the last change
  await page.reload();
  await expect(page.getByText(/Your unsaved changes from/)).toBeVisible();
  await expect(page.locator(".step-node")).toHaveCount(2);
  await page.getByRole("button", { name: "Discard them" }).click();
  await expect(page.locator(".step-node")).toHaveCount(1);
});

test("a run is watched live; the approver approves, the author is refused with the reason", async ({
  page,
  browser,
}) => {
  await signIn(page, MAINTAINER);
  const slug = uniqueSlug("live");
  const pipeline = await createPipeline(
    page.request,
    slug,
    `name: live
steps:
  - id: build
    run: |
      for i in 1 2 3; do echo "building part $i"; sleep 0.3; done
  - id: release
    needs: build
    approval:
      approvers: { roles: [approver, maintainer] }
      message: Release it?
  - id: deploy
    needs: release
    run: echo "deployed"
`,
  );
  // The maintainer starts it and opens the run: statuses move live, the build's log streams.
  const run = await (await page.request.post(`/api/v1/pipelines/${pipeline.id}/runs`, { data: {} })).json();
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("#1");
  await expect(page.locator(".step-node", { hasText: "build" })).toHaveClass(/status-succeeded/, { timeout: 20_000 });
  await expect(page.locator(".step-node", { hasText: "release" })).toHaveClass(/status-waiting/);
  await page.locator(".step-node", { hasText: "build" }).click();
  await expect(page.getByRole("log")).toContainText("building part 3");

  // The author may approve in general (maintainer), but not their own run: refused, with why.
  await page.locator(".step-node", { hasText: "release" }).click();
  await expect(page.locator(".step-panel .notice")).toContainText("Release it?");
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(page.getByRole("alert").filter({ hasText: /started this run and may not approve it/ })).toBeVisible();

  // The approver approves from their own view; the author's page updates by itself.
  const approver = await userPage(browser, APPROVER);
  await approver.goto(`/runs/${run.id}`);
  await approver.locator(".step-node", { hasText: "release" }).click();
  await approver.getByLabel("Comment").fill("ship it");
  await approver.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(page.locator(".run-header .run-status")).toContainText("Succeeded", { timeout: 20_000 });
  await expect(page.locator(".step-node", { hasText: "deploy" })).toHaveClass(/status-succeeded/);

  // Timeline with the critical path; axe on the run view.
  await page.getByRole("tab", { name: "Timeline" }).click();
  await expect(page.locator(".timeline li")).toHaveCount(3);
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
  await approver.context().close();
});

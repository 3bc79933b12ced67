import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import { signIn } from "./helpers";

// Several steps selected at once in the pipeline studio: picked with Shift+click, a Shift+drag
// box, Shift+arrows or Ctrl+A; deleted, pasted (into another pipeline too) and moved to a stage
// as one edit each, undone in one step, the YAML's comments kept throughout.

const MAINTAINER = "maintainer@demo.microstack.dev";
const PROJECT = "/api/v1/organizations/acme/projects/storefront";

const SOURCE = `# Release of the storefront.
name: multi
stages:
  - id: build
  - id: ship
steps:
  - id: compile # the compiler
    stage: build
    run: make
  - id: unit
    needs: compile
    run: make unit
  - id: lint
    needs: compile
    run: make lint
  - id: publish
    stage: ship
    needs: [unit, lint]
    run: ./publish
`;

function uniqueSlug(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

async function createPipeline(request: APIRequestContext, slug: string, yaml: string): Promise<void> {
  const response = await request.post(`${PROJECT}/pipelines`, { data: { slug, yaml } });
  expect(response.status(), await response.text()).toBe(201);
}

async function openStudio(page: Page, slug: string): Promise<void> {
  await page.goto(`/projects/acme/storefront/pipelines/${slug}/edit`);
  await expect(page.locator(".step-node").first()).toBeVisible();
}

const graph = (page: Page) => page.getByRole("application", { name: /Pipeline graph/ });
const node = (page: Page, id: string) => page.locator(".step-node", { has: page.getByText(id, { exact: true }) });
const yaml = (page: Page) => page.locator(".cm-content");
/** The YAML as shown, line breaks included (CodeMirror draws one element per line). */
const lines = { useInnerText: true };
const selectedNodes = (page: Page) => page.locator(".step-node.selected");

test("Shift+click selects two steps; one delete removes both, one undo brings both back", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const slug = uniqueSlug("multi-delete");
  await createPipeline(page.request, slug, SOURCE);
  await openStudio(page, slug);

  await node(page, "unit").click();
  await node(page, "lint").click({ modifiers: ["Shift"] });
  await expect(selectedNodes(page)).toHaveCount(2);
  const panel = page.locator(".selection-panel");
  await expect(panel.getByRole("heading", { name: "2 steps selected" })).toBeVisible();
  await expect(page.getByRole("tab", { name: "Selection (2)" })).toBeVisible();
  await expect(panel.getByRole("list", { name: "Selected steps" }).getByRole("listitem")).toHaveCount(2);

  // Ctrl+click toggles one out and back in.
  await node(page, "lint").click({ modifiers: ["Control"] });
  await expect(selectedNodes(page)).toHaveCount(1);
  await node(page, "lint").click({ modifiers: ["Control"] });
  await expect(panel.getByRole("heading", { name: "2 steps selected" })).toBeVisible();

  const results = await new AxeBuilder({ page }).include(".selection-panel").analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id} ${v.help} ${v.nodes.map((n) => n.target).join(" ")}`)).toEqual([]);

  await panel.getByRole("button", { name: "Delete 2 steps" }).click();
  await expect(page.locator(".step-node")).toHaveCount(2);
  await expect(yaml(page)).not.toContainText("id: unit", lines);
  await expect(yaml(page)).not.toContainText("id: lint", lines);
  // publish needed only those two: its needs went with them; the comments stayed.
  await expect(yaml(page)).not.toContainText("needs: [unit, lint]", lines);
  await expect(yaml(page)).toContainText("# Release of the storefront.", lines);
  await expect(yaml(page)).toContainText("# the compiler", lines);
  await expect(page.getByRole("status").filter({ hasText: "Deleted 2 steps" })).toBeVisible();

  // One edit, one undo step: after one undo both are back and there is nothing left to undo.
  await page.getByRole("button", { name: "Undo", exact: true }).click();
  await expect(page.locator(".step-node")).toHaveCount(4);
  await expect(yaml(page)).toContainText("needs: [unit, lint]", lines);
  await expect(yaml(page)).toContainText("id: lint", lines);
  await expect(page.getByRole("button", { name: "Undo", exact: true })).toBeDisabled();

  // A Shift+drag box around unit and lint (one column) selects both, and only them.
  await page.keyboard.press("Escape");
  await graph(page).focus();
  await page.keyboard.press("Escape");
  await expect(selectedNodes(page)).toHaveCount(0);
  const top = await node(page, "unit").boundingBox();
  const bottom = await node(page, "lint").boundingBox();
  if (!top || !bottom) throw new Error("nodes not laid out");
  const [upper, lower] = top.y < bottom.y ? [top, bottom] : [bottom, top];
  await page.keyboard.down("Shift");
  await page.mouse.move(upper.x - 20, upper.y - 12);
  await page.mouse.down();
  await page.mouse.move(lower.x + lower.width / 2, lower.y + lower.height / 2, { steps: 5 });
  await page.mouse.move(lower.x + lower.width + 12, lower.y + lower.height + 12, { steps: 5 });
  await page.mouse.up();
  await page.keyboard.up("Shift");
  await expect(selectedNodes(page)).toHaveCount(2);
  await expect(node(page, "unit")).toHaveClass(/selected/);
  await expect(node(page, "lint")).toHaveClass(/selected/);
});

test("by keyboard: Shift+arrows and Ctrl+A select, Ctrl+C and Ctrl+V paste into another pipeline with their needs", async ({
  page,
}) => {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, MAINTAINER);
  const source = uniqueSlug("multi-source");
  const target = uniqueSlug("multi-target");
  await createPipeline(page.request, source, SOURCE);
  await createPipeline(page.request, target, "name: target\nsteps:\n  - id: unit # already here\n    run: echo mine\n");

  // Along the edges: compile, then Shift+Right twice adds unit and publish.
  await openStudio(page, source);
  await graph(page).focus();
  await page.keyboard.press("ArrowRight");
  await expect(node(page, "compile")).toHaveClass(/selected/);
  await page.keyboard.press("Shift+ArrowRight");
  await page.keyboard.press("Shift+ArrowRight");
  await expect(selectedNodes(page)).toHaveCount(3);
  await expect(node(page, "publish")).toHaveClass(/active/);
  await expect(node(page, "lint")).not.toHaveClass(/selected/);
  // Enter goes to the selection panel; Escape back to the canvas, the selection kept.
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "3 steps selected" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(graph(page)).toBeFocused();
  await page.keyboard.press("Control+c");
  await expect(page.getByRole("status").filter({ hasText: "Copied 3 steps." })).toBeVisible();

  // Pasted where unit exists already: it becomes unit-2; publish's need on lint (not copied,
  // not there) is dropped, and the notice says so.
  await openStudio(page, target);
  await graph(page).focus();
  await page.keyboard.press("Control+v");
  await expect(page.locator(".step-node")).toHaveCount(4);
  await expect(page.getByRole("status").filter({ hasText: "Pasted 3 steps." })).toContainText(
    "Dropped 1 need on a step not in this pipeline: publish → lint.",
  );
  await expect(yaml(page)).toContainText("id: unit-2", lines);
  await expect(yaml(page)).toContainText("needs: [unit-2]", lines);
  await expect(yaml(page)).toContainText("# already here", lines);
  await expect(selectedNodes(page)).toHaveCount(3);
  // Past the draft's 300 ms: undoing back to the saved text must drop the draft written meanwhile.
  await page.waitForTimeout(600);
  await page.keyboard.press("Control+z");
  await expect(page.locator(".step-node")).toHaveCount(1);

  // Ctrl+A, Ctrl+C in the source; Ctrl+V in the target: every need among them kept.
  await openStudio(page, source);
  await graph(page).focus();
  await page.keyboard.press("Control+a");
  await expect(selectedNodes(page)).toHaveCount(4);
  await expect(page.getByRole("heading", { name: "4 steps selected" })).toBeVisible();
  await page.keyboard.press("Control+c");
  await expect(page.getByRole("status").filter({ hasText: "Copied 4 steps." })).toBeVisible();
  await openStudio(page, target);
  await graph(page).focus();
  await page.keyboard.press("Control+v");
  await expect(page.locator(".step-node")).toHaveCount(5);
  await expect(page.getByRole("status").filter({ hasText: "Pasted 4 steps." })).not.toContainText("Dropped");
  await expect(yaml(page)).toContainText("needs: [unit-2, lint]", lines);
  await expect(yaml(page)).toContainText("- id: build", lines);
  await expect(page.getByText("Valid", { exact: true })).toBeVisible();
  // Saved, the server agrees: the pasted steps' needs as in the source.
  await page.keyboard.press("Control+s");
  await expect(page.getByText(/Saved as version 2/)).toBeVisible();
  const list = await (await page.request.get(`${PROJECT}/pipelines`)).json();
  const id = list.find((p: { slug: string }) => p.slug === target).id;
  const detail = await (await page.request.get(`/api/v1/pipelines/${id}`)).json();
  expect(detail.yaml).toContain("needs: [unit-2, lint]");
  expect(detail.yaml).toContain("# already here");
});

test("a selection is moved to another stage from the palette and from the selection panel", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const slug = uniqueSlug("multi-stage");
  await createPipeline(page.request, slug, SOURCE);
  await openStudio(page, slug);

  // Keyboard only: compile and unit, then the palette's "Move the selection to stage ship".
  await graph(page).focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Shift+ArrowRight");
  await expect(selectedNodes(page)).toHaveCount(2);
  await page.keyboard.press("Control+k");
  await expect(page.getByRole("dialog", { name: "Command palette" })).toBeVisible();
  await page.keyboard.type("Move the selection to stage ship");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Moved 2 steps to stage ship." })).toBeVisible();
  await expect(yaml(page)).toContainText("- id: compile # the compiler\n    stage: ship", lines);
  await expect(yaml(page)).toContainText("- id: unit\n    stage: ship\n    needs: compile", lines);

  // From the panel, to a new stage: declared once, both moved, one undo step.
  await graph(page).focus();
  await page.keyboard.press("Enter");
  const panel = page.locator(".selection-panel");
  await expect(panel.getByRole("heading", { name: "2 steps selected" })).toBeFocused();
  await panel.getByLabel("Move to stage").selectOption({ label: "New stage…" });
  await panel.getByLabel("New stage id").fill("not valid!");
  await panel.getByLabel("New stage id").press("Enter");
  await expect(panel.getByRole("alert")).toContainText("A stage id has letters");
  await panel.getByLabel("New stage id").fill("review");
  await panel.getByLabel("New stage id").press("Enter");
  await expect(yaml(page)).toContainText("  - id: ship\n  - id: review\n", lines);
  await expect(yaml(page)).toContainText("- id: unit\n    stage: review", lines);
  await expect(yaml(page)).toContainText("# the compiler", lines);
  await expect(page.locator(".stage-node", { hasText: "review" })).toBeVisible();
  await page.getByRole("button", { name: "Undo", exact: true }).click();
  await expect(yaml(page)).not.toContainText("id: review", lines);
  await expect(yaml(page)).toContainText("- id: unit\n    stage: ship", lines);
});

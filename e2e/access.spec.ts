import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { ADMIN, signIn, VIEWER } from "./helpers";

// The access admin journeys: ask the playground, write a policy with a condition checked as it is
// typed, find the decisions in the log; and a viewer who may not see any of it.

test("an admin asks the playground, writes a conditional policy and finds the decisions in the log", async ({
  page,
}) => {
  await signIn(page, ADMIN);

  // The section is in the sidebar; the playground is one palette command away.
  await expect(page.getByRole("navigation", { name: "Main navigation" })).toContainText("Access control");
  await page.keyboard.press("Control+k");
  await page.keyboard.type("open playground");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/access\/acme\/playground$/);
  await expect(page.getByRole("heading", { name: "Playground", level: 1 })).toBeVisible();

  // Can the developer run a pipeline in storefront?
  await page.getByLabel("Principal").selectOption({ label: "Dana Developer <developer@demo.microstack.dev>" });
  await page.getByLabel("Action", { exact: true }).selectOption("pipeline:run");
  await page.getByLabel("Project", { exact: true }).selectOption({ label: "Storefront" });
  await page.getByRole("button", { name: "Ask" }).click();
  const verdict = page.getByRole("region", { name: "Allowed" });
  await expect(verdict).toBeVisible();
  await expect(verdict).toContainText("Granted by a binding");
  await expect(verdict).toContainText("Role developer");
  await expect(page.getByRole("heading", { name: "Rules that applied" })).toBeVisible();

  // And in payments' prod, with a deny policy that has a condition? First the policy.
  await page.getByRole("navigation", { name: "Access control pages" }).getByRole("link", { name: "Policies" }).click();
  await expect(page.getByRole("heading", { name: "Policies", level: 1 })).toBeVisible();
  await page.getByRole("button", { name: "New policy" }).click();
  const editor = page.getByRole("region", { name: "New policy" });
  await expect(editor.getByRole("heading", { name: "New policy" })).toBeFocused();
  const name = `no-night-runs-${Date.now().toString(36)}`;
  await editor.getByLabel("Name", { exact: true }).fill(name);
  await editor.getByRole("radio", { name: "Deny" }).check();
  await editor.getByRole("checkbox", { name: "pipeline:run", exact: true }).check();

  const condition = editor.getByRole("textbox", { name: "Condition (CEL, optional)" });
  await condition.fill("request.time.getHours() < 6 &&");
  await expect(editor.getByText(/^Line 1, column \d+: /)).toBeVisible();
  await expect(condition).toHaveAttribute("aria-invalid", "true");
  await condition.fill('request.time.getHours() < 6 && resource.environment == "prod"');
  await expect(editor.getByText("Valid condition.")).toBeVisible();
  await expect(condition).not.toHaveAttribute("aria-invalid", "true");

  await editor.getByRole("button", { name: "Add test case" }).click();
  await editor.getByLabel("What it checks").fill("the developer runs storefront pipelines in staging");
  await editor.getByLabel("Principal").selectOption({ label: "Dana Developer" });
  await editor.getByLabel("Project", { exact: true }).last().selectOption({ label: "Storefront" });
  await editor.getByLabel("Environment").last().fill("staging");
  await editor.getByRole("button", { name: "Create policy" }).click();

  await expect(page.getByText(`Policy ${name} saved.`)).toBeVisible();
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("Deny");
  await expect(row).toContainText('request.time.getHours() < 6 && resource.environment == "prod"');

  await page.getByRole("button", { name: "Run all tests" }).click();
  await expect(page.getByRole("status").filter({ hasText: /passed/ })).toHaveText(/^\d+ passed, 0 failed$/);
  await expect(
    page.getByRole("row").filter({ hasText: "the developer runs storefront pipelines in staging" }),
  ).toContainText("Pass");

  // The decisions asked above are in the log (written in batches, so refresh until they are).
  await page.getByRole("link", { name: "Decision log" }).click();
  await expect(page.getByRole("heading", { name: "Decision log", level: 1 })).toBeVisible();
  await page.getByLabel("Principal").selectOption({ label: "Dana Developer" });
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(async () => {
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect(page.getByRole("row").filter({ hasText: "pipeline / storefront" }).first()).toBeVisible({
      timeout: 1_000,
    });
  }).toPass({ timeout: 20_000 });
  const entry = page.getByRole("row").filter({ hasText: "pipeline / storefront" }).first();
  await expect(entry).toContainText("pipeline:run");
  await expect(entry).toContainText("Dana Developer");
  await expect(entry).toContainText("Allow");
  await expect(entry).toContainText("Granted by a binding");

  // Clean up so the other project's run (and reruns) start from the seeded rules.
  await page.getByRole("link", { name: "Policies" }).click();
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: `Delete policy ${name}` }).click();
  await expect(page.getByText(`Policy ${name} deleted.`)).toBeVisible();
});

test("roles show built-ins read-only; bindings are grouped by scope", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto("/access");
  await expect(page).toHaveURL(/\/access\/acme\/roles$/);
  const developer = page.getByRole("row").filter({ hasText: "developer" }).first();
  await expect(developer).toContainText("Built-in");
  await expect(developer).toContainText("pipeline:run");
  await expect(developer).toContainText("Read-only");

  await page.getByRole("link", { name: "Bindings" }).click();
  await expect(page.getByRole("heading", { name: "Organization", level: 2 })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Project storefront", level: 2 })).toBeVisible();
  await page.getByRole("button", { name: "Add binding" }).click();
  const form = page.getByRole("region", { name: "Add a binding" });
  await form.getByLabel("Applies to").selectOption("environment");
  await expect(form.getByLabel("Project", { exact: true })).toBeVisible();
  await expect(form.getByLabel("Environment")).toBeVisible();
  await form.getByRole("textbox", { name: "Condition (CEL, optional)" }).fill("principal.nope");
  await expect(form.getByText(/Line 1, column \d+: /)).toBeVisible();
  await form.getByRole("button", { name: "Cancel" }).click();
  await expect(form).toBeHidden();
});

test("a viewer sees no access section and gets the localized forbidden state", async ({ page }) => {
  await signIn(page, VIEWER);
  await expect(page.getByRole("navigation", { name: "Main navigation" })).not.toContainText("Access control");
  await page.goto("/access/acme/playground");
  await expect(page.getByRole("heading", { name: "Playground", level: 1 })).toBeVisible();
  await expect(page.getByText(/You need the authz:read permission/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Ask" })).toHaveCount(0);
  await page.goto("/access/globex/roles");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

async function expectNoSeriousViolations(page: Page, label: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    serious.map((v) => `${label}: ${v.id} ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
  ).toEqual([]);
}

test("the access pages and their editors have no serious accessibility violations", async ({ page }) => {
  await signIn(page, ADMIN);
  for (const path of ["roles", "bindings", "policies", "playground", "decision-log"]) {
    await page.goto(`/access/acme/${path}`);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await expectNoSeriousViolations(page, path);
  }
  await page.goto("/access/acme/roles");
  await page.getByRole("button", { name: "New custom role" }).click();
  await expectNoSeriousViolations(page, "role editor");
  await page.goto("/access/acme/policies");
  await page.getByRole("button", { name: "New policy" }).click();
  await page.getByRole("button", { name: "Add test case" }).click();
  await page.getByRole("textbox", { name: "Condition (CEL, optional)" }).fill("principal.nope");
  await expect(page.getByText(/^Line 1, column \d+: /)).toBeVisible();
  await page.getByRole("button", { name: "Run all tests" }).click();
  await expect(page.getByRole("status").filter({ hasText: /passed/ })).toBeVisible();
  await expectNoSeriousViolations(page, "policy editor");
  await page.goto("/access/acme/playground");
  await page.getByLabel("Principal").selectOption({ label: "Max Maintainer <maintainer@demo.microstack.dev>" });
  await page.getByLabel("Action", { exact: true }).selectOption("environment:deploy");
  await page.getByLabel("Project", { exact: true }).selectOption({ label: "Storefront" });
  await page.getByLabel("Environment").fill("prod");
  await page.getByRole("button", { name: "Ask" }).click();
  // Without MFA the prod deploy is denied by the MFA policy; with MFA its condition is false.
  const verdict = page.getByRole("region", { name: "Denied" });
  await expect(verdict).toContainText("Denied by a deny policy");
  await expect(verdict).toContainText("prod-deploys-need-mfa");
  await page.getByLabel("Signed in with MFA").check();
  await page.getByRole("button", { name: "Ask" }).click();
  await expect(page.getByRole("region", { name: "Allowed" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "prod-deploys-need-mfa" })).toContainText("Condition false");

  // A near miss: an allow policy whose condition fails names its failing clause and position.
  const name = `secrets-with-mfa-${Date.now().toString(36)}`;
  const created = await page.request.post("/api/v1/organizations/acme/policies", {
    data: {
      name,
      effect: "allow",
      actions: ["secret:read"],
      condition: 'resource.environment == "staging" &&\nrequest.mfa',
    },
  });
  expect(created.status()).toBe(201);
  await page.getByLabel("Signed in with MFA").uncheck();
  await page.getByLabel("Principal").selectOption({ label: "Dana Developer <developer@demo.microstack.dev>" });
  await page.getByLabel("Action", { exact: true }).selectOption("secret:read");
  await page.getByLabel("Environment").fill("staging");
  await page.getByRole("button", { name: "Ask" }).click();
  await expect(page.getByRole("region", { name: "Denied" })).toBeVisible();
  const nearMisses = page.getByRole("region", { name: "Near misses" });
  await expect(nearMisses).toContainText(name);
  await expect(nearMisses).toContainText("request.mfa");
  await expect(nearMisses).toContainText("(line 2, column 1)");
  await expectNoSeriousViolations(page, "playground answer");
  const policy = (await created.json()) as { id: string };
  expect((await page.request.delete(`/api/v1/organizations/acme/policies/${policy.id}`)).status()).toBe(204);
});

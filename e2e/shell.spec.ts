import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { ADMIN, signIn, VIEWER } from "./helpers";

test("the palette, shortcuts, theme and language work from the keyboard alone", async ({ page }) => {
  await signIn(page, ADMIN);
  await expect(page.getByRole("heading", { name: /Welcome, Ada Admin/ })).toBeVisible();

  // Ctrl+K opens the palette; typing filters; Enter runs the command.
  await page.keyboard.press("Control+k");
  const palette = page.getByRole("dialog", { name: "Command palette" });
  await expect(palette).toBeVisible();
  await page.keyboard.type("go to projects");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/projects$/);
  await expect(palette).toBeHidden();

  // Open a project from the palette, with arrow keys.
  await page.keyboard.press("Control+k");
  await page.keyboard.type("open project payments");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/projects\/acme\/payments$/);
  await expect(page.getByRole("navigation", { name: "Breadcrumb" })).toContainText("Payments");

  // `g` then a letter goes to a section; `?` lists the shortcuts.
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("g");
  await page.keyboard.press("s");
  await expect(page).toHaveURL(/\/settings$/);
  await page.keyboard.press("?");
  const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await expect(help).toBeVisible();
  await expect(help).toContainText("Go to Approvals");
  await page.keyboard.press("Escape");
  await expect(help).toBeHidden();
  // `g i`: the approvals inbox; the sidebar entry says how many items wait.
  await page.keyboard.press("g");
  await page.keyboard.press("i");
  await expect(page).toHaveURL(/\/approvals$/);
  await expect(page.getByRole("heading", { name: "Approvals", level: 1 })).toBeVisible();
  await expect(
    page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: /^Approvals, / }),
  ).toHaveAttribute("aria-current", "page");
  await page.keyboard.press("g");
  await page.keyboard.press("s");
  await expect(page).toHaveURL(/\/settings$/);

  // Theme from the palette, persisted to the account.
  await page.keyboard.press("Control+k");
  await page.keyboard.type("dark theme");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");

  // Language: zh-CN from the palette, then the UI (and server-rendered text) is Chinese.
  await page.keyboard.press("Control+k");
  await page.keyboard.type("简体中文");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(page.getByRole("navigation", { name: "主导航" })).toContainText("项目");
  await expect(page.getByRole("heading", { name: "设置", level: 1 })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "设置", level: 1 })).toBeVisible();
  // Dates follow the locale too.
  await page.keyboard.press("g");
  await page.keyboard.press("p");
  await expect(page.getByRole("heading", { name: "项目", level: 1 })).toBeVisible();
  await expect(page.getByRole("table")).toContainText(/\d{4}年\d{1,2}月\d{1,2}日/);

  // Back to English for the other tests (the preference lives in the account).
  await page.keyboard.press("Control+k");
  await page.keyboard.type("English");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await page.keyboard.press("Control+k");
  await page.keyboard.type("system theme");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
});

test("density changes from the settings page", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto("/settings");
  // The attribute changes at once; the save is a server action (a POST to this page). Reload
  // only after it answered, or the reload can race the save.
  const saved = page.waitForResponse(
    (response) => response.request().method() === "POST" && response.url().endsWith("/settings"),
  );
  await page.getByLabel("Density").selectOption("compact");
  await expect(page.locator("html")).toHaveAttribute("data-density", "compact");
  expect((await saved).ok()).toBe(true);
  await page.reload();
  await expect(page.getByLabel("Density")).toHaveValue("compact");
  await page.getByLabel("Density").selectOption("comfortable");
  await expect(page.locator("html")).toHaveAttribute("data-density", "comfortable");
});

test("the shell has no serious accessibility violations, in both themes", async ({ page }) => {
  test.setTimeout(180_000); // six pages in two themes, an axe run each
  await signIn(page, ADMIN);
  for (const theme of ["light", "dark"] as const) {
    await page.keyboard.press("Control+k");
    await page.keyboard.type(`use ${theme} theme`);
    // The theme applies at once and is saved by a server action (a POST): navigate only after
    // the save answered, or the next page can render the previous theme.
    const saved = page.waitForResponse((response) => response.request().method() === "POST");
    await page.keyboard.press("Enter");
    await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
    expect((await saved).ok()).toBe(true);
    for (const path of ["/", "/projects", "/projects/acme/storefront", "/approvals", "/audit", "/settings"]) {
      await page.goto(path);
      await expect(page.getByRole("main")).toBeVisible();
      await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
      const results = await new AxeBuilder({ page }).analyze();
      const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect(serious.map((v) => `${theme} ${path}: ${v.id} ${v.help}`)).toEqual([]);
    }
  }
  await page.keyboard.press("Control+k");
  await page.keyboard.type("use system theme");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  await page.context().clearCookies();
  await page.goto("/sign-in");
  const signInResults = await new AxeBuilder({ page }).analyze();
  expect(signInResults.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
});

test("a viewer does not see the audit log section", async ({ page }) => {
  await signIn(page, VIEWER);
  await expect(page.getByRole("navigation", { name: "Main navigation" })).not.toContainText("Audit log");
  await page.goto("/audit");
  await expect(page.getByText("You need the admin or owner role")).toBeVisible();
});

test("an unknown page shows a real 404", async ({ page }) => {
  await signIn(page, ADMIN);
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("the audit log filters on the server", async ({ page }) => {
  // A failed sign-in first, so there is a failure to filter for.
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(ADMIN);
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toBeVisible();
  await signIn(page, ADMIN);
  await page.keyboard.press("g");
  await page.keyboard.press("a");
  await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
  const table = page.getByRole("table");
  await expect(table).toContainText("auth.sign_in");
  await page.getByLabel("Outcome").selectOption("failure");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(table.getByRole("row").nth(1)).toContainText("Failure");
  await expect(table).not.toContainText("Success");
  await page.getByLabel("Action starts with").fill("nothing.here");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByText("No audit events match these filters.")).toBeVisible();
});

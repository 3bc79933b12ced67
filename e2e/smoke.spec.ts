import { expect, test } from "@playwright/test";
import { ADMIN, signIn } from "./helpers";

// Runs against both the embedded PGlite server and a PostgreSQL-backed one.

test("an anonymous visitor is sent to sign-in and comes back after signing in", async ({ page }) => {
  await page.goto("/projects");
  await expect(page).toHaveURL(/\/sign-in\?callbackUrl=%2Fprojects/);
  await page.getByLabel("Email").fill(ADMIN);
  await page.getByLabel("Password").fill(process.env.MICROSTACK_DEMO_PASSWORD ?? "e2e-demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/projects$/);
  await expect(page.getByRole("heading", { name: "Projects", level: 1 })).toBeVisible();
  await expect(page.getByRole("link", { name: "Storefront" })).toBeVisible();
});

test("a wrong password is refused with a clear message", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(ADMIN);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toHaveText("The email or password is not correct.");
  await expect(page).toHaveURL(/\/sign-in/);
});

test("signing out ends the session", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/sign-in/);
});

test("health, readiness and metrics answer", async ({ request }) => {
  expect((await request.get("/healthz")).status()).toBe(200);
  const ready = await request.get("/readyz");
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: "up", migrations: "applied" } });
  const metrics = await (await request.get("/metrics")).text();
  expect(metrics).toContain("microstack_requests_duration_ms_bucket");
  expect(metrics).toMatch(/microstack_requests_code_total\{[^}]*route="\/readyz"/);
});

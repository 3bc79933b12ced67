import { expect, test } from "@playwright/test";
import { DEVELOPER, signIn, VIEWER } from "../helpers";

// Every route that existed before the authorization engine refuses a signed-in user without the
// permission with 403 problem+json naming the reason, not with an empty 200 or a crash.

test("a viewer may not read the audit log: 403 with the reason", async ({ page }) => {
  await signIn(page, VIEWER);
  const response = await page.request.get("/api/v1/audit-events");
  expect(response.status()).toBe(403);
  expect(response.headers()["content-type"]).toContain("application/problem+json");
  const body = await response.json();
  expect(body).toMatchObject({ status: 403, code: "FORBIDDEN" });
  expect(body.detail).toMatch(/audit log/i);
});

test("a developer bound only to projects may not read the audit log either", async ({ page }) => {
  await signIn(page, DEVELOPER);
  expect((await page.request.get("/api/v1/audit-events")).status()).toBe(403);
});

test("the audit page shows a viewer the localized forbidden state, not data", async ({ page }) => {
  await signIn(page, VIEWER);
  await page.goto("/audit");
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  await expect(
    page.getByText("You need the admin or owner role in an organization to read its audit log."),
  ).toBeVisible();
  await expect(page.getByRole("table")).toHaveCount(0);
});

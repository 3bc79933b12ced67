import { expect, test } from "@playwright/test";
import { ADMIN, GLOBEX_OWNER, signIn } from "../helpers";

// REST contract: errors are application/problem+json with code, detail, invalid params and the
// request id that is also in the x-request-id header.

test("anonymous API calls get 401 problem+json, not a redirect", async ({ request }) => {
  const response = await request.get("/api/v1/audit-events", { maxRedirects: 0 });
  expect(response.status()).toBe(401);
  expect(response.headers()["content-type"]).toContain("application/problem+json");
  const body = await response.json();
  expect(body).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  expect(body.requestId).toBe(response.headers()["x-request-id"]);
});

test("a bad query parameter is named with the reason", async ({ page }) => {
  await signIn(page, ADMIN);
  const response = await page.request.get("/api/v1/audit-events?limit=5000&outcome=maybe");
  expect(response.status()).toBe(400);
  const body = await response.json();
  expect(body.code).toBe("INVALID_INPUT");
  const names = body.invalidParams.map((p: { name: string }) => p.name).sort();
  expect(names).toEqual(["query.limit", "query.outcome"]);
  expect(body.requestId).toBe(response.headers()["x-request-id"]);
});

test("an unknown API route is a 404 problem", async ({ page }) => {
  await signIn(page, ADMIN);
  const response = await page.request.post("/api/v1/no-such-thing", { data: {} });
  expect(response.status()).toBe(404);
  expect(await response.json()).toMatchObject({ code: "NOT_FOUND", detail: "No API route POST /api/v1/no-such-thing" });
});

test("the audit log shows members' sign-ins to their admins and nothing to another tenant", async ({
  page,
  browser,
}) => {
  await signIn(page, ADMIN);
  const acme = await (await page.request.get("/api/v1/audit-events?action=auth.sign_in")).json();
  expect(acme.items.length).toBeGreaterThan(0);
  expect(acme.items.every((e: { action: string }) => e.action === "auth.sign_in")).toBe(true);
  expect(acme.items.some((e: { actor: { label: string } }) => e.actor.label === ADMIN)).toBe(true);

  const other = await browser.newPage();
  await signIn(other, GLOBEX_OWNER);
  const globex = await (await other.request.get("/api/v1/audit-events?limit=200")).json();
  expect(globex.items.some((e: { actor: { label: string } }) => e.actor.label === ADMIN)).toBe(false);
  expect(globex.items.some((e: { actor: { label: string } }) => e.actor.label === GLOBEX_OWNER)).toBe(true);
  await other.close();

  await page.goto("/audit");
  await expect(page.getByRole("table")).toContainText("auth.sign_in");
  await expect(page.getByRole("table")).toContainText(ADMIN);
});

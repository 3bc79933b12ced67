import { expect, type Page } from "@playwright/test";

export const DEMO_PASSWORD = process.env.MICROSTACK_DEMO_PASSWORD ?? "e2e-demo-password";
export const ADMIN = "admin@demo.microstack.dev";
export const VIEWER = "viewer@demo.microstack.dev";
export const DEVELOPER = "developer@demo.microstack.dev";
export const GLOBEX_OWNER = "owner@globex.demo.microstack.dev";

export async function signIn(page: Page, email: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel(/email|邮箱/i).fill(email);
  await page.getByLabel(/password|密码/i).fill(password);
  await page.getByRole("button", { name: /sign in|登录/i }).click();
  await expect(page.getByRole("navigation", { name: /main navigation|主导航/i })).toBeVisible();
}

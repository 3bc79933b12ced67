import { defineConfig } from "@playwright/test";

// Debian's Chromium (apt-get install chromium); Playwright's own browser download cannot work
// offline. The app runs from the production build (`npm run build` first) on a fresh data dir.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// Overridable so two suites (two build directories, MICROSTACK_NEXT_DIST_DIR) can run at once.
const PGLITE_PORT = Number(process.env.E2E_PGLITE_PORT ?? 3100);
const POSTGRES_PORT = Number(process.env.E2E_POSTGRES_PORT ?? 3101);

export default defineConfig({
  testDir: "e2e",
  outputDir: `test-results/playwright-artifacts${process.env.TEST_REPORT_SUFFIX ?? ""}`,
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["json", { outputFile: `test-results/playwright${process.env.TEST_REPORT_SUFFIX ?? ""}.json` }]],
  use: {
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "pglite", use: { baseURL: `http://127.0.0.1:${PGLITE_PORT}` } },
    // The same journeys against a PostgreSQL-backed server (production path).
    { name: "postgres", use: { baseURL: `http://127.0.0.1:${POSTGRES_PORT}` } },
  ],
  webServer: [
    {
      command: "node scripts/e2e-server.mjs",
      env: { PORT: String(PGLITE_PORT) },
      url: `http://127.0.0.1:${PGLITE_PORT}/readyz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
    },
    {
      command: "node scripts/e2e-server.mjs --postgres",
      env: { PORT: String(POSTGRES_PORT) },
      url: `http://127.0.0.1:${POSTGRES_PORT}/readyz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
    },
  ],
});

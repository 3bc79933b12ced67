import path from "node:path";
import { defineConfig } from "vitest/config";

const root = import.meta.dirname;

export default defineConfig({
  resolve: {
    alias: [
      { find: /^server-only$/, replacement: path.join(root, "test/server-only-stub.ts") },
      { find: /^@\//, replacement: `${root}/` },
    ],
  },
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: ["node_modules/**", ".next/**", "e2e/**", ".data/**", "generated/**"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
    // TEST_REPORT_SUFFIX keeps a second pass (CI's Node 24 run) from overwriting the first report.
    reporters: ["default", ["json", { outputFile: `test-results/vitest${process.env.TEST_REPORT_SUFFIX ?? ""}.json` }]],
  },
});

// Starts the built app for end-to-end tests on a fresh data dir (and, with --postgres, a fresh
// PostgreSQL database), with a fixed demo password; cleans up when Playwright stops it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

const usePostgres = process.argv.includes("--postgres");
const port = process.env.PORT ?? "3100";
const dataDir = mkdtempSync(path.join(tmpdir(), "microstack-e2e-"));
const adminUrl = process.env.TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
let dbName;
const env = {
  ...process.env,
  PORT: port,
  HOST: "127.0.0.1",
  MICROSTACK_DATA_DIR: dataDir,
  MICROSTACK_DEMO_PASSWORD: process.env.MICROSTACK_DEMO_PASSWORD ?? "e2e-demo-password",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
};
if (usePostgres) {
  dbName = `ms_e2e_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  env.DATABASE_URL = url.toString();
  // Production on PostgreSQL refuses to generate these (replicas must share them).
  env.AUTH_SECRET ??= randomBytes(32).toString("base64url");
  env.MICROSTACK_MASTER_KEY ??= `e2e:${randomBytes(32).toString("base64")}`;
  env.MICROSTACK_SEED = "demo"; // production on PostgreSQL seeds nothing unless asked
}

const child = spawn(
  process.execPath,
  ["--import", "tsx", "--import", "./scripts/hooks/register.mjs", "server/main.ts"],
  {
    env: { ...env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
    stdio: "inherit",
    // Its own process group: Playwright signals ours, and we forward exactly one SIGTERM (two
    // would make the server skip its graceful shutdown).
    detached: true,
  },
);

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  rmSync(dataDir, { recursive: true, force: true });
  if (dbName) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => child.kill("SIGTERM"));
}
child.on("exit", async (code) => {
  await cleanup().catch(() => {});
  process.exit(code ?? 0);
});

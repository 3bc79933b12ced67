// Runs `prisma generate` offline. Prisma's CLI insists on a native schema engine before every
// command and tries to download it; generation itself only needs the WASM bundled in the CLI,
// so any existing file satisfies the check (see shared/design/ENVIRONMENT.md).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cli = require.resolve("prisma/build/index.js");
const fakeEngine = existsSync("/bin/true") ? "/bin/true" : process.execPath;
const result = spawnSync(process.execPath, [cli, "generate", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? fakeEngine,
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
    CHECKPOINT_DISABLE: "1",
  },
});
process.exit(result.status ?? 1);

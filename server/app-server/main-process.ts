import "server-only";
import { getLogger } from "@/server/observability/logger";
import { countUnhandledError } from "@/server/observability/metrics";
import {
  demoLoginFile,
  loadEnvOrFail,
  migrate,
  openDatabase,
  prepareSecrets,
  seedIfEmpty,
  StartupError,
} from "./bootstrap";
import { startAppServer } from "./start";

function fail(error: unknown): never {
  // One clear line for a person, then the exit code; the stack only for the unexpected.
  if (error instanceof StartupError) console.error(`microstack: ${error.message}`);
  else console.error("microstack: failed to start:", error);
  process.exit(1);
}

export async function main(): Promise<void> {
  const log = getLogger("main");
  try {
    let env = loadEnvOrFail();
    const { generated } = prepareSecrets(env);
    env = loadEnvOrFail();
    for (const file of generated) {
      log.warn(
        { file },
        "generated a secret into the data dir: back it up; losing it loses sessions or encrypted secrets",
      );
    }
    const db = await openDatabase(env);
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ applied }, "migrations applied");
    const seed = await seedIfEmpty(db, env);
    const app = await startAppServer(env);

    const banner = [`Microstack is running at ${app.url} (${db.description})`];
    if (seed.seeded) {
      banner.push(
        "Demo data created. Sign in with any of these users:",
        ...seed.logins.map((l) => `  ${l.email}  (${l.role}, ${l.scope})`),
        `  password: ${seed.password}`,
      );
    } else {
      const file = demoLoginFile(env);
      if (file) banner.push(`Demo logins: see ${file}`);
    }
    console.log(banner.join("\n"));

    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        console.error("microstack: second signal, exiting now");
        process.exit(1);
      }
      const force = setTimeout(() => {
        console.error(`microstack: shutdown took longer than ${env.MICROSTACK_SHUTDOWN_TIMEOUT_MS} ms, exiting`);
        process.exit(1);
      }, env.MICROSTACK_SHUTDOWN_TIMEOUT_MS);
      force.unref();
      app.shutdown(signal).then(
        () => process.exit(0),
        (error) => {
          log.error({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    // A stray rejection or exception is a bug: log it with its stack, count it, and stop
    // gracefully rather than die mid-request or limp on in an unknown state.
    const onFatal = (kind: string) => (error: unknown) => {
      log.fatal({ err: error, kind }, "unhandled error, shutting down");
      countUnhandledError("process");
      onSignal("SIGTERM");
    };
    process.on("unhandledRejection", onFatal("unhandledRejection"));
    process.on("uncaughtException", onFatal("uncaughtException"));
  } catch (error) {
    fail(error);
  }
}

// `npm run policy:test [-- --org <slug>]`: runs every authorization policy's test cases (input ->
// expected decision) against the current rules of the process database (DATABASE_URL, or the
// PGlite directory under MICROSTACK_DATA_DIR), as the Policies page does. A fresh embedded data
// directory is migrated and seeded first, as `npm run dev` would. Exit 0 when every case passes,
// 1 when one fails, 2 when the tests could not run. With PGlite, stop the server first.
import { pathToFileURL } from "node:url";
import { loadEnvOrFail, migrate, openDatabase, prepareSecrets, seedIfEmpty } from "@/server/app-server/bootstrap";
import { runAllPolicyTests, stopAuthz } from "@/server/authz/service";
import type { PolicyTestResult } from "@/server/authz/schema";
import { closeDatabase } from "@/server/db";

export interface PolicyTestOutput {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: PolicyTestOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Prints one line per case and a summary; returns the exit code. */
export function reportPolicyTests(results: readonly PolicyTestResult[], output: PolicyTestOutput): number {
  for (const result of results) {
    const mark = result.passed ? "✓" : "✗";
    const line = `${mark} ${result.policyName} › ${result.name}`;
    if (result.passed) output.out(line);
    else output.err(`${line}\n    expected ${result.expect}, got ${result.actual}: ${result.reason}`);
  }
  const failed = results.filter((result) => !result.passed).length;
  output.out(`policy tests: ${results.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

export async function runPolicyTestCommand(
  args: readonly string[],
  output: PolicyTestOutput = processOutput,
): Promise<number> {
  const orgFlag = args.indexOf("--org");
  const organization = orgFlag >= 0 ? args[orgFlag + 1] : undefined;
  if (orgFlag >= 0 && !organization) {
    output.err("Usage: npm run policy:test [-- --org <organization slug>]");
    return 2;
  }
  try {
    const env = loadEnvOrFail();
    prepareSecrets(env);
    const db = await openDatabase(loadEnvOrFail());
    await migrate(db);
    await seedIfEmpty(db, env);
    const results = await runAllPolicyTests({ organizationSlug: organization });
    return reportPolicyTests(results, output);
  } catch (error) {
    output.err(`policy tests could not run: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  } finally {
    await stopAuthz().catch(() => {});
    await closeDatabase().catch(() => {});
  }
}

async function main(): Promise<void> {
  process.exitCode = await runPolicyTestCommand(process.argv.slice(2).filter((arg) => arg !== "--"));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}

// `npm run audit:verify`: checks the audit log's hash chain in the process database
// (DATABASE_URL, or the PGlite directory under MICROSTACK_DATA_DIR). Exit 0 when the chain is
// intact, 1 when an event was altered or removed, 2 when the check could not run.
// With the embedded PGlite, stop the server first: one data directory, one process.
import { pathToFileURL } from "node:url";
import { verifyAuditChain } from "@/server/audit/service";
import { closeDatabase } from "@/server/db";

const REASONS = {
  hash_mismatch: "its content no longer matches its hash (the event was altered)",
  prev_hash_mismatch: "it does not link to the event before it (an earlier event was altered or replaced)",
  gap: "the events before it are missing (deleted)",
} as const;

export interface AuditVerifyOutput {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: AuditVerifyOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Verifies the chain and reports it; returns the exit code. */
export async function runAuditVerify(output: AuditVerifyOutput = processOutput): Promise<number> {
  try {
    const result = await verifyAuditChain();
    if (result.ok) {
      output.out(`Audit chain OK: ${result.count} events`);
      return 0;
    }
    const { seq, occurredAt, action, reason } = result.brokenAt;
    output.err(`Audit chain BROKEN at event seq ${seq} (${occurredAt}, ${action}): ${REASONS[reason]} [${reason}]`);
    output.err(`${result.count - 1} events before it verified.`);
    return 1;
  } catch (error) {
    output.err(`Audit chain could not be verified: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}

async function main(): Promise<void> {
  const code = await runAuditVerify();
  await closeDatabase().catch(() => {});
  process.exitCode = code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetEnvCache } from "@/server/env";
import { createDatabase } from "@/server/db";
import { runPolicyTestCommand } from "./policy-test";

// `npm run policy:test` on a fresh embedded data directory: migrated and seeded like a first
// `npm run dev`, then the demo policies' cases pass; a case that contradicts the rules fails
// with exit code 1 and says what it got and why.
describe("npm run policy:test", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ms-policy-test-"));
  const saved = { ...process.env };
  const lines: { out: string[]; err: string[] } = { out: [], err: [] };
  const output = { out: (line: string) => lines.out.push(line), err: (line: string) => lines.err.push(line) };

  beforeAll(() => {
    process.env.MICROSTACK_DATA_DIR = dir;
    delete process.env.DATABASE_URL;
    process.env.LOG_LEVEL = "silent";
    resetEnvCache();
  });

  afterAll(() => {
    process.env = saved;
    resetEnvCache();
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes the demo policies' cases, then reports a failing case with its reason", async () => {
    expect(await runPolicyTestCommand([], output)).toBe(0);
    expect(lines.out.at(-1)).toBe("policy tests: 5 passed, 0 failed");
    expect(lines.out).toContain("✓ no-self-approval › the approver may not approve their own deployment");

    // The command closed the database; edit the stored cases as another process would.
    const db = await createDatabase({ kind: "pglite", dataDir: path.join(dir, "pglite") });
    const prisma = db.prisma;
    const policy = await prisma.policy.findFirstOrThrow({ where: { name: "no-self-approval" } });
    const tests = policy.tests as { name: string; expect: string }[];
    await prisma.policy.update({
      where: { id: policy.id },
      data: { tests: [...tests, { ...tests[1], name: "wrongly expects self-approval", expect: "allow" }] },
    });
    await db.close();
    lines.out.length = 0;
    expect(await runPolicyTestCommand(["--org", "acme"], output)).toBe(1);
    expect(lines.err.join("\n")).toMatch(
      /✗ no-self-approval › wrongly expects self-approval\n {4}expected allow, got deny: guardrail no-self-approval denies deployment:approve/,
    );
    expect(lines.out.at(-1)).toBe("policy tests: 5 passed, 1 failed");
  });

  it("refuses an unknown organization with exit code 2", async () => {
    lines.err.length = 0;
    expect(await runPolicyTestCommand(["--org", "nope"], output)).toBe(2);
    expect(lines.err.join("\n")).toContain("The organization nope was not found");
  });
});

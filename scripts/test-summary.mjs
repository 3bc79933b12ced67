// Prints one closing line over the whole suite (vitest + Playwright), from their JSON reports:
// "tests: N passed, N failed, N skipped". Exits non-zero when anything failed or nothing ran.
// Arguments are report suffixes to include (default: the plain reports); CI adds "-node24".
import { existsSync, readFileSync } from "node:fs";

const suffixes = process.argv.length > 2 ? process.argv.slice(2) : [""];
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];

for (const suffix of suffixes) {
  const vitestFile = `test-results/vitest${suffix}.json`;
  if (existsSync(vitestFile)) {
    const v = JSON.parse(readFileSync(vitestFile, "utf8"));
    passed += v.numPassedTests ?? 0;
    failed += v.numFailedTests ?? 0;
    skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
  } else missing.push(vitestFile);

  const playwrightFile = `test-results/playwright${suffix}.json`;
  if (existsSync(playwrightFile)) {
    const p = JSON.parse(readFileSync(playwrightFile, "utf8"));
    passed += (p.stats?.expected ?? 0) + (p.stats?.flaky ?? 0);
    failed += p.stats?.unexpected ?? 0;
    skipped += p.stats?.skipped ?? 0;
  } else missing.push(playwrightFile);
}

if (missing.length > 0) console.log(`(no report: ${missing.join(", ")})`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 || missing.length > 0 ? 1 : 0);

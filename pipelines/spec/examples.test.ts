import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parsePipeline } from "./parse";

const EXAMPLES = path.join(import.meta.dirname, "..", "examples");
const files = readdirSync(EXAMPLES).filter((file) => file.endsWith(".yaml"));

describe("example pipelines", () => {
  it.each(files)("%s is valid, without warnings", (file) => {
    const result = parsePipeline(readFileSync(path.join(EXAMPLES, file), "utf8"));
    expect(result.diagnostics).toEqual([]);
    expect(result.pipeline).not.toBeNull();
    expect(result.analysis?.order.length).toBe(result.pipeline?.steps.length);
  });

  it("covers the language: approval, gate, manual, matrix, always(), handlers, schedules, webhooks", () => {
    const all = files.map((file) => readFileSync(path.join(EXAMPLES, file), "utf8")).join("\n");
    for (const feature of [
      "approval:",
      "gate:",
      "manual:",
      "matrix:",
      "always()",
      "failure()",
      "handlers:",
      "rollback:",
      "schedule:",
      "webhook:",
      "artifacts:",
      "retry:",
    ]) {
      expect(all, feature).toContain(feature);
    }
  });
});

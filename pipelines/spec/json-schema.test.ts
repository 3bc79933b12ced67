import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
// ajv is not a direct dependency of the app (it comes with the Prisma dev tooling); it is the
// reference JSON Schema validator, so the test checks what editors will actually enforce.
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PIPELINE_SCHEMA_ID, pipelineJsonSchema } from "./json-schema";
import { createStepKindRegistry, defineStepKind } from "./schema";

const EXAMPLES = path.join(import.meta.dirname, "..", "examples");

function compile(schema = pipelineJsonSchema()) {
  return new Ajv2020({ strict: false, allErrors: true }).compile(schema);
}

describe("pipelineJsonSchema", () => {
  it("accepts every example pipeline", () => {
    const validate = compile();
    const files = readdirSync(EXAMPLES).filter((file) => file.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const ok = validate(parse(readFileSync(path.join(EXAMPLES, file), "utf8")));
      expect(validate.errors ?? [], file).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it("rejects unknown keys and wrong types like the validator does", () => {
    const validate = compile();
    expect(validate({ name: "x", steps: [{ id: "a", run: "x", nedds: ["b"] }] })).toBe(false);
    expect(validate({ name: "x", steps: [{ id: "a", run: "x", timeout: "ten minutes" }] })).toBe(false);
    expect(validate({ name: "x", steps: [] })).toBe(false);
  });

  it(`checks the inputs of the kind named by uses, and accepts \${{ }} for typed inputs`, () => {
    const validate = compile();
    const step = (inputs: Record<string, unknown>) => ({
      name: "x",
      steps: [{ id: "a", uses: "checkout", with: inputs }],
    });
    expect(validate(step({ depth: 1 }))).toBe(true);
    expect(validate(step({ depth: `\${{ params.depth }}` }))).toBe(true);
    expect(validate(step({ depth: "deep" }))).toBe(false);
    expect(validate(step({ dpeth: 1 }))).toBe(false);
  });

  it("includes registered kinds, with descriptions for hover docs", () => {
    const registry = createStepKindRegistry().register(
      defineStepKind({
        name: "acme/scan",
        description: "Scan with ACME",
        inputs: z.strictObject({ level: z.number() }),
      }),
    );
    const schema = pipelineJsonSchema(registry);
    expect(schema.$id).toBe(PIPELINE_SCHEMA_ID);
    const validate = compile(schema);
    expect(validate({ name: "x", steps: [{ id: "a", uses: "acme/scan", with: { level: 2 } }] })).toBe(true);
    expect(validate({ name: "x", steps: [{ id: "a", uses: "acme/scan", with: { level: "high" } }] })).toBe(false);
    expect(JSON.stringify(schema)).toContain("Scan with ACME");
    expect(JSON.stringify(schema)).toContain("Steps that must finish first");
  });
});

// The issue's "no small caps" cases, end to end through parsePipeline. Correctness only: how
// fast is bench/pipeline-spec.ts's business.
import { describe, expect, it } from "vitest";
import { downstreamOf } from "../graph/dag";
import { parsePipeline } from "./parse";
import { setNeeds } from "./edit";

function steps(count: number, render: (i: number) => string): string {
  return `name: big\nsteps:\n${Array.from({ length: count }, (_, i) => render(i)).join("")}`;
}

describe("scale", () => {
  it("validates a 10,000-step pipeline, conditions and all", () => {
    const text = steps(
      10_000,
      (i) =>
        `  - id: s${i}\n` +
        (i > 0 ? `    needs: [s${i - 1}${i > 10 ? `, s${i - 10}` : ""}]\n` : "") +
        (i > 100 ? `    if: steps.s${i - 100}.outcome == "success"\n` : "") +
        `    run: make step-${i}\n`,
    );
    const result = parsePipeline(text);
    expect(result.diagnostics).toEqual([]);
    expect(result.analysis?.order).toHaveLength(10_000);
    expect(result.analysis?.instanceCount).toBe(10_000);
    const dag = result.analysis?.dag;
    expect(dag && downstreamOf(dag, "s9990")).toHaveLength(10);
  });

  it("reports a condition reading a step that is not upstream, even 10,000 steps apart", () => {
    const text = steps(
      10_000,
      (i) => `  - id: s${i}\n${i === 9_999 ? '    if: steps.s0.outcome == "success"\n' : ""}    run: x\n`,
    );
    const codes = parsePipeline(text).diagnostics.map((diagnostic) => diagnostic.code);
    expect(codes).toEqual(["cel-reference"]);
  });

  it("accepts a step with 1,000 needs and edits them losslessly", () => {
    const leaves = Array.from({ length: 1_000 }, (_, i) => `leaf${i}`);
    const text = `${steps(1_000, (i) => `  - id: leaf${i}\n    run: x\n`)}  - id: join\n    needs: [${leaves.join(", ")}]\n    if: steps.leaf999.outcome == "success"\n    uses: noop\n`;
    const result = parsePipeline(text);
    expect(result.diagnostics).toEqual([]);
    expect(result.pipeline?.steps.at(-1)?.needs).toHaveLength(1_000);
    const edited = setNeeds(text, "join", leaves.slice(1));
    expect(edited).toBe(text.replace("[leaf0, ", "["));
  });

  it("expands a 1,024-way matrix", () => {
    const axes = Array.from({ length: 10 }, (_, i) => `        flag${i}: [on, off]`).join("\n");
    const text = `name: big\nsteps:\n  - id: test\n    matrix:\n      axes:\n${axes}\n      max-parallel: 64\n    if: matrix.flag0 == "on" || matrix.flag9 == "off"\n    run: make test\n`;
    const result = parsePipeline(text);
    expect(result.diagnostics).toEqual([]);
    expect(result.analysis?.steps.test?.instances).toBe(1_024);
  });
});

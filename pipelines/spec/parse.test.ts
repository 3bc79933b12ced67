import { describe, expect, it } from "vitest";
import type { Diagnostic } from "./diagnostics";
import { parsePipeline } from "./parse";

/** Line and 1-based column of the `occurrence`-th `needle` in `text`. */
function at(text: string, needle: string, occurrence = 1): { line: number; column: number } {
  let index = -1;
  for (let i = 0; i < occurrence; i++) {
    index = text.indexOf(needle, index + 1);
    if (index === -1) throw new Error(`"${needle}" not found`);
  }
  const before = text.slice(0, index);
  const line = before.split("\n").length;
  return { line, column: index - before.lastIndexOf("\n") };
}

function only(text: string, code: Diagnostic["code"]): Diagnostic {
  const { diagnostics } = parsePipeline(text);
  const matching = diagnostics.filter((diagnostic) => diagnostic.code === code);
  expect(matching, JSON.stringify(diagnostics, null, 2)).toHaveLength(1);
  return matching[0] as Diagnostic;
}

/** Asserts the diagnostic starts at `needle` and spans exactly its characters. */
function expectAt(diagnostic: Diagnostic, text: string, needle: string, occurrence = 1): void {
  const start = at(text, needle, occurrence);
  expect({ line: diagnostic.line, column: diagnostic.column }).toEqual(start);
  expect({ endLine: diagnostic.endLine, endColumn: diagnostic.endColumn }).toEqual({
    endLine: start.line,
    endColumn: start.column + needle.length,
  });
}

const doc = (steps: string, head = "") => `name: demo\n${head}steps:\n${steps}`;

describe("parsePipeline", () => {
  it("returns the typed pipeline, the document and no diagnostics for a valid file", () => {
    const result = parsePipeline(
      doc("  - id: build\n    run: make\n  - id: test\n    needs: build\n    run: make test\n"),
    );
    expect(result.diagnostics).toEqual([]);
    expect(result.pipeline?.steps.map((step) => step.id)).toEqual(["build", "test"]);
    expect(result.document.getIn(["steps", 1, "needs"])).toBe("build");
    expect(result.analysis?.order).toEqual(["build", "test"]);
  });

  it("reports YAML syntax errors with their position and no pipeline", () => {
    const text = "name: demo\nsteps:\n  - id: a\n    run: [unclosed\n";
    const result = parsePipeline(text);
    expect(result.pipeline).toBeNull();
    expect(result.diagnostics.length).toBeGreaterThan(0);
    expect(result.diagnostics.every((diagnostic) => diagnostic.code === "yaml-syntax")).toBe(true);
    expect(result.diagnostics[0]?.line).toBeGreaterThanOrEqual(4);
  });

  it("reports duplicate keys as YAML errors at the second key", () => {
    const text = "name: demo\nname: again\nsteps:\n  - id: a\n    run: x\n";
    const diagnostic = only(text, "yaml-syntax");
    expect(diagnostic.line).toBe(2);
    expect(diagnostic.message).toMatch(/unique/);
  });

  it("reports an empty document", () => {
    expect(only("# nothing yet\n", "empty-document").line).toBe(1);
  });

  it("reports an unknown key at the key, suggesting the closest valid one", () => {
    const text = doc("  - id: a\n    run: x\n  - id: b\n    nedds: [a]\n    run: y\n");
    const diagnostic = only(text, "unknown-key");
    expectAt(diagnostic, text, "nedds");
    expect(diagnostic.message).toBe('unknown key "nedds" in step "b"; did you mean "needs"?');
    expect(diagnostic.path).toEqual(["steps", 1, "nedds"]);
  });

  it("lists the valid keys when nothing is close", () => {
    const text = doc("  - id: a\n    run: x\n    retry:\n      max: 2\n      zzz: 1\n");
    expect(only(text, "unknown-key").message).toBe(
      'unknown key "zzz" in "retry"; expected one of: max, backoff, exit-codes',
    );
  });

  it("reports a missing required field at the object's first line", () => {
    const text = doc("  - id: a\n    run: x\n  - name: Second\n    run: y\n");
    const diagnostic = only(text, "missing-field");
    expectAt(diagnostic, text, "name: Second");
    expect(diagnostic.message).toBe('step #2 is missing the required "id"');
  });

  it("reports a wrong type at the value", () => {
    const text = doc("  - id: a\n    run: x\n    continue-on-error: sometimes\n");
    const diagnostic = only(text, "invalid-type");
    expectAt(diagnostic, text, "sometimes");
    expect(diagnostic.message).toBe('"continue-on-error" must be true or false, not the string "sometimes"');
  });

  it("reports an invalid value with the rule it breaks", () => {
    const text = doc("  - id: a\n    run: x\n    timeout: 10 minutes\n");
    const diagnostic = only(text, "invalid-value");
    expectAt(diagnostic, text, "10 minutes");
    expect(diagnostic.message).toMatch(/is not a duration: write it like 30s, 10m/);
  });

  it("reports a duplicate id at the second id", () => {
    const text = doc("  - id: build\n    run: x\n  - id: build\n    run: y\n");
    const diagnostic = only(text, "duplicate-id");
    expectAt(diagnostic, text, "build", 2);
    expect(diagnostic.message).toBe('duplicate step id "build": steps[0] already uses it');
  });

  it("reports an unknown need at the need, with a suggestion", () => {
    const text = doc("  - id: build\n    run: x\n  - id: test\n    needs: [lint, biuld]\n    run: y\n");
    const diagnostics = parsePipeline(text).diagnostics.filter((diagnostic) => diagnostic.code === "unknown-need");
    expect(diagnostics).toHaveLength(2);
    expectAt(diagnostics[1] as Diagnostic, text, "biuld");
    expect(diagnostics[1]?.message).toBe('step "test" needs "biuld", which is not a step; did you mean "build"?');
  });

  it("reports a cycle once, naming its path, at the need that closes it", () => {
    const text = doc(
      "  - id: a\n    needs: [c]\n    run: x\n  - id: b\n    needs: [a]\n    run: x\n  - id: c\n    needs: [b]\n    run: x\n",
    );
    const diagnostic = only(text, "cycle");
    expectAt(diagnostic, text, "c", 1);
    expect(diagnostic.message).toBe('cycle: "a" → "c" → "b" → "a" (each needs the next); remove one of these needs');
  });

  it("reports a step that needs itself", () => {
    const text = doc("  - id: a\n    needs: a\n    run: x\n");
    const diagnostic = only(text, "cycle");
    expectAt(diagnostic, text, "a", 3);
    expect(diagnostic.message).toBe('step "a" needs itself');
  });

  it("reports an unknown stage", () => {
    const text = doc("  - id: a\n    stage: biuld\n    run: x\n", "stages:\n  - id: build\n");
    const diagnostic = only(text, "unknown-stage");
    expectAt(diagnostic, text, "biuld");
    expect(diagnostic.message).toBe('unknown stage "biuld"; did you mean "build"?');
  });

  it("reports an unknown step kind at uses", () => {
    const text = doc("  - id: a\n    uses: chekout\n");
    const diagnostic = only(text, "unknown-step-kind");
    expectAt(diagnostic, text, "chekout");
    expect(diagnostic.message).toBe('unknown step kind "chekout"; did you mean "checkout"?');
  });

  it("reports a bad input type of a step kind at the input", () => {
    const text = doc("  - id: a\n    uses: http\n    with:\n      url: https://example.com\n      expect-status: ok\n");
    const diagnostic = only(text, "invalid-input");
    expectAt(diagnostic, text, "ok");
    expect(diagnostic.message).toBe('"expect-status" must be a list, not the string "ok"');
  });

  it(`accepts a \${{ }} for any input type: it is typed at run time`, () => {
    const text = doc(
      `  - id: a\n    uses: checkout\n    with:\n      depth: \${{ params.depth }}\n`,
      "params:\n  depth: {type: integer, default: 1}\n",
    );
    expect(parsePipeline(text).diagnostics).toEqual([]);
  });

  it("reports a missing required input at uses when there is no with", () => {
    const text = doc("  - id: a\n    uses: http\n");
    const diagnostic = only(text, "invalid-input");
    expectAt(diagnostic, text, "http");
    expect(diagnostic.message).toBe('step kind "http" requires the input "url": add them under with:');
  });

  it("reports a CEL syntax error at the character, inside the YAML string", () => {
    const text = doc(
      "  - id: a\n    run: x\n  - id: b\n    needs: [a]\n    if: steps.a.outcome == && true\n    run: y\n",
    );
    const diagnostic = only(text, "cel-syntax");
    expectAt(diagnostic, text, "&&");
    expect(diagnostic.message).toMatch(/^CEL syntax error: /);
  });

  it("reports a CEL type error in a double-quoted condition at the expression", () => {
    const text = doc(
      '  - id: a\n    run: x\n    if: "params.count + \\"x\\" == 1"\n',
      "params:\n  count: {type: integer, default: 1}\n",
    );
    const diagnostic = only(text, "cel-type");
    expectAt(diagnostic, text, 'params.count + \\"x\\"');
    expect(diagnostic.message).toBe("these types do not go together: int + string");
  });

  it("positions CEL errors inside literal block conditions on the right line", () => {
    const text = doc(
      '  - id: a\n    run: x\n  - id: b\n    needs: [a]\n    if: |\n      steps.a.outcome == "success" &&\n        steps.nope.outcome == "success"\n    run: y\n',
    );
    const diagnostic = only(text, "cel-reference");
    expectAt(diagnostic, text, "steps.nope");
    expect(diagnostic.message).toBe('unknown step "nope"');
  });

  it("reports reading a step that is not upstream", () => {
    const text = doc('  - id: a\n    run: x\n  - id: b\n    if: steps.a.outcome == "success"\n    run: y\n');
    const diagnostic = only(text, "cel-reference");
    expectAt(diagnostic, text, "steps.a");
    expect(diagnostic.message).toBe(
      'step "b" does not need "a" (directly or transitively), so it cannot read its outcome or outputs: add it to needs',
    );
  });

  it("reports a malformed secret reference at the interpolation", () => {
    const text = doc(`  - id: a\n    env:\n      TOKEN: Bearer \${{ secrets.api-token }}\n    run: x\n`);
    const diagnostic = only(text, "secret-reference");
    expectAt(diagnostic, text, `\${{ secrets.api-token }}`);
    expect(diagnostic.message).toBe(
      '"api-token" is not a valid secret name: use letters, digits and "_", starting with a letter or "_"',
    );
  });

  it("reports an unterminated interpolation", () => {
    const text = doc("  - id: a\n    run: echo ${{ params.x\n");
    const diagnostic = only(text, "invalid-interpolation");
    expectAt(diagnostic, text, "${{");
  });

  it("reports a bad cron field at the field, and an unknown time zone", () => {
    const text = doc(
      "  - id: a\n    run: x\n",
      'triggers:\n  schedule:\n    - cron: "0 25 * * MON-FRI"\n      timezone: Europe/Berln\n',
    );
    const cron = only(text, "invalid-cron");
    expectAt(cron, text, "25");
    expect(cron.message).toBe("hour 25 is out of range 0-23");
    const zone = only(text, "invalid-timezone");
    expectAt(zone, text, "Europe/Berln");
    expect(zone.message).toBe('unknown time zone "Europe/Berln"; did you mean "Europe/Berlin"?');
  });

  it("reports rollback and on-failure references that name no handler", () => {
    const text = doc(
      "  - id: a\n    run: x\n    rollback: undo-a\n    on-failure: [a]\n",
      "handlers:\n  - id: undo\n    run: u\n",
    );
    const diagnostics = parsePipeline(text).diagnostics.filter((diagnostic) => diagnostic.code === "unknown-handler");
    expect(diagnostics).toHaveLength(2);
    expectAt(diagnostics[0] as Diagnostic, text, "undo-a");
    expect(diagnostics[0]?.message).toBe('rollback names "undo-a", which is not a handler; did you mean "undo"?');
    expect(diagnostics[1]?.message).toBe(
      '"a" is a step of the graph; on-failure names a handler (declare it under handlers)',
    );
  });

  it("reports a matrix beyond the abuse limit at the matrix key", () => {
    const axes = Array.from({ length: 20 }, (_, i) => `        a${i}: [1, 2]`).join("\n");
    const text = doc(`  - id: a\n    run: x\n    matrix:\n      axes:\n${axes}\n`);
    const diagnostic = only(text, "matrix-too-large");
    expectAt(diagnostic, text, "matrix");
    expect(diagnostic.message).toBe("the axes multiply to 1048576 combinations; the limit is 65536 before exclude");
  });

  it("reports a step with two kinds and a step with none", () => {
    const text = doc("  - id: a\n    run: x\n    uses: noop\n  - id: b\n    name: nothing\n");
    const multiple = only(text, "multiple-kinds");
    expectAt(multiple, text, "uses");
    const missing = only(text, "missing-kind");
    expectAt(missing, text, "b");
    expect(missing.message).toBe('step "b" does nothing: give it one of run, uses, approval, gate, manual');
  });

  it("sorts diagnostics by position and keeps checking past a schema error", () => {
    const text = doc("  - id: a\n    needs: [b]\n    tmeout: 5m\n    run: x\n  - id: b\n    needs: [a]\n    run: y\n");
    const codes = parsePipeline(text).diagnostics.map((diagnostic) => `${diagnostic.line}:${diagnostic.code}`);
    expect(codes).toEqual(["4:cycle", "5:unknown-key"]);
  });

  it("keeps warnings from making the pipeline invalid", () => {
    const text = doc("  - id: a\n    run: x\n", "handlers:\n  - id: never-used\n    run: y\n");
    const result = parsePipeline(text);
    expect(result.diagnostics.map((diagnostic) => [diagnostic.code, diagnostic.severity])).toEqual([
      ["unused-handler", "warning"],
    ]);
    expect(result.pipeline).not.toBeNull();
  });
});

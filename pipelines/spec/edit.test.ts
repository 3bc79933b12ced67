import fc from "fast-check";
import { isSeq, type Node, type YAMLSeq } from "yaml";
import { describe, expect, it } from "vitest";
import {
  addStep,
  addSteps,
  applyEdit,
  moveStepsToStage,
  moveStepToStage,
  type PipelineEdit,
  PipelineEditError,
  removeStep,
  removeSteps,
  renameStep,
  renameStepReferences,
  setNeeds,
  setStepField,
} from "./edit";
import { parsePipeline } from "./parse";
import { parseYaml } from "./yaml-source";

const SAMPLE = `# Release pipeline for the API.
name: api   # shown in the sidebar
stages:
  - id: build
  - id: ship

steps:
  - id: build
    stage: build
    run: |
      make build
    outputs: [version]

  # Tests run in parallel with lint.
  - id: test
    needs: [build]     # the build's artifacts
    run: make test

  - id: lint
    needs:
      - build
    run: make lint
    continue-on-error: true

  - id: deploy
    stage: ship
    needs: [test, lint]
    if: steps.test.outcome == "success" && steps["lint"].outcome != "cancelled"
    env:
      VERSION: "\${{ steps.build.outputs.version }}"
    run: ./deploy.sh
`;

/** The text with exactly one contiguous region replaced: what changed, and where. */
function changedRegion(before: string, after: string): { removed: string; added: string } {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let end = 0;
  while (
    end < before.length - start &&
    end < after.length - start &&
    before[before.length - 1 - end] === after[after.length - 1 - end]
  ) {
    end++;
  }
  return { removed: before.slice(start, before.length - end), added: after.slice(start, after.length - end) };
}

describe("edit operations", () => {
  it("setNeeds appends to and removes from a flow list in place", () => {
    expect(changedRegion(SAMPLE, setNeeds(SAMPLE, "deploy", ["test", "lint", "build"]))).toEqual({
      removed: "",
      added: ", build",
    });
    const removed = setNeeds(SAMPLE, "deploy", ["lint"]);
    expect(removed).toContain("    needs: [lint]\n");
    expect(changedRegion(SAMPLE, removed).removed).toBe("test, ");
  });

  it("setNeeds edits block lists line by line, keeping comments and the rest", () => {
    const text = setNeeds(SAMPLE, "lint", ["build", "test"]);
    expect(text).toBe(SAMPLE.replace("      - build\n", "      - build\n      - test\n"));
    const cleared = setNeeds(SAMPLE, "test", []);
    expect(cleared).toBe(SAMPLE.replace("    needs: [build]     # the build's artifacts\n", ""));
  });

  it("setStepField replaces a value, keeping its trailing comment", () => {
    const text = setStepField(SAMPLE, "test", "needs", ["lint"]);
    expect(text).toContain("    needs: [lint]     # the build's artifacts\n");
  });

  it("setStepField adds a field where it belongs and creates nested maps", () => {
    const text = setStepField(SAMPLE, "test", ["retry", "max"], 2);
    const needsLine = "    needs: [build]     # the build's artifacts\n";
    expect(text).toBe(SAMPLE.replace(needsLine, `${needsLine}    retry:\n      max: 2\n`));
    expect(text.indexOf("retry:")).toBeGreaterThan(text.indexOf("needs: [build]"));
    expect(text.indexOf("retry:")).toBeLessThan(text.indexOf("run: make test"));
  });

  it("setStepField with undefined removes the field and only it", () => {
    const text = setStepField(SAMPLE, "lint", "continue-on-error", undefined);
    expect(changedRegion(SAMPLE, text)).toEqual({ removed: "    continue-on-error: true\n", added: "" });
  });

  it("setStepField turns a block scalar into a plain one and back", () => {
    const plain = setStepField(SAMPLE, "build", "run", "make all");
    expect(plain).toContain("    run: make all\n    outputs: [version]\n");
    const block = setStepField(plain, "build", "run", "make deps\nmake all\n");
    expect(block).toContain("    run: |\n      make deps\n      make all\n    outputs: [version]\n");
  });

  it("addStep appends a step in the file's style after the given one", () => {
    const text = addStep(SAMPLE, { id: "smoke", needs: ["deploy"], run: "curl -f https://api/health" });
    expect(changedRegion(SAMPLE, text).added).toBe(
      "  - id: smoke\n    needs: [deploy]\n    run: curl -f https://api/health\n",
    );
    const middle = addStep(SAMPLE, { id: "audit", needs: ["build"], run: "npm audit" }, { after: "build" });
    expect(middle.indexOf("id: audit")).toBeGreaterThan(middle.indexOf("id: build"));
    expect(middle.indexOf("id: audit")).toBeLessThan(middle.indexOf("id: test"));
    expect(() => addStep(SAMPLE, { id: "test", run: "x" })).toThrow(PipelineEditError);
    expect(() => addStep(SAMPLE, { id: "bad id", run: "x" })).toThrow("not a valid step id");
  });

  it("removeStep removes the step and every need of it", () => {
    const text = removeStep(SAMPLE, "lint");
    expect(text).not.toContain("id: lint");
    expect(text).toContain("    needs: [test]\n");
    expect(parseYaml(text).document.toJS().steps).toHaveLength(3);
  });

  it("renameStep renames needs and references in conditions and templates", () => {
    const text = renameStep(SAMPLE, "lint", "static-checks");
    expect(text).toContain("  - id: static-checks\n");
    expect(text).toContain("    needs: [test, static-checks]\n");
    expect(text).toContain('steps["static-checks"].outcome != "cancelled"');
    const build = renameStep(SAMPLE, "build", "compile-app");
    expect(build).toContain(`VERSION: "\${{ steps['compile-app'].outputs.version }}"`);
    expect(build).toContain("      - compile-app\n");
    expect(parsePipeline(build).diagnostics).toEqual([]);
    expect(() => renameStep(SAMPLE, "lint", "test")).toThrow("already exists");
    expect(() => renameStep(SAMPLE, "nope", "x")).toThrow('no step "nope"');
  });

  it("moveStepToStage sets the stage and declares a new one", () => {
    const text = moveStepToStage(SAMPLE, "lint", "quality");
    expect(text).toContain("  - id: ship\n  - id: quality\n");
    expect(text).toMatch(/- id: lint\n {4}stage: quality\n {4}needs:/);
    expect(parsePipeline(text).diagnostics).toEqual([]);
    const cleared = moveStepToStage(SAMPLE, "deploy", null);
    expect(cleared).toBe(SAMPLE.replace("    stage: ship\n", ""));
  });

  it("removeSteps removes several steps and their needs in one edit, keeping every comment", () => {
    const result = applyEdit(SAMPLE, { op: "removeSteps", ids: ["test", "lint"] });
    expect(result.lossless).toBe(true);
    const text = result.text;
    expect(text).not.toMatch(/id: (test|lint)\b/);
    // deploy needed only those two: its needs go entirely (not `needs: []`).
    expect(text).toContain("  - id: deploy\n    stage: ship\n    if:");
    for (const comment of ["# Release pipeline for the API.", "# shown in the sidebar", "# Tests run in parallel"]) {
      expect(text).toContain(comment);
    }
    expect(
      parseYaml(text)
        .document.toJS()
        .steps.map((step: { id: string }) => step.id),
    ).toEqual(["build", "deploy"]);
    // Only the removed steps' lines and deploy's needs went: the build step is byte-identical.
    expect(text.startsWith(SAMPLE.slice(0, SAMPLE.indexOf("  # Tests run")))).toBe(true);
    expect(() => removeSteps(SAMPLE, ["test", "nope"])).toThrow('no step "nope"');
    expect(removeSteps(SAMPLE, [])).toBe(SAMPLE);
  });

  it("removeSteps of every step leaves an empty list, not a dangling key", () => {
    const result = applyEdit(SAMPLE, { op: "removeSteps", ids: ["build", "test", "lint", "deploy"] });
    expect(result.lossless).toBe(true);
    expect(parseYaml(result.text).document.toJS().steps).toEqual([]);
    expect(result.text).toContain("name: api   # shown in the sidebar\n");
  });

  it("addSteps inserts steps in order after a step, declaring the stages they name, in one edit", () => {
    const result = applyEdit(SAMPLE, {
      op: "addSteps",
      steps: [
        { id: "audit", stage: "qa", needs: "build", run: "npm audit" },
        { id: "licenses", stage: "qa", needs: ["audit"], run: "npm run licenses" },
      ],
      after: "build",
    });
    expect(result.lossless).toBe(true);
    const { text } = result;
    const ids = parseYaml(text)
      .document.toJS()
      .steps.map((step: { id: string }) => step.id);
    expect(ids).toEqual(["build", "audit", "licenses", "test", "lint", "deploy"]);
    expect(text).toContain("  - id: ship\n  - id: qa\n\nsteps:");
    expect(changedRegion(SAMPLE.slice(SAMPLE.indexOf("steps:")), text.slice(text.indexOf("steps:"))).added).toBe(
      "  - id: audit\n    stage: qa\n    needs: build\n    run: npm audit\n" +
        "  - id: licenses\n    stage: qa\n    needs: [audit]\n    run: npm run licenses\n",
    );
    expect(parsePipeline(text).diagnostics).toEqual([]);
    expect(() =>
      addSteps(SAMPLE, [
        { id: "x", run: "a" },
        { id: "x", run: "b" },
      ]),
    ).toThrow("added twice");
    expect(() =>
      addSteps(SAMPLE, [
        { id: "x", run: "a" },
        { id: "lint", run: "b" },
      ]),
    ).toThrow("already exists");
  });

  it("addSteps creates the section and the stages when the document has none", () => {
    const text = addSteps("name: bare # no steps yet\n", [
      { id: "a", stage: "one", run: "x" },
      { id: "b", needs: ["a"], stage: "two", run: "y" },
    ]);
    const data = parseYaml(text).document.toJS();
    expect(data.stages).toEqual([{ id: "one" }, { id: "two" }]);
    expect(data.steps.map((step: { id: string }) => step.id)).toEqual(["a", "b"]);
    expect(text).toContain("# no steps yet");
    expect(parsePipeline(text).diagnostics).toEqual([]);
  });

  it("moveStepsToStage moves several steps, declaring the stage once, and clears with null", () => {
    const result = applyEdit(SAMPLE, { op: "moveStepsToStage", ids: ["test", "lint", "deploy"], stage: "quality" });
    expect(result.lossless).toBe(true);
    expect(result.text.match(/- id: quality/g)).toHaveLength(1);
    expect(result.text).toContain("  - id: test\n    stage: quality\n    needs: [build]     # the build's artifacts\n");
    expect(result.text).toContain("  - id: deploy\n    stage: quality\n");
    expect(parsePipeline(result.text).diagnostics).toEqual([]);
    expect(moveStepsToStage(result.text, ["test", "lint", "deploy"], "quality")).toBe(result.text);
    const cleared = moveStepsToStage(SAMPLE, ["build", "deploy", "test"], null);
    expect(cleared).toBe(SAMPLE.replace("    stage: build\n", "").replace("    stage: ship\n", ""));
    expect(() => moveStepsToStage(SAMPLE, ["test"], "not a stage")).toThrow("not a valid stage id");
  });

  it("renameStepReferences makes copied steps refer to one another", () => {
    const step = {
      id: "deploy-2",
      needs: ["test", "lint"],
      if: 'steps.test.outcome == "success" && steps["lint"].outcome != "cancelled"',
      env: { VERSION: `\${{ steps.test.outputs.version }}`, OTHER: `\${{ steps.build.outputs.x }}` },
      artifacts: { fetch: [{ from: "test", name: "report" }] },
      gate: { condition: "steps.lint.outputs.ok == 'yes'" },
      run: "echo steps.test is not a template here",
    };
    const renames = new Map([
      ["test", "lint"],
      ["lint", "lint-2"],
    ]);
    expect(renameStepReferences(step, renames)).toEqual({
      id: "deploy-2",
      needs: ["lint", "lint-2"],
      if: 'steps.lint.outcome == "success" && steps["lint-2"].outcome != "cancelled"',
      env: { VERSION: `\${{ steps.lint.outputs.version }}`, OTHER: `\${{ steps.build.outputs.x }}` },
      artifacts: { fetch: [{ from: "lint", name: "report" }] },
      gate: { condition: "steps['lint-2'].outputs.ok == 'yes'" },
      run: "echo steps.test is not a template here",
    });
    expect(step.needs).toEqual(["test", "lint"]);
  });

  it("refuses to edit a document with YAML errors", () => {
    expect(() => setNeeds("name: [\n", "a", [])).toThrow(PipelineEditError);
  });

  it("keeps CRLF line endings", () => {
    const crlf = SAMPLE.replace(/\n/g, "\r\n");
    const text = addStep(setNeeds(crlf, "lint", ["build", "test"]), { id: "x", run: "a\nb" });
    expect(text.replace(/\r\n/g, "")).not.toContain("\n");
  });

  it("falls back to re-printing when a layout cannot be spliced, and says so", () => {
    const flowSteps = "name: x\nsteps: [{id: a, run: x}, {id: b, run: y}]\n";
    const result = applyEdit(flowSteps, { op: "setNeeds", id: "b", needs: ["a"] });
    expect(parseYaml(result.text).document.toJS().steps[1].needs).toEqual(["a"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests: random pipelines in many formats, random edits.

interface GenStep {
  id: string;
  needs: string[];
  needsStyle: "flow" | "block" | "scalar";
  ifStyle: "none" | "plain" | "double" | "literal";
  idStyle: "plain" | "single" | "double";
  comment: boolean;
  blankBefore: boolean;
  hasEnv: boolean;
  extraSpace: boolean;
}

interface GenDoc {
  steps: GenStep[];
  dashIndent: 0 | 2;
  header: boolean;
}

const ID_POOL = ["build", "test", "lint", "deploy-app", "package", "e2e", "docs", "scan", "db-migrate", "notify"];

const CEL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function stepRef(id: string): string {
  return CEL_IDENTIFIER.test(id) ? `steps.${id}` : `steps["${id}"]`;
}

const docArbitrary: fc.Arbitrary<GenDoc> = fc
  .record({
    count: fc.integer({ min: 1, max: 7 }),
    dashIndent: fc.constantFrom(0 as const, 2 as const),
    header: fc.boolean(),
    order: fc.shuffledSubarray(ID_POOL, { minLength: ID_POOL.length, maxLength: ID_POOL.length }),
    details: fc.array(
      fc.record({
        needMask: fc.nat({ max: 127 }),
        needsStyle: fc.constantFrom("flow" as const, "block" as const, "scalar" as const),
        ifStyle: fc.constantFrom("none" as const, "plain" as const, "double" as const, "literal" as const),
        idStyle: fc.constantFrom("plain" as const, "single" as const, "double" as const),
        comment: fc.boolean(),
        blankBefore: fc.boolean(),
        hasEnv: fc.boolean(),
        extraSpace: fc.boolean(),
      }),
      { minLength: 7, maxLength: 7 },
    ),
  })
  .map(({ count, dashIndent, header, order, details }) => {
    const ids = order.slice(0, count);
    const steps = ids.map((id, i) => {
      const detail = details[i] as (typeof details)[number];
      const needs = ids.slice(0, i).filter((_, j) => (detail.needMask >> j) & 1);
      return {
        ...detail,
        id,
        needs,
        needsStyle:
          needs.length === 1 ? detail.needsStyle : detail.needsStyle === "scalar" ? "flow" : detail.needsStyle,
        ifStyle: needs.length === 0 ? "none" : detail.ifStyle,
      } satisfies GenStep;
    });
    return { steps, dashIndent, header };
  });

function renderDoc(doc: GenDoc): string {
  const dash = " ".repeat(doc.dashIndent);
  const body = `${dash}  `;
  const lines: string[] = [];
  if (doc.header) lines.push("# generated pipeline", "");
  lines.push("name: generated", "stages:", `${dash}- id: one`, `${dash}- id: two`, "", "steps:");
  for (const step of doc.steps) {
    if (step.blankBefore) lines.push("");
    if (step.comment) lines.push(`${dash}# step ${step.id}`);
    const id = step.idStyle === "plain" ? step.id : step.idStyle === "single" ? `'${step.id}'` : `"${step.id}"`;
    lines.push(`${dash}- id: ${id}${step.comment ? "   # the id" : ""}`);
    const colon = step.extraSpace ? ":   " : ": ";
    if (step.needs.length > 0) {
      if (step.needsStyle === "scalar") lines.push(`${body}needs${colon}${step.needs[0]}`);
      else if (step.needsStyle === "flow")
        lines.push(`${body}needs${colon}[${step.needs.join(", ")}]${step.comment ? " # deps" : ""}`);
      else {
        lines.push(`${body}needs:`);
        for (const need of step.needs) lines.push(`${body}  - ${need}`);
      }
    }
    const first = step.needs[0];
    if (first !== undefined) {
      const expression = `${stepRef(first)}.outcome == "success"`;
      if (step.ifStyle === "plain") lines.push(`${body}if: ${expression}`);
      if (step.ifStyle === "double") lines.push(`${body}if: "${expression.replace(/"/g, '\\"')}"`);
      if (step.ifStyle === "literal") lines.push(`${body}if: |`, `${body}  ${expression}`, `${body}  && true`);
    }
    if (step.hasEnv) {
      lines.push(`${body}env:`, `${body}  MODE: fast   # quick`, `${body}  LEVEL: "3"`);
      if (first !== undefined) lines.push(`${body}  UPSTREAM: '\${{ ${stepRef(first)}.outcome }}'`);
    }
    lines.push(`${body}run: |`, `${body}  echo ${step.id}`, `${body}  make ${step.id}`);
  }
  return `${lines.join("\n")}\n`;
}

type EditCase = PipelineEdit;

function editArbitrary(doc: GenDoc): fc.Arbitrary<EditCase> {
  const ids = doc.steps.map((step) => step.id);
  const unused = ID_POOL.filter((id) => !ids.includes(id));
  const newIds = [...unused, "brand-new", "fresh_step"];
  const stepIndex = fc.nat({ max: ids.length - 1 });
  return fc.oneof(
    stepIndex.chain((i) =>
      fc.subarray(ids.slice(0, i)).map((needs): EditCase => ({ op: "setNeeds", id: ids[i] as string, needs })),
    ),
    fc
      .record({ i: stepIndex, value: fc.constantFrom<unknown>("5m", undefined, "1h30m") })
      .map(({ i, value }): EditCase => ({ op: "setStepField", id: ids[i] as string, field: "timeout", value })),
    fc
      .record({ i: stepIndex, value: fc.constantFrom<unknown>({ A: "1" }, { MODE: "slow", LEVEL: "3" }, undefined) })
      .map(({ i, value }): EditCase => ({ op: "setStepField", id: ids[i] as string, field: "env", value })),
    fc
      .record({ i: stepIndex, value: fc.constantFrom("make\n", "make all", "a: b # not a comment") })
      .map(({ i, value }): EditCase => ({ op: "setStepField", id: ids[i] as string, field: "run", value })),
    fc
      .record({ i: stepIndex, stage: fc.constantFrom("one", "two", "three", null) })
      .map(({ i, stage }): EditCase => ({ op: "moveStepToStage", id: ids[i] as string, stage })),
    fc
      .record({ i: stepIndex, to: fc.constantFrom(...newIds) })
      .map(({ i, to }): EditCase => ({ op: "renameStep", from: ids[i] as string, to })),
    stepIndex.map((i): EditCase => ({ op: "removeStep", id: ids[i] as string })),
    fc
      .subarray(ids, { minLength: 1 })
      .chain((chosen) =>
        fc
          .shuffledSubarray(chosen, { minLength: chosen.length, maxLength: chosen.length })
          .map((ordered): EditCase => ({ op: "removeSteps", ids: ordered })),
      ),
    fc
      .record({ chosen: fc.subarray(ids, { minLength: 1 }), stage: fc.constantFrom("one", "two", "three", null) })
      .map(({ chosen, stage }): EditCase => ({ op: "moveStepsToStage", ids: chosen, stage })),
    fc
      .record({
        after: fc.option(stepIndex, { nil: undefined }),
        count: fc.integer({ min: 1, max: 3 }),
        masks: fc.array(fc.nat({ max: 1023 }), { minLength: 3, maxLength: 3 }),
        stage: fc.constantFrom(undefined, "one", "four"),
      })
      .map(({ after, count, masks, stage }): EditCase => {
        const fresh = newIds.slice(-count);
        const steps = fresh.map((id, k) => {
          // Needs on existing steps and on the new steps before it.
          const pool = [...ids, ...fresh.slice(0, k)];
          const needs = pool.filter((_, j) => ((masks[k] as number) >> j) & 1);
          return { id, ...(stage ? { stage } : {}), ...(needs.length > 0 ? { needs } : {}), run: `echo ${id}` };
        });
        return { op: "addSteps", steps, after: after === undefined ? undefined : ids[after] };
      }),
    fc
      .record({
        after: fc.option(stepIndex, { nil: undefined }),
        id: fc.constantFrom(...newIds),
        mask: fc.nat({ max: 127 }),
      })
      .map(
        ({ after, id, mask }): EditCase => ({
          op: "addStep",
          step: { id, needs: ids.filter((_, j) => (mask >> j) & 1), run: "echo new\nmake new" },
          after: after === undefined ? undefined : ids[after],
        }),
      ),
  );
}

/** The source of each step item: from the start of its '-' line to the end of its last line. */
function stepSlices(text: string): Map<string, string> {
  const { document } = parseYaml(text, { keepSourceTokens: true });
  const seq = document.get("steps", true) as YAMLSeq | undefined;
  const slices = new Map<string, string>();
  if (!isSeq(seq)) return slices;
  seq.items.forEach((item, index) => {
    const node = item as Node;
    const token = seq.srcToken;
    if (token?.type !== "block-seq" || !node.range) return;
    const dash = token.items[index]?.start.find((part) => part.type === "seq-item-ind")?.offset ?? node.range[0];
    const start = text.lastIndexOf("\n", dash - 1) + 1;
    const id = (document.getIn(["steps", index, "id"]) as string) ?? `#${index}`;
    slices.set(id, text.slice(start, node.range[1]));
  });
  return slices;
}

function normalizeNeeds(data: Record<string, unknown>): Record<string, unknown> {
  const steps = (data.steps as Record<string, unknown>[]).map((step) => {
    const needs = step.needs;
    const { needs: _dropped, ...rest } = step;
    const list = typeof needs === "string" ? [needs] : ((needs as string[] | undefined) ?? []);
    return list.length === 0 ? rest : { ...rest, needs: list };
  });
  return { ...data, steps };
}

function renamedExpression(expression: string, from: string, to: string): string {
  const replacement = CEL_IDENTIFIER.test(to) ? `steps.${to}` : `steps['${to}']`;
  return expression.split(`steps.${from}.`).join(`${replacement}.`).split(`steps["${from}"]`).join(`steps["${to}"]`);
}

/** What the document should mean after the edit, computed independently of edit.ts. */
function expectedData(before: Record<string, unknown>, edit: EditCase): Record<string, unknown> {
  const data = normalizeNeeds(structuredClone(before));
  const steps = data.steps as Record<string, unknown>[];
  const find = (id: string) => steps.find((step) => step.id === id) as Record<string, unknown>;
  switch (edit.op) {
    case "setNeeds": {
      const step = find(edit.id);
      if (edit.needs.length === 0) delete step.needs;
      else step.needs = [...edit.needs];
      break;
    }
    case "setStepField": {
      const step = find(edit.id);
      if (edit.value === undefined) delete step[edit.field as string];
      else step[edit.field as string] = edit.value;
      break;
    }
    case "moveStepToStage": {
      const step = find(edit.id);
      if (edit.stage === null) delete step.stage;
      else {
        step.stage = edit.stage;
        const stages = data.stages as { id: string }[];
        if (!stages.some((stage) => stage.id === edit.stage)) stages.push({ id: edit.stage });
      }
      break;
    }
    case "renameStep": {
      for (const step of steps) {
        if (step.id === edit.from) step.id = edit.to;
        if (Array.isArray(step.needs)) step.needs = step.needs.map((need) => (need === edit.from ? edit.to : need));
        if (typeof step.if === "string") step.if = renamedExpression(step.if, edit.from, edit.to);
        const env = step.env as Record<string, unknown> | undefined;
        if (typeof env?.UPSTREAM === "string") env.UPSTREAM = renamedExpression(env.UPSTREAM, edit.from, edit.to);
      }
      break;
    }
    case "removeStep":
    case "removeSteps": {
      const gone = new Set(edit.op === "removeStep" ? [edit.id] : edit.ids);
      data.steps = steps.filter((step) => !gone.has(step.id as string));
      for (const step of data.steps as Record<string, unknown>[]) {
        if (!Array.isArray(step.needs)) continue;
        step.needs = step.needs.filter((need) => !gone.has(need));
        if ((step.needs as string[]).length === 0) delete step.needs;
      }
      break;
    }
    case "moveStepsToStage": {
      for (const id of edit.ids) {
        const step = find(id);
        if (edit.stage === null) delete step.stage;
        else step.stage = edit.stage;
      }
      const stages = data.stages as { id: string }[];
      if (edit.stage !== null && !stages.some((stage) => stage.id === edit.stage)) stages.push({ id: edit.stage });
      break;
    }
    case "addSteps": {
      const index = edit.after === undefined ? steps.length : steps.findIndex((step) => step.id === edit.after) + 1;
      steps.splice(index, 0, ...edit.steps.map((step) => ({ ...step })));
      const stages = data.stages as { id: string }[];
      for (const step of edit.steps) {
        const stage = step.stage as string | undefined;
        if (stage && !stages.some((declared) => declared.id === stage)) stages.push({ id: stage });
      }
      break;
    }
    case "addStep": {
      const index = edit.after === undefined ? steps.length : steps.findIndex((step) => step.id === edit.after) + 1;
      const step: Record<string, unknown> = { ...edit.step };
      if (Array.isArray(step.needs) && step.needs.length === 0) delete step.needs;
      steps.splice(index, 0, step);
      break;
    }
  }
  return normalizeNeeds(data);
}

/** Steps whose text the edit may change. */
function touched(doc: GenDoc, edit: EditCase): Set<string> {
  switch (edit.op) {
    case "setNeeds":
    case "setStepField":
    case "moveStepToStage":
      return new Set([edit.id]);
    case "moveStepsToStage":
      return new Set(edit.ids);
    case "addStep":
    case "addSteps":
      return new Set();
    case "removeSteps":
      return new Set([
        ...edit.ids,
        ...doc.steps.filter((s) => s.needs.some((n) => edit.ids.includes(n))).map((s) => s.id),
      ]);
    case "removeStep":
      return new Set([edit.id, ...doc.steps.filter((step) => step.needs.includes(edit.id)).map((step) => step.id)]);
    case "renameStep":
      return new Set([edit.from, ...doc.steps.filter((step) => step.needs.includes(edit.from)).map((step) => step.id)]);
  }
}

describe("lossless round trip (property)", () => {
  it("parse -> random edit -> print -> parse is stable; untouched steps are byte-identical", () => {
    fc.assert(
      fc.property(
        docArbitrary.chain((doc) => fc.tuple(fc.constant(doc), editArbitrary(doc))),
        ([doc, edit]) => {
          const before = renderDoc(doc);
          const parsedBefore = parsePipeline(before);
          expect(parsedBefore.diagnostics).toEqual([]);
          if (edit.op === "addStep" && doc.steps.some((step) => step.id === edit.step.id)) return;
          if (edit.op === "addSteps" && edit.steps.some((added) => doc.steps.some((step) => step.id === added.id))) {
            return;
          }

          const result = applyEdit(before, edit);
          expect(result.lossless).toBe(true);
          const after = result.text;

          // It parses, and means what the edit says.
          const reparsed = parseYaml(after).document;
          expect(reparsed.errors).toEqual([]);
          expect(normalizeNeeds(reparsed.toJS())).toEqual(expectedData(parsedBefore.document.toJS(), edit));

          // Everything the edit does not touch is byte-identical: the head of the file...
          const head = before.slice(0, before.indexOf("stages:"));
          expect(after.startsWith(head)).toBe(true);
          // ...and every untouched step.
          const renamedFrom = edit.op === "renameStep" ? edit.from : undefined;
          const afterSlices = stepSlices(after);
          for (const [id, slice] of stepSlices(before)) {
            if (touched(doc, edit).has(id)) continue;
            expect(afterSlices.get(id === renamedFrom ? "" : id)).toBe(slice);
          }

          // The result is still a valid pipeline, except that dropping a need leaves a condition
          // reading a step that is no longer upstream, which validation must then point out.
          const errors = parsePipeline(after).diagnostics.filter((d) => d.severity === "error");
          const droppedNeed = edit.op === "removeStep" || edit.op === "removeSteps" || edit.op === "setNeeds";
          const removedLast =
            (edit.op === "removeStep" && doc.steps.length === 1) ||
            (edit.op === "removeSteps" && new Set(edit.ids).size === doc.steps.length);
          if (!removedLast) expect(errors.filter((d) => !(droppedNeed && d.code === "cel-reference"))).toEqual([]);

          // Printing again changes nothing: the same edit is idempotent, a no-op leaves the text.
          if (
            edit.op === "setNeeds" ||
            edit.op === "setStepField" ||
            edit.op === "moveStepToStage" ||
            edit.op === "moveStepsToStage"
          ) {
            expect(applyEdit(after, edit).text).toBe(after);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

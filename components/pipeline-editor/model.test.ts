import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addSteps } from "@/pipelines/spec/edit";
import {
  addToSelection,
  copiesOf,
  existingSelection,
  extendSelection,
  graphDiff,
  lineDiff,
  NO_SELECTION,
  newStep,
  readDocument,
  renameSelected,
  type Selection,
  selectAll,
  selectedSteps,
  selectOnly,
  stepsFromClipboard,
  stepsToClipboard,
  toggleSelected,
  uniqueId,
} from "./model";

describe("lineDiff", () => {
  it("turns one text into the other, marking only what changed", () => {
    const diff = lineDiff("a\nb\nc", "a\nx\nc\nd");
    expect(diff.map((line) => `${line.type[0]}${line.text}`)).toEqual(["sa", "rb", "ax", "sc", "ad"]);
  });

  it("reconstructs both sides for any pair of texts", () => {
    const text = fc.array(fc.constantFrom("a", "b", "c", "d", ""), { maxLength: 30 }).map((lines) => lines.join("\n"));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const diff = lineDiff(before, after);
        expect(
          diff
            .filter((l) => l.type !== "added")
            .map((l) => l.text)
            .join("\n"),
        ).toBe(before);
        expect(
          diff
            .filter((l) => l.type !== "removed")
            .map((l) => l.text)
            .join("\n"),
        ).toBe(after);
      }),
    );
  });
});

describe("the studio's document model", () => {
  it("reads steps, needs and per-step problems even when the pipeline is invalid", () => {
    const doc = readDocument(
      "name: x\nsteps:\n  - id: a\n    run: echo\n  - id: b\n    needs: [a, nope]\n    run: echo\n",
    );
    expect(doc.broken).toBe(false);
    expect(doc.steps.map((step) => [step.id, step.needs])).toEqual([
      ["a", []],
      ["b", ["a", "nope"]],
    ]);
    expect(doc.problemsByStep.get("b")?.[0]?.code).toBe("unknown-need");
    expect(doc.errors.length).toBeGreaterThan(0);
  });

  it("keeps the canvas's last graph when the YAML itself is broken", () => {
    expect(readDocument("name: [unclosed").broken).toBe(true);
  });

  it("makes unique ids, valid new steps, and round-trips steps through the clipboard", () => {
    expect(uniqueId("build", new Set(["build", "build-2"]))).toBe("build-3");
    expect(uniqueId("9 lives!", new Set())).toBe("lives-");
    const step = newStep("uses:http", "probe", ["build"]);
    expect(step).toEqual({ id: "probe", needs: "build", uses: "http", with: { url: "https://example.com/health" } });
    expect(stepsFromClipboard(stepsToClipboard([step]))).toEqual([step]);
    expect(stepsFromClipboard("not: [a list of steps")).toBeNull();
  });

  it("diffs two versions' graphs by step", () => {
    const before = readDocument("name: x\nsteps:\n  - id: a\n    run: echo 1\n  - id: b\n    run: echo\n").steps;
    const after = readDocument("name: x\nsteps:\n  - id: a\n    run: echo 2\n  - id: c\n    run: echo\n").steps;
    expect(Object.fromEntries(graphDiff(before, after))).toEqual({ a: "changed", b: "removed", c: "added" });
  });
});

describe("selection", () => {
  it("toggles with Shift/Ctrl+click, extends along edges, selects all and forgets deleted steps", () => {
    let selection = selectOnly("build");
    selection = toggleSelected(selection, "test");
    expect(selection).toEqual({ ids: ["build", "test"], active: "test" });
    selection = toggleSelected(selection, "test");
    expect(selection).toEqual({ ids: ["build"], active: "build" });
    selection = extendSelection(extendSelection(selection, "lint"), "deploy");
    expect(selection).toEqual({ ids: ["build", "lint", "deploy"], active: "deploy" });
    // Extending back onto a selected step moves the cursor, adds nothing.
    expect(extendSelection(selection, "lint")).toEqual({ ids: ["build", "lint", "deploy"], active: "lint" });
    expect(addToSelection(selection, ["lint", "docs"])).toEqual({
      ids: ["build", "lint", "deploy", "docs"],
      active: "deploy",
    });
    expect(addToSelection(NO_SELECTION, ["a", "b"])).toEqual({ ids: ["a", "b"], active: "a" });
    expect(selectAll(["a", "deploy", "c"], selection)).toEqual({ ids: ["a", "deploy", "c"], active: "deploy" });
    expect(selectAll(["a", "b"], selection).active).toBe("a");
    expect(existingSelection(selection, new Set(["build", "lint"]))).toEqual({
      ids: ["build", "lint"],
      active: "lint",
    });
    expect(renameSelected(selection, "lint", "checks").ids).toEqual(["build", "checks", "deploy"]);
    expect(selectOnly(null)).toBe(NO_SELECTION);
  });

  it("lists the selected steps in document order", () => {
    const doc = readDocument("name: x\nsteps:\n  - id: a\n    run: x\n  - id: b\n    run: x\n  - id: c\n    run: x\n");
    expect(selectedSteps({ ids: ["c", "a"], active: "a" }, doc.steps).map((step) => step.id)).toEqual(["a", "c"]);
  });

  it("keeps its invariants under any sequence of gestures: unique ids, the active one among them", () => {
    const ids = ["a", "b", "c", "d", "e"];
    const gesture = fc.oneof(
      fc.constantFrom(...ids).map((id) => (s: Selection) => toggleSelected(s, id)),
      fc.constantFrom(...ids).map((id) => (s: Selection) => extendSelection(s, id)),
      fc.constantFrom(...ids, null).map((id) => (_: Selection) => selectOnly(id)),
      fc.subarray(ids).map((box) => (s: Selection) => addToSelection(s, box)),
      fc.subarray(ids).map((kept) => (s: Selection) => existingSelection(s, new Set(kept))),
      fc.constant((s: Selection) => selectAll(ids, s)),
    );
    fc.assert(
      fc.property(fc.array(gesture, { maxLength: 20 }), (gestures) => {
        let selection: Selection = NO_SELECTION;
        for (const apply of gestures) {
          selection = apply(selection);
          expect(new Set(selection.ids).size).toBe(selection.ids.length);
          if (selection.ids.length === 0) expect(selection.active).toBeNull();
          else expect(selection.ids).toContain(selection.active);
        }
      }),
    );
  });
});

describe("copies of steps (duplicate, paste)", () => {
  const SOURCE = `name: source
steps:
  - id: build
    run: make
  - id: test
    needs: build
    if: steps.build.outcome == "success"
    run: make test
    outputs: [report]
  - id: deploy
    needs: [test, approve]
    env:
      FROM: \${{ steps.test.outputs.report }}
    run: ./deploy
  - id: approve
    manual: true
`;
  const source = readDocument(SOURCE);
  const raw = (ids: string[]) => source.steps.filter((step) => ids.includes(step.id)).map((step) => step.raw);

  it("pasted into another pipeline: ids kept when free, needs among them kept, others dropped and reported", () => {
    const copies = copiesOf(raw(["test", "deploy"]), new Set(["lint"]));
    expect(copies.steps.map((step) => [step.id, step.needs])).toEqual([
      ["test", undefined],
      ["deploy", ["test"]],
    ]);
    expect(copies.dropped).toEqual([
      { step: "test", need: "build" },
      { step: "deploy", need: "approve" },
    ]);
    // The copy's condition still names build (validation points it out): only ids are rewritten.
    expect(copies.steps[0]?.if).toBe('steps.build.outcome == "success"');
  });

  it("duplicated in the same pipeline: new ids, the copies refer to one another, needs on the rest kept", () => {
    const taken = new Set(source.steps.map((step) => step.id));
    const copies = copiesOf(raw(["build", "test", "deploy"]), taken);
    expect([...copies.renamed]).toEqual([
      ["build", "build-2"],
      ["test", "test-2"],
      ["deploy", "deploy-2"],
    ]);
    expect(copies.steps[1]).toEqual({
      id: "test-2",
      needs: "build-2",
      if: "steps['build-2'].outcome == \"success\"",
      run: "make test",
      outputs: ["report"],
    });
    expect(copies.steps[2]?.needs).toEqual(["test-2", "approve"]);
    expect(copies.steps[2]?.env).toEqual({ FROM: `\${{ steps['test-2'].outputs.report }}` });
    expect(copies.dropped).toEqual([]);
    expect(readDocument(SOURCE).errors).toEqual([]);
    const text = addSteps(SOURCE, copies.steps);
    expect(readDocument(text).errors).toEqual([]);
  });

  it("for any subset of any DAG: fresh unique ids, no need on a missing step, the same edges among the copies", () => {
    const dag = fc.integer({ min: 1, max: 9 }).chain((n) =>
      fc.tuple(
        fc.constant(n),
        fc.array(fc.nat({ max: 511 }), { minLength: n, maxLength: n }),
        fc.subarray(
          Array.from({ length: n }, (_, i) => i),
          { minLength: 1 },
        ),
        fc.subarray(["s0", "s1", "s0-2", "x"]),
      ),
    );
    fc.assert(
      fc.property(dag, ([n, masks, picked, targetIds]) => {
        const steps = Array.from({ length: n }, (_, i) => {
          const needs = Array.from({ length: i }, (_, j) => `s${j}`).filter((_, j) => ((masks[i] as number) >> j) & 1);
          return { id: `s${i}`, ...(needs.length > 0 ? { needs } : {}), run: "x" };
        });
        const chosen = picked.map((i) => steps[i] as (typeof steps)[number]);
        const taken = new Set(targetIds);
        const copies = copiesOf(chosen, taken);
        const newIds = copies.steps.map((step) => step.id as string);
        expect(new Set(newIds).size).toBe(newIds.length);
        for (const id of newIds) expect(taken.has(id)).toBe(false);
        const present = new Set([...taken, ...newIds]);
        chosen.forEach((original, k) => {
          const copy = copies.steps[k] as Record<string, unknown>;
          const needs = (copy.needs as string[] | undefined) ?? [];
          for (const need of needs) expect(present.has(need)).toBe(true);
          const amongChosen = (original.needs ?? []).filter((need) => chosen.some((step) => step.id === need));
          expect(needs.filter((need) => newIds.includes(need))).toEqual(
            amongChosen.map((need) => copies.renamed.get(need)),
          );
          const lost = (original.needs ?? []).filter((need) => !copies.renamed.has(need) && !taken.has(need));
          expect(copies.dropped.filter((d) => d.step === copy.id).map((d) => d.need)).toEqual(lost);
        });
      }),
    );
  });
});

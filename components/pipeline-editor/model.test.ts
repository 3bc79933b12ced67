import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graphDiff, lineDiff, newStep, readDocument, stepsFromClipboard, stepsToClipboard, uniqueId } from "./model";

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

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type LayoutNode, layoutDag, neighbourOf } from "./layout";

describe("layoutDag", () => {
  it("puts every step right of what it needs, and steps of one rank in one column", () => {
    const nodes: LayoutNode[] = [
      { id: "build", needs: [] },
      { id: "lint", needs: ["build"] },
      { id: "test", needs: ["build"] },
      { id: "deploy", needs: ["test", "lint"] },
    ];
    const layout = layoutDag(nodes);
    const x = (id: string) => layout.positions.get(id)?.x ?? Number.NaN;
    expect(x("lint")).toBe(x("test"));
    expect(x("build")).toBeLessThan(x("test"));
    expect(x("test")).toBeLessThan(x("deploy"));
    expect(layout.ranks).toEqual([["build"], ["lint", "test"], ["deploy"]]);
  });

  it("walks edges and columns with the arrow keys", () => {
    const nodes: LayoutNode[] = [
      { id: "a", needs: [] },
      { id: "b", needs: ["a"] },
      { id: "c", needs: ["a"] },
    ];
    const layout = layoutDag(nodes);
    expect(neighbourOf(layout, nodes, "a", "ArrowRight")).toMatch(/^[bc]$/);
    expect(neighbourOf(layout, nodes, "b", "ArrowLeft")).toBe("a");
    expect(neighbourOf(layout, nodes, "b", "ArrowDown")).toBe("c");
    expect(neighbourOf(layout, nodes, "a", "ArrowLeft")).toBeNull();
  });

  it("places every node once, without overlaps, for any graph (cycles and unknown needs included)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat(40), { maxLength: 4 }), { minLength: 1, maxLength: 40 }), (lists) => {
        const nodes = lists.map((needs, i) => ({ id: `s${i}`, needs: needs.map((j) => `s${j}`) }));
        const layout = layoutDag(nodes);
        expect(layout.positions.size).toBe(nodes.length);
        const seen = new Set<string>();
        for (const position of layout.positions.values()) {
          const key = `${position.x},${position.y}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
        // Acyclic edges always point right.
        for (const [i, needs] of lists.entries()) {
          for (const j of needs) {
            if (j >= i || j >= lists.length) continue;
            const from = layout.positions.get(`s${j}`);
            const to = layout.positions.get(`s${i}`);
            if (from && to && from.rank < to.rank) expect(from.x).toBeLessThan(to.x);
          }
        }
      }),
    );
  });

  it("lays out a 10,000-step tree", () => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => ({
      id: `s${i}`,
      needs: i === 0 ? [] : [`s${Math.floor((i - 1) / 3)}`],
    }));
    const layout = layoutDag(nodes);
    expect(layout.positions.size).toBe(10_000);
    expect(layout.ranks.length).toBe(10); // 1 + 3 + 9 + ... levels of a ternary tree
  });
});

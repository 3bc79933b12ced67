import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildDag,
  createAncestry,
  createDag,
  type DagInput,
  downstreamOf,
  expandInstances,
  findCycles,
  needsOf,
  topologicalOrder,
  upstreamOf,
} from "./dag";

/** A random DAG: every step needs only steps listed before it, ids shuffled by a permutation. */
const dagArbitrary = fc
  .integer({ min: 1, max: 40 })
  .chain((size) =>
    fc.tuple(
      fc.constant(size),
      fc.array(fc.array(fc.nat({ max: size - 1 }), { maxLength: 6 }), { minLength: size, maxLength: size }),
      fc.shuffledSubarray(
        Array.from({ length: size }, (_, i) => i),
        { minLength: size, maxLength: size },
      ),
    ),
  )
  .map(([size, rawNeeds, permutation]) => {
    const ids = permutation.map((n) => `s${n}`);
    const nodes: DagInput[] = [];
    for (let i = 0; i < size; i++) {
      const needs = (rawNeeds[i] ?? []).filter((j) => j < i).map((j) => ids[j] as string);
      nodes.push({ id: ids[i] as string, needs });
    }
    // Document order is not topological order: shuffle the listing too.
    return nodes.reverse();
  });

function reachableByNeeds(nodes: readonly DagInput[], from: string): Set<string> {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const seen = new Set<string>();
  const stack = [...(byId.get(from)?.needs ?? [])];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(byId.get(id)?.needs ?? []));
  }
  return seen;
}

describe("topologicalOrder", () => {
  it("puts every step after everything it needs (random DAGs)", () => {
    fc.assert(
      fc.property(dagArbitrary, (nodes) => {
        const dag = createDag(nodes);
        const { order, complete } = topologicalOrder(dag);
        expect(complete).toBe(true);
        expect(order).toHaveLength(nodes.length);
        const position = new Map(order.map((node, i) => [dag.ids[node], i]));
        for (const node of nodes) {
          for (const need of node.needs) expect(position.get(need)).toBeLessThan(position.get(node.id) as number);
        }
        expect(findCycles(dag)).toEqual([]);
      }),
    );
  });

  it("keeps document order among steps that are ready together", () => {
    const dag = createDag([
      { id: "lint", needs: [] },
      { id: "build", needs: [] },
      { id: "test", needs: ["build"] },
      { id: "docs", needs: [] },
    ]);
    expect(topologicalOrder(dag).order.map((node) => dag.ids[node])).toEqual(["lint", "build", "docs", "test"]);
  });
});

describe("findCycles", () => {
  it("always finds a cycle closed by a back edge, and the cycle is real (random DAGs)", () => {
    fc.assert(
      fc.property(dagArbitrary, fc.nat(), (nodes, pick) => {
        // Close a cycle: a step that something depends on transitively now needs that something.
        const withNeeds = nodes.filter((node) => node.needs.length > 0);
        fc.pre(withNeeds.length > 0);
        const from = withNeeds[pick % withNeeds.length] as DagInput;
        const upstream = [...reachableByNeeds(nodes, from.id)];
        const target = upstream[pick % upstream.length] as string;
        const cyclic = nodes.map((node) => (node.id === target ? { ...node, needs: [...node.needs, from.id] } : node));
        const dag = createDag(cyclic);
        expect(topologicalOrder(dag).complete).toBe(false);
        const cycles = findCycles(dag);
        expect(cycles.length).toBeGreaterThan(0);
        for (const cycle of cycles) {
          cycle.forEach((node, i) => {
            const next = cycle[(i + 1) % cycle.length] as number;
            expect(Array.from(needsOf(dag, node))).toContain(next);
          });
        }
      }),
    );
  });

  it("reports a self-need and separate cycles separately", () => {
    const dag = createDag([
      { id: "a", needs: ["a"] },
      { id: "b", needs: ["c"] },
      { id: "c", needs: ["b"] },
      { id: "d", needs: ["a"] },
    ]);
    expect(findCycles(dag).map((cycle) => cycle.map((node) => dag.ids[node]))).toEqual([["a"], ["b", "c"]]);
  });
});

describe("buildDag", () => {
  it("reports unknown needs and duplicate ids without failing", () => {
    const { dag, unknownNeeds, duplicateIds } = buildDag([
      { id: "a", needs: [] },
      { id: "b", needs: ["a", "nope", "a"] },
      { id: "a", needs: [] },
    ]);
    expect(unknownNeeds).toEqual([{ node: 1, needIndex: 1, need: "nope" }]);
    expect(duplicateIds).toEqual([{ id: "a", first: 0, duplicate: 2 }]);
    expect(Array.from(needsOf(dag, 1))).toEqual([0]);
  });
});

describe("upstream and downstream", () => {
  it("match a brute-force walk (random DAGs)", () => {
    fc.assert(
      fc.property(dagArbitrary, fc.nat(), (nodes, pick) => {
        const dag = createDag(nodes);
        const { rank } = topologicalOrder(dag);
        const isAncestor = createAncestry(dag, rank);
        const step = nodes[pick % nodes.length] as DagInput;
        const expectedUpstream = reachableByNeeds(nodes, step.id);
        expect(new Set(upstreamOf(dag, step.id))).toEqual(expectedUpstream);
        for (const other of nodes) {
          const answer = isAncestor(dag.index.get(other.id) as number, dag.index.get(step.id) as number);
          expect(answer).toBe(expectedUpstream.has(other.id));
        }
        const downstream = downstreamOf(dag, step.id);
        const expectedDownstream = nodes.filter(
          (node) => node.id === step.id || reachableByNeeds(nodes, node.id).has(step.id),
        );
        expect(new Set(downstream)).toEqual(new Set(expectedDownstream.map((node) => node.id)));
        // A re-run runs them in an order that respects needs.
        const position = new Map(downstream.map((id, i) => [id, i]));
        for (const id of downstream) {
          for (const need of nodes.find((node) => node.id === id)?.needs ?? []) {
            if (position.has(need)) expect(position.get(need)).toBeLessThan(position.get(id) as number);
          }
        }
      }),
    );
  });

  it("answers for a step that is not in the graph with an error", () => {
    expect(() => downstreamOf(createDag([{ id: "a", needs: [] }]), "b")).toThrow('unknown step "b"');
  });
});

describe("scale", () => {
  it("orders a 10,000-step chain and finds the cycle that closes it", () => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => ({ id: `s${i}`, needs: i === 0 ? [] : [`s${i - 1}`] }));
    const dag = createDag(nodes);
    const { order, complete } = topologicalOrder(dag);
    expect(complete).toBe(true);
    expect(order[9_999]).toBe(9_999);
    expect(downstreamOf(dag, "s9000")).toHaveLength(1_000);
    const cyclic = createDag(nodes.map((node) => (node.id === "s0" ? { id: "s0", needs: ["s9999"] } : node)));
    const cycles = findCycles(cyclic);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(10_000);
  });

  it("handles a step with 1,000 needs", () => {
    const nodes: DagInput[] = Array.from({ length: 1_000 }, (_, i) => ({ id: `leaf${i}`, needs: [] }));
    nodes.push({ id: "join", needs: nodes.map((node) => node.id) });
    const dag = createDag(nodes);
    expect(needsOf(dag, 1_000)).toHaveLength(1_000);
    expect(topologicalOrder(dag).order.at(-1)).toBe(1_000);
    expect(downstreamOf(dag, "leaf500")).toEqual(["leaf500", "join"]);
  });
});

describe("expandInstances", () => {
  it("expands matrices into instances that need whole steps", () => {
    const instances = expandInstances([
      { id: "build", needs: [] },
      { id: "test", needs: ["build"], matrix: { axes: { os: ["linux", "mac"], node: [20, 22] } } },
      { id: "publish", needs: ["test"] },
    ]);
    expect(instances.map((instance) => instance.id)).toEqual([
      "build",
      "test[node=20,os=linux]",
      "test[node=22,os=linux]",
      "test[node=20,os=mac]",
      "test[node=22,os=mac]",
      "publish",
    ]);
    expect(instances.at(-1)?.needs).toEqual(["test"]);
  });

  it("expands a 1,024-way matrix feeding another without quadratic edges", () => {
    const axes = { a: [0, 1, 2, 3], b: [0, 1, 2, 3], c: [0, 1, 2, 3], d: [0, 1, 2, 3], e: [0, 1, 2, 3] };
    const instances = expandInstances([
      { id: "left", needs: [], matrix: { axes } },
      { id: "right", needs: ["left"], matrix: { axes } },
    ]);
    expect(instances).toHaveLength(2_048);
    expect(new Set(instances.map((instance) => instance.id)).size).toBe(2_048);
    expect(instances[1_024]?.needs).toEqual(["left"]);
  });

  it("refuses a cyclic graph", () => {
    expect(() =>
      expandInstances([
        { id: "a", needs: ["b"] },
        { id: "b", needs: ["a"] },
      ]),
    ).toThrow("cycle");
  });
});

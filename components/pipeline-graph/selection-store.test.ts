import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSelectionStore } from "./selection-store";

/** A store with one listener per node of a `count`-step graph, counting notifications per node. */
function watched(count: number) {
  const store = createSelectionStore();
  const ids = Array.from({ length: count }, (_, i) => `step-${i}`);
  const calls = new Map<string, number>();
  for (const id of ids) store.subscribe(id, () => calls.set(id, (calls.get(id) ?? 0) + 1));
  const notified = () => {
    const list = [...calls.keys()].sort();
    calls.clear();
    return list;
  };
  return { store, ids, notified };
}

describe("the canvas's selection store", () => {
  it("on a 500-step graph a click notifies the two nodes concerned, not the graph", () => {
    const { store, ids, notified } = watched(500);
    store.set(["step-1"], "step-1");
    expect(notified()).toEqual(["step-1"]);
    store.set(["step-2"], "step-2");
    expect(notified()).toEqual(["step-1", "step-2"]);
    // Ctrl+click adds one: it and the previously active step (which stays selected).
    store.set(["step-2", "step-7"], "step-7");
    expect(notified()).toEqual(["step-2", "step-7"]);
    expect([store.stateOf("step-2"), store.stateOf("step-7"), store.stateOf("step-3")]).toEqual([1, 2, 0]);
    // Select all: every node not selected yet, once; the same selection again: nobody.
    store.set(ids, "step-7");
    expect(notified()).toHaveLength(498);
    store.set(ids, "step-7");
    expect(notified()).toEqual([]);
    store.set([], null);
    expect(notified()).toHaveLength(500);
  });

  it("notifies exactly the nodes whose state changed, for any sequence of selections", () => {
    const ids = Array.from({ length: 12 }, (_, i) => `step-${i}`);
    const selection = fc.record({
      ids: fc.subarray(ids),
      active: fc.option(fc.constantFrom(...ids), { nil: null }),
    });
    fc.assert(
      fc.property(fc.array(selection, { minLength: 1, maxLength: 8 }), (sequence) => {
        const { store, notified } = watched(12);
        let before = new Map(ids.map((id) => [id, store.stateOf(id)]));
        for (const next of sequence) {
          store.set(next.ids, next.active);
          const after = new Map(ids.map((id) => [id, store.stateOf(id)]));
          expect(notified()).toEqual(ids.filter((id) => before.get(id) !== after.get(id)).sort());
          for (const id of ids) {
            const expected = id === next.active ? 2 : next.ids.includes(id) ? 1 : 0;
            expect(after.get(id)).toBe(expected);
          }
          before = after;
        }
      }),
    );
  });

  it("stops notifying a node once it unsubscribes", () => {
    const store = createSelectionStore();
    let calls = 0;
    const unsubscribe = store.subscribe("a", () => calls++);
    store.set(["a"], "a");
    unsubscribe();
    store.set([], null);
    expect(calls).toBe(1);
  });
});

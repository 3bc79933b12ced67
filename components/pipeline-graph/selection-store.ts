// The canvas's selection, kept out of React Flow's nodes: each step node subscribes to its own
// id, and a change notifies only the nodes whose state changed (a click re-renders two nodes,
// Ctrl+A the ones not selected yet), never the graph. With 500 steps, a click must not hand
// React Flow (and the minimap) 500 new node objects.

/** A node's state: 0 not selected, 1 selected, 2 selected and active (the keyboard's step). */
export type NodeSelectionState = 0 | 1 | 2;

export interface SelectionStore {
  stateOf(id: string): NodeSelectionState;
  /** Replaces the selection; notifies the nodes whose state changed, and only them. */
  set(ids: Iterable<string>, active: string | null): void;
  /** Listens to one node's state. */
  subscribe(id: string, listener: () => void): () => void;
}

export function createSelectionStore(): SelectionStore {
  let selected = new Set<string>();
  let active: string | null = null;
  const listeners = new Map<string, Set<() => void>>();
  const stateOf = (id: string): NodeSelectionState => (id === active ? 2 : selected.has(id) ? 1 : 0);
  return {
    stateOf,
    set(ids, nextActive) {
      const next = new Set(ids);
      if (nextActive !== null) next.add(nextActive);
      const changed = new Set<string>();
      for (const id of selected) if (!next.has(id)) changed.add(id);
      for (const id of next) if (!selected.has(id)) changed.add(id);
      if (active !== nextActive) {
        if (active !== null) changed.add(active);
        if (nextActive !== null) changed.add(nextActive);
      }
      selected = next;
      active = nextActive;
      for (const id of changed) for (const listener of listeners.get(id) ?? []) listener();
    },
    subscribe(id, listener) {
      let set = listeners.get(id);
      if (!set) {
        set = new Set();
        listeners.set(id, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(id);
      };
    },
  };
}

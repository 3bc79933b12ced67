// Ready instances waiting for a slot, ordered by (readyAt, instance index): a total order that
// depends on the state alone, so a run reloaded from the database dispatches exactly as the
// one in memory would have. Entries are not removed when an instance stops being ready; the
// consumer skips entries whose readyAt no longer matches.
export interface ReadyEntry {
  readonly at: number;
  readonly instance: number;
}

function before(a: ReadyEntry, b: ReadyEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.instance < b.instance);
}

export class ReadyQueue {
  readonly #heap: ReadyEntry[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(entry: ReadyEntry): void {
    const heap = this.#heap;
    heap.push(entry);
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      const up = heap[parent] as ReadyEntry;
      if (!before(entry, up)) break;
      heap[child] = up;
      child = parent;
    }
    heap[child] = entry;
  }

  pop(): ReadyEntry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as ReadyEntry, heap[left] as ReadyEntry) ? right : left;
      if (!before(heap[child] as ReadyEntry, last)) break;
      heap[parent] = heap[child] as ReadyEntry;
      parent = child;
    }
    heap[parent] = last;
    return top;
  }
}

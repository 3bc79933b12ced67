import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LogLine } from "@/server/runs/schema";
import { groupMarkerOf, groupsOf, lineHash, parseLineHash, RowMap } from "./log-model";
import { LogStore, PAGE_LINES } from "./log-store";

const markers = (entries: [number, "start" | "end"][]) => new Map(entries);

describe("group markers", () => {
  it("recognises GitHub Actions' two spellings, on the displayed text", () => {
    expect(groupMarkerOf("::group::Install dependencies")).toEqual({ kind: "start", title: "Install dependencies" });
    expect(groupMarkerOf("##[group]Build")).toEqual({ kind: "start", title: "Build" });
    expect(groupMarkerOf("::endgroup::")).toEqual({ kind: "end" });
    expect(groupMarkerOf("##[endgroup]")).toEqual({ kind: "end" });
    expect(groupMarkerOf("\u001b[36m::group::Coloured\u001b[0m")).toEqual({ kind: "start", title: "Coloured" });
    expect(groupMarkerOf("  ::group:: indented is text")).toBeNull();
    expect(groupMarkerOf("::endgroup:: trailing")).toBeNull();
    expect(groupMarkerOf("::warning::not a group")).toBeNull();
  });

  it("pairs starts and ends; a start closes the open group; a stray end is a line", () => {
    expect(
      groupsOf(
        markers([
          [2, "start"],
          [5, "end"],
          [7, "end"],
          [8, "start"],
          [10, "start"],
        ]),
        12,
      ),
    ).toEqual([
      { start: 2, end: 5, hasEndMarker: true },
      { start: 8, end: 9, hasEndMarker: false },
      { start: 10, end: 12, hasEndMarker: false },
    ]);
  });
});

describe("RowMap", () => {
  it("shows every line when there are no groups", () => {
    const map = new RowMap(1_000_000, [], () => false);
    expect(map.count).toBe(1_000_000);
    expect(map.seqOfRow(0)).toBe(1);
    expect(map.seqOfRow(999_999)).toBe(1_000_000);
    expect(map.rowOfSeq(123_456)).toBe(123_455);
  });

  it("hides collapsed bodies and end markers, and maps hidden lines to the row standing for them", () => {
    // 1 a, 2 ::group::, 3 b, 4 c, 5 ::endgroup::, 6 d
    const groups = groupsOf(
      markers([
        [2, "start"],
        [5, "end"],
      ]),
      6,
    );
    const open = new RowMap(6, groups, () => false);
    expect(Array.from({ length: open.count }, (_, row) => open.seqOfRow(row))).toEqual([1, 2, 3, 4, 6]);
    expect(open.rowOfSeq(5)).toBe(3); // the end marker stands behind the last body line
    const closed = new RowMap(6, groups, () => true);
    expect(Array.from({ length: closed.count }, (_, row) => closed.seqOfRow(row))).toEqual([1, 2, 6]);
    expect([3, 4, 5].map((seq) => closed.rowOfSeq(seq))).toEqual([1, 1, 1]);
    expect(closed.isVisible(3)).toBe(false);
    expect(closed.groupAt(2)).toEqual(groups[0]);
    expect(closed.groupsHolding(4)).toEqual(groups);
  });

  it("keeps a consistent row <-> sequence number mapping for any markers and any collapsed set", () => {
    const scenario = fc.record({
      lastSeq: fc.integer({ min: 0, max: 300 }),
      marks: fc.array(fc.tuple(fc.integer({ min: 1, max: 320 }), fc.constantFrom("start", "end")), { maxLength: 60 }),
      collapsed: fc.func(fc.boolean()),
    });
    fc.assert(
      fc.property(scenario, ({ lastSeq, marks, collapsed }) => {
        const map = new RowMap(lastSeq, groupsOf(new Map(marks as [number, "start" | "end"][]), lastSeq), (g) =>
          collapsed(g.start),
        );
        const fail = (why: string) => {
          throw new Error(`${why} (lastSeq ${lastSeq}, marks ${JSON.stringify(marks)})`);
        };
        const shown = new Set<number>();
        let previous = 0;
        for (let row = 0; row < map.count; row++) {
          const seq = map.seqOfRow(row);
          // Round trip, in range, strictly increasing.
          if (map.rowOfSeq(seq) !== row) fail(`row ${row} shows ${seq}, which maps to ${map.rowOfSeq(seq)}`);
          if (!map.isVisible(seq)) fail(`row ${row} shows hidden ${seq}`);
          if (seq < 1 || seq > lastSeq || seq <= previous) fail(`row ${row} shows ${seq} after ${previous}`);
          shown.add(seq);
          previous = seq;
        }
        // Hidden lines are exactly end markers and bodies of collapsed groups...
        const hidden = new Set<number>();
        for (const group of map.groups) {
          if (group.hasEndMarker) hidden.add(group.end);
          if (collapsed(group.start)) for (let seq = group.start + 1; seq <= group.end; seq++) hidden.add(seq);
        }
        if (map.count !== lastSeq - hidden.size) fail(`${map.count} rows, ${hidden.size} hidden`);
        // ...and each stands behind the visible row just before it.
        for (let seq = 1; seq <= lastSeq; seq++) {
          if (hidden.has(seq) === shown.has(seq)) fail(`line ${seq} is both or neither shown and hidden`);
          if (shown.has(seq)) continue;
          const row = map.rowOfSeq(seq);
          if (map.count > 0 && (row < 0 || row >= map.count || map.seqOfRow(row) >= seq)) {
            fail(`hidden ${seq} stands behind row ${row}`);
          }
        }
        return true;
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("line links", () => {
  it("reads #L120 and #L120-L140 in either order, and nothing else", () => {
    expect(parseLineHash("#L120")).toEqual({ from: 120, to: 120 });
    expect(parseLineHash("#L140-L120")).toEqual({ from: 120, to: 140 });
    expect(parseLineHash("#L3-7")).toEqual({ from: 3, to: 7 });
    expect(parseLineHash("#L0")).toBeNull();
    expect(parseLineHash("#section")).toBeNull();
    expect(lineHash({ from: 5, to: 5 })).toBe("#L5");
    expect(lineHash({ from: 5, to: 9 })).toBe("#L5-L9");
  });
});

describe("LogStore", () => {
  const line = (seq: number, text = `line ${seq}`): LogLine => ({ seq, t: seq, stream: "stdout", text });

  it("merges live lines by sequence number, drops duplicates and reports gaps", () => {
    const store = new LogStore();
    store.put([1, 2, 3].map((seq) => line(seq)));
    store.startLiveAt(3);
    expect(store.put([line(3), line(4)], { live: true })).toBe(1);
    expect(store.duplicatesDropped).toBe(1);
    expect(store.liveThrough).toBe(4);
    store.put([line(8), line(9)], { live: true });
    expect(store.gapAfterLiveThrough()).toEqual({ after: 4, limit: 3 });
    store.put([5, 6, 7].map((seq) => line(seq)));
    expect(store.gapAfterLiveThrough()).toBeNull();
    expect(store.liveThrough).toBe(9);
    expect(store.lastSeq).toBe(9);
  });

  it("keeps at most maxPages pages, the least recently used going first, never the live tail", () => {
    const store = new LogStore(3);
    store.put([line(1)]);
    store.startLiveAt(4 * PAGE_LINES);
    for (let page = 1; page < 5; page++) store.put([line(page * PAGE_LINES + 1)]);
    expect(store.pageCount).toBe(3);
    expect(store.has(1)).toBe(false);
    expect(store.has(4 * PAGE_LINES + 1)).toBe(true);
    store.touch([2]);
    store.put([line(5 * PAGE_LINES + 1)]);
    expect(store.has(2 * PAGE_LINES + 1)).toBe(true);
    expect(store.has(3 * PAGE_LINES + 1)).toBe(false);
  });

  it("notes group markers from the lines it is given", () => {
    const store = new LogStore();
    store.put([line(1, "::group::Build"), line(2, "x"), line(3, "::endgroup::")]);
    expect([...store.markers]).toEqual([
      [1, "start"],
      [3, "end"],
    ]);
  });
});

import type { LogLine } from "@/server/runs/schema";
import { groupMarkerOf } from "./log-model";

// The lines the viewer holds: pages of PAGE_LINES consecutive sequence numbers, loaded on demand
// and kept in a least-recently-used cache of at most `maxPages` pages, so memory stays bounded
// whatever the size of the log. Live lines are merged into their pages by sequence number
// (duplicates dropped); `liveThrough` is the last line up to which nothing is missing since the
// viewer opened, which is where a (re)subscription resumes.

export const PAGE_LINES = 2_000;

/** A gap is fetched this many lines at a time at most (the API's page limit). */
const MAX_GAP_FETCH = 10_000;

export const pageOf = (seq: number) => Math.floor((seq - 1) / PAGE_LINES);

interface Page {
  lines: (LogLine | undefined)[];
  /** Slots filled. */
  filled: number;
}

export class LogStore {
  private readonly pages = new Map<number, Page>();
  /** Highest sequence number known to exist (from a page, a subscription ack or a live line). */
  lastSeq = 0;
  /** Every line from the one the viewer opened after up to this one has arrived. */
  liveThrough = 0;
  /** Group markers seen in any line (sequence number -> kind). */
  readonly markers = new Map<number, "start" | "end">();
  /** Changes whenever what the viewer shows may change (for rendering). */
  version = 0;
  /** Live lines merged, and live lines that were already there (counted, for diagnostics). */
  liveReceived = 0;
  duplicatesDropped = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly maxPages = 100) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.version++;
    for (const listener of this.listeners) listener();
  }

  get(seq: number): LogLine | undefined {
    return this.pages.get(pageOf(seq))?.lines[(seq - 1) % PAGE_LINES];
  }

  has(seq: number): boolean {
    return this.get(seq) !== undefined;
  }

  /** Marks pages as recently used (the ones on screen), so eviction takes others first. */
  touch(pages: Iterable<number>): void {
    for (const index of pages) {
      const page = this.pages.get(index);
      if (page) {
        this.pages.delete(index);
        this.pages.set(index, page);
      }
    }
  }

  /** Whether every line of the page up to lastSeq is held. */
  isPageComplete(index: number): boolean {
    const page = this.pages.get(index);
    const size = Math.max(0, Math.min(PAGE_LINES, this.lastSeq - index * PAGE_LINES));
    return page !== undefined && page.filled >= size;
  }

  /** Adds lines (any order, duplicates ignored); returns how many were new. */
  put(lines: readonly LogLine[], options: { live?: boolean } = {}): number {
    let added = 0;
    for (const line of lines) {
      if (line.seq < 1) continue;
      const index = pageOf(line.seq);
      let page = this.pages.get(index);
      if (!page) {
        page = { lines: new Array(PAGE_LINES), filled: 0 };
        this.pages.set(index, page);
      }
      const slot = (line.seq - 1) % PAGE_LINES;
      if (page.lines[slot] === undefined) {
        page.lines[slot] = line;
        page.filled++;
        added++;
        if (options.live) this.liveReceived++;
      } else if (options.live) {
        this.duplicatesDropped++;
      }
      if (line.seq > this.lastSeq) this.lastSeq = line.seq;
      const marker = groupMarkerOf(line.text);
      if (marker && !this.markers.has(line.seq)) this.markers.set(line.seq, marker.kind);
    }
    this.advanceLiveThrough();
    this.evict();
    if (added > 0 || lines.length > 0) this.changed();
    return added;
  }

  /** The log is known to reach at least this line. */
  noteLastSeq(seq: number): void {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      this.changed();
    }
  }

  /** Where live following starts: lines up to `seq` are read over REST when needed. */
  startLiveAt(seq: number): void {
    this.liveThrough = Math.max(this.liveThrough, seq);
    this.advanceLiveThrough();
  }

  addMarkers(markers: Iterable<[number, "start" | "end"]>): void {
    let changed = false;
    for (const [seq, kind] of markers) {
      if (this.markers.get(seq) !== kind) {
        this.markers.set(seq, kind);
        changed = true;
      }
    }
    if (changed) this.changed();
  }

  private advanceLiveThrough(): void {
    while (this.liveThrough < this.lastSeq && this.has(this.liveThrough + 1)) this.liveThrough++;
  }

  /** The first missing stretch after liveThrough, if lines beyond it have arrived (a gap to fetch). */
  gapAfterLiveThrough(): { after: number; limit: number } | null {
    if (this.liveThrough >= this.lastSeq) return null;
    let end = this.liveThrough + 1;
    const stop = Math.min(this.lastSeq, this.liveThrough + MAX_GAP_FETCH);
    while (end <= stop && !this.has(end)) end++;
    if (end > this.lastSeq) return null; // nothing after it yet: not a gap, just the tail
    return { after: this.liveThrough, limit: end - this.liveThrough - 1 };
  }

  private evict(): void {
    // The least recently used pages go first; never the one the live tail is writing into.
    const tail = pageOf(Math.max(1, this.liveThrough + 1));
    for (const index of this.pages.keys()) {
      if (this.pages.size <= this.maxPages) break;
      if (index !== tail) this.pages.delete(index);
    }
  }

  get pageCount(): number {
    return this.pages.size;
  }
}

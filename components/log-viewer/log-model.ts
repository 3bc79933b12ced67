import { stripAnsi } from "./ansi";

// The rows of a log: one per line, except that collapsible sections (GitHub Actions'
// `::group::Title` ... `::endgroup::`, also written `##[group]` / `##[endgroup]`) show only
// their header while collapsed, and end markers never show. Lines are numbered by sequence
// number (1..lastSeq, no gaps); the row map turns a row of the virtualized list into the
// sequence number it shows and back, in O(log groups), for a million lines or more.

export type GroupMarker = { kind: "start"; title: string } | { kind: "end" };

const START = /^(?:::group::|##\[group\])(.*)$/;
const END = /^(?:::endgroup::|##\[endgroup\])\s*$/;

/** The group marker a line is, judged on its displayed text. */
export function groupMarkerOf(text: string): GroupMarker | null {
  const shown = stripAnsi(text);
  if (!shown.startsWith("::") && !shown.startsWith("##[")) return null;
  const start = START.exec(shown);
  if (start) return { kind: "start", title: (start[1] ?? "").trim() };
  return END.test(shown) ? { kind: "end" } : null;
}

/**
 * The server-side search (a JavaScript pattern, case-sensitive) that finds every marker line of
 * a log; a match of 9 characters starts a group, one of 12 ends it.
 */
export const GROUP_MARKER_SEARCH = "^(?:::|##\\[)(?:end)?group(?:::|\\])";
export const markerKindOfMatchLength = (length: number): "start" | "end" => (length >= 12 ? "end" : "start");

export interface LogGroup {
  /** The header line (the start marker). */
  start: number;
  /** The last line of the body (the end marker itself, when there is one; lastSeq while open). */
  end: number;
  /** The body ends at an end marker line, which is never shown. */
  hasEndMarker: boolean;
}

/**
 * Groups from marker lines (sequence number -> kind), in order. Groups do not nest (as in
 * GitHub Actions): a start while a group is open ends that group just before it; an end with no
 * open group is an ordinary line.
 */
export function groupsOf(markers: ReadonlyMap<number, "start" | "end">, lastSeq: number): LogGroup[] {
  const seqs = [...markers.keys()].filter((seq) => seq >= 1 && seq <= lastSeq).sort((a, b) => a - b);
  const groups: LogGroup[] = [];
  let open: number | null = null;
  for (const seq of seqs) {
    const kind = markers.get(seq);
    if (kind === "start") {
      if (open !== null) groups.push({ start: open, end: seq - 1, hasEndMarker: false });
      open = seq;
    } else if (open !== null) {
      groups.push({ start: open, end: seq, hasEndMarker: true });
      open = null;
    }
  }
  if (open !== null) groups.push({ start: open, end: lastSeq, hasEndMarker: false });
  return groups;
}

/** A maximal stretch of visible lines: rows [row, row + length) show seqs [seq, seq + length). */
interface Run {
  row: number;
  seq: number;
  length: number;
}

export class RowMap {
  private readonly runs: Run[];
  /** Number of rows. */
  readonly count: number;
  private readonly headers: Map<number, LogGroup>;

  constructor(
    readonly lastSeq: number,
    readonly groups: readonly LogGroup[],
    isCollapsed: (group: LogGroup) => boolean,
  ) {
    this.headers = new Map(groups.map((group) => [group.start, group]));
    const runs: Run[] = [];
    let row = 0;
    let seq = 1;
    const visible = (until: number) => {
      // Lines seq..until are shown.
      if (until < seq) return;
      const previous = runs[runs.length - 1];
      if (previous && previous.seq + previous.length === seq) previous.length += until - seq + 1;
      else runs.push({ row, seq, length: until - seq + 1 });
      row += until - seq + 1;
      seq = until + 1;
    };
    for (const group of groups) {
      visible(group.start); // everything before the group, and its header
      if (isCollapsed(group)) {
        seq = group.end + 1;
      } else {
        visible(group.hasEndMarker ? group.end - 1 : group.end);
        seq = group.end + 1;
      }
    }
    visible(lastSeq);
    this.runs = runs;
    this.count = row;
  }

  /** The sequence number a row shows. */
  seqOfRow(row: number): number {
    const runs = this.runs;
    let low = 0;
    let high = runs.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((runs[mid] as Run).row <= row) low = mid;
      else high = mid - 1;
    }
    const run = runs[low];
    if (!run) return 0;
    return run.seq + Math.min(Math.max(0, row - run.row), run.length - 1);
  }

  /** The run holding seq, or the last one before it (-1: none). */
  private runAtOrBefore(seq: number): number {
    const runs = this.runs;
    let low = 0;
    let high = runs.length - 1;
    if (high < 0 || (runs[0] as Run).seq > seq) return -1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((runs[mid] as Run).seq <= seq) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  isVisible(seq: number): boolean {
    const run = this.runs[this.runAtOrBefore(seq)];
    return run !== undefined && seq < run.seq + run.length;
  }

  /**
   * The row showing seq: its own row when visible, otherwise the row standing for it (the header
   * of the collapsed group holding it, or the last body line before an end marker).
   */
  rowOfSeq(seq: number): number {
    const index = this.runAtOrBefore(seq);
    const run = this.runs[index];
    if (!run) return 0;
    return run.row + Math.min(seq - run.seq, run.length - 1);
  }

  /** The group whose header is this line. */
  groupAt(seq: number): LogGroup | undefined {
    return this.headers.get(seq);
  }

  /** The groups whose body holds seq (to expand them to show it). */
  groupsHolding(seq: number): LogGroup[] {
    return this.groups.filter((group) => seq > group.start && seq <= group.end);
  }
}

/** Parses `#L120` and `#L120-L140` (either order); null for anything else. */
export function parseLineHash(hash: string): { from: number; to: number } | null {
  const match = /^#L(\d{1,9})(?:-L?(\d{1,9}))?$/.exec(hash);
  if (!match) return null;
  const a = Number(match[1]);
  const b = match[2] === undefined ? a : Number(match[2]);
  if (a < 1 || b < 1) return null;
  return { from: Math.min(a, b), to: Math.max(a, b) };
}

export function lineHash(range: { from: number; to: number }): string {
  return range.from === range.to ? `#L${range.from}` : `#L${range.from}-L${range.to}`;
}

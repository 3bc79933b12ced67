// Diagnostics of the pipeline language: one shape for YAML syntax errors, schema errors and
// semantic errors, so the editor, the API and the CLI show them the same way.

export type DiagnosticSeverity = "error" | "warning" | "info";

/** Stable codes: the UI maps them to help pages and i18n keys; messages may change, codes do not. */
export type DiagnosticCode =
  | "yaml-syntax"
  | "empty-document"
  | "not-a-mapping"
  | "unknown-key"
  | "missing-field"
  | "invalid-type"
  | "invalid-value"
  | "duplicate-id"
  | "unknown-need"
  | "duplicate-need"
  | "cycle"
  | "unknown-stage"
  | "missing-kind"
  | "multiple-kinds"
  | "field-not-allowed"
  | "unknown-step-kind"
  | "invalid-input"
  | "cel-syntax"
  | "cel-type"
  | "cel-reference"
  | "invalid-interpolation"
  | "secret-reference"
  | "matrix-too-large"
  | "invalid-matrix"
  | "invalid-cron"
  | "invalid-timezone"
  | "invalid-param"
  | "unknown-handler"
  | "unused-handler"
  | "invalid-artifact"
  | "too-many-steps";

/**
 * A diagnostic anchored in the document. Lines and columns are 1-based, columns count UTF-16
 * code units (what editors such as Monaco and CodeMirror use); the end is exclusive.
 */
export interface Diagnostic {
  path: (string | number)[];
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  message: string;
  code: DiagnosticCode;
  severity: DiagnosticSeverity;
}

/**
 * A diagnostic before it has a position: what validation produces from plain data. `target`
 * says which part of the node at `path` is meant: its key, its value, or a range inside a
 * string value (a CEL expression, a cron field, an interpolation).
 */
export interface Issue {
  path: (string | number)[];
  message: string;
  code: DiagnosticCode;
  severity: DiagnosticSeverity;
  target?: { kind: "key" } | { kind: "value" } | { kind: "range"; start: number; end: number };
}

/** `steps[3].needs[1]`: how paths read in messages and logs. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Optimal string alignment distance, bounded: returns max + 1 as soon as it is exceeded. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prevPrev: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, (prevPrev[j - 2] ?? 0) + 1);
      }
      row.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > max) return max + 1;
    prevPrev = prev;
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * The closest candidate to `input`, or undefined when nothing is close enough to be a typo
 * (a third of the length, at least 1, at most 3 edits; case differences count as close).
 */
export function closestMatch(input: string, candidates: Iterable<string>): string | undefined {
  const lower = input.toLowerCase();
  const budget = Math.max(1, Math.min(3, Math.floor(input.length / 3)));
  let best: string | undefined;
  let bestDistance = budget + 1;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const candidateLower = candidate.toLowerCase();
    if (candidateLower === lower) return candidate;
    const distance = editDistance(lower, candidateLower, budget);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or the empty string. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const match = closestMatch(input, candidates);
  return match === undefined ? "" : `; did you mean "${match}"?`;
}

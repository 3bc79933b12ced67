// The studio's view of a pipeline document: the YAML text is the one source of truth; the
// canvas, the property panel and the problems list are derived from it, and every visual edit
// is a lossless edit of the text (pipelines/spec/edit.ts), so comments and formatting survive.
// pipelines/ is framework-free and isomorphic: the studio runs the same parser and edit API in
// the browser for instant feedback; the server validates again on save.
import { type Document, parse as parseYamlText, stringify } from "yaml";
import type { Diagnostic } from "@/pipelines/spec/diagnostics";
import { renameStepReferences } from "@/pipelines/spec/edit";
import { type ParseResult, parsePipeline } from "@/pipelines/spec/parse";
import { STEP_ID_PATTERN, stepKindOf } from "@/pipelines/spec/schema";

export interface DocStep {
  id: string;
  needs: string[];
  kind: string;
  name: string | null;
  uses: string | null;
  stage: string | null;
  handler: boolean;
  /** The step as plain data (for the property panel and copy). */
  raw: Record<string, unknown>;
  /** Index in its section, for diagnostics (`steps[3]`). */
  index: number;
}

export interface StudioDocument {
  parse: ParseResult;
  steps: DocStep[];
  handlers: DocStep[];
  stages: { id: string; name: string }[];
  /** The YAML could not be read at all (syntax error): the canvas keeps the last good graph. */
  broken: boolean;
  problemsByStep: Map<string, Diagnostic[]>;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function listOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function stepsOf(section: unknown, handler: boolean): DocStep[] {
  if (!Array.isArray(section)) return [];
  const steps: DocStep[] = [];
  section.forEach((raw, index) => {
    if (!isRecord(raw) || typeof raw.id !== "string") return;
    steps.push({
      id: raw.id,
      needs: listOf(raw.needs),
      kind: stepKindOf(raw) ?? "run",
      name: typeof raw.name === "string" ? raw.name : null,
      uses: typeof raw.uses === "string" ? raw.uses : null,
      stage: typeof raw.stage === "string" ? raw.stage : null,
      handler,
      raw,
      index,
    });
  });
  return steps;
}

export function readDocument(yaml: string): StudioDocument {
  const parse = parsePipeline(yaml);
  const data =
    (parse.document as Document).errors.length === 0
      ? (parse.document.toJS({ maxAliasCount: 1_000 }) as unknown)
      : null;
  const steps = isRecord(data) ? stepsOf(data.steps, false) : [];
  const handlers = isRecord(data) ? stepsOf(data.handlers, true) : [];
  const stages =
    isRecord(data) && Array.isArray(data.stages)
      ? data.stages
          .filter(isRecord)
          .filter((stage) => typeof stage.id === "string")
          .map((stage) => ({
            id: stage.id as string,
            name: typeof stage.name === "string" ? stage.name : (stage.id as string),
          }))
      : [];
  const problemsByStep = new Map<string, Diagnostic[]>();
  for (const diagnostic of parse.diagnostics) {
    const [section, index] = diagnostic.path;
    if ((section !== "steps" && section !== "handlers") || typeof index !== "number") continue;
    const step = (section === "steps" ? steps : handlers).find((candidate) => candidate.index === index);
    if (!step) continue;
    const list = problemsByStep.get(step.id) ?? [];
    list.push(diagnostic);
    problemsByStep.set(step.id, list);
  }
  return {
    parse,
    steps,
    handlers,
    stages,
    broken: data === null,
    problemsByStep,
    errors: parse.diagnostics.filter((diagnostic) => diagnostic.severity === "error"),
    warnings: parse.diagnostics.filter((diagnostic) => diagnostic.severity !== "error"),
  };
}

/** `base`, or `base-2`, `base-3` ... whichever is not taken (and is a valid id). */
export function uniqueId(base: string, taken: ReadonlySet<string>): string {
  let clean = base.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^[^A-Za-z_]+/, "");
  if (!STEP_ID_PATTERN.test(clean)) clean = "step";
  if (!taken.has(clean)) return clean;
  for (let n = 2; ; n++) {
    const candidate = `${clean}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export type NewStepKind = "run" | "approval" | "gate" | "manual" | `uses:${string}`;

/** A new step of a kind, minimal but valid, needing `needs`. */
export function newStep(kind: NewStepKind, id: string, needs: readonly string[]): Record<string, unknown> {
  const base: Record<string, unknown> = { id };
  if (needs.length === 1) base.needs = needs[0];
  else if (needs.length > 1) base.needs = [...needs];
  if (kind === "run") return { ...base, run: 'echo "hello"' };
  if (kind === "approval") return { ...base, approval: { approvers: { roles: ["approver"] } } };
  if (kind === "gate") return { ...base, gate: { condition: "true", interval: "30s", timeout: "10m" } };
  if (kind === "manual") return { ...base, manual: true };
  const uses = kind.slice("uses:".length);
  const defaults: Record<string, Record<string, unknown>> = {
    http: { url: "https://example.com/health" },
    sleep: { duration: "10s" },
    notify: { channel: "webhook", to: "https://hooks.example.com/notify", message: "Done" },
    checkout: {},
  };
  const inputs = defaults[uses];
  return inputs && Object.keys(inputs).length > 0 ? { ...base, uses, with: inputs } : { ...base, uses };
}

/** Steps as YAML for the clipboard (a list, as they would sit under `steps:`). */
export function stepsToClipboard(steps: readonly Record<string, unknown>[]): string {
  return stringify(steps, { lineWidth: 0 });
}

/** Steps from clipboard text: a YAML list of steps (or one step), each with an id. */
export function stepsFromClipboard(text: string): Record<string, unknown>[] | null {
  let data: unknown;
  try {
    data = parseYamlText(text);
  } catch {
    return null;
  }
  const list = Array.isArray(data) ? data : [data];
  if (list.length === 0 || !list.every((item) => isRecord(item) && typeof item.id === "string")) return null;
  return list as Record<string, unknown>[];
}

// ---------------------------------------------------------------------------------------------
// Selection: which steps the canvas has selected, and the active one (the keyboard's cursor,
// the one Enter opens and Shift+arrow extends from). Plain values; the studio keeps one.

export interface Selection {
  /** Selected step ids, in the order they were selected. */
  readonly ids: readonly string[];
  /** The step the keyboard is on; one of `ids`, or null when nothing is selected. */
  readonly active: string | null;
}

export const NO_SELECTION: Selection = { ids: [], active: null };

/** Just this step (a plain click or arrow key), or nothing. */
export function selectOnly(id: string | null): Selection {
  return id === null ? NO_SELECTION : { ids: [id], active: id };
}

/** Shift/Ctrl+click: in or out of the selection. Taking out the active step makes the last one active. */
export function toggleSelected(selection: Selection, id: string): Selection {
  if (!selection.ids.includes(id)) return { ids: [...selection.ids, id], active: id };
  const ids = selection.ids.filter((other) => other !== id);
  return { ids, active: selection.active === id ? (ids.at(-1) ?? null) : selection.active };
}

/** Shift+arrow: the step joins the selection (if not in it yet) and becomes the active one. */
export function extendSelection(selection: Selection, id: string): Selection {
  return { ids: selection.ids.includes(id) ? selection.ids : [...selection.ids, id], active: id };
}

/** Rubber band: these steps join the selection; the active one stays unless there was none. */
export function addToSelection(selection: Selection, ids: readonly string[]): Selection {
  const known = new Set(selection.ids);
  const added = ids.filter((id) => !known.has(id) && known.add(id));
  if (added.length === 0) return selection;
  return { ids: [...selection.ids, ...added], active: selection.active ?? added[0] ?? null };
}

/** Ctrl+A: every step, keeping the active one when it is among them. */
export function selectAll(ids: readonly string[], selection: Selection = NO_SELECTION): Selection {
  const active = selection.active !== null && ids.includes(selection.active) ? selection.active : (ids[0] ?? null);
  return { ids: [...ids], active };
}

/** The selection without the steps the document no longer has (after an undo, or typing in the YAML). */
export function existingSelection(selection: Selection, existing: ReadonlySet<string>): Selection {
  if (selection.ids.every((id) => existing.has(id))) return selection;
  const ids = selection.ids.filter((id) => existing.has(id));
  const active = selection.active !== null && existing.has(selection.active) ? selection.active : (ids.at(-1) ?? null);
  return { ids, active };
}

/** The selection after a step was renamed. */
export function renameSelected(selection: Selection, from: string, to: string): Selection {
  if (!selection.ids.includes(from)) return selection;
  return {
    ids: selection.ids.map((id) => (id === from ? to : id)),
    active: selection.active === from ? to : selection.active,
  };
}

/** The selected steps in the order the document has them (what bulk edits and the clipboard use). */
export function selectedSteps(selection: Selection, steps: readonly DocStep[]): DocStep[] {
  if (selection.ids.length === 0) return [];
  const ids = new Set(selection.ids);
  return steps.filter((step) => ids.has(step.id));
}

// ---------------------------------------------------------------------------------------------
// Copies of steps (duplicate, paste): new ids where taken, and their references to one another
// following the new ids.

export interface Copies {
  steps: Record<string, unknown>[];
  /** Original id -> the copy's id. */
  renamed: Map<string, string>;
  /** Needs on steps neither copied along nor present in the pipeline: dropped. */
  dropped: { step: string; need: string }[];
}

/**
 * Copies of `steps` for a pipeline whose ids are `taken`: each gets a free id; needs (and
 * conditions, templates, artifact fetches) on steps copied along follow the copies' ids; needs on
 * other steps are kept when the pipeline has them (`existing`, by default `taken`), dropped
 * otherwise.
 */
export function copiesOf(
  steps: readonly Readonly<Record<string, unknown>>[],
  taken: ReadonlySet<string>,
  existing: ReadonlySet<string> = taken,
): Copies {
  const used = new Set(taken);
  const renamed = new Map<string, string>();
  const ids = steps.map((step) => {
    const id = uniqueId(String(step.id), used);
    used.add(id);
    if (!renamed.has(String(step.id))) renamed.set(String(step.id), id);
    return id;
  });
  const dropped: Copies["dropped"] = [];
  const copies = steps.map((step, i) => {
    const id = ids[i] as string;
    const needs = listOf(step.needs).filter((need) => {
      if (renamed.has(need) || existing.has(need)) return true;
      dropped.push({ step: id, need });
      return false;
    });
    const copy = renameStepReferences({ ...step, id }, renamed);
    const renamedNeeds = needs.map((need) => renamed.get(need) ?? need);
    if (renamedNeeds.length === 0) delete copy.needs;
    else copy.needs = typeof step.needs === "string" ? renamedNeeds[0] : renamedNeeds;
    return copy;
  });
  return { steps: copies, renamed, dropped };
}

/** Which steps a newer version added, removed or changed (by id). */
export function graphDiff(
  before: readonly DocStep[],
  after: readonly DocStep[],
): Map<string, "added" | "removed" | "changed"> {
  const marks = new Map<string, "added" | "removed" | "changed">();
  const old = new Map(before.map((step) => [step.id, JSON.stringify(step.raw)]));
  const next = new Map(after.map((step) => [step.id, JSON.stringify(step.raw)]));
  for (const [id, raw] of next) {
    if (!old.has(id)) marks.set(id, "added");
    else if (old.get(id) !== raw) marks.set(id, "changed");
  }
  for (const id of old.keys()) if (!next.has(id)) marks.set(id, "removed");
  return marks;
}

export interface DiffLine {
  type: "same" | "added" | "removed";
  text: string;
  /** 1-based line numbers in the old and new text (null where the line is absent). */
  oldLine: number | null;
  newLine: number | null;
}

/** A line diff (Myers' O(ND) shortest edit script). */
export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max;
  const v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number)))
        x = v[offset + k + 1] as number;
      else x = (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk the trace back to the start.
  const lines: DiffLine[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d] as Int32Array;
    const k = x - y;
    let prevK: number;
    if (k === -d || (k !== d && (vd[offset + k - 1] as number) < (vd[offset + k + 1] as number))) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : (vd[offset + prevK] as number);
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      lines.push({ type: "same", text: a[x - 1] as string, oldLine: x, newLine: y });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) lines.push({ type: "added", text: b[y - 1] as string, oldLine: null, newLine: y });
      else lines.push({ type: "removed", text: a[x - 1] as string, oldLine: x, newLine: null });
    }
    x = prevX;
    y = prevY;
  }
  return lines.reverse();
}

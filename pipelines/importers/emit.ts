// Writing the imported pipeline: ids that satisfy the language, the YAML document (block style,
// short lists in flow style, comments on the steps that came from somewhere surprising), and a
// final parsePipeline so the user gets what the editor would say about it.
import { Document, isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from "yaml";
import { parsePipeline } from "../spec/parse";
import { PIPELINE_LIMITS, STEP_ID_PATTERN } from "../spec/schema";
import type { NoteList } from "./source";
import type { ImportResult } from "./types";

/** A step id from any job name: invalid characters become `-`, a leading digit gets `job-`. */
export function sanitizeId(name: string, fallback = "job"): string {
  let id = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
  if (id === "") id = fallback;
  if (!/^[A-Za-z_]/.test(id)) id = `${fallback}-${id}`;
  return id.slice(0, PIPELINE_LIMITS.maxIdLength - 6);
}

/** Hands out unique step ids; names are sanitized first, then suffixed `-2`, `-3`, ... */
export class IdAllocator {
  readonly #used = new Set<string>();

  allocate(name: string, fallback = "job"): string {
    const base =
      STEP_ID_PATTERN.test(name) && name.length <= PIPELINE_LIMITS.maxIdLength - 6 ? name : sanitizeId(name, fallback);
    let id = base;
    for (let n = 2; this.#used.has(id); n++) id = `${base}-${n}`;
    this.#used.add(id);
    return id;
  }

  has(id: string): boolean {
    return this.#used.has(id);
  }
}

/** A name usable for params, matrix keys and artifacts (letters, digits, `_`, `-`). */
export function sanitizeName(name: string, fallback = "value"): string {
  return sanitizeId(name, fallback);
}

/** A shell/env variable name. */
export function sanitizeEnvName(name: string): string {
  let out = name.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z_]/.test(out)) out = `_${out}`;
  return out;
}

/** Seconds as a Microstack duration: 5400 -> 1h30m. */
export function formatDuration(totalSeconds: number): string {
  let rest = Math.max(1, Math.round(totalSeconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      parts.push(`${count}${unit}`);
      rest -= count * size;
    }
  }
  return parts.join("");
}

const STEP_KEY_ORDER = [
  "id",
  "name",
  "description",
  "stage",
  "needs",
  "if",
  "matrix",
  "image",
  "shell",
  "working-directory",
  "env",
  "timeout",
  "retry",
  "continue-on-error",
  "outputs",
  "artifacts",
  "on-failure",
  "rollback",
  "uses",
  "with",
  "approval",
  "gate",
  "manual",
  "run",
];

/** A step's keys in the order people read them: identity, graph, environment, then the work. */
export function orderStep(step: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of STEP_KEY_ORDER) if (step[key] !== undefined) out[key] = step[key];
  for (const [key, value] of Object.entries(step)) if (!(key in out) && value !== undefined) out[key] = value;
  return out;
}

export interface RenderInput {
  header: string[];
  pipeline: Record<string, unknown>;
  /** Comment lines above a step, by step id. */
  stepComments: ReadonlyMap<string, readonly string[]>;
}

function flowShortLists(node: unknown, parentKey: string | null): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : null;
      flowShortLists(pair.value, key);
    }
    return;
  }
  if (!isSeq(node)) return;
  const scalars = node.items.every((item) => isScalar(item));
  if (scalars && parentKey !== "steps") {
    const length = node.items.reduce((sum: number, item) => sum + String((item as Scalar).value).length + 2, 0);
    const multiline = node.items.some((item) => String((item as Scalar).value).includes("\n"));
    if (length <= 80 && !multiline) node.flow = true;
    return;
  }
  for (const item of node.items) flowShortLists(item, null);
}

function commentText(lines: readonly string[]): string {
  return lines.map((line) => ` ${line}`.trimEnd()).join("\n");
}

/** The pipeline as YAML: block style, short scalar lists in flow style, comments on steps. */
export function renderPipeline(input: RenderInput): string {
  const pipeline = { ...input.pipeline };
  if (Array.isArray(pipeline.steps)) pipeline.steps = (pipeline.steps as Record<string, unknown>[]).map(orderStep);
  if (Array.isArray(pipeline.handlers))
    pipeline.handlers = (pipeline.handlers as Record<string, unknown>[]).map(orderStep);
  const document = new Document(pipeline);
  if (input.header.length > 0) document.commentBefore = commentText(input.header);
  flowShortLists(document.contents, null);
  const steps = document.get("steps", true) as Node | undefined;
  if (steps !== undefined && isSeq(steps)) {
    for (const item of steps.items) {
      if (!isMap(item)) continue;
      const id = (item as YAMLMap).get("id");
      const lines = typeof id === "string" ? input.stepComments.get(id) : undefined;
      if (lines !== undefined && lines.length > 0) (item as YAMLMap).commentBefore = commentText(lines);
    }
  }
  // Conditions that start with "!" or contain ": " must be quoted; the library decides that.
  // Multi-line strings (scripts) come out as literal blocks.
  return document.toString({ lineWidth: 0, flowCollectionPadding: false, blockQuote: "literal" });
}

/**
 * Renders the pipeline and checks it with parsePipeline. An error here is a bug in the
 * importer; it is reported as a note instead of throwing, with the YAML kept so the user can
 * fix it in the editor.
 */
export function finishImport(input: RenderInput, notes: NoteList): ImportResult {
  const yaml = renderPipeline(input);
  const parsed = parsePipeline(yaml);
  for (const diagnostic of parsed.diagnostics) {
    if (diagnostic.severity !== "error") continue;
    notes.addAtStart(
      "error",
      "invalid-output",
      `The imported pipeline has an error at line ${diagnostic.line} of the generated YAML (${diagnostic.message}); fix it in the editor. This is a bug in the importer: please report it with the source file.`,
    );
  }
  return { yaml, pipeline: parsed.pipeline, notes: notes.sorted() };
}

/** Rewrites needs through steps that were not imported: X needs S, S needs A, B -> X needs A, B. */
export function relinkNeeds(
  needs: ReadonlyMap<string, readonly string[]>,
  skipped: ReadonlySet<string>,
): Map<string, string[]> {
  const resolved = new Map<string, string[]>();
  const expand = (id: string, seen: Set<string>): string[] => {
    if (!skipped.has(id)) return [id];
    if (seen.has(id)) return [];
    seen.add(id);
    return (needs.get(id) ?? []).flatMap((next) => expand(next, seen));
  };
  for (const [id, list] of needs) {
    if (skipped.has(id)) continue;
    const out: string[] = [];
    for (const need of list) for (const target of expand(need, new Set())) if (!out.includes(target)) out.push(target);
    resolved.set(id, out);
  }
  return resolved;
}

/** Ancestors of every node of a DAG given as needs lists (cycles are tolerated). */
export function ancestorsOf(needs: ReadonlyMap<string, readonly string[]>): Map<string, Set<string>> {
  const memo = new Map<string, Set<string>>();
  const visit = (id: string, stack: Set<string>): Set<string> => {
    const cached = memo.get(id);
    if (cached !== undefined) return cached;
    const out = new Set<string>();
    if (stack.has(id)) return out;
    stack.add(id);
    for (const need of needs.get(id) ?? []) {
      out.add(need);
      for (const ancestor of visit(need, stack)) out.add(ancestor);
    }
    stack.delete(id);
    memo.set(id, out);
    return out;
  };
  for (const id of needs.keys()) visit(id, new Set());
  return memo;
}

/** The approval step that stands in for GitHub's environments and GitLab's protected ones. */
export function approvalStep(options: {
  id: string;
  name: string;
  environment: string | null;
  message: string;
  needs: readonly string[];
  condition: string | null;
  stage?: string;
  /** Env the condition reads. */
  env?: Record<string, string | number | boolean>;
}): Record<string, unknown> {
  const step: Record<string, unknown> = { id: options.id, name: options.name };
  if (options.stage !== undefined) step.stage = options.stage;
  if (options.needs.length > 0) step.needs = [...options.needs];
  if (options.condition !== null) step.if = options.condition;
  if (options.env !== undefined) step.env = options.env;
  const approval: Record<string, unknown> = { approvers: { roles: ["approver"] } };
  if (options.environment !== null) approval.environment = options.environment;
  approval.message = options.message;
  step.approval = approval;
  return step;
}

export const APPROVER_ROLE_NOTE =
  "The approvers are the built-in approver role, and the environment's own protection rules apply as well; list the real reviewers under approval.approvers.";

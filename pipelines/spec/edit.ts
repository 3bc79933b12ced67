// Lossless edits of a pipeline's YAML, for the visual editor and the API. Each operation finds
// its nodes in the parsed YAML Document (source ranges and CST tokens) and changes only their
// characters: comments, key order, quoting, blank lines and every byte the edit does not touch
// survive. The result is re-parsed and compared with the same change applied to plain data;
// should the splice ever disagree (an exotic layout), the edit falls back to the Document API
// (still keeps comments, may reformat) and says so with `lossless: false`.
import { parse as parseCel, type ASTNode } from "@marcbachmann/cel-js";
import {
  type CST,
  Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  Scalar,
  type ToStringOptions,
  visit,
  YAMLMap,
  YAMLSeq,
} from "yaml";
import { scanInterpolations, unwrapCondition } from "./expressions";
import { STEP_ID_PATTERN } from "./schema";
import { keyOf, locate, parseYaml, scalarSourceRange } from "./yaml-source";

export type PipelineEdit =
  | { op: "addStep"; step: Readonly<Record<string, unknown>>; after?: string; section?: "steps" | "handlers" }
  /** Several steps at once, in this order, right after `after` (else at the end of the section). */
  | {
      op: "addSteps";
      steps: readonly Readonly<Record<string, unknown>>[];
      after?: string;
      section?: "steps" | "handlers";
    }
  | { op: "removeStep"; id: string }
  | { op: "removeSteps"; ids: readonly string[] }
  | { op: "renameStep"; from: string; to: string }
  | { op: "setNeeds"; id: string; needs: readonly string[] }
  | { op: "setStepField"; id: string; field: string | readonly (string | number)[]; value: unknown }
  | { op: "moveStepToStage"; id: string; stage: string | null }
  | { op: "moveStepsToStage"; ids: readonly string[]; stage: string | null };

export interface EditResult {
  text: string;
  /** False when the edit had to fall back to re-printing the document. */
  lossless: boolean;
}

export class PipelineEditError extends Error {
  constructor(
    readonly code: "not-found" | "conflict" | "invalid" | "syntax",
    message: string,
  ) {
    super(message);
    this.name = "PipelineEditError";
  }
}

type Path = (string | number)[];

/** Primitive changes, addressed against the document before the edit. */
type Change =
  | { kind: "set"; path: Path; value: unknown }
  | { kind: "delete"; path: Path }
  | { kind: "insert"; seq: Path; after: number; value: unknown }
  | { kind: "remove"; seq: Path; index: number }
  /** A partial change of a string value (a reference inside a condition). */
  | { kind: "splice"; path: Path; from: number; to: number; text: string };

interface Patch {
  start: number;
  end: number;
  text: string;
  order: number;
}

/** The keys of a step, in the order a new key is inserted (and completion offers them). */
export const STEP_KEY_ORDER = [
  "id",
  "name",
  "description",
  "stage",
  "needs",
  "if",
  "matrix",
  "env",
  "timeout",
  "retry",
  "continue-on-error",
  "run",
  "image",
  "shell",
  "working-directory",
  "uses",
  "with",
  "approval",
  "gate",
  "manual",
  "outputs",
  "artifacts",
  "on-failure",
  "rollback",
];

/** The top-level keys of a pipeline, in the order a new key is inserted. */
export const PIPELINE_KEY_ORDER = [
  "version",
  "name",
  "description",
  "params",
  "triggers",
  "env",
  "concurrency",
  "timeout",
  "stages",
  "steps",
  "handlers",
  "on-failure",
  "finally",
];

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && deepEqual(a[key], b[key]));
  }
  return Number.isNaN(a) && Number.isNaN(b);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

// ---------------------------------------------------------------------------------------------
// Applying changes to plain data: the expected result every splice is checked against.

function getIn(data: unknown, path: readonly (string | number)[]): unknown {
  let current = data;
  for (const segment of path) {
    if (Array.isArray(current)) current = current[segment as number];
    else if (isRecord(current)) current = current[segment as string];
    else return undefined;
  }
  return current;
}

function orderChanges(changes: readonly Change[]): Change[] {
  // Sets, deletes and splices address positions that inserts and removes would shift, so they
  // go first; then sequence changes, deepest sequences first (a removal in steps must not shift
  // the steps whose needs are changed), each sequence from the highest index down.
  const positional = changes.filter((change) => change.kind === "insert" || change.kind === "remove");
  const rest = changes.filter((change) => change.kind !== "insert" && change.kind !== "remove");
  const depth = (change: Change) =>
    change.kind === "insert" ? change.seq.length : change.kind === "remove" ? change.seq.length : 0;
  const index = (change: Change) =>
    change.kind === "insert" ? change.after + 0.5 : change.kind === "remove" ? change.index : 0;
  return [...rest, ...positional.sort((a, b) => depth(b) - depth(a) || index(b) - index(a))];
}

function applyToData(data: unknown, changes: readonly Change[]): unknown {
  const root = clone(data) as Record<string, unknown>;
  for (const change of orderChanges(changes)) {
    if (change.kind === "set" || change.kind === "delete") {
      const parentPath = change.path.slice(0, -1);
      const last = change.path[change.path.length - 1] as string | number;
      let parent: unknown = root;
      for (const segment of parentPath) {
        let next = getIn(parent, [segment]);
        if (next === undefined && change.kind === "set") {
          next = {};
          (parent as Record<string, unknown>)[segment as string] = next;
        }
        parent = next;
      }
      if (change.kind === "set") (parent as Record<string | number, unknown>)[last] = clone(change.value);
      else if (Array.isArray(parent)) parent.splice(last as number, 1);
      else if (isRecord(parent)) delete parent[last as string];
    } else if (change.kind === "splice") {
      const parent = getIn(root, change.path.slice(0, -1)) as Record<string | number, unknown>;
      const last = change.path[change.path.length - 1] as string | number;
      const value = String(parent[last]);
      parent[last] = value.slice(0, change.from) + change.text + value.slice(change.to);
    } else if (change.kind === "insert") {
      const seq = getIn(root, change.seq);
      if (Array.isArray(seq)) seq.splice(change.after + 1, 0, clone(change.value));
      else root[change.seq[0] as string] = [clone(change.value)];
    } else {
      const seq = getIn(root, change.seq) as unknown[];
      seq.splice(change.index, 1);
    }
  }
  return root;
}

/** The Document API route: keeps comments, may reformat. */
function applyToDocument(text: string, changes: readonly Change[]): string {
  const { document } = parseYaml(text);
  for (const change of orderChanges(changes)) {
    if (change.kind === "set") document.setIn(change.path, document.createNode(change.value));
    else if (change.kind === "delete") document.deleteIn(change.path);
    else if (change.kind === "splice") {
      const value = String(document.getIn(change.path));
      document.setIn(change.path, value.slice(0, change.from) + change.text + value.slice(change.to));
    } else if (change.kind === "insert") {
      const seq = document.getIn(change.seq, true);
      if (isSeq(seq)) seq.items.splice(change.after + 1, 0, document.createNode(change.value));
      else document.setIn(change.seq, document.createNode([change.value]));
    } else {
      const seq = document.getIn(change.seq, true);
      if (isSeq(seq)) seq.items.splice(change.index, 1);
    }
  }
  return document.toString({ lineWidth: 0, flowCollectionPadding: /\[ \S/.test(text) });
}

// ---------------------------------------------------------------------------------------------
// Splicing text.

class Splicer {
  readonly document;
  readonly patches: Patch[] = [];
  /** Flow sequences (`[a, b]`) are rewritten whole, once, with all their changes. */
  readonly flowSeqs = new Map<YAMLSeq, unknown[]>();
  readonly eol: string;
  readonly indent: number;
  readonly indentSeq: boolean;
  readonly flowPadding: boolean;

  constructor(readonly text: string) {
    this.document = parseYaml(text, { keepSourceTokens: true }).document;
    if (this.document.errors.length > 0) {
      throw new PipelineEditError("syntax", "the document has YAML errors; fix them before editing visually");
    }
    this.eol = text.includes("\r\n") ? "\r\n" : "\n";
    const style = this.detectStyle();
    this.indent = style.indent;
    this.indentSeq = style.indentSeq;
    this.flowPadding = /\[ \S/.test(text);
  }

  private detectStyle(): { indent: number; indentSeq: boolean } {
    const found = locate(this.document, ["steps"]);
    const seq = found.node;
    if (found.key?.range && seq !== null && isSeq(seq) && !seq.flow && seq.items.length > 0) {
      const keyColumn = this.column(found.key.range[0]);
      const dash = this.dashOffset(seq, 0);
      const first = seq.items[0] as Node;
      if (dash !== null && first.range) {
        const dashColumn = this.column(dash);
        const contentColumn = this.column(first.range[0]);
        return { indent: Math.max(1, contentColumn - dashColumn), indentSeq: dashColumn > keyColumn };
      }
    }
    return { indent: 2, indentSeq: true };
  }

  get stringifyOptions(): ToStringOptions {
    return {
      indent: this.indent,
      indentSeq: this.indentSeq,
      lineWidth: 0,
      minContentWidth: 0,
      flowCollectionPadding: this.flowPadding,
    };
  }

  column(offset: number): number {
    return offset - (this.text.lastIndexOf("\n", offset - 1) + 1);
  }

  lineStart(offset: number): number {
    return this.text.lastIndexOf("\n", offset - 1) + 1;
  }

  /** Offset just past the end of the line holding `offset` (past its EOL), or the text's end. */
  nextLineStart(offset: number): number {
    const newline = this.text.indexOf("\n", offset);
    return newline === -1 ? this.text.length : newline + 1;
  }

  /** End of a node's own characters: block collections and block scalars end with a newline. */
  contentEnd(node: Node): number {
    const range = node.range;
    if (!range) throw new PipelineEditError("invalid", "node without a source range");
    let end = range[1];
    if (this.text[end - 1] === "\n") end--;
    if (this.text[end - 1] === "\r") end--;
    return Math.max(range[0], end);
  }

  dashOffset(seq: YAMLSeq, index: number): number | null {
    const token = seq.srcToken as CST.BlockSequence | CST.FlowCollection | undefined;
    if (token?.type !== "block-seq") return null;
    const item = token.items[index];
    const dash = item?.start.find((part) => part.type === "seq-item-ind");
    return dash?.offset ?? null;
  }

  patch(start: number, end: number, text: string): void {
    this.patches.push({ start, end, text, order: this.patches.length });
  }

  result(): string {
    for (const [seq, values] of this.flowSeqs) this.replaceWholeSeq(seq, values);
    this.flowSeqs.clear();
    // From the end backwards; at one offset the earlier change first, so a later insert lands before
    // it, as on plain data where each insert goes right after the same anchor.
    const sorted = [...this.patches].sort((a, b) => b.start - a.start || a.order - b.order);
    let text = this.text;
    let limit = Number.POSITIVE_INFINITY;
    for (const patch of sorted) {
      if (patch.end > limit) throw new PipelineEditError("conflict", "overlapping changes");
      text = text.slice(0, patch.start) + patch.text + text.slice(patch.end);
      limit = patch.start;
    }
    return text;
  }

  private styled(value: unknown): Document {
    const document = new Document(value);
    visit(document, {
      Seq: (_, node) => {
        // Short lists of plain values read best inline, as people write them: needs: [a, b].
        if (node.items.every((item) => isScalar(item) && !String(item.value).includes("\n"))) {
          const length = node.items.reduce<number>((sum, item) => sum + String((item as Scalar).value).length + 2, 2);
          if (length <= 60 && node.items.length > 0) node.flow = true;
        }
      },
    });
    return document;
  }

  private lines(text: string): string {
    return text.replace(/\n$/, "").split("\n").join(this.eol);
  }

  /** Text after `key:` for a value whose key is at `keyColumn`: ` x`, ` [a]`, ` |-…`, `\n  a: 1…`. */
  afterColon(value: unknown, keyColumn: number): string {
    const rendered = this.styled({ k: value }).toString(this.stringifyOptions).replace(/\n$/, "");
    const body = rendered.slice(2);
    const pad = " ".repeat(keyColumn);
    return this.lines(
      body
        .split("\n")
        .map((line, i) => (i === 0 || line === "" ? line : pad + line))
        .join("\n"),
    );
  }

  /** `- value` for a sequence whose dashes are at `dashColumn`, later lines indented to match. */
  seqItem(value: unknown, dashColumn: number): string {
    const document = this.styled([value]);
    if (document.contents instanceof YAMLSeq) document.contents.flow = false;
    const rendered = document.toString(this.stringifyOptions).replace(/\n$/, "");
    const pad = " ".repeat(dashColumn);
    return this.lines(
      rendered
        .split("\n")
        .map((line, i) => (i === 0 || line === "" ? line : pad + line))
        .join("\n"),
    );
  }

  flow(value: unknown): string {
    const document = new Document(value);
    if (document.contents instanceof YAMLSeq || document.contents instanceof YAMLMap) document.contents.flow = true;
    return document.toString(this.stringifyOptions).replace(/\n$/, "");
  }

  /** A scalar in the style of the one it replaces. */
  scalarLike(old: Scalar, value: unknown): string {
    const scalar = new Scalar(value);
    if (typeof value === "string" && (old.type === Scalar.QUOTE_DOUBLE || old.type === Scalar.QUOTE_SINGLE)) {
      scalar.type = old.type;
    }
    return new Document(scalar).toString(this.stringifyOptions).replace(/\n$/, "");
  }

  // -------------------------------------------------------------------------------------------

  apply(change: Change): void {
    switch (change.kind) {
      case "set":
        this.set(change.path, change.value);
        return;
      case "delete":
        this.delete(change.path);
        return;
      case "insert":
        this.insert(change.seq, change.after, change.value);
        return;
      case "remove":
        this.remove(change.seq, change.index);
        return;
      case "splice":
        this.splice(change);
        return;
    }
  }

  private splice(change: Extract<Change, { kind: "splice" }>): void {
    const found = locate(this.document, change.path);
    const node = found.node;
    if (!found.complete || node === null || !isScalar(node)) throw new PipelineEditError("conflict", "not a string");
    const range = scalarSourceRange(this.text, node, change.from, change.to);
    if (range === null) throw new PipelineEditError("conflict", "string style cannot be patched in place");
    let text = change.text;
    if (node.type === Scalar.QUOTE_DOUBLE) text = text.replace(/[\\"]/g, (char) => `\\${char}`);
    else if (node.type === Scalar.QUOTE_SINGLE) text = text.replace(/'/g, "''");
    else if (node.type === Scalar.PLAIN && /[[\]{},#]|: /.test(text) && this.insideFlow(change.path)) {
      throw new PipelineEditError("conflict", "plain scalar inside a flow collection");
    }
    this.patch(range[0], range[1], text);
  }

  private insideFlow(path: Path): boolean {
    for (let i = 0; i < path.length; i++) {
      const node = locate(this.document, path.slice(0, i)).node;
      if ((isMap(node) || isSeq(node)) && node.flow) return true;
    }
    return false;
  }

  private set(path: Path, value: unknown): void {
    const parentPath = path.slice(0, -1);
    const last = path[path.length - 1];
    const parent = locate(this.document, parentPath);
    if (!parent.complete || parent.node === null) {
      // Create the missing ancestors as one nested value at the deepest existing map.
      let depth = parentPath.length - 1;
      while (
        depth >= 0 &&
        !(
          locate(this.document, path.slice(0, depth)).complete &&
          locate(this.document, path.slice(0, depth)).node !== null
        )
      )
        depth--;
      const nested = path.slice(depth + 1).reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
      this.set(path.slice(0, depth + 1), nested);
      return;
    }
    const container = parent.node;
    if (isSeq(container) && typeof last === "number") {
      const item = container.items[last] as Node | undefined;
      if (item === undefined) throw new PipelineEditError("not-found", `no item ${last}`);
      this.replaceSeqItem(container, last, value);
      return;
    }
    if (!isMap(container) || typeof last !== "string") throw new PipelineEditError("invalid", "not a mapping");
    if (container.flow) {
      this.replaceWhole(parentPath, { ...(this.document.getIn(parentPath) as YAMLMap).toJSON(), [last]: value });
      return;
    }
    const pair = container.items.find((item) => keyOf(item) === last);
    if (pair === undefined) this.insertPair(container, parentPath, last, value);
    else this.replacePairValue(pair, value);
  }

  /** Replaces the value at `path` (which exists) entirely. */
  private replaceWhole(path: Path, value: unknown): void {
    const found = locate(this.document, path);
    if (found.pair !== null) this.replacePairValue(found.pair, value);
    else if (path.length > 0 && typeof path[path.length - 1] === "number") {
      const seq = locate(this.document, path.slice(0, -1)).node;
      if (!isSeq(seq)) throw new PipelineEditError("invalid", "not a sequence");
      this.replaceSeqItem(seq, path[path.length - 1] as number, value);
    } else throw new PipelineEditError("conflict", "cannot replace the document root");
  }

  private replacePairValue(pair: Pair, value: unknown): void {
    const key = pair.key as Node;
    if (!key.range) throw new PipelineEditError("invalid", "key without range");
    const old = (pair.value as Node | null) ?? null;
    const keyColumn = this.column(key.range[0]);
    const colon = this.text.indexOf(":", key.range[1]);
    if (colon === -1) throw new PipelineEditError("conflict", "no ':' after key");
    const oldIsBlockCollection = old !== null && (isMap(old) || isSeq(old)) && !old.flow;
    const newIsCollection =
      (Array.isArray(value) && value.length > 0) || (isRecord(value) && Object.keys(value).length > 0);

    if (old !== null && isSeq(old) && old.flow && Array.isArray(value)) {
      if (!old.range) throw new PipelineEditError("invalid", "node without range");
      this.patch(old.range[0], old.range[1], this.flow(value));
      return;
    }
    const rendered = this.afterColon(value, keyColumn);
    if (oldIsBlockCollection && newIsCollection && rendered.startsWith(this.eol) && old.range) {
      // Block to block: keep whatever sits between `key:` and the value (a comment, say).
      const valueColumn = this.column(old.range[0]);
      const bodyLines = rendered.slice(this.eol.length).split(this.eol);
      const childIndent = (bodyLines[0] ?? "").length - (bodyLines[0] ?? "").trimStart().length;
      const pad = " ".repeat(valueColumn);
      const body = bodyLines
        .map((line, i) => {
          const stripped = line.slice(Math.min(childIndent, line.length - line.trimStart().length));
          return i === 0 || stripped === "" ? stripped : pad + stripped;
        })
        .join(this.eol);
      this.patch(old.range[0], this.contentEnd(old), body);
      return;
    }
    const end = old === null || !old.range ? colon + 1 : this.contentEnd(old);
    this.patch(colon + 1, Math.max(colon + 1, end), rendered);
  }

  private replaceSeqItem(seq: YAMLSeq, index: number, value: unknown): void {
    const item = seq.items[index] as Node;
    if (!item.range) throw new PipelineEditError("invalid", "item without range");
    if (seq.flow) {
      this.flowValues(seq)[index] = value;
      return;
    }
    const dash = this.dashOffset(seq, index);
    if (dash === null) throw new PipelineEditError("conflict", "no '-' for the item");
    const text = this.seqItem(value, this.column(dash));
    this.patch(dash, this.contentEnd(item), text);
  }

  private flowValues(seq: YAMLSeq): unknown[] {
    let values = this.flowSeqs.get(seq);
    if (values === undefined) {
      values = [...(seq.toJSON() as unknown[])];
      this.flowSeqs.set(seq, values);
    }
    return values;
  }

  private replaceWholeSeq(seq: YAMLSeq, values: unknown[]): void {
    if (!seq.range) throw new PipelineEditError("invalid", "node without range");
    this.patch(seq.range[0], seq.range[1], this.flow(values));
  }

  private insertPair(map: YAMLMap, mapPath: Path, key: string, value: unknown): void {
    const order = mapPath.length === 0 ? PIPELINE_KEY_ORDER : isStepPath(mapPath) ? STEP_KEY_ORDER : [];
    const rank = order.indexOf(key);
    const pairs = map.items as Pair[];
    let after: Pair | undefined;
    if (rank !== -1) {
      for (const pair of pairs) {
        const pairRank = order.indexOf(String(keyOf(pair)));
        if (pairRank !== -1 && pairRank < rank) after = pair;
      }
    }
    const first = pairs[0];
    if (first === undefined) {
      this.replaceWhole(mapPath, { [key]: value });
      return;
    }
    const firstKey = first.key as Node;
    if (!firstKey.range) throw new PipelineEditError("invalid", "key without range");
    const keyColumn = this.column(firstKey.range[0]);
    const line = `${" ".repeat(keyColumn)}${this.renderKey(key)}:${this.afterColon(value, keyColumn)}`;
    const firstAtLineStart = this.text.slice(this.lineStart(firstKey.range[0]), firstKey.range[0]).trim() === "";
    if (after === undefined && rank !== -1 && firstAtLineStart) {
      this.patch(this.lineStart(firstKey.range[0]), this.lineStart(firstKey.range[0]), line + this.eol);
      return;
    }
    const anchor = after ?? (rank === -1 ? pairs[pairs.length - 1] : first) ?? first;
    this.insertLineAfter(anchor, line);
  }

  private renderKey(key: string): string {
    return new Document(key).toString(this.stringifyOptions).replace(/\n$/, "");
  }

  private insertLineAfter(anchor: Pair | Node, line: string): void {
    const node = isPair(anchor) ? ((anchor.value as Node | null) ?? (anchor.key as Node | null)) : anchor;
    if (node === null || !node.range) throw new PipelineEditError("invalid", "anchor without range");
    const end = this.contentEnd(node);
    const newline = this.text.indexOf("\n", end);
    if (newline === -1) this.patch(this.text.length, this.text.length, this.eol + line);
    else this.patch(newline + 1, newline + 1, line + this.eol);
  }

  private delete(path: Path): void {
    const found = locate(this.document, path);
    if (!found.complete) return;
    const parentPath = path.slice(0, -1);
    const container = locate(this.document, parentPath).node;
    const last = path[path.length - 1];
    if (isSeq(container) && typeof last === "number") {
      this.remove(parentPath, last);
      return;
    }
    if (!isMap(container) || found.pair === null) return;
    if (container.flow) {
      const json = { ...(container.toJSON() as Record<string, unknown>) };
      delete json[last as string];
      this.replaceWhole(parentPath, json);
      return;
    }
    const pairs = container.items as Pair[];
    if (pairs.length === 1) {
      this.replaceWhole(parentPath, {});
      return;
    }
    const pair = found.pair;
    const key = pair.key as Node;
    if (!key.range) throw new PipelineEditError("invalid", "key without range");
    const value = (pair.value as Node | null) ?? key;
    const lineStart = this.lineStart(key.range[0]);
    if (this.text.slice(lineStart, key.range[0]).trim() === "") {
      this.patch(lineStart, this.nextLineStart(this.contentEnd(value)), "");
      return;
    }
    // The first key of a sequence item shares the line with '-': pull the next key up.
    const next = pairs[pairs.indexOf(pair) + 1];
    const nextKey = next?.key as Node | undefined;
    if (!nextKey?.range) throw new PipelineEditError("conflict", "cannot delete the only key of an item");
    this.patch(key.range[0], nextKey.range[0], "");
  }

  private insert(seqPath: Path, after: number, value: unknown): void {
    const found = locate(this.document, seqPath);
    const seq = found.node;
    if (!found.complete || seq === null) {
      this.set(seqPath, [value]);
      return;
    }
    if (!isSeq(seq)) throw new PipelineEditError("invalid", `${seqPath.join(".")} is not a list`);
    if (seq.flow) {
      this.flowValues(seq).splice(after + 1, 0, value);
      return;
    }
    if (seq.items.length === 0) {
      this.replaceWhole(seqPath, [value]);
      return;
    }
    const anchorIndex = Math.max(0, Math.min(after, seq.items.length - 1));
    const dash = this.dashOffset(seq, anchorIndex);
    if (dash === null) throw new PipelineEditError("conflict", "no '-' for the item");
    const dashColumn = this.column(dash);
    const line = " ".repeat(dashColumn) + this.seqItem(value, dashColumn);
    if (after < 0) {
      const start = this.lineStart(dash);
      this.patch(start, start, line + this.eol);
    } else {
      this.insertLineAfter(seq.items[anchorIndex] as Node, line);
    }
  }

  private remove(seqPath: Path, index: number): void {
    const seq = locate(this.document, seqPath).node;
    if (!isSeq(seq)) throw new PipelineEditError("invalid", `${seqPath.join(".")} is not a list`);
    if (seq.flow) {
      this.flowValues(seq).splice(index, 1);
      return;
    }
    if (seq.items.length === 1) {
      this.replaceWhole(seqPath, []);
      return;
    }
    const item = seq.items[index] as Node | undefined;
    const dash = this.dashOffset(seq, index);
    if (item === undefined || dash === null) throw new PipelineEditError("conflict", "no '-' for the item");
    const start = this.lineStart(dash);
    if (this.text.slice(start, dash).trim() !== "") throw new PipelineEditError("conflict", "item shares its line");
    this.patch(start, this.nextLineStart(this.contentEnd(item)), "");
  }
}

function isStepPath(path: Path): boolean {
  return path.length === 2 && (path[0] === "steps" || path[0] === "handlers") && typeof path[1] === "number";
}

// ---------------------------------------------------------------------------------------------
// Operations as changes.

interface StepLocation {
  section: "steps" | "handlers";
  index: number;
  data: Record<string, unknown>;
}

function stepsOf(data: Record<string, unknown>): StepLocation[] {
  const out: StepLocation[] = [];
  for (const section of ["steps", "handlers"] as const) {
    const list = data[section];
    if (!Array.isArray(list)) continue;
    list.forEach((item, index) => {
      if (isRecord(item)) out.push({ section, index, data: item });
    });
  }
  return out;
}

function findStep(data: Record<string, unknown>, id: string): StepLocation {
  const found = stepsOf(data).find((step) => step.data.id === id);
  if (found === undefined) throw new PipelineEditError("not-found", `no step "${id}"`);
  return found;
}

function assertNewId(data: Record<string, unknown>, id: unknown): asserts id is string {
  if (typeof id !== "string" || !STEP_ID_PATTERN.test(id)) {
    throw new PipelineEditError("invalid", `${JSON.stringify(id)} is not a valid step id`);
  }
  if (stepsOf(data).some((step) => step.data.id === id)) {
    throw new PipelineEditError("conflict", `a step "${id}" already exists`);
  }
}

/** Changes that drop every one of `refs` from a needs-like field (a string or a list). */
function dropRefs(path: Path, value: unknown, refs: ReadonlySet<unknown>): Change[] {
  if (typeof value === "string") return refs.has(value) ? [{ kind: "delete", path }] : [];
  if (!Array.isArray(value)) return [];
  const remaining = value.filter((item) => !refs.has(item));
  if (remaining.length === value.length) return [];
  // Emptied: the key goes, not `needs: []`.
  if (remaining.length === 0) return [{ kind: "delete", path }];
  const changes: Change[] = [];
  value.forEach((item, index) => {
    if (refs.has(item)) changes.push({ kind: "remove", seq: path, index });
  });
  return changes;
}

/** Changes that turn `from` into `to` in a needs-like field. */
function renameRef(path: Path, value: unknown, from: string, to: string): Change[] {
  if (value === from) return [{ kind: "set", path, value: to }];
  if (!Array.isArray(value)) return [];
  const changes: Change[] = [];
  value.forEach((item, index) => {
    if (item === from) changes.push({ kind: "set", path: [...path, index], value: to });
  });
  return changes;
}

const CEL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Ranges of `steps.<from>` references in a CEL expression and their replacements. */
function celRenames(
  expression: string,
  from: string,
  to: string,
): { start: number; end: number; text: string }[] | null {
  let ast: ASTNode;
  try {
    ast = parseCel(expression).ast;
  } catch {
    return null;
  }
  const out: { start: number; end: number; text: string }[] = [];
  const visitNode = (node: ASTNode) => {
    if ((node.op === "." || node.op === ".?") && Array.isArray(node.args)) {
      const [object, name] = node.args as [ASTNode, string];
      if (object.op === "id" && object.args === "steps" && name === from) {
        // Single quotes: no escaping needed in plain or double-quoted YAML strings.
        const replacement = CEL_IDENTIFIER.test(to) ? `steps${node.op}${to}` : `steps['${to}']`;
        if (node.op === "." || CEL_IDENTIFIER.test(to))
          out.push({ start: node.range.start, end: node.range.end, text: replacement });
      }
    }
    if (node.op === "[]" || node.op === "[?]") {
      const [object, key] = node.args as [ASTNode, ASTNode];
      if (object.op === "id" && object.args === "steps" && key.op === "value" && key.args === from) {
        const quote = expression[key.range.start] === "'" ? "'" : '"';
        out.push({ start: key.range.start, end: key.range.end, text: `${quote}${to}${quote}` });
      }
    }
    const push = (value: unknown) => {
      if (value === null || typeof value !== "object") return;
      if (Array.isArray(value)) for (const item of value) push(item);
      else if ("op" in value) visitNode(value as ASTNode);
    };
    push(node.args);
  };
  visitNode(ast);
  return out;
}

/**
 * Where a string value (condition or template) references the renamed steps, and the new text
 * there: every rename at once (`a -> b, b -> c` is no chain).
 */
function renameEdits(
  value: string,
  renames: ReadonlyMap<string, string>,
  isCondition: boolean,
): { start: number; end: number; text: string }[] {
  const edits: { start: number; end: number; text: string }[] = [];
  const add = (expression: string, offset: number) => {
    for (const [from, to] of renames) {
      for (const edit of celRenames(expression, from, to) ?? []) {
        edits.push({ start: edit.start + offset, end: edit.end + offset, text: edit.text });
      }
    }
  };
  if (isCondition) {
    const { expression, offset } = unwrapCondition(value);
    add(expression, offset);
  } else {
    for (const interpolation of scanInterpolations(value).interpolations) {
      add(interpolation.expression, interpolation.expressionStart);
    }
  }
  return edits;
}

/** Splice changes that rename step references in a string value (condition or template). */
function renameInString(path: Path, value: string, from: string, to: string, isCondition: boolean): Change[] {
  return renameEdits(value, new Map([[from, to]]), isCondition).map((edit) => ({
    kind: "splice",
    path,
    from: edit.start,
    to: edit.end,
    text: edit.text,
  }));
}

/** `value` with references to the renamed steps rewritten. */
function renameRefsInString(value: string, renames: ReadonlyMap<string, string>, isCondition: boolean): string {
  let text = value;
  for (const edit of renameEdits(value, renames, isCondition).sort((x, y) => y.start - x.start)) {
    text = text.slice(0, edit.start) + edit.text + text.slice(edit.end);
  }
  return text;
}

function renameTemplates(value: unknown, renames: ReadonlyMap<string, string>): unknown {
  if (typeof value === "string") return value.includes("${{") ? renameRefsInString(value, renames, false) : value;
  if (Array.isArray(value)) return value.map((item) => renameTemplates(item, renames));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renameTemplates(item, renames)]));
  }
  return value;
}

/**
 * A step (plain data, as copied) whose references to other steps follow `renames`: needs,
 * handler references, artifact fetches, `steps.<id>` in its condition, gate and templates. For
 * steps copied together (duplicate, paste) whose ids change: the copies refer to one another.
 */
export function renameStepReferences(
  step: Readonly<Record<string, unknown>>,
  renames: ReadonlyMap<string, string>,
): Record<string, unknown> {
  const ref = (value: unknown) => (typeof value === "string" ? (renames.get(value) ?? value) : value);
  const refs = (value: unknown) => (Array.isArray(value) ? value.map(ref) : ref(value));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(step)) {
    if (key === "id") out[key] = value;
    else if (key === "needs" || key === "on-failure") out[key] = refs(value);
    else if (key === "rollback") out[key] = ref(value);
    else if (key === "if" && typeof value === "string") out[key] = renameRefsInString(value, renames, true);
    else if (key === "gate" && isRecord(value)) {
      const gate = renameTemplates(value, renames) as Record<string, unknown>;
      if (typeof value.condition === "string") gate.condition = renameRefsInString(value.condition, renames, true);
      out[key] = gate;
    } else if (key === "artifacts" && isRecord(value)) {
      const artifacts = renameTemplates(value, renames) as Record<string, unknown>;
      if (Array.isArray(artifacts.fetch)) {
        artifacts.fetch = artifacts.fetch.map((fetch) =>
          isRecord(fetch) ? { ...fetch, from: ref(fetch.from) } : fetch,
        );
      }
      out[key] = artifacts;
    } else out[key] = renameTemplates(value, renames);
  }
  return out;
}

function templateStrings(value: unknown, path: Path, out: { path: Path; value: string }[]): void {
  if (typeof value === "string") {
    if (value.includes("${{")) out.push({ path, value });
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) templateStrings(item, [...path, i], out);
  } else if (isRecord(value))
    for (const [key, item] of Object.entries(value)) templateStrings(item, [...path, key], out);
}

/** Stage ids the pipeline declares. */
function declaredStages(data: Record<string, unknown>): unknown[] {
  return Array.isArray(data.stages) ? data.stages.filter(isRecord).map((stage) => stage.id) : [];
}

/** One change declaring the stages not declared yet (`{id}` each, at the end of `stages`). */
function declareStages(data: Record<string, unknown>, stages: readonly string[]): Change[] {
  const declared = new Set(declaredStages(data));
  const missing = [...new Set(stages)].filter((stage) => !declared.has(stage));
  if (missing.length === 0) return [];
  if (!Array.isArray(data.stages)) return [{ kind: "set", path: ["stages"], value: missing.map((id) => ({ id })) }];
  const after = data.stages.length - 1;
  // Inserted after the same anchor: in reverse, so they end up in the order given.
  return missing.reverse().map((stage): Change => ({ kind: "insert", seq: ["stages"], after, value: { id: stage } }));
}

function addChanges(
  data: Record<string, unknown>,
  steps: readonly Readonly<Record<string, unknown>>[],
  section: "steps" | "handlers",
  afterId: string | undefined,
): Change[] {
  if (steps.length === 0) return [];
  const fresh = new Set<string>();
  for (const step of steps) {
    assertNewId(data, step.id);
    if (fresh.has(step.id)) throw new PipelineEditError("conflict", `the step "${step.id}" is added twice`);
    fresh.add(step.id);
  }
  const list = Array.isArray(data[section]) ? (data[section] as unknown[]) : null;
  let after = (list?.length ?? 0) - 1;
  if (afterId !== undefined) {
    const anchor = findStep(data, afterId);
    if (anchor.section !== section) throw new PipelineEditError("invalid", `"${afterId}" is not in ${section}`);
    after = anchor.index;
  }
  const stages = steps.map((step) => step.stage).filter((stage): stage is string => typeof stage === "string");
  for (const stage of stages) {
    if (!STEP_ID_PATTERN.test(stage)) throw new PipelineEditError("invalid", `"${stage}" is not a valid stage id`);
  }
  const changes = declareStages(data, stages);
  // A section that is not there yet (or null) is created with all of them at once.
  if (list === null) return [{ kind: "set", path: [section], value: steps }, ...changes];
  // Each right after the same anchor: in reverse, so that they end up in the order given.
  for (const step of [...steps].reverse()) changes.push({ kind: "insert", seq: [section], after, value: step });
  return changes;
}

function removeChanges(data: Record<string, unknown>, ids: readonly string[]): Change[] {
  const targets = ids.map((id) => findStep(data, id));
  const removed = new Set<unknown>(ids);
  const changes: Change[] = [];
  for (const section of ["steps", "handlers"] as const) {
    const indexes = [...new Set(targets.filter((t) => t.section === section).map((t) => t.index))];
    if (indexes.length === 0) continue;
    const list = data[section] as unknown[];
    // All of a section: one change, so it reads `steps: []` rather than a dangling `steps:`.
    if (indexes.length === list.length) changes.push({ kind: "set", path: [section], value: [] });
    else for (const index of indexes) changes.push({ kind: "remove", seq: [section], index });
  }
  for (const step of stepsOf(data)) {
    if (removed.has(step.data.id)) continue;
    const base: Path = [step.section, step.index];
    changes.push(...dropRefs([...base, "needs"], step.data.needs, removed));
    changes.push(...dropRefs([...base, "on-failure"], step.data["on-failure"], removed));
    if (removed.has(step.data.rollback)) changes.push({ kind: "delete", path: [...base, "rollback"] });
  }
  changes.push(...dropRefs(["on-failure"], data["on-failure"], removed));
  changes.push(...dropRefs(["finally"], data.finally, removed));
  return changes;
}

function stageChanges(data: Record<string, unknown>, ids: readonly string[], stage: string | null): Change[] {
  const targets = [...new Set(ids)].map((id) => findStep(data, id));
  if (stage !== null && !STEP_ID_PATTERN.test(stage)) {
    throw new PipelineEditError("invalid", `"${stage}" is not a valid stage id`);
  }
  const changes: Change[] = [];
  for (const target of targets) {
    const path: Path = [target.section, target.index, "stage"];
    if (stage === null) {
      if (target.data.stage !== undefined) changes.push({ kind: "delete", path });
    } else if (target.data.stage !== stage) changes.push({ kind: "set", path, value: stage });
  }
  if (stage !== null) changes.push(...declareStages(data, [stage]));
  return changes;
}

function changesFor(data: Record<string, unknown>, edit: PipelineEdit): Change[] {
  switch (edit.op) {
    case "addStep":
      return addChanges(data, [edit.step], edit.section ?? "steps", edit.after);
    case "addSteps":
      return addChanges(data, edit.steps, edit.section ?? "steps", edit.after);
    case "removeStep":
      return removeChanges(data, [edit.id]);
    case "removeSteps":
      return removeChanges(data, edit.ids);
    case "renameStep": {
      const target = findStep(data, edit.from);
      if (edit.from === edit.to) return [];
      assertNewId(data, edit.to);
      const changes: Change[] = [{ kind: "set", path: [target.section, target.index, "id"], value: edit.to }];
      for (const step of stepsOf(data)) {
        const base: Path = [step.section, step.index];
        changes.push(...renameRef([...base, "needs"], step.data.needs, edit.from, edit.to));
        changes.push(...renameRef([...base, "on-failure"], step.data["on-failure"], edit.from, edit.to));
        changes.push(...renameRef([...base, "rollback"], step.data.rollback, edit.from, edit.to));
        const fetches = isRecord(step.data.artifacts) ? step.data.artifacts.fetch : undefined;
        if (Array.isArray(fetches)) {
          fetches.forEach((fetch, i) => {
            if (isRecord(fetch) && fetch.from === edit.from) {
              changes.push({ kind: "set", path: [...base, "artifacts", "fetch", i, "from"], value: edit.to });
            }
          });
        }
        if (typeof step.data.if === "string") {
          changes.push(...renameInString([...base, "if"], step.data.if, edit.from, edit.to, true));
        }
        const gate = step.data.gate;
        if (isRecord(gate) && typeof gate.condition === "string") {
          changes.push(...renameInString([...base, "gate", "condition"], gate.condition, edit.from, edit.to, true));
        }
        const templates: { path: Path; value: string }[] = [];
        for (const [key, value] of Object.entries(step.data)) {
          if (key !== "if" && key !== "id" && key !== "needs") templateStrings(value, [...base, key], templates);
        }
        for (const template of templates) {
          changes.push(...renameInString(template.path, template.value, edit.from, edit.to, false));
        }
      }
      changes.push(...renameRef(["on-failure"], data["on-failure"], edit.from, edit.to));
      changes.push(...renameRef(["finally"], data.finally, edit.from, edit.to));
      return changes;
    }
    case "setNeeds": {
      const target = findStep(data, edit.id);
      const path: Path = [target.section, target.index, "needs"];
      const needs = [...new Set(edit.needs)];
      const old = target.data.needs;
      if (needs.length === 0) return old === undefined ? [] : [{ kind: "delete", path }];
      if (typeof old === "string" && needs.length === 1) return [{ kind: "set", path, value: needs[0] }];
      if (Array.isArray(old) && old.every((item) => typeof item === "string")) {
        const kept = old.filter((item) => needs.includes(item as string));
        const added = needs.filter((need) => !old.includes(need));
        const keptInOrder = needs.slice(0, kept.length);
        // Only removals and appends: touch just those items, keep the rest (and their comments).
        if (kept.length > 0 && deepEqual(kept, keptInOrder) && new Set(kept).size === kept.length) {
          const changes: Change[] = [];
          old.forEach((item, index) => {
            if (!needs.includes(item as string)) changes.push({ kind: "remove", seq: path, index });
          });
          const lastKept = old.reduce<number>(
            (last, item, index) => (needs.includes(item as string) ? index : last),
            -1,
          );
          for (const need of [...added].reverse())
            changes.push({ kind: "insert", seq: path, after: lastKept, value: need });
          return changes;
        }
      }
      return [{ kind: "set", path, value: needs }];
    }
    case "setStepField": {
      const target = findStep(data, edit.id);
      const field = typeof edit.field === "string" ? [edit.field] : [...edit.field];
      if (field.length === 0) throw new PipelineEditError("invalid", "empty field path");
      if (field[0] === "id") throw new PipelineEditError("invalid", "use renameStep to change an id");
      const path: Path = [target.section, target.index, ...field];
      if (edit.value === undefined) return getIn(target.data, field) === undefined ? [] : [{ kind: "delete", path }];
      return [{ kind: "set", path, value: edit.value }];
    }
    case "moveStepToStage":
      return stageChanges(data, [edit.id], edit.stage);
    case "moveStepsToStage":
      return stageChanges(data, edit.ids, edit.stage);
  }
}

/** Applies one edit; `lossless` tells whether only the edited characters changed. */
export function applyEdit(text: string, edit: PipelineEdit): EditResult {
  const splicer = new Splicer(text);
  const data = splicer.document.toJS({ maxAliasCount: 1_000 }) as unknown;
  if (!isRecord(data)) throw new PipelineEditError("invalid", "the document is not a mapping");
  const changes = changesFor(data, edit);
  if (changes.length === 0) return { text, lossless: true };
  const expected = applyToData(data, changes);
  try {
    // In the same order as on plain data: flow sequences take their changes one by one.
    for (const change of orderChanges(changes)) splicer.apply(change);
    const spliced = splicer.result();
    const reparsed = parseYaml(spliced).document;
    if (reparsed.errors.length === 0 && deepEqual(reparsed.toJS({ maxAliasCount: 1_000 }), expected)) {
      return { text: spliced, lossless: true };
    }
  } catch (error) {
    if (!(error instanceof PipelineEditError) || error.code === "not-found") throw error;
  }
  const reprinted = applyToDocument(text, changes);
  const check = parseYaml(reprinted).document;
  if (check.errors.length > 0 || !deepEqual(check.toJS({ maxAliasCount: 1_000 }), expected)) {
    throw new PipelineEditError("conflict", "the edit could not be applied to this document");
  }
  return { text: reprinted, lossless: false };
}

export function addStep(
  text: string,
  step: Readonly<Record<string, unknown>>,
  options: { after?: string; section?: "steps" | "handlers" } = {},
): string {
  return applyEdit(text, { op: "addStep", step, ...options }).text;
}

/** Adds steps in the order given, after `after` (else at the end), declaring stages they name. */
export function addSteps(
  text: string,
  steps: readonly Readonly<Record<string, unknown>>[],
  options: { after?: string; section?: "steps" | "handlers" } = {},
): string {
  return applyEdit(text, { op: "addSteps", steps, ...options }).text;
}

/** Removes steps and every reference to them in needs, on-failure, rollback and finally. */
export function removeSteps(text: string, ids: readonly string[]): string {
  return applyEdit(text, { op: "removeSteps", ids }).text;
}

/** Removes a step and every reference to it in needs, on-failure, rollback and finally. */
export function removeStep(text: string, id: string): string {
  return applyEdit(text, { op: "removeStep", id }).text;
}

/**
 * Renames a step and its references: needs, handler references, artifact fetches, and
 * `steps.<id>` in conditions and ${{ }} templates wherever the string's style lets one identifier
 * be patched in place (plain, quoted and literal-block strings).
 */
export function renameStep(text: string, from: string, to: string): string {
  return applyEdit(text, { op: "renameStep", from, to }).text;
}

export function setNeeds(text: string, id: string, needs: readonly string[]): string {
  return applyEdit(text, { op: "setNeeds", id, needs }).text;
}

/** Sets (or with `undefined` removes) a field of a step; `field` may be a path such as ["with", "url"]. */
export function setStepField(
  text: string,
  id: string,
  field: string | readonly (string | number)[],
  value: unknown,
): string {
  return applyEdit(text, { op: "setStepField", id, field, value }).text;
}

/** Sets a step's stage (declaring the stage when it is new), or clears it with null. */
export function moveStepToStage(text: string, id: string, stage: string | null): string {
  return applyEdit(text, { op: "moveStepToStage", id, stage }).text;
}

/** Sets the stage of several steps (declaring it when it is new), or clears theirs with null. */
export function moveStepsToStage(text: string, ids: readonly string[], stage: string | null): string {
  return applyEdit(text, { op: "moveStepsToStage", ids, stage }).text;
}

// The source document as a tree that remembers where every value was written. Anchors, aliases
// and merge keys (`<<: *defaults`) are resolved here, and GitLab's `extends` later merges these
// trees, so a note about a value inherited from a template still points at the template's line.
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type ParsedNode,
  parseAllDocuments,
  type Scalar,
} from "yaml";
import { formatPath } from "../spec/diagnostics";
import { scalarSourceRange } from "../spec/yaml-source";
import type { ImportNote, ImportNoteSeverity } from "./types";

export type SourcePath = (string | number)[];
export type Range = readonly [number, number];

interface SourceBase {
  /** Where the value is written (for a merged or inherited value: where it was defined). */
  path: SourcePath;
  /** The value's own characters. */
  range: Range;
  /** The key it is written under, when it is a map value. */
  keyRange?: Range;
}

export interface SourceScalar extends SourceBase {
  kind: "scalar";
  value: string | number | boolean | null;
  /** The YAML node, to map characters of a string back to offsets. */
  yaml: Scalar | null;
  tag?: string;
}

export interface SourceSeq extends SourceBase {
  kind: "seq";
  items: SourceValue[];
  tag?: string;
}

export interface SourceMap extends SourceBase {
  kind: "map";
  entries: Map<string, SourceValue>;
  tag?: string;
}

export type SourceValue = SourceScalar | SourceSeq | SourceMap;

/** Thrown when aliases expand beyond reason (a "billion laughs" document). */
class TooLargeError extends Error {}

const MAX_NODES = 500_000;
const MAX_DEPTH = 200;

export interface LoadedSource {
  /** The documents of the stream (GitLab allows a `spec:` header document before the config). */
  roots: (SourceValue | null)[];
  lineCounter: LineCounter;
  text: string;
  /** YAML syntax errors and warnings, as notes; empty when the text parsed. */
  problems: ImportNote[];
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return "";
  return String(key);
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === "symbol" || (key.value === "<<" && key.type === "PLAIN"));
}

function nodeRange(node: Node | null | undefined, fallback: Range): Range {
  const range = node?.range;
  return range === undefined || range === null ? fallback : [range[0], range[1]];
}

class Builder {
  count = 0;
  /** Where each node is written, so values reached through an alias keep their own path. */
  readonly #definedAt = new Map<Node, SourcePath>();

  constructor(private readonly document: Document) {
    const walk = (node: unknown, path: SourcePath, depth: number) => {
      if (node === null || typeof node !== "object" || depth > MAX_DEPTH || isAlias(node)) return;
      const yamlNode = node as Node;
      if (this.#definedAt.has(yamlNode)) return;
      this.#definedAt.set(yamlNode, path);
      if (isSeq(yamlNode)) {
        yamlNode.items.forEach((item, index) => {
          walk(item, [...path, index], depth + 1);
        });
      } else if (isMap(yamlNode)) {
        for (const pair of yamlNode.items) {
          if (isMergeKey(pair.key)) walk(pair.value, [...path, "<<"], depth + 1);
          else walk(pair.value, [...path, keyText(pair.key)], depth + 1);
        }
      }
    };
    walk(document.contents, [], 0);
  }

  build(node: ParsedNode | Node | null, path: SourcePath, depth: number, fallback: Range): SourceValue {
    if (++this.count > MAX_NODES || depth > MAX_DEPTH) throw new TooLargeError();
    if (node === null) return { kind: "scalar", value: null, yaml: null, path, range: fallback };
    if (isAlias(node)) {
      const target = node.resolve(this.document) as Node | undefined;
      const definedAt = target === undefined ? path : (this.#definedAt.get(target) ?? path);
      return this.build(target ?? null, definedAt, depth + 1, nodeRange(node, fallback));
    }
    const range = nodeRange(node, fallback);
    const tag =
      typeof node.tag === "string" && node.tag.startsWith("!") && !node.tag.startsWith("!!") ? node.tag : undefined;
    if (isScalar(node)) {
      const value = node.value;
      const scalar: SourceScalar = {
        kind: "scalar",
        value:
          typeof value === "string" || typeof value === "number" || typeof value === "boolean" || value === null
            ? value
            : typeof value === "bigint"
              ? Number(value)
              : String(value),
        yaml: node,
        path,
        range,
      };
      if (tag !== undefined) scalar.tag = tag;
      return scalar;
    }
    if (isSeq(node)) {
      const seq: SourceSeq = { kind: "seq", items: [], path, range };
      if (tag !== undefined) seq.tag = tag;
      node.items.forEach((item, index) => {
        seq.items.push(this.build(item as Node | null, [...path, index], depth + 1, range));
      });
      return seq;
    }
    if (isMap(node)) {
      const map: SourceMap = { kind: "map", entries: new Map(), path, range };
      if (tag !== undefined) map.tag = tag;
      const merged: SourceMap[] = [];
      for (const pair of node.items) {
        if (isMergeKey(pair.key)) {
          const value = pair.value as Node | null;
          const sources = value !== null && isSeq(value) ? (value.items as Node[]) : [value];
          for (const source of sources) {
            // An alias keeps the anchored map's own path; an inline map is under "<<".
            const built = this.build(source, [...path, "<<"], depth + 1, range);
            if (built.kind === "map") merged.push(built);
          }
          continue;
        }
        const key = keyText(pair.key);
        const keyRange = nodeRange(pair.key as Node | null, range);
        const child = this.build(pair.value as Node | null, [...path, key], depth + 1, [keyRange[1], keyRange[1]]);
        child.keyRange = keyRange;
        map.entries.set(key, child);
      }
      // Merge keys: explicit keys win; among merged maps, the earlier one wins (YAML 1.1).
      for (const source of merged) {
        for (const [key, value] of source.entries) if (!map.entries.has(key)) map.entries.set(key, value);
      }
      return map;
    }
    return { kind: "scalar", value: null, yaml: null, path, range };
  }
}

/**
 * Parses a YAML stream into source trees. Unknown tags (GitLab's `!reference`) are kept on the
 * node (`tag`) for the importer to resolve; their "unresolved tag" warnings are not reported.
 */
export function loadSource(text: string, options: { allowedTags?: readonly string[] } = {}): LoadedSource {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, {
    lineCounter,
    merge: true,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const problems: ImportNote[] = [];
  const list = Array.isArray(documents) ? documents : [];
  const allowed = new Set(options.allowedTags ?? []);
  const position = (offset: number) => lineCounter.linePos(offset);
  for (const document of list) {
    for (const error of document.errors) {
      const { line, col } = position(error.pos[0]);
      problems.push({
        severity: "error",
        code: "yaml-syntax",
        path: "",
        line,
        column: col,
        message: `The file is not valid YAML: ${error.message.replace(/\s+at line \d+, column \d+[\s\S]*$/, "")}. Fix it and import again.`,
      });
    }
    for (const warning of document.warnings) {
      const tag = /^Unresolved tag: (\S+)/.exec(warning.message)?.[1];
      if (tag !== undefined && allowed.has(tag)) continue;
      const { line, col } = position(warning.pos[0]);
      problems.push({
        severity: "warning",
        code: "yaml-warning",
        path: "",
        line,
        column: col,
        message: `YAML: ${warning.message}`,
      });
    }
  }
  if (problems.some((problem) => problem.severity === "error")) {
    return { roots: [], lineCounter, text, problems };
  }
  const roots: (SourceValue | null)[] = [];
  try {
    for (const document of list) {
      const builder = new Builder(document);
      roots.push(document.contents === null ? null : builder.build(document.contents, [], 0, [0, 0]));
    }
  } catch (error) {
    if (!(error instanceof TooLargeError)) throw error;
    problems.push({
      severity: "error",
      code: "yaml-too-large",
      path: "",
      line: 1,
      column: 1,
      message:
        "The file's aliases expand to more than half a million values; it cannot be imported. Remove the alias chains that multiply the document.",
    });
    return { roots: [], lineCounter, text, problems };
  }
  return { roots, lineCounter, text, problems };
}

// ---------------------------------------------------------------------------------------------
// Reading values.

export function entry(map: SourceValue | undefined | null, key: string): SourceValue | undefined {
  return map?.kind === "map" ? map.entries.get(key) : undefined;
}

export function isNullValue(value: SourceValue | undefined): boolean {
  return value === undefined || (value.kind === "scalar" && value.value === null);
}

/** The scalar as text (numbers and booleans as written by JS), undefined for collections. */
export function scalarText(value: SourceValue | undefined): string | undefined {
  if (value?.kind !== "scalar" || value.value === null) return undefined;
  return String(value.value);
}

export function stringValue(value: SourceValue | undefined): string | undefined {
  return value?.kind === "scalar" && typeof value.value === "string" ? value.value : undefined;
}

/** A list of scalars, or one scalar as a list of one. */
export function stringList(value: SourceValue | undefined): SourceScalar[] {
  if (value === undefined) return [];
  if (value.kind === "scalar") return value.value === null ? [] : [value];
  if (value.kind === "seq") return value.items.filter((item): item is SourceScalar => item.kind === "scalar");
  return [];
}

/** Plain JS data of a source value. */
export function toPlain(value: SourceValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.kind === "scalar") return value.value;
  if (value.kind === "seq") return value.items.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [key, child] of value.entries) out[key] = toPlain(child);
  return out;
}

/** A short, single-line rendering of a value for messages. */
export function describeValue(value: SourceValue | undefined, max = 120): string {
  const plain = toPlain(value);
  const text = typeof plain === "string" ? plain : JSON.stringify(plain);
  const oneLine = (text ?? "").replace(/\s*\n\s*/g, " ⏎ ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

// ---------------------------------------------------------------------------------------------
// Notes.

export type NoteTarget = "key" | "value";

/**
 * Collects notes with their source position. A note about a keyword points at the key
 * (`services:`), a note about a value at the value; `at` can narrow a string value to the
 * characters of one `${{ }}` expression.
 */
export class NoteList {
  readonly #notes: ImportNote[] = [];
  readonly #seen = new Set<string>();

  constructor(private readonly source: LoadedSource) {}

  add(
    severity: ImportNoteSeverity,
    code: string,
    node: SourceValue | { path: SourcePath; range: Range; keyRange?: Range },
    message: string,
    options: { target?: NoteTarget; at?: { start: number; end: number } } = {},
  ): void {
    let offset = options.target === "key" && node.keyRange !== undefined ? node.keyRange[0] : node.range[0];
    if (options.at !== undefined && "kind" in node && node.kind === "scalar" && node.yaml !== null) {
      const mapped = scalarSourceRange(this.source.text, node.yaml, options.at.start, options.at.end);
      if (mapped !== null) offset = mapped[0];
    }
    const { line, col } = this.source.lineCounter.linePos(offset);
    const path = formatPath(node.path);
    const key = `${code}\u0000${path}\u0000${line}:${col}\u0000${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#notes.push({ severity, code, path, line, column: col, message });
  }

  /** A note at the start of the document (about the file as a whole). */
  addAtStart(severity: ImportNoteSeverity, code: string, message: string): void {
    this.add(severity, code, { path: [], range: [0, 0] }, message);
  }

  push(note: ImportNote): void {
    this.#notes.push(note);
  }

  sorted(): ImportNote[] {
    const rank = { error: 0, warning: 1, info: 2 } as const;
    return [...this.#notes].sort(
      (a, b) => a.line - b.line || a.column - b.column || rank[a.severity] - rank[b.severity],
    );
  }
}

// Where things are in the YAML text: nodes by path, and characters of a string value back to
// offsets in the source (so a CEL error inside `if:` underlines the right characters, and a
// rename can patch one identifier inside a condition without touching the rest).
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  Scalar,
} from "yaml";

const YAML_OPTIONS = {
  prettyErrors: false,
  // YAML 1.1 merge keys (<<: *defaults) are common in CI files.
  merge: true,
  uniqueKeys: true,
} as const;

export interface ParsedYaml {
  document: Document.Parsed;
  lineCounter: LineCounter;
}

export function parseYaml(text: string, options: { keepSourceTokens?: boolean } = {}): ParsedYaml {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    ...YAML_OPTIONS,
    lineCounter,
    keepSourceTokens: options.keepSourceTokens ?? false,
  });
  return { document, lineCounter };
}

export function keyOf(pair: Pair): unknown {
  return isScalar(pair.key) ? pair.key.value : pair.key;
}

export interface Located {
  /** The deepest node reached. */
  node: Node | null;
  /** The key of the pair holding `node`, when it is a map value. */
  key: Node | null;
  /** The pair holding `node`, when it is a map value. */
  pair: Pair | null;
  /** Whether the whole path exists. */
  complete: boolean;
}

/** Follows a path of keys and indexes through maps and sequences; stops at aliases. */
export function locate(document: Document, path: readonly (string | number)[]): Located {
  let node: Node | null = (document.contents as Node | null) ?? null;
  let key: Node | null = null;
  let pair: Pair | null = null;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    if (node !== null && isMap(node)) {
      const found = node.items.find((item) => keyOf(item) === segment);
      if (found === undefined) return { node, key, pair, complete: false };
      pair = found;
      key = (found.key as Node | null) ?? null;
      const value = (found.value as Node | null) ?? null;
      if (value === null) return { node: null, key, pair, complete: i === path.length - 1 };
      node = value;
    } else if (node !== null && isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) return { node, key, pair, complete: false };
      node = item;
      key = null;
      pair = null;
    } else {
      return { node, key, pair, complete: false };
    }
    if (isAlias(node)) return { node, key, pair, complete: i === path.length - 1 };
  }
  return { node, key, pair, complete: true };
}

/**
 * Source offset of every character of a string scalar's value, plus one past the end, or null
 * when the scalar's style does not map characters one to one (folded or multi-line flow
 * scalars, unusual escapes). Plain, quoted and literal block scalars are covered.
 */
export function scalarOffsets(text: string, node: Scalar): Int32Array | null {
  const value = node.value;
  if (typeof value !== "string" || node.range === undefined || node.range === null) return null;
  const [start, end] = node.range;
  const raw = text.slice(start, end);
  const offsets: number[] = [];
  switch (node.type) {
    case Scalar.PLAIN: {
      if (raw !== value) return null;
      for (let i = 0; i <= value.length; i++) offsets.push(start + i);
      break;
    }
    case Scalar.QUOTE_SINGLE: {
      for (let i = 1; i < raw.length - 1; i++) {
        if (raw[i] === "\n" || raw[i] === "\r") return null;
        offsets.push(start + i);
        if (raw[i] === "'" && raw[i + 1] === "'") i++;
      }
      offsets.push(start + raw.length - 1);
      break;
    }
    case Scalar.QUOTE_DOUBLE: {
      for (let i = 1; i < raw.length - 1; i++) {
        const char = raw[i];
        if (char === "\n" || char === "\r") return null;
        offsets.push(start + i);
        if (char === "\\") {
          const next = raw[i + 1] ?? "";
          if (!`"\\/0abtnvfreN_LP `.includes(next) || next === "") return null;
          i++;
        }
      }
      offsets.push(start + raw.length - 1);
      break;
    }
    case Scalar.BLOCK_LITERAL: {
      const headerEnd = raw.indexOf("\n");
      if (headerEnd === -1) return null;
      const header = raw.slice(0, headerEnd);
      const explicit = /[1-9]/.exec(header);
      const lines = raw.slice(headerEnd + 1).split("\n");
      let indent = -1;
      if (explicit !== null) {
        const parentIndent = lineIndent(text, start);
        indent = parentIndent + Number(explicit[0]);
      } else {
        for (const line of lines) {
          if (line.trim() !== "") {
            indent = line.length - line.trimStart().length;
            break;
          }
        }
      }
      if (indent < 0) return null;
      let lineStart = start + headerEnd + 1;
      let rebuilt = "";
      for (let l = 0; l < lines.length; l++) {
        const line = lines[l] as string;
        const content = line.length > indent ? line.slice(indent) : "";
        for (let c = 0; c < content.length; c++) offsets.push(lineStart + indent + c);
        rebuilt += content;
        if (l < lines.length - 1) {
          offsets.push(lineStart + line.length);
          rebuilt += "\n";
        }
        lineStart += line.length + 1;
      }
      if (!(rebuilt.startsWith(value) || value.startsWith(rebuilt))) return null;
      offsets.length = Math.min(offsets.length, value.length);
      while (offsets.length < value.length) offsets.push(end);
      offsets.push(value.length > 0 ? (offsets[value.length - 1] as number) + 1 : lineStart);
      break;
    }
    default:
      return null;
  }
  if (offsets.length !== value.length + 1) return null;
  return Int32Array.from(offsets);
}

/** Indentation of the line holding `offset`. */
function lineIndent(text: string, offset: number): number {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  let i = start;
  while (text[i] === " ") i++;
  return i - start;
}

/** Source range of the value range [from, to) of a string scalar, or null when not mappable. */
export function scalarSourceRange(text: string, node: Scalar, from: number, to: number): [number, number] | null {
  const offsets = scalarOffsets(text, node);
  if (offsets === null || from < 0 || to > offsets.length - 1 || from > to) return null;
  const start = offsets[from] as number;
  const end = offsets[to] as number;
  return [start, end];
}

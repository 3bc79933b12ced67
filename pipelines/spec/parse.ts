// parsePipeline: YAML text in, the typed pipeline, the YAML Document (for the editor's lossless
// edits) and positioned diagnostics out. Every diagnostic, from a YAML syntax error to a CEL type
// error inside `if:`, carries a path, a line/column range and a plain message.
import { type Document, isCollection, isScalar, type LineCounter, type Node } from "yaml";
import type { Diagnostic, Issue } from "./diagnostics";
import type { Pipeline } from "./schema";
import { type PipelineAnalysis, type ValidateOptions, validatePipeline } from "./validate";
import { locate, parseYaml, scalarOffsets } from "./yaml-source";

export interface ParseResult {
  /** The typed pipeline when there is no error (warnings allowed); otherwise null. */
  pipeline: Pipeline | null;
  /** The YAML Document, with source ranges; edit.ts changes text through it losslessly. */
  document: Document.Parsed;
  diagnostics: Diagnostic[];
  /** The step graph and what validation learned; null when the YAML itself is broken. */
  analysis: PipelineAnalysis | null;
}

export type ParseOptions = ValidateOptions;

function rangeOf(node: Node | null | undefined): [number, number] | null {
  const range = node?.range;
  if (range === undefined || range === null) return null;
  return [range[0], range[1]];
}

/** A block collection spans many lines; underline its first line only. */
function firstLine(text: string, [start, end]: [number, number]): [number, number] {
  const newline = text.indexOf("\n", start);
  let stop = newline === -1 || newline > end ? end : newline;
  if (text[stop - 1] === "\r") stop--;
  return [start, Math.max(start + 1, stop)];
}

function issueRange(text: string, document: Document, issue: Issue): [number, number] {
  const found = locate(document, issue.path);
  const target = issue.target ?? { kind: "value" };
  let range: [number, number] | null = null;
  // The node whose whole range is used, if any: a block collection is clipped to its first line.
  let whole: Node | null = null;
  if (found.complete && target.kind === "key" && found.key !== null) {
    range = rangeOf(found.key);
  } else if (found.complete && target.kind === "range" && found.node !== null && isScalar(found.node)) {
    const offsets = scalarOffsets(text, found.node);
    if (offsets !== null) {
      const last = offsets.length - 1;
      // A range at the very end (a CEL "unexpected end") underlines the last character.
      const from = target.start >= last && last > 0 ? last - 1 : Math.min(target.start, last);
      const to = Math.min(target.end, last);
      const start = offsets[from] as number;
      const end = to > from ? (offsets[to] as number) : start + 1;
      range = [start, Math.max(end, start + 1)];
    }
  }
  if (range === null) {
    range = rangeOf(found.node);
    whole = found.node;
    if (range === null) {
      range = rangeOf(found.key);
      whole = null;
    }
  }
  range ??= [0, Math.min(1, text.length)];
  if (whole !== null && isCollection(whole)) range = firstLine(text, range);
  if (range[1] <= range[0]) range = [range[0], range[0] + 1];
  return range;
}

function positioned(
  lineCounter: LineCounter,
  [start, end]: [number, number],
  rest: Omit<Diagnostic, "line" | "column" | "endLine" | "endColumn">,
): Diagnostic {
  const from = lineCounter.linePos(start);
  const to = lineCounter.linePos(end);
  return { ...rest, line: from.line, column: from.col, endLine: to.line, endColumn: to.col };
}

function byPosition(a: Diagnostic, b: Diagnostic): number {
  return a.line - b.line || a.column - b.column || a.message.localeCompare(b.message);
}

export function parsePipeline(text: string, options: ParseOptions = {}): ParseResult {
  const { document, lineCounter } = parseYaml(text);
  const diagnostics: Diagnostic[] = [];
  for (const error of document.errors) {
    const [start, end] = error.pos;
    diagnostics.push(
      positioned(lineCounter, [start, Math.max(end, start + 1)], {
        path: [],
        message: `YAML: ${error.message.replace(/\s+at line \d+, column \d+[\s\S]*$/, "")}`,
        code: "yaml-syntax",
        severity: "error",
      }),
    );
  }
  for (const warning of document.warnings) {
    const [start, end] = warning.pos;
    diagnostics.push(
      positioned(lineCounter, [start, Math.max(end, start + 1)], {
        path: [],
        message: `YAML: ${warning.message}`,
        code: "yaml-syntax",
        severity: "warning",
      }),
    );
  }
  if (document.errors.length > 0)
    return { pipeline: null, document, diagnostics: diagnostics.sort(byPosition), analysis: null };

  if (document.contents === null) {
    diagnostics.push(
      positioned(lineCounter, [0, Math.min(1, text.length)], {
        path: [],
        message: "the document is empty: a pipeline needs at least name: and steps:",
        code: "empty-document",
        severity: "error",
      }),
    );
    return { pipeline: null, document, diagnostics, analysis: null };
  }

  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 1_000 });
  } catch (error) {
    diagnostics.push(
      positioned(lineCounter, [0, Math.min(1, text.length)], {
        path: [],
        message: `YAML: ${(error as Error).message}`,
        code: "yaml-syntax",
        severity: "error",
      }),
    );
    return { pipeline: null, document, diagnostics, analysis: null };
  }

  const result = validatePipeline(data, options);
  for (const issue of result.issues) {
    diagnostics.push(
      positioned(lineCounter, issueRange(text, document, issue), {
        path: issue.path,
        message: issue.message,
        code: issue.code,
        severity: issue.severity,
      }),
    );
  }
  return { pipeline: result.pipeline, document, diagnostics: diagnostics.sort(byPosition), analysis: result.analysis };
}

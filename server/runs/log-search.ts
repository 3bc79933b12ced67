import "server-only";
import { Worker } from "node:worker_threads";
import { AppError } from "@/server/http/errors";
import { logSearchGrams } from "./log-grams";
import type { LogChunkContent, LogChunkExtent, LogChunkFilter } from "./repo";
import { LOG_ESCAPE_SOURCE, type LogSearchMatch, type LogStream, MAX_LOG_SEARCH_RANGES } from "./schema";

// Searching a step's log (up to hundreds of megabytes, a million lines and more) in well under a
// second: the database narrows the chunks to those that may hold a match, windows of a few
// megabytes at a time. A chunk's trigram signature (log-grams.ts) decides without reading its
// text when the pattern needs trigrams; otherwise (or for chunks stored without a signature) the
// text is tested with strpos, or the pattern translated to a PostgreSQL regular expression that
// matches at least what the JavaScript one does. Only those chunks cross into Node, where the
// JavaScript pattern finds the matching lines and the ranges to highlight. The JavaScript side
// runs in a worker thread with a deadline: a pattern that backtracks catastrophically on some
// line is stopped (the worker is terminated), never the server's event loop.

/** The whole search stops here and answers what it found (`truncated`). */
export const LOG_SEARCH_BUDGET_MS = 4_000;
/** One window taking this long in the worker means a pathological pattern, not a large log. */
const SLICE_TIMEOUT_MS = 1_500;
/** Content read from the database per query. */
const WINDOW_BYTES = 8 * 1024 * 1024;

const STREAM_CODE: Record<LogStream, string> = { stdout: "o", stderr: "e", system: "s" };

export interface LogSearchPlan {
  /** JavaScript pattern; null: every line (of the stream) matches. */
  source: string | null;
  flags: string;
  filter: LogChunkFilter;
}

function invalidQ(reason: string): AppError {
  return new AppError("INVALID_INPUT", `query.q: ${reason}`, { invalidParams: [{ name: "query.q", reason }] });
}

const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");

/**
 * Whether the text names letters with case outside ASCII (directly or as \x/\u escapes):
 * PostgreSQL folds those by the database's locale, which need not agree with JavaScript.
 */
function hasNonAsciiCase(text: string): boolean {
  for (const char of text) {
    if (char.charCodeAt(0) > 127 && char.toLowerCase() !== char.toUpperCase()) return true;
  }
  return /\\u(?!00[0-7][0-9a-f])|\\x[89a-f]/i.test(text);
}

/** What to find and how the database may narrow the chunks; a bad pattern is a 400 naming q. */
export function planLogSearch(query: {
  q?: string | undefined;
  regex: boolean;
  caseSensitive: boolean;
  stream?: LogStream | undefined;
}): LogSearchPlan {
  const streamCode = query.stream ? STREAM_CODE[query.stream] : null;
  const flags = query.caseSensitive ? "g" : "gi";
  if (query.q === undefined) return { source: null, flags, filter: { grams: null, match: null, streamCode } };
  const source = query.regex ? query.q : escapeRegExp(query.q);
  try {
    new RegExp(source, flags);
  } catch (error) {
    throw invalidQ(
      `is not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, "")}`,
    );
  }
  // PostgreSQL folds case by its own rules (the database's locale): only ASCII is sure to agree.
  const foldable = query.caseSensitive || !hasNonAsciiCase(query.q);
  let match: LogChunkFilter["match"] = null;
  if (foldable) {
    if (!query.regex) {
      match = query.caseSensitive ? { op: "contains", pattern: query.q } : { op: "iregex", pattern: `***=${query.q}` };
    } else {
      const translated = toPostgresRegex(query.q);
      if (translated !== null) match = { op: query.caseSensitive ? "regex" : "iregex", pattern: translated };
    }
  }
  const grams = logSearchGrams({ q: query.q, regex: query.regex, caseSensitive: query.caseSensitive });
  return { source, flags, filter: { grams, match, streamCode } };
}

// ---- JavaScript pattern -> PostgreSQL ARE ----

const WHITESPACE = " \\t\\n\\v\\f\\r\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";
const CLASS_ESCAPES: Record<string, string> = { d: "0-9", w: "A-Za-z0-9_", s: WHITESPACE };
const CONTROL_ESCAPES = new Set(["t", "n", "r", "f", "v"]);
const isAlnum = (char: string) => /^[A-Za-z0-9]$/.test(char);
/** A character as an ARE literal: ASCII punctuation escaped, everything else as is. */
const literal = (char: string) => (char.charCodeAt(0) < 128 && !isAlnum(char) && char !== " " ? `\\${char}` : char);

/**
 * A PostgreSQL regular expression (ARE, newline-sensitive) that matches every line the
 * JavaScript pattern matches, possibly more (zero-width assertions are dropped): fit to narrow
 * chunks, never to decide. Null when the pattern uses something without a safe translation
 * (back references, control escapes, Annex B oddities): the search then reads every chunk.
 */
export function toPostgresRegex(source: string): string | null {
  let out = "";
  let i = 0;
  /** The previous item was dropped (an assertion): a quantifier may not follow it. */
  let dropped = false;
  let depth = 0;
  const hex = (length: number) => {
    const digits = source.slice(i, i + length);
    if (digits.length !== length || !/^[0-9A-Fa-f]+$/.test(digits)) return null;
    const code = Number.parseInt(digits, 16);
    if (code >= 0xd800 && code <= 0xdfff) return null;
    i += length;
    return `\\u${code.toString(16).padStart(4, "0")}`;
  };
  /** An escape after the backslash at i - 1, inside a class or not; null: untranslatable. */
  const translateEscape = (inClass: boolean): string | null => {
    const char = source[i];
    if (char === undefined) return null;
    i++;
    if (char in CLASS_ESCAPES) {
      const set = CLASS_ESCAPES[char] as string;
      return inClass ? set : `[${set}]`;
    }
    const lower = char.toLowerCase();
    if (char !== lower && lower in CLASS_ESCAPES) return inClass ? null : `[^${CLASS_ESCAPES[lower]}]`;
    if (CONTROL_ESCAPES.has(char)) return `\\${char}`;
    if (char === "x") return hex(2);
    if (char === "u") return hex(4);
    if (isAlnum(char)) return null; // \b in a class, \c, \0, back references, identity escapes
    return `\\${char}`;
  };
  while (i < source.length) {
    const char = source[i] as string;
    const quantifier = /^(?:[*+?]|\{(\d+)(?:,(\d*))?\})\??/.exec(source.slice(i));
    if (quantifier) {
      if (dropped) return null;
      const [, min, max] = quantifier;
      if (Number(min ?? 0) > 255 || Number(max || 0) > 255) return null;
      out += quantifier[0];
      i += quantifier[0].length;
      continue;
    }
    dropped = false;
    if (char === "\\") {
      i++;
      const next = source[i];
      if (next === "b" || next === "B") {
        i++;
        dropped = true;
        continue;
      }
      const translated = translateEscape(false);
      if (translated === null) return null;
      out += translated;
      continue;
    }
    if (char === "[") {
      i++;
      let body = "";
      if (source[i] === "^") {
        body = "^";
        i++;
      }
      if (source[i] === "]") return null; // [] or [^]: nothing, or anything
      /** Whether the previous item may start a range (a single character, not \\d or a range). */
      let canRange = false;
      while (i < source.length && source[i] !== "]") {
        const c = source[i] as string;
        i++;
        const nextIsSet = source[i] === "\\" && /^[dwsDWS]$/.test(source[i + 1] ?? "");
        if (c === "\\") {
          const isSet = /^[dwsDWS]$/.test(source[i] ?? "");
          const translated = translateEscape(true);
          if (translated === null) return null;
          body += translated;
          canRange = !isSet;
        } else if (c === "-" && canRange && source[i] !== "]" && !nextIsSet) {
          body += "-";
          canRange = false;
          // The range's end: one character, escaped or not.
          const end = source[i] as string;
          i++;
          if (end === "\\") {
            const translated = translateEscape(true);
            if (translated === null) return null;
            body += translated;
          } else {
            body += literal(end);
          }
        } else {
          body += literal(c);
          canRange = true;
        }
      }
      if (source[i] !== "]") return null;
      i++;
      out += `[${body}]`;
      continue;
    }
    if (char === "(") {
      const rest = source.slice(i);
      const look = /^\(\?<?[=!]/.exec(rest);
      if (look) {
        // Drop the lookaround and everything in it (escapes and classes may hold parentheses).
        let level = 0;
        let inClass = false;
        for (; i < source.length; i++) {
          const c = source[i];
          if (c === "\\") i++;
          else if (inClass) inClass = c !== "]";
          else if (c === "[") inClass = true;
          else if (c === "(") level++;
          else if (c === ")" && --level === 0) break;
        }
        if (level !== 0) return null;
        i++;
        dropped = true;
        continue;
      }
      const named = /^\(\?<[A-Za-z_$][\w$]*>/.exec(rest);
      if (named) {
        out += "(?:";
        i += named[0].length;
      } else if (rest.startsWith("(?:")) {
        out += "(?:";
        i += 3;
      } else if (rest.startsWith("(?")) {
        return null; // modifiers and anything newer
      } else {
        out += "(";
        i++;
      }
      depth++;
      continue;
    }
    if (char === ")") {
      if (depth === 0) return null;
      depth--;
      out += ")";
      i++;
      continue;
    }
    if (char === "." || char === "^" || char === "$" || char === "|") {
      out += char;
      i++;
      continue;
    }
    // A literal; astral characters stay one character for PostgreSQL (a superset still).
    const code = source.codePointAt(i) as number;
    const whole = String.fromCodePoint(code);
    out += literal(whole);
    i += whole.length;
  }
  return `(?n)${out}`;
}

// ---- Matching lines (self-contained: it also runs as the worker's source) ----

interface ChunkLines {
  first_seq: number;
  content: string;
  streams: string;
}

/**
 * The matching lines of chunks: the first `want` with their ranges, and how many match in all.
 * Lines are matched as displayed: escape sequences removed. Self-contained on purpose (no
 * outer references): the worker is built from its source text.
 */
export function matchChunkLines(
  chunks: readonly ChunkLines[],
  source: string | null,
  flags: string,
  escapeSource: string,
  streamCode: string | null,
  want: number,
  maxRanges: number,
): { matches: LogSearchMatch[]; count: number } {
  const pattern = source === null ? null : new RegExp(source, flags.includes("g") ? flags : `${flags}g`);
  const escapes = new RegExp(escapeSource, "g");
  const matches: LogSearchMatch[] = [];
  let count = 0;
  for (const chunk of chunks) {
    const content = chunk.content;
    const hasEscapes = content.includes("\u001b");
    let start = 0;
    for (let i = 0; ; i++) {
      let end = content.indexOf("\n", start);
      if (end < 0) end = content.length;
      if (streamCode === null || (chunk.streams.charAt(i) || "o") === streamCode) {
        let line = content.slice(start, end);
        if (hasEscapes && line.includes("\u001b")) line = line.replace(escapes, "");
        if (pattern === null) {
          count++;
          if (matches.length < want) matches.push({ seq: chunk.first_seq + i, ranges: [] });
        } else if (matches.length < want) {
          pattern.lastIndex = 0;
          const ranges: [number, number][] = [];
          let found = false;
          for (;;) {
            const match = pattern.exec(line);
            if (match === null) break;
            found = true;
            if (match[0].length === 0) pattern.lastIndex = match.index + 1;
            else ranges.push([match.index, match.index + match[0].length]);
            if (ranges.length >= maxRanges || pattern.lastIndex > line.length) break;
          }
          if (found) {
            count++;
            matches.push({ seq: chunk.first_seq + i, ranges });
          }
        } else {
          pattern.lastIndex = 0;
          if (pattern.test(line)) count++;
        }
      }
      if (end >= content.length) break;
      start = end + 1;
    }
  }
  return { matches, count };
}

// The worker: compiles nothing itself; each message is a window of chunks to match.
const WORKER_SOURCE = `
const __name = (target) => target;
const { parentPort, workerData } = require("node:worker_threads");
const matchChunkLines = ${matchChunkLines.toString()};
parentPort.on("message", (message) => {
  try {
    const result = matchChunkLines(message.chunks, workerData.source, workerData.flags, workerData.escapeSource,
      workerData.streamCode, message.want, workerData.maxRanges);
    parentPort.postMessage({ id: message.id, ...result });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message || error) });
  }
});
`;

type SliceResult = { matches: LogSearchMatch[]; count: number } | "timeout";

/** One search's worker: windows go in one at a time, each with a deadline. */
class MatchWorker {
  private worker: Worker | null = null;
  private nextId = 0;

  constructor(private readonly plan: LogSearchPlan) {}

  private spawn(): Worker {
    this.worker ??= new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        source: this.plan.source,
        flags: this.plan.flags,
        escapeSource: LOG_ESCAPE_SOURCE,
        streamCode: this.plan.filter.streamCode,
        maxRanges: MAX_LOG_SEARCH_RANGES,
      },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    return this.worker;
  }

  match(chunks: readonly LogChunkContent[], want: number, timeoutMs: number): Promise<SliceResult> {
    const worker = this.spawn();
    const id = ++this.nextId;
    return new Promise<SliceResult>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
      };
      const onMessage = (message: { id: number; matches: LogSearchMatch[]; count: number; error?: string }) => {
        if (message.id !== id) return;
        done();
        if (message.error) reject(new Error(message.error));
        else resolve({ matches: message.matches, count: message.count });
      };
      const onError = (error: Error) => {
        done();
        this.worker = null;
        reject(error);
      };
      const timer = setTimeout(() => {
        done();
        // Stuck in the pattern: only terminating the thread stops it.
        void worker.terminate();
        this.worker = null;
        resolve("timeout");
      }, timeoutMs);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.postMessage({
        id,
        want,
        chunks: chunks.map(({ first_seq, content, streams }) => ({ first_seq, content, streams })),
      });
    });
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
  }
}

export interface LogSearchSource {
  extents: readonly LogChunkExtent[];
  /** Chunks starting in [fromSeq, toSeq] that pass the filter, in order. */
  read(
    range: { fromSeq: number; toSeq: number },
    filter: LogChunkFilter,
    timeoutMs: number,
  ): Promise<LogChunkContent[]>;
}

export interface LogSearchOutcome {
  matches: LogSearchMatch[];
  total: number;
  truncated: boolean;
  searchedThrough: number;
}

/** Windows of consecutive chunks of about WINDOW_BYTES each. */
function windowsOf(extents: readonly LogChunkExtent[]): { fromSeq: number; toSeq: number; lastSeq: number }[] {
  const windows: { fromSeq: number; toSeq: number; lastSeq: number }[] = [];
  let current: { fromSeq: number; toSeq: number; lastSeq: number } | null = null;
  let bytes = 0;
  for (const extent of extents) {
    if (!current || bytes + extent.bytes > WINDOW_BYTES) {
      current = { fromSeq: extent.first_seq, toSeq: extent.first_seq, lastSeq: extent.last_seq };
      windows.push(current);
      bytes = 0;
    }
    current.toSeq = extent.first_seq;
    current.lastSeq = extent.last_seq;
    bytes += extent.bytes;
  }
  return windows;
}

const PG_INVALID_REGEX = "2201B";
const PG_QUERY_CANCELED = "57014";
const codeOf = (error: unknown) => (error as { code?: unknown } | null)?.code;

/**
 * Runs a planned search over a log's chunks: windows in order (`concurrency` of them read
 * ahead while the current one is matched), the first `limit` matches kept, the rest counted
 * until the budget runs out.
 */
export async function runLogSearch(
  plan: LogSearchPlan,
  source: LogSearchSource,
  options: { limit: number; budgetMs?: number; concurrency?: number },
): Promise<LogSearchOutcome> {
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const deadline = Date.now() + (options.budgetMs ?? LOG_SEARCH_BUDGET_MS);
  const windows = windowsOf(source.extents);
  const matches: LogSearchMatch[] = [];
  let total = 0;
  let searchedThrough = 0;
  let filter = plan.filter;
  const worker = new MatchWorker(plan);
  const read = async (window: { fromSeq: number; toSeq: number }): Promise<LogChunkContent[] | "timeout"> => {
    try {
      return await source.read(window, filter, Math.max(1, deadline - Date.now()));
    } catch (error) {
      if (codeOf(error) === PG_QUERY_CANCELED) return "timeout";
      // The translation is not one PostgreSQL accepts after all: read without the text filter.
      if (codeOf(error) !== PG_INVALID_REGEX || filter.match === null) throw error;
      filter = { ...filter, match: null };
      return source.read(window, filter, Math.max(1, deadline - Date.now()));
    }
  };
  const inFlight: Promise<LogChunkContent[] | "timeout">[] = [];
  let nextWindow = 0;
  const readAhead = () => {
    while (inFlight.length < concurrency && nextWindow < windows.length && Date.now() < deadline) {
      inFlight.push(read(windows[nextWindow++] as { fromSeq: number; toSeq: number }));
    }
  };
  try {
    readAhead();
    for (let k = 0; inFlight.length > 0; k++) {
      const window = windows[k] as { fromSeq: number; toSeq: number; lastSeq: number };
      const chunks = await (inFlight.shift() as Promise<LogChunkContent[] | "timeout">);
      if (chunks === "timeout") break;
      readAhead();
      if (chunks.length > 0) {
        const timeout = Math.min(SLICE_TIMEOUT_MS, Math.max(1, deadline - Date.now()));
        const result = await worker.match(chunks, options.limit - matches.length, timeout);
        if (result === "timeout") {
          if (timeout >= SLICE_TIMEOUT_MS && total === 0) {
            throw invalidQ("takes too long to evaluate on this log (nested repetition such as (a+)+?): simplify it");
          }
          break;
        }
        matches.push(...result.matches);
        total += result.count;
      }
      searchedThrough = window.lastSeq;
      if (Date.now() >= deadline) break;
    }
  } finally {
    worker.close();
    // Reads still running when the search stopped: their answers (or failures) are not needed.
    for (const pending of inFlight) pending.catch(() => {});
  }
  const lastSeq = source.extents.at(-1)?.last_seq ?? 0;
  return { matches, total, truncated: matches.length < total || searchedThrough < lastSeq, searchedThrough };
}

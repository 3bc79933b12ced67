import "server-only";
import { LOG_ESCAPE_SOURCE } from "./schema";

// Trigram signatures of log chunks, so a search skips the chunks that cannot hold a match
// without the database reading (and decompressing) their text. A chunk's signature is a bit set
// (a one-hash Bloom filter) of the trigrams of its lines as displayed (escape sequences removed)
// with ASCII letters folded to lower case; a search needs, from its pattern, trigrams that every
// matching line contains (a condition of ANDs and ORs). A chunk missing one of them cannot match;
// a chunk having all of them may (the filter has false positives, never false negatives: the
// lines themselves are matched afterwards). Folding only ASCII is exact for JavaScript's
// case-insensitive matching without the u flag, which never maps a non-ASCII character to an
// ASCII one; patterns with other cased letters get no trigram across those letters.

/** A condition on trigram hashes: a hash (the chunk has that trigram), or all / any of several. */
export type GramCondition = number | { and: GramCondition[] } | { or: GramCondition[] };

/** Bits of a signature, by chunk length: enough to stay sparse, at most 4 KB (kept inline). */
const MIN_SIGNATURE_BITS = 256;
export const MAX_SIGNATURE_BITS = 32_768;
/** Trigrams a search asks the database for at most (each is one bit test per chunk). */
const MAX_CONDITION_GRAMS = 48;

const fold = (code: number) => (code >= 65 && code <= 90 ? code + 32 : code);

/** The hash of a trigram of (folded) UTF-16 code units, as an unsigned 32-bit integer. */
export function gramHash(a: number, b: number, c: number): number {
  let x = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

const escapes = new RegExp(LOG_ESCAPE_SOURCE, "g");

/** A chunk's lines as search matches them: escape sequences removed line by line. */
function displayed(content: string): string {
  if (!content.includes("\u001b")) return content;
  return content
    .split("\n")
    .map((line) => (line.includes("\u001b") ? line.replace(escapes, "") : line))
    .join("\n");
}

/** The signature of a chunk's text (its lines joined by newlines). */
export function logChunkSignature(content: string): Uint8Array {
  const text = displayed(content);
  let bits = MIN_SIGNATURE_BITS;
  while (bits < MAX_SIGNATURE_BITS && bits < text.length * 2) bits *= 2;
  const signature = new Uint8Array(bits / 8);
  const mask = bits - 1;
  // a, b: the two code units before i on the same line (-1: none yet).
  let a = -1;
  let b = -1;
  for (let i = 0; i < text.length; i++) {
    const c = fold(text.charCodeAt(i));
    if (c === 10) {
      a = -1;
      b = -1;
      continue;
    }
    if (a >= 0) {
      const bit = gramHash(a, b, c) & mask;
      signature[bit >>> 3] = (signature[bit >>> 3] as number) | (1 << (bit & 7));
    }
    a = b;
    b = c;
  }
  return signature;
}

/** Whether a signature may hold every trigram the condition needs (what the SQL filter asks). */
export function signatureMayMatch(signature: Uint8Array, condition: GramCondition): boolean {
  if (typeof condition === "number") {
    const bit = condition % (signature.length * 8);
    return ((signature[bit >>> 3] as number) & (1 << (bit & 7))) !== 0;
  }
  if ("and" in condition) return condition.and.every((term) => signatureMayMatch(signature, term));
  return condition.or.some((term) => signatureMayMatch(signature, term));
}

// ---- What a search needs ----

/** Every trigram of a run of literal characters (already folded), in order. */
function gramsOfRun(run: readonly number[]): number[] {
  const hashes: number[] = [];
  for (let i = 2; i < run.length; i++)
    hashes.push(gramHash(run[i - 2] as number, run[i - 1] as number, run[i] as number));
  return hashes;
}

/** Null: nothing is known (every chunk may match). */
type Need = GramCondition | null;

function and(terms: Need[]): Need {
  const kept: GramCondition[] = [];
  for (const term of terms) {
    if (term === null) continue;
    if (typeof term !== "number" && "and" in term) kept.push(...term.and);
    else kept.push(term);
  }
  if (kept.length === 0) return null;
  return kept.length === 1 ? (kept[0] as GramCondition) : { and: kept };
}

function or(terms: Need[]): Need {
  if (terms.length === 0 || terms.some((term) => term === null)) return null;
  const kept = terms as GramCondition[];
  return kept.length === 1 ? (kept[0] as GramCondition) : { or: kept };
}

/** At most `budget` hashes: terms of an AND may be dropped, an OR is kept whole or dropped. */
function bounded(need: Need, budget: { left: number }): Need {
  if (need === null) return null;
  if (typeof need === "number") {
    if (budget.left <= 0) return null;
    budget.left--;
    return need;
  }
  if ("and" in need) return and(need.and.map((term) => bounded(term, budget)));
  const trial = { left: budget.left };
  const terms = need.or.map((term) => bounded(term, trial));
  if (terms.some((term) => term === null)) return null;
  budget.left = trial.left;
  return or(terms);
}

/**
 * Whether the character may be folded by JavaScript's case-insensitive matching to another one
 * that the signature keeps apart (a cased letter outside ASCII).
 */
const foldsBeyondAscii = (code: number) => {
  if (code < 128) return false;
  const char = String.fromCharCode(code);
  return char.toLowerCase() !== char.toUpperCase();
};

/** The trigrams of plain text every line containing it has. */
function needOfText(text: string, ignoreCase: boolean): Need {
  const runs: number[][] = [[]];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (ignoreCase && foldsBeyondAscii(code)) runs.push([]);
    else (runs.at(-1) as number[]).push(fold(code));
  }
  return and(runs.flatMap(gramsOfRun));
}

/**
 * The trigrams every line a JavaScript pattern (flags g or gi, no u) matches has. Conservative:
 * anything not understood ends a run of literal characters without adding to what is needed.
 */
function needOfPattern(source: string, ignoreCase: boolean): Need {
  let i = 0;
  const QUANTIFIER = /^(?:[*+?]|\{(\d+)(?:,\d*)?\})\??/;

  /** A literal character at i (after a backslash or not), or null when i is not one. */
  const literalAt = (): number | null => {
    const char = source[i] as string;
    if (char !== "\\") {
      if ("^$.|()[]*+?{}".includes(char)) return null;
      i++;
      return source.charCodeAt(i - 1);
    }
    const next = source[i + 1];
    if (next === undefined) return null;
    // Escaped punctuation is that character; letters and digits are classes, assertions,
    // references or control escapes: not literals here.
    if (/[A-Za-z0-9]/.test(next) || next.charCodeAt(0) >= 128) return null;
    i += 2;
    return next.charCodeAt(0);
  };

  /**
   * Skips one atom that is not a literal (a class, an escape, a dot, an anchor), all of it: the
   * digits of \\x41 or of a back reference are not literals that follow it.
   */
  const skipAtom = () => {
    const char = source[i];
    if (char === "\\") {
      const next = source[i + 1] ?? "";
      const rest = source.slice(i + 2);
      if (next === "x" && /^[0-9A-Fa-f]{2}/.test(rest)) i += 4;
      else if (next === "u" && /^[0-9A-Fa-f]{4}/.test(rest)) i += 6;
      else if (next === "c" && /^[A-Za-z]/.test(rest)) i += 3;
      else if (/[0-9]/.test(next)) i += 2 + (/^[0-9]*/.exec(rest)?.[0].length ?? 0);
      else if (next === "k" && rest.startsWith("<") && rest.includes(">")) i += 2 + rest.indexOf(">") + 1;
      else i += 2;
      return;
    }
    if (char === "[") {
      // As JavaScript reads a class without the u flag: up to the first "]" not escaped ([] and
      // [^] included).
      i++;
      if (source[i] === "^") i++;
      while (i < source.length && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      i++;
      return;
    }
    i++;
  };

  const alternation = (): Need => {
    const branches: Need[] = [sequence()];
    while (source[i] === "|") {
      i++;
      branches.push(sequence());
    }
    return or(branches);
  };

  const sequence = (): Need => {
    const needs: Need[] = [];
    let run: number[] = [];
    const endRun = () => {
      needs.push(...gramsOfRun(run));
      run = [];
    };
    while (i < source.length && source[i] !== "|" && source[i] !== ")") {
      let atom: { kind: "char"; code: number } | { kind: "group"; need: Need; zeroWidth: boolean } | { kind: "other" };
      if (source[i] === "(") {
        const rest = source.slice(i);
        const look = /^\(\?<?[=!]/.exec(rest);
        const opener = look ?? /^\((?:\?<[A-Za-z_$][\w$]*>|\?:|(?!\?))/.exec(rest);
        if (!opener) return null; // modifiers and anything newer: not understood
        i += opener[0].length;
        const inner = alternation();
        if (source[i] !== ")") return null; // not understood: need nothing
        i++;
        atom = { kind: "group", need: look ? null : inner, zeroWidth: look !== null };
      } else {
        const code = literalAt();
        if (code !== null && !(ignoreCase && foldsBeyondAscii(code))) atom = { kind: "char", code: fold(code) };
        else {
          if (code === null) skipAtom();
          atom = { kind: "other" };
        }
      }
      const quantifier = QUANTIFIER.exec(source.slice(i));
      let min = 1;
      if (quantifier) {
        i += quantifier[0].length;
        const [text, count] = quantifier;
        min = text.startsWith("+") ? 1 : count !== undefined ? Number(count) : 0;
      }
      if (atom.kind === "char") {
        if (min === 0) endRun();
        else if (!quantifier) run.push(atom.code);
        else {
          // Repeated: once where it stands, then possibly again before what follows.
          run.push(atom.code);
          endRun();
          run.push(atom.code);
        }
      } else {
        endRun();
        if (atom.kind === "group" && min > 0) needs.push(atom.need);
      }
    }
    endRun();
    return and(needs);
  };

  const need = alternation();
  // A stray ")" or anything left over: the pattern is not what this reading thinks.
  return i === source.length ? need : null;
}

/**
 * The trigrams every line matching the search has, or null (nothing known: every chunk may
 * match). `q` is plain text, or a JavaScript pattern when `regex`.
 */
export function logSearchGrams(query: { q: string; regex: boolean; caseSensitive: boolean }): GramCondition | null {
  const ignoreCase = !query.caseSensitive;
  const need = query.regex ? needOfPattern(query.q, ignoreCase) : needOfText(query.q, ignoreCase);
  return bounded(need, { left: MAX_CONDITION_GRAMS });
}

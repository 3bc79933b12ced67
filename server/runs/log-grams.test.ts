import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type GramCondition, logChunkSignature, logSearchGrams, signatureMayMatch } from "./log-grams";

/** A chunk of the line among other lines, as StepLog stores it. */
const chunkWith = (line: string) => ["2024-05-01 INFO starting", line, "done: 0 failures"].join("\n");

const passes = (content: string, q: string, options: { regex?: boolean; caseSensitive?: boolean } = {}) => {
  const condition = logSearchGrams({ q, regex: options.regex ?? false, caseSensitive: options.caseSensitive ?? false });
  return condition === null || signatureMayMatch(logChunkSignature(content), condition);
};

describe("log chunk signatures", () => {
  it("let a search skip chunks without its text, and keep those with it in any ASCII case", () => {
    const lines = Array.from(
      { length: 3_000 },
      (_, i) => `12:00:00.${i % 1000} INFO item ${i} checksum=${(i * 7919).toString(16)} ok`,
    );
    const content = lines.join("\n");
    expect(passes(content, "error")).toBe(false);
    expect(passes(content, "quota exceeded", { caseSensitive: true })).toBe(false);
    expect(passes(content, "error|fatal", { regex: true })).toBe(false);
    expect(passes(`${content}\nupload ERROR: quota`, "error")).toBe(true);
    expect(passes(`${content}\nupload ERROR: quota`, "Error")).toBe(true);
    expect(passes(`${content}\nupload ERROR: quota`, "error|fatal", { regex: true })).toBe(true);
  });

  it("read lines as displayed: escape sequences removed", () => {
    expect(passes("\u001b[31mERR\u001b[0mOR here", "error")).toBe(true);
    expect(passes("\u001b[31mred\u001b[0m", "31m")).toBe(false);
  });

  it("need nothing of what they cannot tell apart (short text, non-ASCII case, classes)", () => {
    expect(logSearchGrams({ q: "ab", regex: false, caseSensitive: false })).toBeNull();
    expect(logSearchGrams({ q: "éé", regex: false, caseSensitive: false })).toBeNull();
    expect(logSearchGrams({ q: "\\d+\\.\\d+", regex: true, caseSensitive: false })).toBeNull();
    expect(logSearchGrams({ q: "err(?i:or)", regex: true, caseSensitive: false })).toBeNull();
    expect(logSearchGrams({ q: "abc|x*", regex: true, caseSensitive: false })).toBeNull();
    // CAFÉ matches café in any case: only the ASCII part is needed.
    expect(passes(chunkWith("CAFÉ au lait"), "café")).toBe(true);
    expect(logSearchGrams({ q: "café", regex: false, caseSensitive: false })).not.toBeNull();
  });

  it("bound how many trigrams a search asks for", () => {
    const count = (condition: GramCondition | null): number =>
      condition === null
        ? 0
        : typeof condition === "number"
          ? 1
          : ("and" in condition ? condition.and : condition.or).reduce<number>((sum, term) => sum + count(term), 0);
    expect(count(logSearchGrams({ q: "x".repeat(10_000), regex: false, caseSensitive: true }))).toBeLessThanOrEqual(48);
    expect(
      count(
        logSearchGrams({
          q: Array.from({ length: 100 }, (_, i) => `word${i}`).join("|"),
          regex: true,
          caseSensitive: true,
        }),
      ),
    ).toBe(0);
  });

  it("never skip a chunk holding a line the text matches (any case)", () => {
    const char = fc.constantFrom(..."aAbBeErRoO  .:-_=/\\é É\u00e9ſSkK\u212a0123".split(""));
    fc.assert(
      fc.property(
        fc.string({ unit: char, minLength: 1, maxLength: 12 }),
        fc.string({ unit: char, maxLength: 12 }),
        fc.string({ unit: char, maxLength: 12 }),
        fc.boolean(),
        (q, before, after, caseSensitive) => {
          const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
          for (const line of [before + q + after, before + q.toUpperCase() + after, before + q.toLowerCase() + after]) {
            if (!new RegExp(escapeRegExp(q), caseSensitive ? "" : "i").test(line)) continue;
            expect(passes(chunkWith(line), q, { caseSensitive }), JSON.stringify({ q, line })).toBe(true);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  // Patterns built with a line they match: whatever the pattern, the chunk holding that line
  // must pass its condition.
  type Built = { pattern: string; atom: boolean; sample: (pick: () => number) => string };
  const LETTERS = "abeoRrEO-. _";
  const literal: fc.Arbitrary<Built> = fc.constantFrom(...LETTERS.split("")).map((c) => ({
    pattern: /[.-]/.test(c) ? `\\${c}` : c,
    atom: true,
    sample: () => c,
  }));
  const escaped: fc.Arbitrary<Built> = fc.constantFrom<Built>(
    { pattern: "\\x41", atom: true, sample: () => "A" },
    { pattern: "\\u0065", atom: true, sample: () => "e" },
    { pattern: "\\d", atom: true, sample: (pick) => String(pick() % 10) },
    { pattern: "\\w", atom: true, sample: () => "r" },
    { pattern: "\\s", atom: true, sample: () => " " },
    { pattern: "[a-e]", atom: true, sample: (pick) => "abcde"[pick() % 5] as string },
    { pattern: "[^x]", atom: true, sample: () => "o" },
    { pattern: "[]]", atom: true, sample: () => "]" },
    { pattern: ".", atom: true, sample: () => "E" },
    { pattern: "\\t", atom: true, sample: () => "\t" },
    { pattern: "\\cJ", atom: false, sample: () => "" },
    { pattern: "\\b", atom: false, sample: () => "" },
    { pattern: "(?=[a-z])", atom: false, sample: () => "" },
    { pattern: "(?!q)", atom: false, sample: () => "" },
    { pattern: "x{", atom: false, sample: () => "x{" },
  );
  const { node } = fc.letrec<{ node: Built }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      literal,
      literal,
      escaped,
      fc.array(tie("node"), { minLength: 1, maxLength: 6 }).map((parts) => ({
        pattern: parts.map((part) => part.pattern).join(""),
        atom: false,
        sample: (pick: () => number) => parts.map((part) => part.sample(pick)).join(""),
      })),
      fc.tuple(tie("node"), tie("node"), fc.constantFrom("(", "(?:", "(?<name>")).map(([a, b, open]) => ({
        pattern: `${open}${a.pattern}|${b.pattern})`.replace("(?<name>", `(?<n${Math.abs(a.pattern.length)}x>`),
        atom: true,
        sample: (pick: () => number) => (pick() % 2 === 0 ? a.sample(pick) : b.sample(pick)),
      })),
      fc.tuple(tie("node"), fc.constantFrom("*", "+", "?", "{2}", "{1,3}", "{0,2}", "+?", "*?")).map(([inner, q]) => {
        const atom = inner.atom ? inner.pattern : `(?:${inner.pattern})`;
        const [min, max] = q.startsWith("*")
          ? [0, 3]
          : q.startsWith("+")
            ? [1, 3]
            : q === "?"
              ? [0, 1]
              : q === "{2}"
                ? [2, 2]
                : q === "{1,3}"
                  ? [1, 3]
                  : [0, 2];
        return {
          pattern: `${atom}${q}`,
          atom: false,
          sample: (pick: () => number) => {
            const times = min + (pick() % (max - min + 1));
            return Array.from({ length: times }, () => inner.sample(pick)).join("");
          },
        };
      }),
    ),
  }));

  it("never skip a chunk holding a line the pattern matches", () => {
    fc.assert(
      fc.property(
        node,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.string({ maxLength: 6 }),
        (built, picks, caseSensitive, topAlternation, noise) => {
          let at = 0;
          const pick = () => picks[at++ % picks.length] as number;
          const pattern = topAlternation ? `zzz|${built.pattern}` : built.pattern;
          let regexp: RegExp;
          try {
            regexp = new RegExp(pattern, caseSensitive ? "" : "i");
          } catch {
            return;
          }
          const sample = built.sample(pick);
          for (const line of [noise + sample + noise, (noise + sample).toUpperCase()]) {
            if (!regexp.test(line)) continue;
            expect(
              passes(chunkWith(line), pattern, { regex: true, caseSensitive }),
              JSON.stringify({ pattern, line }),
            ).toBe(true);
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it("need the literal runs of common patterns", () => {
    const content = chunkWith(
      "2024-05-01T12:00:00.457Z ERROR [worker-1] upload failed: disk quota exceeded (code 123457)",
    );
    for (const q of [
      "^\\S+ ERROR .*\\(code (\\d+)\\)$",
      "error|failed|fatal",
      "quota\\s+exceeded",
      "(?<kind>ERROR|WARN) \\[worker",
    ]) {
      expect(passes(content, q, { regex: true }), q).toBe(true);
      expect(logSearchGrams({ q, regex: true, caseSensitive: false }), q).not.toBeNull();
      expect(passes(chunkWith("INFO all good"), q, { regex: true }), q).toBe(false);
    }
  });
});

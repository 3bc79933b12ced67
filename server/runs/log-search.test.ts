import { describe, expect, it } from "vitest";
import { isAppError } from "@/server/http/errors";
import { matchChunkLines, planLogSearch, runLogSearch, toPostgresRegex } from "./log-search";
import { LOG_ESCAPE_SOURCE } from "./schema";

const chunk = (first_seq: number, lines: string[], streams?: string) => ({
  first_seq,
  last_seq: first_seq + lines.length - 1,
  content: lines.join("\n"),
  streams: streams ?? "o".repeat(lines.length),
});

describe("planLogSearch", () => {
  it("narrows plain text with strpos (case-sensitive) or a literal ARE (any case)", () => {
    expect(planLogSearch({ q: "a.b", regex: false, caseSensitive: true }).filter.match).toEqual({
      op: "contains",
      pattern: "a.b",
    });
    expect(planLogSearch({ q: "a.b", regex: false, caseSensitive: false }).filter.match).toEqual({
      op: "iregex",
      pattern: "***=a.b",
    });
  });

  it("does not narrow in SQL where PostgreSQL could fold case differently", () => {
    expect(planLogSearch({ q: "café", regex: false, caseSensitive: false }).filter.match).toBeNull();
    expect(planLogSearch({ q: "caf\\u00e9", regex: true, caseSensitive: false }).filter.match).toBeNull();
    expect(planLogSearch({ q: "日志", regex: false, caseSensitive: false }).filter.match).not.toBeNull();
  });

  it("refuses an invalid regular expression naming q", () => {
    try {
      planLogSearch({ q: "a(", regex: true, caseSensitive: false });
      expect.unreachable();
    } catch (error) {
      expect(isAppError(error) && error.invalidParams[0]?.name).toBe("query.q");
    }
  });
});

describe("toPostgresRegex", () => {
  it("translates what is safe and gives up on the rest", () => {
    expect(toPostgresRegex("^error: \\d+$")).toBe("(?n)^error\\: [0-9]+$");
    expect(toPostgresRegex("\\bfoo(?=bar)")).toBe("(?n)foo");
    expect(toPostgresRegex("(?<n>a)|b")).toBe("(?n)(?:a)|b");
    expect(toPostgresRegex("a{1000}")).toBeNull();
    expect(toPostgresRegex("(a)\\1")).toBeNull();
    expect(toPostgresRegex("\\cJ")).toBeNull();
    expect(toPostgresRegex("[]")).toBeNull();
    expect(toPostgresRegex("(?=a)*")).toBeNull();
  });
});

describe("matchChunkLines", () => {
  it("finds lines and ranges in displayed text, counts past `want`, filters by stream", () => {
    const chunks = [
      chunk(1, ["an Error here", "\u001b[31merr\u001b[0mor split", "nothing"], "oeo"),
      chunk(4, ["error x error"]),
    ];
    const all = matchChunkLines(chunks, "error", "gi", LOG_ESCAPE_SOURCE, null, 10, 100);
    expect(all).toEqual({
      matches: [
        { seq: 1, ranges: [[3, 8]] },
        { seq: 2, ranges: [[0, 5]] },
        {
          seq: 4,
          ranges: [
            [0, 5],
            [8, 13],
          ],
        },
      ],
      count: 3,
    });
    expect(matchChunkLines(chunks, "error", "gi", LOG_ESCAPE_SOURCE, null, 1, 100).count).toBe(3);
    expect(matchChunkLines(chunks, null, "g", LOG_ESCAPE_SOURCE, "e", 10, 100).matches).toEqual([
      { seq: 2, ranges: [] },
    ]);
  });

  it("survives patterns that match the empty string", () => {
    const result = matchChunkLines([chunk(1, ["", "abc"])], "x*", "g", LOG_ESCAPE_SOURCE, null, 10, 100);
    expect(result.count).toBe(2);
    expect(result.matches.every((match) => match.ranges.length === 0)).toBe(true);
  });
});

describe("runLogSearch", () => {
  it("reads windows in order and stops a catastrophic pattern in its worker", async () => {
    const lines = Array.from({ length: 50 }, (_, i) => (i === 10 ? `${"a".repeat(40)}!` : `line ${i}`));
    const source = {
      extents: [{ first_seq: 1, last_seq: 50, bytes: 1000 }],
      read: async () => [chunk(1, lines)],
    };
    const ok = await runLogSearch(planLogSearch({ q: "line 4\\d", regex: true, caseSensitive: true }), source, {
      limit: 3,
    });
    expect(ok).toMatchObject({ total: 10, truncated: true, searchedThrough: 50 });
    expect(ok.matches.map((match) => match.seq)).toEqual([41, 42, 43]);
    const started = Date.now();
    const slow = await runLogSearch(planLogSearch({ q: "^(a+)+$", regex: true, caseSensitive: true }), source, {
      limit: 3,
    }).catch((error: unknown) => error);
    expect(isAppError(slow) && slow.invalidParams[0]?.name).toBe("query.q");
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

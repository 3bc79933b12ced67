import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "@/server/http/errors";
import { TEST_DB_KINDS } from "@/test/db";
import { LOG_SEARCH_BUDGET_MS, toPostgresRegex } from "./log-search";
import { openStepLogDownload, readStepLogs, searchStepLogs, startRun } from "./service";
import { createRunsFixture, isFinished, type RunsFixture, savePipeline, waitForRun } from "./test-support";

// Searching and downloading a step's log as the log viewer (and an API client) does, on a step
// that printed 1,000,000 lines (about 100 MB) with a few error lines among them: the matches,
// how long the search takes, a bad and a pathological pattern refused without stalling the
// server, and the whole log streamed back line for line.

const LINES = 1_000_000;
const ERROR_AT = [123_457, 654_321, 999_999];
/** About 100 bytes a line, varied like real output (timestamps, ids, checksums). */
const BIG = `name: big
steps:
  - id: big
    run: |
      awk 'BEGIN {
        srand(7)
        for (i = 1; i <= ${LINES}; i++) {
          if (i == ${ERROR_AT[0]} || i == ${ERROR_AT[1]} || i == ${ERROR_AT[2]}) {
            printf "2024-05-01T12:00:00.%03dZ ERROR [worker-%d] upload failed: disk quota exceeded (code %d)\\n", i % 1000, i % 8, i
          } else {
            printf "2024-05-01T12:00:00.%03dZ INFO  [worker-%d] processed item %07d checksum=%08x%08x status=ok\\n", i % 1000, i % 8, i, int(rand() * 4294967295), int(rand() * 4294967295)
          }
        }
      }'
      echo "FATAL: giving up after 3 failures" >&2
`;

const SMALL = `name: small
steps:
  - id: small
    run: |
      printf '\\033[31mred\\033[0mwarn and \\033[1;32mgreen\\033[0m\\n'
      echo "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"
      echo "café CAFÉ"
      echo "plain"
`;

type Actor = RunsFixture["actors"]["admin"];

async function caught(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** How long the event loop stalled at most while `work` ran (a blocked server answers nobody). */
async function maxStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    const result = await work();
    return { result, stallMs };
  } finally {
    clearInterval(timer);
  }
}

describe.each(TEST_DB_KINDS)("log search and download on %s", (kind) => {
  let fixture: RunsFixture;
  let actors: RunsFixture["actors"];
  let bigRun: string;
  let smallRun: string;

  beforeAll(async () => {
    fixture = await createRunsFixture(kind, { maxLogBytes: 256 * 1024 * 1024 });
    actors = fixture.actors;
    const started = performance.now();
    const [big, small] = await Promise.all([
      startRun(actors.developer, await savePipeline(fixture, BIG), {}),
      startRun(actors.developer, await savePipeline(fixture, SMALL), {}),
    ]);
    bigRun = big.id;
    smallRun = small.id;
    const done = await waitForRun(actors.developer, bigRun, isFinished, 240_000);
    expect(done.status).toBe("succeeded");
    expect((await waitForRun(actors.developer, smallRun, isFinished)).status).toBe("succeeded");
    console.log(`[${kind}] ${LINES} lines stored in ${Math.round(performance.now() - started)} ms`);
  }, 300_000);
  afterAll(async () => {
    await fixture?.close();
  });

  const timed = async <T>(label: string, work: () => Promise<T>) => {
    const started = performance.now();
    const result = await work();
    const ms = Math.round(performance.now() - started);
    console.log(`[${kind}] ${label}: ${ms} ms`);
    return { result, ms };
  };

  it("pages report the log's length", async () => {
    const page = await readStepLogs(actors.viewer, bigRun, { step: "big", after: 999_990, limit: 5 });
    // 1,000,000 lines, the stderr line and the executor's own lines around them.
    expect(page.lastSeq).toBeGreaterThan(LINES + 1);
    expect(page.lines.map((line) => line.seq)).toEqual([999_991, 999_992, 999_993, 999_994, 999_995]);
  });

  it("finds the error lines of a 100 MB log, within the time budget (timings printed)", async () => {
    const page = await readStepLogs(actors.viewer, bigRun, { step: "big", after: 0, limit: 10 });
    const offset = page.lines.findIndex((line) => line.stream === "stdout"); // system lines come first
    const { result, ms } = await timed("search 'error' (plain, any case) over 100 MB", () =>
      searchStepLogs(actors.viewer, bigRun, { step: "big", q: "error" }),
    );
    expect(result.matches.map((match) => match.seq)).toEqual(ERROR_AT.map((at) => at + offset));
    expect(result).toMatchObject({ total: 3, truncated: false, searchedThrough: page.lastSeq });
    const first = result.matches[0];
    const line = await readStepLogs(actors.viewer, bigRun, { step: "big", after: (first?.seq ?? 1) - 1, limit: 1 });
    const [start, end] = first?.ranges[0] ?? [0, 0];
    expect(line.lines[0]?.text.slice(start, end)).toBe("ERROR");
    // Timings depend on the machine (printed above); the search covered the whole log in its budget.
    expect(ms).toBeLessThan(LOG_SEARCH_BUDGET_MS);

    const regex = await timed("search /error|failed|fatal/i (regex) over 100 MB", () =>
      searchStepLogs(actors.viewer, bigRun, { step: "big", q: "error|failed|fatal", regex: true }),
    );
    // The three error lines, and the FATAL line on stderr.
    expect(regex.result.total).toBe(4);
    const text = line.lines[0]?.text ?? "";
    expect(regex.result.matches[0]?.ranges).toEqual(
      [...text.matchAll(/error|failed|fatal/gi)].map((m) => [m.index, m.index + m[0].length]),
    );
    expect(regex.result.matches[0]?.ranges).toHaveLength(2);
    expect(regex.ms).toBeLessThan(LOG_SEARCH_BUDGET_MS);

    const exact = await timed("search /^\\S+ ERROR .*\\(code (\\d+)\\)$/ (case-sensitive) over 100 MB", () =>
      searchStepLogs(actors.viewer, bigRun, {
        step: "big",
        q: "^\\S+ ERROR .*\\(code (\\d+)\\)$",
        regex: true,
        caseSensitive: true,
      }),
    );
    expect(exact.result.total).toBe(3);
    expect(exact.result.matches.every((match) => match.ranges[0]?.[0] === 0)).toBe(true);
  });

  it("lists stderr lines, and cuts at the limit while still counting", async () => {
    const stderr = await searchStepLogs(actors.viewer, bigRun, { step: "big", stream: "stderr" });
    expect(stderr.total).toBe(1);
    const fatal = await readStepLogs(actors.viewer, bigRun, {
      step: "big",
      after: (stderr.matches[0]?.seq ?? 1) - 1,
      limit: 1,
    });
    expect(fatal.lines[0]).toMatchObject({ stream: "stderr", text: "FATAL: giving up after 3 failures" });

    const { result } = await timed("search 'status=ok' (every line matches) with limit 10", () =>
      searchStepLogs(actors.viewer, bigRun, { step: "big", q: "status=ok", limit: 10 }),
    );
    expect(result.matches).toHaveLength(10);
    expect(result.truncated).toBe(true);
    // Counted to the end within the budget, or a lower bound with how far the count got.
    expect(result.total).toBeLessThanOrEqual(LINES - ERROR_AT.length);
    if (result.searchedThrough >= LINES) expect(result.total).toBe(LINES - ERROR_AT.length);
  });

  it("refuses a bad pattern, and stops a catastrophic one without stalling the server", async () => {
    const bad = await caught(searchStepLogs(actors.viewer, smallRun, { step: "small", q: "error(", regex: true }));
    expect(isAppError(bad) && bad.code).toBe("INVALID_INPUT");
    expect(isAppError(bad) && bad.invalidParams[0]?.name).toBe("query.q");

    const { result: slow, stallMs } = await maxStall(() =>
      caught(searchStepLogs(actors.viewer, smallRun, { step: "small", q: "^(a+)+$", regex: true })),
    );
    expect(isAppError(slow) && slow.invalidParams[0]?.name).toBe("query.q");
    console.log(`[${kind}] catastrophic pattern refused; longest event-loop stall ${Math.round(stallMs)} ms`);
    expect(stallMs).toBeLessThan(500);
  });

  it("matches text as displayed, across colour changes, and folds case beyond ASCII", async () => {
    const colour = await searchStepLogs(actors.viewer, smallRun, { step: "small", q: "redwarn" });
    expect(colour.matches).toHaveLength(1);
    expect(colour.matches[0]?.ranges).toEqual([[0, 7]]);
    const sequence = await searchStepLogs(actors.viewer, smallRun, { step: "small", q: "31m" });
    expect(sequence.total).toBe(0);
    const cafe = await searchStepLogs(actors.viewer, smallRun, { step: "small", q: "café" });
    expect(cafe.matches[0]?.ranges).toEqual([
      [0, 4],
      [5, 9],
    ]);
  });

  it("stores a big log in chunks a page reads a few of, and finds lines in chunks stored before signatures", async () => {
    const db = fixture.test.db;
    const [sizes] = await db.query<{ chunks: number; largest: number; signed: number }>(
      `SELECT count(*)::int AS chunks, max(bytes) AS largest, count(grams)::int AS signed
       FROM run_log_chunks WHERE run_id = $1`,
      [bigRun],
    );
    // However slow the database was, a write stored what piled up as chunks of at most 256 KB.
    expect(sizes?.largest).toBeLessThanOrEqual(256 * 1024);
    expect(sizes?.signed).toBe(sizes?.chunks);

    // Chunks written before signatures existed are read by their text, as they always were.
    await db.query(`UPDATE run_log_chunks SET grams = NULL WHERE run_id = $1`, [smallRun]);
    const colour = await searchStepLogs(actors.viewer, smallRun, { step: "small", q: "redwarn" });
    expect(colour.matches[0]?.ranges).toEqual([[0, 7]]);
    expect((await searchStepLogs(actors.viewer, smallRun, { step: "small", q: "31m" })).total).toBe(0);
    const regex = await searchStepLogs(actors.viewer, smallRun, { step: "small", q: "^plai?n$", regex: true });
    expect(regex.total).toBe(1);
  });

  it("narrows chunks in SQL only with patterns that keep every match", async () => {
    const db = fixture.test.db;
    const cases: [string, string[]][] = [
      ["\\berror\\b", ["an error here", "error"]],
      ["^\\d{3}-\\w+$", ["123-abc"]],
      ["[^a-z]+x", ["ABCx", "1 x"]],
      ["(?<year>\\d{4})-(?:0[1-9]|1[0-2])", ["2024-05"]],
      ["foo(?=bar)", ["foobar"]],
      ["(?<!x)y", ["ay"]],
      ["a{2,3}?[.\\-/]", ["aa-", "aaa."]],
      ["\\s+\\S", ["\u00a0x", "  y"]],
      ["[\\d-x]", ["-", "x", "5"]],
      ["\\x41\\u00e9", ["Aé"]],
      ["a.c|^$", ["abc", ""]],
      ["x{|a{,2}", ["a{,2}", "x{"]],
    ];
    for (const [pattern, lines] of cases) {
      const translated = toPostgresRegex(pattern);
      expect(translated, pattern).not.toBeNull();
      for (const line of lines) {
        expect(new RegExp(pattern).test(line), `${pattern} on ${line}`).toBe(true);
        const content = `before\n${line}\nafter`;
        const [row] = await db.query<{ hit: boolean }>(`SELECT $1 ~ $2 AS hit`, [content, translated]);
        expect(row?.hit, `${translated} on ${JSON.stringify(line)}`).toBe(true);
      }
    }
    expect(toPostgresRegex("(a)\\1")).toBeNull();
  });

  it("streams the whole log back, line for line", async () => {
    const { result: download } = await timed("open download", () =>
      openStepLogDownload(actors.viewer, bigRun, { step: "big" }),
    );
    expect(download.filename).toMatch(/^pipeline-\d+-run-\d+-big-attempt-1\.log$/);
    const reader = download.body.getReader();
    const decoder = new TextDecoder();
    let lines = 0;
    let bytes = 0;
    let pieces = 0;
    let largest = 0;
    let tail = "";
    let errorLines = 0;
    const started = performance.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pieces++;
      bytes += value.byteLength;
      largest = Math.max(largest, value.byteLength);
      const text = tail + decoder.decode(value, { stream: true });
      const cut = text.lastIndexOf("\n");
      const whole = text.slice(0, cut + 1);
      tail = text.slice(cut + 1);
      for (let at = whole.indexOf("\n"); at >= 0; at = whole.indexOf("\n", at + 1)) lines++;
      errorLines += whole.match(/ ERROR /g)?.length ?? 0;
    }
    console.log(
      `[${kind}] downloaded ${bytes} bytes in ${pieces} pieces (largest ${largest}) in ${Math.round(performance.now() - started)} ms`,
    );
    const page = await readStepLogs(actors.viewer, bigRun, { step: "big", after: 0, limit: 1 });
    expect(tail).toBe("");
    expect(lines).toBe(page.lastSeq);
    expect(errorLines).toBe(3);
    expect(bytes).toBeGreaterThan(95_000_000);
    // Streamed a piece at a time, never the whole log at once.
    expect(largest).toBeLessThanOrEqual(1024 * 1024 + 70 * 1024);
  });

  it("answers another organization NOT_FOUND", async () => {
    const search = await caught(searchStepLogs(actors.globex as Actor, smallRun, { step: "small", q: "x" }));
    expect(isAppError(search) && search.code).toBe("NOT_FOUND");
    const download = await caught(openStepLogDownload(actors.globex as Actor, smallRun, { step: "small" }));
    expect(isAppError(download) && download.code).toBe("NOT_FOUND");
  });
});

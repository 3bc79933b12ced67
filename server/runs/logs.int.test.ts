import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putProjectSecret } from "@/server/secrets/service";
import { TEST_DB_KINDS } from "@/test/db";
import { MAX_LINE_CHARS } from "./logs";
import type { LogLine } from "./schema";
import { readStepLogs, startRun } from "./service";
import { createRunsFixture, type RunsFixture, savePipeline, stepOf } from "./test-support";
import { runWhenDone } from "./test-waits";

// Step logs under abuse, as a person reading them (or the API paging through them) sees them:
// binary junk, a megabyte on one line, hundreds of thousands of lines, progress bars, a log
// budget, a multi-line secret, and a step that leaves a process behind. Whatever the step
// prints, the run goes on, the sequence numbers have no gap and nothing secret is stored.

type Actor = RunsFixture["actors"]["admin"];

/** Every stored line of a step attempt, read page by page as an API client does. */
async function readAll(actor: Actor, runId: string, step: string): Promise<{ lines: LogLine[]; pages: number }> {
  const lines: LogLine[] = [];
  let after = 0;
  let pages = 0;
  for (;;) {
    const page = await readStepLogs(actor, runId, { step, after, limit: 10_000 });
    pages++;
    // Each page starts right after the previous one and has no gap.
    const gap = page.lines.findIndex((line, i) => line.seq !== after + i + 1);
    if (gap >= 0) throw new Error(`page after ${after}: line ${gap} has seq ${page.lines[gap]?.seq}`);
    lines.push(...page.lines);
    if (page.complete) return { lines, pages };
    if (page.lines.length === 0) throw new Error(`an empty page after ${after} that is not complete`);
    after = page.nextAfter;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ms = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso));

// C0 controls other than tab and ESC, and DEL: what a log line must never contain.
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001a\u001c-\u001f\u007f]/;

describe.each(TEST_DB_KINDS)("step logs on %s", (kind) => {
  let fixture: RunsFixture;

  beforeAll(async () => {
    fixture = await createRunsFixture(kind);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  describe.concurrent("what a step prints", { timeout: 90_000 }, () => {
    it("stores binary junk as clean text and the run goes on", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: junk
steps:
  - id: junk
    run: |
      echo before
      head -c 200000 /dev/urandom
      echo
      echo after
  - id: next
    needs: junk
    run: echo still fine
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      expect(stepOf(done, "next").status).toBe("succeeded");
      const { lines } = await readAll(actors.developer, run.id, "junk");
      const texts = lines.map((line) => line.text);
      expect(texts).toEqual(expect.arrayContaining(["before", "after", "Exited with code 0"]));
      expect(texts.filter((text) => CONTROL.test(text))).toEqual([]);
      // Invalid UTF-8 became the replacement character rather than vanishing or breaking the chunk.
      expect(texts.some((text) => text.includes("\uFFFD"))).toBe(true);
      expect(texts.every((text) => text.length <= MAX_LINE_CHARS + 100)).toBe(true);
    });

    it("truncates a 1 MB line with a marker that says how much was cut", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: wide
steps:
  - id: wide
    run: |
      head -c 1048576 /dev/zero | tr '\\0' x
      echo
      echo "next line"
  - id: next
    needs: wide
    run: echo still fine
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      expect(stepOf(done, "next").status).toBe("succeeded");
      const { lines } = await readAll(actors.developer, run.id, "wide");
      const wide = lines.find((line) => line.text.startsWith("xxxx"));
      expect(wide?.text).toBe(
        `${"x".repeat(MAX_LINE_CHARS)} … [line truncated: ${1048576 - MAX_LINE_CHARS} more characters]`,
      );
      expect(lines[lines.indexOf(wide as LogLine) + 1]?.text).toBe("next line");
    });

    it("stores 200,000 lines in order with gapless sequence numbers, readable page by page", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(fixture, `name: many\nsteps:\n  - id: many\n    run: seq 1 200000\n`);
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id, { timeoutMs: 60_000 });
      expect(done.status).toBe("succeeded");
      const { lines, pages } = await readAll(actors.developer, run.id, "many");
      expect(pages).toBe(Math.ceil(lines.length / 10_000));
      const output = lines.filter((line) => line.stream === "stdout").map((line) => line.text);
      expect(output).toHaveLength(200_000);
      expect(output.every((text, i) => text === String(i + 1))).toBe(true);
      expect(lines.at(-1)?.text).toBe("Exited with code 0");
      // Times never go backwards.
      expect(lines.every((line, i) => i === 0 || line.t >= (lines[i - 1] as LogLine).t)).toBe(true);
    });

    it("keeps only the last redraw of carriage-return progress output", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: progress
steps:
  - id: progress
    run: |
      printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\n'
      printf 'windows line\\r\\n'
      for i in 1 2 3; do printf '\\rslow %d/3' "$i"; sleep 0.2; done
      echo
      for i in $(seq 1 5000); do printf '\\rdownloading %d/5000 [####......]' "$i"; done
      echo
      echo done
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      const { lines } = await readAll(actors.developer, run.id, "progress");
      expect(lines.filter((line) => line.stream === "stdout").map((line) => line.text)).toEqual([
        "progress 100%",
        "windows line",
        "slow 3/3",
        // 200,000 characters of redraws without a newline: still only the last one.
        "downloading 5000/5000 [####......]",
        "done",
      ]);
    });

    it("masks every line of a multi-line secret, wherever it appears", async ({ expect }) => {
      const { actors } = fixture;
      const body = ["MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX", "6ppd2ikfyMVVpXBvTt9z7SEmoBKN7hoIHwBAEm"];
      const key = ["-----BEGIN TEST KEY-----", ...body, "-----END TEST KEY-----"].join("\n");
      await putProjectSecret(actors.admin, "acme", "storefront", "SIGNING_KEY", { value: key });
      const pipelineId = await savePipeline(
        fixture,
        `name: signing
steps:
  - id: sign
    env: { KEY: "\${{ secrets.SIGNING_KEY }}" }
    run: |
      echo "whole key:"
      echo "$KEY"
      echo "second line alone: $(echo "$KEY" | sed -n 2p)"
      echo "$KEY" | sed -n 3p >&2
      printf '%s' "$KEY" | tr '\\n' '|'
      echo
      echo "inline: \${{ secrets.SIGNING_KEY }}"
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      const { lines } = await readAll(actors.developer, run.id, "sign");
      const texts = lines.map((line) => line.text);
      const all = texts.join("\n");
      for (const part of body) expect(all).not.toContain(part);
      for (const part of body) expect(all).not.toContain(part.slice(4, -4));
      expect(texts).toContain("second line alone: ***");
      expect(lines.find((line) => line.stream === "stderr")?.text).toBe("***");
      expect(texts).toContain("***|***|***|***");
      expect(texts.filter((text) => text === "***").length).toBeGreaterThanOrEqual(4);
    });

    it("finishes a step that leaves a process running, and stops that process", async ({ expect }) => {
      const { actors } = fixture;
      const pipelineId = await savePipeline(
        fixture,
        `name: leaky
steps:
  - id: leaky
    run: |
      sleep 60 &
      echo "background $!"
      echo "step done"
  - id: detached
    run: |
      nohup sleep 60 >/dev/null 2>&1 &
      echo "background $!"
`,
      );
      const run = await startRun(actors.developer, pipelineId, {});
      const done = await runWhenDone(fixture, actors.developer, run.id);
      expect(done.status).toBe("succeeded");
      for (const id of ["leaky", "detached"]) {
        const step = stepOf(done, id);
        expect(step.status).toBe("succeeded");
        expect(ms(step.finishedAt) - ms(step.startedAt)).toBeLessThan(10_000);
        const texts = (await readAll(actors.developer, run.id, id)).lines.map((line) => line.text);
        const pid = Number(texts.find((text) => text.startsWith("background "))?.split(" ")[1]);
        expect(pid).toBeGreaterThan(0);
        await expect.poll(() => isAlive(pid), { timeout: 5_000, message: `${id} left ${pid} running` }).toBe(false);
        expect(texts).toContain("Processes the step left running in the background were stopped");
      }
      const leaky = (await readAll(actors.developer, run.id, "leaky")).lines.map((line) => line.text);
      expect(leaky).toContain("step done");
    });
  });
});

// The budget is kept by StepLog before anything reaches the database, and storage is covered on
// both databases above: one database is enough here, and spares a second PGlite start-up. It is
// PostgreSQL, where a chunk's write takes long enough for a fast step to print a lot meanwhile
// (lines being written must count against the budget too).
describe.each(["postgres"] as const)("the log budget on %s", (kind) => {
  let fixture: RunsFixture;

  beforeAll(async () => {
    fixture = await createRunsFixture(kind, { maxLogBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("stops storing a step's output at its limit and says how many lines were dropped", async () => {
    const { actors } = fixture;
    const pipelineId = await savePipeline(
      fixture,
      `name: chatty
steps:
  - id: chatty
    run: |
      for i in $(seq 1 5000); do echo "line $i of a chatty step, long enough to fill the budget quickly"; done
  - id: after
    needs: chatty
    run: echo "after the chatty step"
`,
    );
    const run = await startRun(actors.developer, pipelineId, {});
    const done = await runWhenDone(fixture, actors.developer, run.id);
    expect(done.status).toBe("succeeded");
    const { lines } = await readAll(actors.developer, run.id, "chatty");
    const texts = lines.map((line) => line.text);
    const output = lines.filter((line) => line.stream === "stdout").map((line) => line.text);
    // What was stored is the beginning of the output, in order, within the budget.
    expect(output.length).toBeGreaterThan(100);
    expect(output.length).toBeLessThan(5_000);
    expect(output.every((text, i) => text.startsWith(`line ${i + 1} of`))).toBe(true);
    expect(output.reduce((sum, text) => sum + text.length + 1, 0)).toBeLessThanOrEqual(64 * 1024);
    expect(texts).toContain("Log limit of 65536 bytes reached: further output is not stored");
    expect(texts).toContain(`${5_000 - output.length} lines were not stored: the step exceeded its log limit`);
    expect(texts).toContain("Exited with code 0");
    // The next step has a budget of its own.
    const after = await readAll(actors.developer, run.id, "after");
    expect(after.lines.map((line) => line.text)).toContain("after the chatty step");
  }, 90_000);
});

// The log viewer on a 1,000,000-line (about 100 MB) step log, in Debian's Chromium against the
// built app:
//   MICROSTACK_NEXT_DIST_DIR=.next-logs npm run build
//   node --import tsx --import ./scripts/hooks/register.mjs bench/studio-logs.ts
// (the build directory: MICROSTACK_NEXT_DIST_DIR, else .next-logs when it exists, else .next)
//   - log_1m_scroll_frame_p95_ms: p95 of requestAnimationFrame deltas while the viewer is
//     scrolled programmatically from the first line to the last, one step per frame;
//   - log_search_100mb_ms: how long the search API takes to answer a search of the whole log
//     (`error`, any case, as the viewer's search box sends it; the median of a few).
// BENCH_STUDIO_PROFILE=<dir> writes a CPU profile of the sweep (BENCH_STUDIO_TRACE=1 a trace too,
// of BENCH_STUDIO_TRACE_CATEGORIES); BENCH_STUDIO_SWEEP_FRAMES changes the sweep's length.
// bench/studio.ts calls measureLogViewer with its own app and signed-in page. The last line is
// one JSON object with the figures.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";

const ROOT = path.resolve(import.meta.dirname, "..");
const LINES = 1_000_000;
const ERROR_AT = [123_457, 654_321, 999_999];
/** Frames the sweep over the whole log takes (one scroll step each). */
const SWEEP_FRAMES = Number(process.env.BENCH_STUDIO_SWEEP_FRAMES ?? 1_200);
const SEARCH_RUNS = 5;

/** A step printing LINES lines of about 100 bytes (timestamps, ids, checksums) with a few errors. */
export const BIG_LOG_PIPELINE = `name: Big log
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

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Creates a pipeline whose step prints the big log and runs it to the end, as the signed-in
 * user of `page` (who may create pipelines in acme/storefront).
 */
export async function createBigLogRun(page: Page, baseUrl: string): Promise<{ runId: string; step: string }> {
  const api = page.request;
  const slug = `big-log-${Date.now().toString(36)}`;
  const created = await api.post(`${baseUrl}/api/v1/organizations/acme/projects/storefront/pipelines`, {
    data: { slug, yaml: BIG_LOG_PIPELINE },
  });
  if (created.status() !== 201) throw new Error(`creating the pipeline: ${created.status()} ${await created.text()}`);
  const pipeline = (await created.json()) as { id: string };
  const started = await api.post(`${baseUrl}/api/v1/pipelines/${pipeline.id}/runs`, { data: {} });
  if (started.status() !== 201) throw new Error(`starting the run: ${started.status()} ${await started.text()}`);
  const run = (await started.json()) as { id: string };
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const detail = (await (await api.get(`${baseUrl}/api/v1/runs/${run.id}`)).json()) as { status: string };
    if (["succeeded", "failed", "cancelled", "timed_out"].includes(detail.status)) {
      if (detail.status !== "succeeded") throw new Error(`the big-log run ${detail.status}`);
      return { runId: run.id, step: "big" };
    }
    if (Date.now() > deadline) throw new Error("the big-log run did not finish in 10 minutes");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Measures the log viewer on a step's log (created here when no run is given): frame times
 * while scrolling through all of it, and the server-side search latency.
 */
export async function measureLogViewer(
  page: Page,
  baseUrl: string,
  target?: { runId: string; step: string },
): Promise<{ log_1m_scroll_frame_p95_ms: number; log_search_100mb_ms: number }> {
  const { runId, step } = target ?? (await createBigLogRun(page, baseUrl));
  await page.goto(`${baseUrl}/runs/${runId}/logs?step=${encodeURIComponent(step)}`);
  const log = page.getByRole("log");
  await log.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 60_000 });
  const rows = Number(await log.getAttribute("data-rows"));
  if (rows < LINES) throw new Error(`the viewer shows ${rows} rows, expected at least ${LINES}`);
  // Let the first page render and the group-marker search settle.
  await page.waitForTimeout(1_000);

  // Run through tsx, functions given to the page carry esbuild's __name helper: define it there.
  await page.evaluate("globalThis.__name ??= (fn) => fn");

  // (a) Sweep from the first line to the last, one scroll step per frame, timing every frame
  // (with BENCH_STUDIO_PROFILE=<dir>, a Chromium CPU profile of the sweep is written there).
  const profileDir = process.env.BENCH_STUDIO_PROFILE;
  const cdp = profileDir ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
    if (process.env.BENCH_STUDIO_TRACE) {
      await cdp.send("Tracing.start", {
        traceConfig: {
          includedCategories: (process.env.BENCH_STUDIO_TRACE_CATEGORIES ?? "devtools.timeline").split(","),
        },
        transferMode: "ReturnAsStream",
      });
    }
  }
  const sweep = await page.evaluate(async (frames) => {
    const element = document.querySelector('[role="log"]') as HTMLElement;
    const max = element.scrollHeight - element.clientHeight;
    element.scrollTop = 0;
    const deltas: number[] = [];
    await new Promise((resolve) => requestAnimationFrame(resolve));
    return new Promise<{ deltas: number[]; max: number; reached: number }>((resolve) => {
      let frame = 0;
      let last = 0;
      const tick = (now: number) => {
        if (last > 0) deltas.push(now - last);
        last = now;
        frame++;
        if (frame > frames) {
          resolve({ deltas, max, reached: element.scrollTop });
          return;
        }
        element.scrollTop = Math.round((frame / frames) * max);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
  }, SWEEP_FRAMES);
  if (cdp && profileDir && process.env.BENCH_STUDIO_TRACE) {
    const done = new Promise<string>((resolve) =>
      cdp.once("Tracing.tracingComplete", (event) => resolve(event.stream as string)),
    );
    await cdp.send("Tracing.end");
    const handle = await done;
    const pieces: string[] = [];
    for (;;) {
      const chunk = await cdp.send("IO.read", { handle });
      pieces.push(chunk.data);
      if (chunk.eof) break;
    }
    await cdp.send("IO.close", { handle });
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(path.join(profileDir, "log-sweep.trace.json"), pieces.join(""));
  }
  if (cdp && profileDir) {
    const { profile } = await cdp.send("Profiler.stop");
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(path.join(profileDir, "log-sweep.cpuprofile"), JSON.stringify(profile));
    await cdp.detach();
  }
  const lastShown = await page.locator('[role="log"] [data-seq]').last().getAttribute("data-seq");
  const frames = [...sweep.deltas].sort((a, b) => a - b);
  const p95 = round(percentile(frames, 95));
  console.log(
    `log viewer sweep: ${rows} rows, ${Math.round(sweep.max)} px in ${sweep.deltas.length} frames; frame p50 ${round(
      percentile(frames, 50),
    )} ms, p95 ${p95} ms, max ${round(frames.at(-1) ?? 0)} ms; ended at line ${lastShown}`,
  );

  // (b) The search API over the whole log, as the search box asks it, once the viewer has
  // loaded the lines it stopped at (its page fetches would share the database with the search).
  await page.locator('[role="log"] .log-row.is-loading').first().waitFor({ state: "detached", timeout: 60_000 });
  await page.waitForTimeout(1_000);
  const timings: number[] = [];
  let total = 0;
  for (let i = 0; i < SEARCH_RUNS; i++) {
    const result = await page.evaluate(
      async ({ runId, step }) => {
        const started = performance.now();
        const response = await fetch(
          `/api/v1/runs/${runId}/logs/search?step=${encodeURIComponent(step)}&q=error&limit=1000`,
          { headers: { accept: "application/json" } },
        );
        const body = (await response.json()) as { total: number; truncated: boolean };
        return { ms: performance.now() - started, status: response.status, ...body };
      },
      { runId, step },
    );
    if (result.status !== 200) throw new Error(`search answered ${result.status}`);
    timings.push(result.ms);
    total = result.total;
  }
  const sortedSearch = [...timings].sort((a, b) => a - b);
  const search = round(percentile(sortedSearch, 50));
  console.log(
    `log search 'error' over the whole log: ${total} matching lines; ${timings.map((ms) => Math.round(ms)).join(", ")} ms (median ${search} ms)`,
  );
  return { log_1m_scroll_frame_p95_ms: p95, log_search_100mb_ms: search };
}

// ---- Standalone ----

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

/** The built app on a fresh data dir, through the e2e launcher (a fixed demo password). */
async function startApp(): Promise<{ url: string; child: ChildProcess; password: string }> {
  const port = await freePort();
  const password = "bench-studio-logs-password";
  const distDir =
    process.env.MICROSTACK_NEXT_DIST_DIR ?? (existsSync(path.join(ROOT, ".next-logs")) ? ".next-logs" : ".next");
  const child = spawn(process.execPath, ["scripts/e2e-server.mjs"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      MICROSTACK_NEXT_DIST_DIR: distDir,
      MICROSTACK_DEMO_PASSWORD: password,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child, password };
    if (child.exitCode !== null)
      throw new Error(`the app exited; run \`MICROSTACK_NEXT_DIST_DIR=${distDir} npm run build\` first`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the app did not become ready");
}

async function main(): Promise<void> {
  const { chromium } = await import("playwright-core");
  const app = await startApp();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
    await page.goto(`${app.url}/sign-in`);
    await page.getByLabel(/email/i).fill("maintainer@demo.microstack.dev");
    await page.getByLabel(/password/i).fill(app.password);
    await page.getByRole("button", { name: /sign in/i }).click();
    await page.getByRole("navigation", { name: /main navigation/i }).waitFor();
    const started = performance.now();
    const target = await createBigLogRun(page, app.url);
    console.log(`big log: ${LINES} lines printed and stored in ${Math.round(performance.now() - started)} ms`);
    const figures = await measureLogViewer(page, app.url, target);
    console.log(
      `load average ${os
        .loadavg()
        .map((value) => value.toFixed(1))
        .join(" ")} on ${os.cpus().length} CPUs`,
    );
    console.log(JSON.stringify({ bench: "studio-logs", ...figures }));
  } finally {
    await browser.close();
    app.child.kill("SIGTERM");
    await new Promise((resolve) => app.child.once("exit", resolve));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

// The studio, the run view and the log viewer in Debian's Chromium against the built app:
//   npm run build && npm run bench:studio
// (MICROSTACK_NEXT_DIST_DIR picks another build directory.)
//   - open_500_ms: a 500-step pipeline's studio, from navigation to its graph drawn;
//   - frame_p50_ms / frame_p95_ms: frame times while panning and zooming that graph;
//   - run_view_5000_click_ms: in the view of a finished 5,000-step run, from a click on a step to
//     its details shown;
//   - log_1m_scroll_frame_p95_ms / log_search_100mb_ms: the log viewer on a 1,000,000-line
//     (about 100 MB) step log: frame times while scrolling through it, and a server-side search.
// The last line is one JSON object with the figures.
// BENCH_STUDIO_PARTS=studio,run-view,logs picks parts (all by default); BENCH_STUDIO_PROFILE=<dir>
// writes Chromium CPU profiles of the run view's clicks there (open them in DevTools). With
// DATABASE_URL (and MICROSTACK_SEED=demo) the app runs on that PostgreSQL database.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Page } from "playwright-core";

const ROOT = path.resolve(import.meta.dirname, "..");
const PASSWORD = "bench-studio-password";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

async function startApp(): Promise<{ url: string; child: ChildProcess; dataDir: string }> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "microstack-bench-studio-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--import", "./scripts/hooks/register.mjs", "server/main.ts"],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        PORT: String(port),
        HOST: "127.0.0.1",
        MICROSTACK_DATA_DIR: dataDir,
        MICROSTACK_DEMO_PASSWORD: PASSWORD,
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ready = await fetch(`${url}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) return { url, child, dataDir };
    if (child.exitCode !== null) throw new Error("the app exited; run `npm run build` first");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the app did not become ready");
}

async function signIn(page: Page, url: string, email: string): Promise<void> {
  await page.goto(`${url}/sign-in`);
  await page.getByLabel(/email/i).fill(email);
  await page.getByLabel(/password/i).fill(PASSWORD);
  await page.getByRole("button", { name: /sign in/i }).click();
  await page.getByRole("navigation", { name: /main navigation/i }).waitFor();
}

/** Frame times (ms between animation frames) while `action` runs. */
async function frameTimes(page: Page, action: () => Promise<void>): Promise<number[]> {
  // Code as text: tsx names functions with a helper that does not exist in the page.
  await page.evaluate(`(() => {
    window.__frames = [];
    window.__framing = true;
    let last = performance.now();
    const tick = (now) => {
      window.__frames.push(now - last);
      last = now;
      if (window.__framing) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  await action();
  return page.evaluate(`(() => { window.__framing = false; return window.__frames.slice(1); })()`);
}

function chain(count: number, body: string): string {
  const lines = ["name: bench", "steps:"];
  for (let i = 1; i <= count; i++) {
    lines.push(`  - id: s${i}`);
    // A wide DAG, as real big pipelines are: each step needs one of the previous ten.
    if (i > 1) lines.push(`    needs: s${Math.max(1, i - 1 - (i % 10))}`);
    lines.push(`    ${body}`);
  }
  return `${lines.join("\n")}\n`;
}

const PARTS = new Set((process.env.BENCH_STUDIO_PARTS ?? "studio,run-view,logs").split(","));

async function main(): Promise<void> {
  const app = await startApp();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    await signIn(page, app.url, "maintainer@demo.microstack.dev");
    const api = page.request;
    const create = async (slug: string, yaml: string) => {
      const response = await api.post(`${app.url}/api/v1/organizations/acme/projects/storefront/pipelines`, {
        data: { slug, yaml },
      });
      if (response.status() !== 201) throw new Error(`${slug}: ${response.status()} ${await response.text()}`);
      return (await response.json()) as { id: string; slug: string };
    };

    const figures: Record<string, number> = {};
    // Studio: a 500-step pipeline.
    if (PARTS.has("studio")) {
      const big = await create(`bench-500-${randomBytes(3).toString("hex")}`, chain(500, 'run: echo "step"'));
      const opens: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        await page.goto(`${app.url}/projects/acme/storefront/pipelines/${big.slug}/edit`);
        await page.locator(".react-flow__node").first().waitFor();
        await page.locator(".cm-content").waitFor();
        opens.push(Date.now() - started);
      }
      const canvas = page.locator(".pipeline-graph .react-flow__pane");
      const box = await canvas.boundingBox();
      if (!box) throw new Error("no canvas");
      const frames = await frameTimes(page, async () => {
        const cx = box.x + box.width / 2;
        const cy = box.y + box.height / 2;
        for (let round = 0; round < 3; round++) {
          await page.mouse.move(cx, cy);
          await page.mouse.down();
          for (let step = 0; step < 30; step++) await page.mouse.move(cx - step * 10, cy - step * 4);
          await page.mouse.up();
          for (let step = 0; step < 10; step++) await page.mouse.wheel(0, step % 2 === 0 ? -120 : 120);
        }
      });
      frames.sort((a, b) => a - b);
      console.log(
        `studio, 500 steps: opened in ${opens.join(", ")} ms; panning/zooming ${frames.length} frames, p50 ${round(percentile(frames, 50))} ms, p95 ${round(percentile(frames, 95))} ms`,
      );
      figures.open_500_ms = Math.min(...opens);
      figures.frame_p50_ms = round(percentile(frames, 50));
      figures.frame_p95_ms = round(percentile(frames, 95));
    }

    // Run view: a finished 5,000-step run (noop steps complete inside the engine).
    if (PARTS.has("run-view")) {
      const huge = await create(`bench-5000-${randomBytes(3).toString("hex")}`, chain(5000, "uses: noop"));
      const run = (await (await api.post(`${app.url}/api/v1/pipelines/${huge.id}/runs`, { data: {} })).json()) as {
        id: string;
      };
      for (let i = 0; i < 100; i++) {
        const detail = (await (await api.get(`${app.url}/api/v1/runs/${run.id}`)).json()) as { status: string };
        if (detail.status === "succeeded") break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await page.goto(`${app.url}/runs/${run.id}`);
      await page.locator(".react-flow__node").first().waitFor();
      const clicks: number[] = [];
      const nodes = page.locator(".react-flow__node");
      const count = Math.min(10, await nodes.count());
      const profileDir = process.env.BENCH_STUDIO_PROFILE;
      const cdp = profileDir ? await context.newCDPSession(page) : null;
      if (cdp && profileDir) {
        mkdirSync(profileDir, { recursive: true });
        await cdp.send("Profiler.enable");
        await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
      }
      for (let i = 0; i < count; i++) {
        const node = nodes.nth(i);
        const label = ((await node.locator(".step-node-label").textContent()) ?? "").trim();
        if (cdp) await cdp.send("Profiler.start");
        if (cdp && process.env.BENCH_STUDIO_TRACE) {
          await cdp.send("Tracing.start", {
            traceConfig: { includedCategories: ["devtools.timeline", "disabled-by-default-devtools.timeline"] },
            transferMode: "ReturnAsStream",
          });
        }
        const started = (await page.evaluate("performance.now()")) as number;
        await node.click();
        await page.waitForFunction(
          `document.querySelector(".step-panel h2")?.textContent?.trim() === ${JSON.stringify(label)}`,
        );
        clicks.push(((await page.evaluate("performance.now()")) as number) - started);
        if (cdp && profileDir && process.env.BENCH_STUDIO_TRACE) {
          const done = new Promise<string>((resolve) =>
            cdp.once("Tracing.tracingComplete", (event) => resolve(event.stream as string)),
          );
          await cdp.send("Tracing.end");
          const handle = await done;
          let text = "";
          for (;;) {
            const chunk = await cdp.send("IO.read", { handle });
            text += chunk.data;
            if (chunk.eof) break;
          }
          await cdp.send("IO.close", { handle });
          writeFileSync(path.join(profileDir, `run-view-click-${i}.trace.json`), text);
        }
        if (cdp && profileDir) {
          const { profile } = await cdp.send("Profiler.stop");
          writeFileSync(path.join(profileDir, `run-view-click-${i}.cpuprofile`), JSON.stringify(profile));
        }
      }
      console.log(`run view clicks: ${clicks.map((ms) => Math.round(ms)).join(", ")} ms`);
      clicks.sort((a, b) => a - b);
      console.log(
        `run view, 5,000 steps: click to details p50 ${round(percentile(clicks, 50))} ms, max ${round(clicks.at(-1) ?? 0)} ms`,
      );
      figures.run_view_5000_click_ms = round(percentile(clicks, 50));
    }

    // The log viewer (its measurement lives with it).
    if (PARTS.has("logs")) {
      const { measureLogViewer } = await import("./studio-logs");
      const logs = await measureLogViewer(page, app.url);
      console.log(
        `log viewer, 1,000,000 lines: scrolling p95 frame ${logs.log_1m_scroll_frame_p95_ms} ms; search ${logs.log_search_100mb_ms} ms`,
      );
      Object.assign(figures, logs);
    }

    console.log(
      `load average ${os
        .loadavg()
        .map((value) => value.toFixed(1))
        .join(" ")} on ${os.cpus().length} CPUs`,
    );
    console.log(
      JSON.stringify({ bench: "studio", database: process.env.DATABASE_URL ? "postgres" : "pglite", ...figures }),
    );
  } finally {
    await browser.close();
    app.child.kill("SIGTERM");
    await new Promise((resolve) => app.child.once("exit", resolve));
    rmSync(app.dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

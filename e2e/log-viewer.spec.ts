import AxeBuilder from "@axe-core/playwright";
import { readFile } from "node:fs/promises";
import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import { signIn } from "./helpers";

// The step log viewer against the built server, as people use it: a finished log with colours,
// a collapsible section and an error (search, jump to the error, line links that survive a
// reload, the download); a live log followed at its end, across a dropped connection, with every
// line shown once; and the page in both themes with no serious accessibility problem, in Chinese.

const MAINTAINER = "maintainer@demo.microstack.dev";
const BASE = "/api/v1/organizations/acme/projects/storefront";

interface RunDetail {
  id: string;
  status: string;
  stepList: { id: string; status: string }[];
}
interface LogLine {
  seq: number;
  stream: string;
  text: string;
}

const FINISHED = `name: Log viewer finished
steps:
  - id: build
    run: |
      printf '\\033[31mred alert\\033[0m and \\033[1;32mbold green\\033[0m\\n'
      echo "::group::Install dependencies"
      for i in 1 2 3; do echo "installing package $i"; done
      echo "::endgroup::"
      echo "ERROR: tests failed in module core" >&2
      for i in $(seq 1 150); do echo "tick $i"; sleep 0.01; done
      echo "wide line $(seq -s x 400 | tr -d 0-9) end"
      echo "done"
`;

/** About 600 lines over 10-15 s: long enough to follow, scroll and drop the connection meanwhile. */
const LIVE = `name: Log viewer live
steps:
  - id: stream
    run: |
      for i in $(seq 1 600); do echo "live line $i"; sleep 0.02; done
`;

function slug(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function startRun(request: APIRequestContext, yaml: string): Promise<string> {
  const created = await request.post(`${BASE}/pipelines`, { data: { slug: slug("logs"), yaml } });
  expect(created.status()).toBe(201);
  const pipeline = (await created.json()) as { id: string };
  const started = await request.post(`/api/v1/pipelines/${pipeline.id}/runs`, { data: {} });
  expect(started.status()).toBe(201);
  return ((await started.json()) as { id: string }).id;
}

async function pollRun(request: APIRequestContext, runId: string, until: (run: RunDetail) => boolean) {
  let run = (await (await request.get(`/api/v1/runs/${runId}`)).json()) as RunDetail;
  for (let i = 0; i < 600 && !until(run); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    run = (await (await request.get(`/api/v1/runs/${runId}`)).json()) as RunDetail;
  }
  return run;
}
const finished = (run: RunDetail) => ["succeeded", "failed", "cancelled", "timed_out"].includes(run.status);

async function allLines(request: APIRequestContext, runId: string, step: string): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for (let after = 0; ; ) {
    const page = (await (
      await request.get(`/api/v1/runs/${runId}/logs?step=${step}&after=${after}&limit=10000`)
    ).json()) as {
      lines: LogLine[];
      nextAfter: number;
      complete: boolean;
    };
    lines.push(...page.lines);
    if (page.complete || page.lines.length === 0) return lines;
    after = page.nextAfter;
  }
}

async function openLog(page: Page, runId: string, step: string, hash = "") {
  await page.goto(`/runs/${runId}/logs?step=${step}${hash}`);
  const log = page.getByRole("log");
  await expect(log).toHaveAttribute("data-state", "ready");
  return log;
}

/** Every line the viewer renders, read by scrolling it from top to bottom (it is virtualized). */
async function renderedLines(page: Page): Promise<Map<number, string[]>> {
  return page
    .evaluate(async () => {
      const element = document.querySelector('[role="log"]') as HTMLElement;
      const seen = new Map<number, string[]>();
      const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      element.scrollTop = 0;
      for (let guard = 0; guard < 10_000; guard++) {
        await frame();
        // Placeholders (lines still loading) are read again once loaded.
        for (let wait = 0; wait < 100 && element.querySelector(".log-row.is-loading"); wait++) await frame();
        for (const row of element.querySelectorAll<HTMLElement>(".log-row")) {
          const seq = Number(row.dataset.seq);
          const text = row.querySelector(".log-text")?.textContent?.replace(/^(stderr|system): /, "") ?? "";
          const texts = seen.get(seq) ?? [];
          if (!texts.includes(text)) texts.push(text);
          seen.set(seq, texts);
        }
        if (element.scrollTop + element.clientHeight >= element.scrollHeight - 1) break;
        element.scrollTop += element.clientHeight - 40;
      }
      return [...seen.entries()];
    })
    .then((entries) => new Map(entries));
}

test("a finished log: colours, sections, search, the first error, line links and the download", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const runId = await startRun(page.request, FINISHED);
  expect((await pollRun(page.request, runId, finished)).status).toBe("succeeded");
  const lines = await allLines(page.request, runId, "build");
  const seqOf = (text: string) => (lines.find((line) => line.text === text) as LogLine).seq;
  const log = await openLog(page, runId, "build");
  await expect(log).toHaveAttribute("data-last-seq", String(lines.length));
  await expect(page.getByText(`${lines.length} lines`)).toBeVisible();

  // ANSI colours render as styled text, escape sequences gone.
  const red = log.locator(".ansi-fg-1", { hasText: "red alert" });
  await expect(red).toBeVisible();
  const green = log.locator(".ansi-fg-2.ansi-bold", { hasText: "bold green" });
  await expect(green).toBeVisible();
  const colours = await red.evaluate((element) => ({
    red: getComputedStyle(element).color,
    plain: getComputedStyle(element.closest(".log-text") as Element).color,
  }));
  expect(colours.red).not.toBe(colours.plain);
  await expect(log).not.toContainText("[31m");

  // The section starts collapsed (the step finished); it opens and closes.
  const section = log.getByRole("button", { name: /Install dependencies/ });
  await expect(section).toHaveAttribute("aria-expanded", "false");
  await expect(log.getByText("installing package 1")).toHaveCount(0);
  await section.click();
  await expect(section).toHaveAttribute("aria-expanded", "true");
  await expect(log.getByText("installing package 2")).toBeVisible();
  await expect(log).not.toContainText("::endgroup::");
  await section.click();
  await expect(log.getByText("installing package 2")).toHaveCount(0);

  // Search on the server: a count, the matches marked; regex; a bad pattern says so.
  const search = page.getByRole("searchbox", { name: "Search the log" });
  const status = page.locator(".log-search-status");
  await search.fill("error");
  await expect(status).toHaveText("1 of 1");
  await expect(log.locator("mark.log-match")).toHaveText(["ERROR"]);
  await page.getByRole("button", { name: "Regular expression" }).click();
  await search.fill("tick 1\\d\\d$");
  await expect(status).toHaveText("1 of 51");
  await search.press("Enter");
  await expect(status).toHaveText("2 of 51");
  await search.press("Shift+Enter");
  await search.press("Shift+Enter");
  await expect(status).toHaveText("51 of 51");
  await expect(log.locator(".log-row", { hasText: "tick 150" }).locator("mark.is-current")).toBeVisible();
  await search.fill("tick(");
  await expect(status).toContainText("Invalid pattern");
  await expect(search).toHaveAttribute("aria-invalid", "true");
  await search.fill("no such text anywhere");
  await expect(status).toHaveText("No matches");
  await search.fill("");

  // Jump to the first error: the stderr line, shown and highlighted.
  await log.evaluate((element) => element.scrollTo({ top: element.scrollHeight }));
  await page.getByRole("button", { name: "Jump to first error" }).click();
  const errorRow = log.locator(".log-row.is-selected");
  await expect(errorRow).toHaveAttribute("data-seq", String(seqOf("ERROR: tests failed in module core")));
  await expect(errorRow).toHaveAttribute("data-stream", "stderr");
  await expect(errorRow).toBeInViewport();
  await expect(errorRow).toContainText("stderr: ERROR: tests failed");

  // Line links: a click sets #L<n>, shift-click a range; a reload scrolls to and highlights them.
  const tick100 = seqOf("tick 100");
  await log.evaluate((element, seq) => element.scrollTo({ top: (seq - 15) * 20 }), tick100);
  await log.locator(`.log-row[data-seq="${tick100}"] .log-ln`).click();
  await expect(page).toHaveURL(new RegExp(`#L${tick100}$`));
  await log.locator(`.log-row[data-seq="${tick100 + 2}"] .log-ln`).click({ modifiers: ["Shift"] });
  await expect(page).toHaveURL(new RegExp(`#L${tick100}-L${tick100 + 2}$`));
  await page.reload();
  await expect(log).toHaveAttribute("data-state", "ready");
  await expect(log.locator(".log-row.is-selected")).toHaveCount(3);
  await expect(log.locator(`.log-row[data-seq="${tick100 + 1}"]`)).toBeInViewport();
  await expect(log.locator(`.log-row[data-seq="${tick100 + 1}"]`)).toHaveClass(/is-selected/);

  // A line inside a collapsed section: the link opens the section.
  await openLog(page, runId, "build", `#L${seqOf("installing package 2")}`);
  await expect(log.getByText("installing package 2")).toBeInViewport();

  // A long line scrolled sideways: the line numbers stay in view.
  const wide = log.locator(".log-row", { hasText: "wide line" });
  await log.evaluate((element) => element.scrollTo({ top: element.scrollHeight }));
  await expect(wide).toBeVisible();
  await log.evaluate((element) => element.scrollTo({ left: 300 }));
  await expect(async () => {
    const [number, box] = await Promise.all([wide.locator(".log-ln").boundingBox(), log.boundingBox()]);
    expect(Math.abs((number?.x ?? -100) - (box?.x ?? 0))).toBeLessThan(4);
  }).toPass();

  // The download is the whole log, line for line.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/-run-1-build-attempt-1\.log$/);
  const text = await readFile((await download.path()) as string, "utf8");
  expect(text).toBe(`${lines.map((line) => line.text).join("\n")}\n`);
});

test("a live log: follow mode, and after a dropped connection every line exactly once", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const runId = await startRun(page.request, LIVE);
  await pollRun(page.request, runId, (run) => run.stepList.some((step) => step.status === "running"));
  const log = await openLog(page, runId, "stream");
  const follow = page.getByRole("button", { name: "Follow" });
  await expect(follow).toHaveAttribute("aria-pressed", "true");
  await expect(log).toHaveAttribute("aria-live", "polite");
  await expect(page.getByText("Live", { exact: true })).toBeVisible();

  // Following: the newest line stays in view as lines arrive.
  await expect.poll(async () => Number(await log.getAttribute("data-last-seq"))).toBeGreaterThan(80);
  await expect
    .poll(async () => {
      const last = await log.getAttribute("data-last-seq");
      return log.locator(`.log-row[data-seq="${last}"]`).isVisible();
    })
    .toBe(true);

  // Scrolling up stops following (and live announcements); End resumes it.
  await log.hover();
  await page.mouse.wheel(0, -600);
  await expect(follow).toHaveAttribute("aria-pressed", "false");
  await expect(log).toHaveAttribute("aria-live", "off");
  const before = Number(await log.getAttribute("data-last-seq"));
  await expect.poll(async () => Number(await log.getAttribute("data-last-seq"))).toBeGreaterThan(before + 20);
  await expect(log.locator(`.log-row[data-seq="${before + 20}"]`)).toHaveCount(0);
  await log.focus();
  await page.keyboard.press("End");
  await expect(follow).toHaveAttribute("aria-pressed", "true");

  // Drop the connection while the step prints; it comes back and resumes after the last line held.
  const received = Number(await log.getAttribute("data-live-received"));
  await page.evaluate(() =>
    (
      window as unknown as { __microstackSocket: { io: { engine: { close(): void } } } }
    ).__microstackSocket.io.engine.close(),
  );
  await expect(page.getByText("Reconnecting…")).toBeVisible();
  await expect(page.getByText("Live", { exact: true })).toBeVisible({ timeout: 15_000 });
  await expect.poll(async () => Number(await log.getAttribute("data-live-received"))).toBeGreaterThan(received);

  const done = await pollRun(page.request, runId, finished);
  expect(done.status).toBe("succeeded");
  const lines = await allLines(page.request, runId, "stream");
  expect(lines.filter((line) => line.text.startsWith("live line"))).toHaveLength(600);
  // Nothing missing at the end of what arrived live...
  await expect(log).toHaveAttribute("data-last-seq", String(lines.length));
  await expect(log).toHaveAttribute("data-live-through", String(lines.length));
  // ...and every line 1..N rendered exactly once, with the stored text.
  const rendered = await renderedLines(page);
  expect([...rendered.keys()].sort((a, b) => a - b)).toEqual(lines.map((line) => line.seq));
  for (const line of lines) expect(rendered.get(line.seq), `line ${line.seq}`).toEqual([line.text]);
});

async function choosePreference(page: Page, command: string, attribute: "data-theme" | "lang", value: string) {
  await page.keyboard.press("Control+k");
  await page.keyboard.type(command);
  const saved = page.waitForResponse((response) => response.request().method() === "POST");
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute(attribute, value);
  expect((await saved).ok()).toBe(true);
}

test("no serious accessibility violations in either theme, and the viewer in Chinese", async ({ page }) => {
  await signIn(page, MAINTAINER);
  const runId = await startRun(page.request, FINISHED);
  expect((await pollRun(page.request, runId, finished)).status).toBe("succeeded");
  for (const theme of ["light", "dark"] as const) {
    await choosePreference(page, `use ${theme} theme`, "data-theme", theme);
    const log = await openLog(page, runId, "build");
    await page.getByRole("button", { name: /Install dependencies/ }).click();
    await page.getByRole("searchbox", { name: "Search the log" }).fill("package");
    await expect(page.locator(".log-search-status")).toHaveText("1 of 3");
    await log.locator(".log-row", { hasText: "tick 3" }).first().locator(".log-ln").click();
    const results = await new AxeBuilder({ page }).include(".log-viewer").analyze();
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${theme}: ${v.id} ${v.help} ${v.nodes.map((n) => n.target).join(" ")}`)).toEqual([]);
    const whole = await new AxeBuilder({ page }).analyze();
    expect(whole.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
  }
  await choosePreference(page, "use system theme", "data-theme", "system");

  // Keyboard: Ctrl+F in the viewer focuses its search; every control is reachable by Tab.
  const log = await openLog(page, runId, "build");
  await log.focus();
  await page.keyboard.press("Control+f");
  await expect(page.getByRole("searchbox", { name: "Search the log" })).toBeFocused();
  for (const name of ["Regular expression", "Match case"]) {
    await page.keyboard.press("Tab");
    await expect(page.getByRole("button", { name })).toBeFocused();
  }

  await choosePreference(page, "简体中文", "lang", "zh-CN");
  await openLog(page, runId, "build");
  await expect(page.getByRole("button", { name: "跳到第一个错误" })).toBeVisible();
  await expect(page.getByRole("searchbox", { name: "搜索日志" })).toBeVisible();
  await expect(page.getByRole("button", { name: "跟随" })).toBeVisible();
  await expect(page.getByRole("link", { name: "下载" })).toBeVisible();
  await expect(page.getByText(/\d+ 行/)).toBeVisible();
  await page.getByRole("searchbox", { name: "搜索日志" }).fill("tick 1");
  await expect(page.locator(".log-search-status")).toHaveText(/^第 1 个，共 \d+ 个$/);
  await choosePreference(page, "English", "lang", "en");
});

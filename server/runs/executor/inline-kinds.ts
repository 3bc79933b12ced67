import "server-only";
import { parseDuration, stepKinds } from "@/pipelines/spec/schema";
import type { StepLog } from "../logs";

// Built-in step kinds that run inside the server process rather than as a child process:
// `http`, `notify` and `sleep`. (`checkout` runs git as a process; `noop` never reaches an
// executor: the engine completes it.)

export interface InlineContext {
  log: StepLog;
  signal: AbortSignal;
  /** For notifications: which run and step this is. */
  describe: { runId: string; pipeline: string; runNumber: number; step: string };
}

export interface InlineResult {
  exitCode: number;
  outputs: Record<string, string>;
}

type InlineKind = (inputs: Record<string, unknown>, context: InlineContext) => Promise<InlineResult>;

const MAX_BODY_OUTPUT = 64 * 1024;
const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

function failed(log: StepLog, message: string, exitCode = 1): InlineResult {
  log.line("stderr", message);
  return { exitCode, outputs: {} };
}

function withTimeout(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

const http: InlineKind = async (inputs, { log, signal }) => {
  const url = String(inputs.url);
  if (!isHttpUrl(url)) return failed(log, `url must be an http:// or https:// URL, got "${url}"`);
  const method = (inputs.method as string | undefined) ?? "GET";
  const headers = new Headers((inputs.headers as Record<string, string> | undefined) ?? {});
  let body: string | undefined;
  if (typeof inputs.body === "string") body = inputs.body;
  else if (inputs.body !== undefined) {
    body = JSON.stringify(inputs.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const expected = (inputs["expect-status"] as number[] | undefined) ?? null;
  const timeoutMs = inputs.timeout
    ? (parseDuration(String(inputs.timeout)) ?? DEFAULT_HTTP_TIMEOUT_MS)
    : DEFAULT_HTTP_TIMEOUT_MS;
  const started = performance.now();
  log.system(`${method} ${url}`);
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, signal: withTimeout(signal, timeoutMs), redirect: "follow" });
  } catch (error) {
    const reason =
      (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error as Error).message;
    return failed(log, `request failed: ${reason}`);
  }
  const text = await response.text().catch(() => "");
  const elapsed = Math.round(performance.now() - started);
  log.system(`${response.status} ${response.statusText} in ${elapsed} ms, ${text.length} characters`);
  for (const line of text.slice(0, 4_096).split("\n")) log.line("stdout", line);
  if (text.length > 4_096) log.system(`(${text.length - 4_096} more characters not shown)`);
  const ok = expected ? expected.includes(response.status) : response.status >= 200 && response.status < 300;
  const outputs = { status: String(response.status), body: text.slice(0, MAX_BODY_OUTPUT) };
  if (!ok) {
    log.line("stderr", `unexpected status ${response.status} (expected ${expected ? expected.join(", ") : "2xx"})`);
    return { exitCode: 1, outputs };
  }
  return { exitCode: 0, outputs };
};

const notify: InlineKind = async (inputs, { log, signal, describe }) => {
  const channel = inputs.channel as "slack" | "teams" | "email" | "webhook";
  const recipients = Array.isArray(inputs.to) ? (inputs.to as string[]) : [String(inputs.to)];
  const message = String(inputs.message);
  const title = inputs.title === undefined ? null : String(inputs.title);
  if (channel === "email") {
    return failed(
      log,
      "Email notifications are not available on this server yet: use a webhook, Slack or Teams channel",
    );
  }
  let failures = 0;
  for (const to of recipients) {
    if (!isHttpUrl(to)) {
      failures++;
      log.line("stderr", `${channel}: "to" must be an incoming-webhook URL (http:// or https://), got "${to}"`);
      continue;
    }
    const payload =
      channel === "slack"
        ? { text: title ? `*${title}*\n${message}` : message }
        : channel === "teams"
          ? { text: title ? `**${title}**\n\n${message}` : message }
          : { title, message, run: describe };
    try {
      const response = await fetch(to, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(payload),
        signal: withTimeout(signal, DEFAULT_HTTP_TIMEOUT_MS),
      });
      if (!response.ok) {
        failures++;
        log.line("stderr", `${channel}: ${new URL(to).host} answered ${response.status}`);
      } else {
        log.system(`${channel}: delivered to ${new URL(to).host}`);
      }
    } catch (error) {
      failures++;
      log.line("stderr", `${channel}: ${new URL(to).host}: ${(error as Error).message}`);
    }
  }
  return { exitCode: failures > 0 ? 1 : 0, outputs: {} };
};

const sleep: InlineKind = async (inputs, { log, signal }) => {
  const ms = parseDuration(String(inputs.duration)) ?? 0;
  log.system(`Sleeping ${inputs.duration}`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
  return { exitCode: signal.aborted ? 130 : 0, outputs: {} };
};

const INLINE_KINDS: Record<string, InlineKind> = { http, notify, sleep };

export function isInlineKind(name: string): boolean {
  return name in INLINE_KINDS;
}

/**
 * Runs an inline kind. Its inputs are checked again against the kind's schema: a `with` value
 * that is one whole `${{ }}` is only typed once rendered.
 */
export async function runInlineKind(
  name: string,
  inputs: Readonly<Record<string, unknown>> | null,
  context: InlineContext,
): Promise<InlineResult> {
  const kind = INLINE_KINDS[name];
  const schema = stepKinds.get(name)?.inputs;
  if (!kind || !schema) return failed(context.log, `No executor runs step kind "${name}" on this server`);
  const parsed = schema.safeParse(inputs ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return failed(context.log, `with.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid input"}`);
  }
  return kind(parsed.data as Record<string, unknown>, context);
}

// Triggers at run time: when a schedule fires, and whether a webhook delivery starts a run with
// which params. Framework-free: server/runs keeps the last fire per schedule and serves the
// webhook endpoint; this decides.
import { Environment, type ParseResult } from "@marcbachmann/cel-js";
import { CronExpressionParser } from "cron-parser";
import { scanInterpolations, unwrapCondition } from "../spec/expressions";
import type { Pipeline } from "../spec/schema";

type Schedule = NonNullable<NonNullable<Pipeline["triggers"]>["schedule"]>[number];
type Webhook = NonNullable<NonNullable<Pipeline["triggers"]>["webhook"]>[number];

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function cronOf(schedule: Pick<Schedule, "cron" | "timezone">, at: number) {
  const expression = MACROS[schedule.cron.trim().toLowerCase()] ?? schedule.cron;
  return CronExpressionParser.parse(expression, { currentDate: new Date(at), tz: schedule.timezone ?? "UTC" });
}

/** The latest time at or before `at` when the schedule fires (in its time zone). */
export function lastFireTime(schedule: Pick<Schedule, "cron" | "timezone">, at: number): number {
  // prev() is strictly before currentDate; a fire exactly at `at` counts as due.
  return cronOf(schedule, at + 1)
    .prev()
    .getTime();
}

/** The next time after `at` when the schedule fires. */
export function nextFireTime(schedule: Pick<Schedule, "cron" | "timezone">, at: number): number {
  return cronOf(schedule, at).next().getTime();
}

export function findWebhook(pipeline: Pipeline, id: string): Webhook | undefined {
  return pipeline.triggers?.webhook?.find((hook) => hook.id === id);
}

export interface WebhookInput {
  payload: unknown;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
}

export type WebhookDecision =
  | { fire: true; params: Record<string, unknown> }
  | { fire: false; reason: string }
  | { fire: false; error: string };

const environment = new Environment({ homogeneousAggregateLiterals: false })
  .registerVariable("payload", "map<string, dyn>")
  .registerVariable("headers", "map<string, string>");
const programs = new Map<string, ParseResult | Error>();

function program(source: string): ParseResult {
  let compiled = programs.get(source);
  if (compiled === undefined) {
    try {
      compiled = environment.parse(source);
    } catch (error) {
      compiled = error as Error;
    }
    if (programs.size > 1_000) programs.clear();
    programs.set(source, compiled);
  }
  if (compiled instanceof Error) throw compiled;
  return compiled;
}

function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
  if (value !== null && typeof value === "object" && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The payload as CEL reads it: a JSON object (anything else is wrapped as {value}). */
function contextOf(input: WebhookInput): Record<string, unknown> {
  const payload =
    input.payload !== null && typeof input.payload === "object" && !Array.isArray(input.payload)
      ? input.payload
      : { value: input.payload };
  return { payload, headers: { ...input.headers } };
}

function render(value: unknown, context: Record<string, unknown>): unknown {
  if (typeof value !== "string") return value;
  const scan = scanInterpolations(value);
  if (scan.interpolations.length === 0) return value;
  const only = scan.interpolations[0];
  if (scan.interpolations.length === 1 && only && only.start === 0 && only.end === value.length) {
    return plain(program(only.expression.trim())(context));
  }
  let text = "";
  let from = 0;
  for (const part of scan.interpolations) {
    text += value.slice(from, part.start);
    const rendered = plain(program(part.expression.trim())(context));
    text += typeof rendered === "string" ? rendered : JSON.stringify(rendered);
    from = part.end;
  }
  return text + value.slice(from);
}

/**
 * Whether a delivery to a webhook trigger starts a run: its `if` (CEL over payload and headers)
 * must hold; its params are rendered from the payload (`${{ payload.ref }}`). The caller has
 * checked the signature and resolves params against the pipeline's declarations.
 */
export function evaluateWebhook(hook: Webhook, input: WebhookInput): WebhookDecision {
  const context = contextOf(input);
  try {
    if (hook.if !== undefined) {
      const value = program(unwrapCondition(hook.if).expression)(context);
      if (typeof value !== "boolean") return { fire: false, error: `if must be true or false, got ${typeof value}` };
      if (!value) return { fire: false, reason: `the trigger's condition is false: ${hook.if}` };
    }
    const params: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(hook.params ?? {})) params[name] = render(value, context);
    return { fire: true, params };
  } catch (error) {
    return { fire: false, error: (error as Error).message.split("\n")[0] ?? "evaluation failed" };
  }
}

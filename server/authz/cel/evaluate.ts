import "server-only";
import type { CompiledCondition } from "./compile";
import type { ConditionVars } from "./environment";

export type ConditionResult = { ok: true; value: boolean } | { ok: false; error: string };

// Shared results: the hot path returns one of these and allocates nothing for the answer.
const TRUE: ConditionResult = Object.freeze({ ok: true, value: true });
const FALSE: ConditionResult = Object.freeze({ ok: true, value: false });

const FLAT_ATTRIBUTE = /__(principal|resource|request)_([A-Za-z]+)/g;

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // cel-js errors carry a one-line `summary`; their `message` adds an excerpt of the normalized
  // template. Either may name a flat attribute variable, which the author wrote as record.field.
  const summary = (error as { summary?: unknown }).summary;
  const text = typeof summary === "string" ? summary : error.message;
  return text
    .replace(/^Unknown variable: __(principal|resource|request)_([A-Za-z]+)$/, "Missing attribute: $1.$2")
    .replace(FLAT_ATTRIBUTE, "$1.$2");
}

/**
 * Evaluates a compiled condition. Never throws: a runtime error (missing attribute or map key,
 * integer overflow, an attribute above the bounds the cost estimate assumes, a wrongly typed
 * input) comes back as ok:false, which the engine treats as deny and logs.
 *
 * There is no step counter to stop at: cel-js has none and cannot be interrupted. The budget is
 * enforced before evaluation instead: compile refuses conditions whose estimated cost exceeds
 * MAX_CONDITION_COST, and inputs larger than the estimate assumes are refused (per read for a
 * plain input, once for all conditions by prepareConditionInput, the faster way).
 */
export function evaluateCondition(compiled: CompiledCondition, vars: ConditionVars): ConditionResult {
  if (vars === null || typeof vars !== "object") return { ok: false, error: "the condition input must be an object" };
  const context = compiled.context;
  try {
    context.input = vars;
    const value: unknown = compiled.template.program(context);
    if (value === true) return TRUE;
    if (value === false) return FALSE;
    return { ok: false, error: `the condition produced ${typeof value}, not bool` };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  } finally {
    // Do not keep the request's attributes alive until the next evaluation.
    context.input = undefined;
  }
}

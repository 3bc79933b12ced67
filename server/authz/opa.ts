import "server-only";
import type { Decision, Explanation } from "./engine/types";

// The document tree the OPA-compatible API serves (opa-http.ts), as pure functions of the data
// path and this request's decision. No Rego runs: the engine's one decision is exposed under the
// names an OPA client expects, so sidecars and SDKs built for OPA can ask Microstack unchanged.
//
//   data                       {"microstack": {...}}
//   data.microstack            {"allow": <bool>, "decision": {...}}
//   data.microstack.allow      true | false for the input
//   data.microstack.decision   {allow, binding_id, policy_id, reason, reason_code, revision, role, scope}
//   data.microstack.decision.<field>   that field (OPA refs reach into a rule's value)
//   anything else              undefined
//
// The input is the native request {principal, action, resource, context} (schema.ts,
// authzRequestSchema); a missing principal is the authenticated caller (opa-http.ts fills it).
// Without an input the rules are undefined, as an OPA rule that reads `input` is: the package
// still exists, so data.microstack is {} and data is {"microstack": {}}.
//
// The default decision, which OPA answers at `POST /` and reads from data.system.main unless
// configured otherwise ("Execute a Simple Query", openpolicyagent.org/docs/rest-api#query-api),
// is data.microstack.allow here.

export const OPA_PACKAGE = "microstack";
export const OPA_RULES = ["allow", "decision"] as const;

/** The path `POST /` answers: OPA's `default_decision` (data.system.main in OPA itself). */
export const DEFAULT_DECISION_PATH: readonly string[] = [OPA_PACKAGE, "allow"];

export type DataPathResult = { ok: true; segments: string[] } | { ok: false; message: string };

/**
 * Splits the URL path after /v1/data/ (still percent-encoded) into ref segments the way OPA's
 * stringPathToRef does: split on "/" first (so %2F stays inside a segment), skip empty segments,
 * percent-decode each (an undecodable one is kept as written), refuse a segment holding a quote.
 */
export function parseDataPath(escaped: string): DataPathResult {
  const segments: string[] = [];
  for (const raw of escaped.split("/")) {
    if (raw === "") continue;
    let segment = raw;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      // Go's url.PathUnescape fails the same way and OPA keeps the raw segment.
    }
    if (segment.includes('"')) return { ok: false, message: `invalid path: invalid ref term '${segment}'` };
    segments.push(segment);
  }
  return { ok: true, segments };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** A path as OPA prints the ref in messages: data.microstack.allow, data.x["a-b"][0]. */
export function dataRef(segments: readonly string[]): string {
  let out = "data";
  for (const segment of segments) {
    if (INTEGER.test(segment)) out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The data path as OPA writes it in decision log events (`path`): microstack/allow. */
export function decisionLogPath(segments: readonly string[]): string {
  return segments.join("/");
}

/**
 * Whether answering this path needs the engine's decision: the data root, the package, its rules
 * and anything inside them. Other paths are undefined without asking (and without logging).
 */
export function needsDecision(segments: readonly string[]): boolean {
  if (segments.length === 0) return true;
  if (segments[0] !== OPA_PACKAGE) return false;
  return segments.length === 1 || (OPA_RULES as readonly string[]).includes(segments[1] as string);
}

/** The decision as data.microstack.decision shows it (snake_case, as OPA documents are). */
export interface DecisionDocument {
  allow: boolean;
  binding_id: string | null;
  policy_id: string | null;
  reason: string;
  reason_code: string;
  revision: number;
  role: string | null;
  scope: string | null;
}

export function toDecisionDocument(decision: Decision): DecisionDocument {
  return {
    allow: decision.allow,
    binding_id: decision.bindingId,
    policy_id: decision.policyId,
    reason: decision.reason,
    reason_code: decision.reasonCode,
    revision: decision.revision,
    role: decision.role,
    scope: decision.scope,
  };
}

export type DataValue = null | boolean | number | string | DataValue[] | { [key: string]: DataValue };

export type Evaluation =
  | { defined: true; value: DataValue }
  /** `missing`: nothing is defined at this path; `undefined`: a rule is, but has no value here. */
  | { defined: false; kind: "missing" | "undefined" };

function packageDocument(decision: Decision | undefined): { [key: string]: DataValue } {
  if (!decision) return {};
  return { allow: decision.allow, decision: { ...toDecisionDocument(decision) } };
}

/**
 * The value at `data.<segments>` for this request. `decision` is undefined when the request had
 * no input (the rules are then undefined, the package and the root still exist).
 */
export function evaluateDataPath(segments: readonly string[], decision: Decision | undefined): Evaluation {
  let value: DataValue = { [OPA_PACKAGE]: packageDocument(decision) };
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    let next: DataValue | undefined;
    if (Array.isArray(value)) {
      next = INTEGER.test(segment) ? value[Number(segment)] : undefined;
    } else if (value !== null && typeof value === "object") {
      next = Object.hasOwn(value, segment) ? value[segment] : undefined;
    }
    if (next === undefined) {
      // A rule of ours that has no value (no input) is OPA's "document undefined"; a path that
      // no rule defines, including one reaching inside a rule's value, is "document missing".
      const isRule =
        segments.length === 2 &&
        segments[0] === OPA_PACKAGE &&
        (OPA_RULES as readonly string[]).includes(segments[1] as string);
      return { defined: false, kind: isRule ? "undefined" : "missing" };
    }
    value = next;
  }
  return { defined: true, value };
}

/** The engine's explanation under OPA's `explanation` key (explain=notes|fails|full|debug). */
export function explanationDocument(explanation: Explanation): DataValue {
  return {
    evaluated: explanation.evaluated.map((rule) => ({
      effect: rule.effect,
      id: rule.id,
      kind: rule.kind,
      name: rule.name,
      outcome: rule.outcome,
      scope: rule.scope,
    })),
    near_misses: explanation.nearMisses.map((miss) => ({
      condition: miss.condition,
      effect: miss.effect,
      ...(miss.error === undefined ? {} : { error: miss.error }),
      failing: miss.failing.map((clause) => ({
        column: clause.column,
        expression: clause.expression,
        line: clause.line,
        message: clause.message,
      })),
      id: miss.id,
      kind: miss.kind,
      name: miss.name,
      scope: miss.scope,
    })),
  };
}

/**
 * The explanation for people: with `pretty=true` OPA answers its trace as an array of lines
 * rather than objects, and so does this API.
 */
export function explanationLines(decision: Decision, explanation: Explanation): string[] {
  const lines = [`${decision.allow ? "allow" : "deny"} (${decision.reasonCode}): ${decision.reason}`];
  for (const rule of explanation.evaluated) {
    lines.push(`| ${rule.kind} ${rule.name} (${rule.effect}, ${rule.scope}) ${rule.id}: ${rule.outcome}`);
  }
  for (const miss of explanation.nearMisses) {
    lines.push(`| near miss: ${miss.kind} ${miss.name} (${miss.effect}, ${miss.scope}) ${miss.id}`);
    lines.push(`| | condition: ${miss.condition}`);
    for (const clause of miss.failing) {
      lines.push(`| | ${clause.line}:${clause.column} ${clause.expression}: ${clause.message}`);
    }
    if (miss.error !== undefined) lines.push(`| | error: ${miss.error}`);
  }
  return lines;
}

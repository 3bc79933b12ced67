// Run parameters: what a manual start, a schedule or a webhook supplies, checked against the
// pipeline's declarations before a run is created.
import type { RunGraph } from "./graph";
import type { ParamValue } from "./types";

export type ResolvedParams =
  | { ok: true; params: Record<string, ParamValue> }
  | { ok: false; errors: { param: string; message: string }[] };

/**
 * Params for a run: defaults applied, required ones present, types and options checked. Strings
 * are coerced for typed params ("3" for an integer, "true" for a boolean): webhooks and
 * schedules supply text.
 */
export function resolveParams(graph: RunGraph, given: Readonly<Record<string, unknown>>): ResolvedParams {
  const params: Record<string, ParamValue> = {};
  const errors: { param: string; message: string }[] = [];
  for (const name of Object.keys(given)) {
    if (!graph.params.has(name)) errors.push({ param: name, message: `the pipeline has no param "${name}"` });
  }
  for (const [name, param] of graph.params) {
    const raw = given[name] ?? param.default;
    if (raw === undefined || raw === null) {
      if (param.required === true) errors.push({ param: name, message: `"${name}" is required` });
      continue;
    }
    let value: ParamValue | undefined;
    if (param.type === "string") value = typeof raw === "string" ? raw : undefined;
    else if (param.type === "boolean")
      value = typeof raw === "boolean" ? raw : raw === "true" ? true : raw === "false" ? false : undefined;
    else {
      const number =
        typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
      const valid = Number.isFinite(number) && (param.type === "number" || Number.isInteger(number));
      value = valid ? number : undefined;
    }
    if (value === undefined) {
      errors.push({
        param: name,
        message: `"${name}" must be ${param.type === "integer" ? "an integer" : `a ${param.type}`}`,
      });
      continue;
    }
    if (param.options !== undefined && !param.options.some((option) => option === value)) {
      errors.push({ param: name, message: `"${name}" must be one of ${param.options.join(", ")}` });
      continue;
    }
    params[name] = value;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, params };
}

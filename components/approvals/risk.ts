import type { PendingAction } from "@/server/runs/schema";

// A plain hint for approvers: does this touch something production-like? The server enforces
// the rules (environment protection, approvers, MFA); this only makes the stakes visible.

const PRODUCTION_LIKE = /(^|[^a-z])(prod|production|prd|live)([^a-z]|$)/i;

export function isProductionLike(value: string): boolean {
  return PRODUCTION_LIKE.test(value);
}

export interface RiskHint {
  /** Where the hint comes from: the approval's environment, or a run param. */
  source: "environment" | "param";
  /** The environment's name, or the param's name. */
  name: string;
  /** The production-like value as it reads (`production`, `prod-eu`). */
  value: string;
}

/**
 * The production-like parts of a pending action: its environment, string params whose value
 * names production (`target: production`), and true boolean params whose name does
 * (`deploy-to-prod: true`). Duplicates are kept once.
 */
export function riskHints(action: Pick<PendingAction, "environment" | "params">): RiskHint[] {
  const hints: RiskHint[] = [];
  if (action.environment && isProductionLike(action.environment)) {
    hints.push({ source: "environment", name: action.environment, value: action.environment });
  }
  for (const [name, value] of Object.entries(action.params)) {
    if (typeof value === "string" && isProductionLike(value)) hints.push({ source: "param", name, value });
    else if (value === true && isProductionLike(name)) hints.push({ source: "param", name, value: name });
  }
  return hints;
}

/** The distinct production-like values, for a short label ("production"). */
export function riskLabel(hints: readonly RiskHint[]): string | null {
  const values = [...new Set(hints.map((hint) => hint.value))];
  return values.length > 0 ? values.join(", ") : null;
}

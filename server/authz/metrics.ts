import "server-only";
import {
  FastCounter,
  FastHistogram,
  getOrCreateCounter,
  getOrCreateGauge,
  getOrCreateHistogram,
  getOrCreatePreaggregated,
} from "@/server/observability/metrics";
import { getConditionCacheStats } from "./cel/compile";
import type { Decision, ReasonCode } from "./engine/types";

// microstack_authz_* metrics. The per-decision ones are pre-aggregated (FastCounter,
// FastHistogram): a decision costs well under a microsecond and prom-client's own observe would
// triple it. Everything else uses prom-client directly.

const REASONS: readonly ReasonCode[] = [
  "binding",
  "allow_policy",
  "guardrail",
  "deny_policy",
  "condition_failed",
  "condition_error",
  "no_grant",
  "not_member",
  "invalid_request",
];
const REASON_INDEX = new Map(REASONS.map((reason, index) => [reason, index]));
const effectOf = (reason: ReasonCode) => (reason === "binding" || reason === "allow_policy" ? "allow" : "deny");

const decisionDuration = getOrCreatePreaggregated(
  () =>
    new FastHistogram(
      "microstack_authz_decision_duration_seconds",
      "Time to decide one authorization request, by effect",
      [{ effect: "allow" }, { effect: "deny" }],
      [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2],
    ),
);

const decisions = getOrCreatePreaggregated(
  () =>
    new FastCounter(
      "microstack_authz_decisions_total",
      "Authorization decisions, by effect and reason code",
      REASONS.map((reason) => ({ effect: effectOf(reason), reason })),
    ),
);

const candidates = getOrCreatePreaggregated(
  () =>
    new FastHistogram(
      "microstack_authz_index_candidates",
      "Rules the index handed to one decision (bindings and policies whose scope contained the resource)",
      [{}],
      [0, 1, 2, 4, 8, 16, 32, 64, 128],
    ),
);

/** Records one decision; called on the request path, allocation-free. */
export function observeDecision(decision: Decision, seconds: number): void {
  const reason = REASON_INDEX.get(decision.reasonCode) ?? 0;
  decisions.inc(reason);
  decisionDuration.observe(decision.allow ? 0 : 1, seconds);
  candidates.observe(0, decision.candidates);
}

export const compileDuration = getOrCreateHistogram({
  name: "microstack_authz_compile_duration_seconds",
  help: "Time to compile one condition while loading rules (cache hits included)",
  buckets: [1e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2],
});

export const reloadDuration = getOrCreateHistogram({
  name: "microstack_authz_reload_duration_seconds",
  help: "Time to load, compile, index and swap a rule snapshot, by kind (full or organization)",
  labelNames: ["kind"] as const,
  buckets: [1e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5],
});

export const reloads = getOrCreateCounter({
  name: "microstack_authz_reloads_total",
  help: "Rule snapshot reloads, by kind and result",
  labelNames: ["kind", "result"] as const,
});

export const policyRevision = getOrCreateGauge({
  name: "microstack_authz_policy_revision",
  help: "Revision of the rule store the current snapshot was built from",
});

export const ruleCount = getOrCreateGauge({
  name: "microstack_authz_rules",
  help: "Bindings and policies in the current snapshot",
});

export const ruleProblems = getOrCreateGauge({
  name: "microstack_authz_rule_problems",
  help: "Stored rules that failed to compile on load (each fails closed)",
});

export const decisionLogEvents = getOrCreateCounter({
  name: "microstack_authz_decision_log_events_total",
  help: "Decision log events, by outcome: written, dropped (buffer full or write failed)",
  labelNames: ["outcome"] as const,
});

const cacheRequests = getOrCreateCounter({
  name: "microstack_authz_condition_cache_requests_total",
  help: "Compiled-condition cache lookups, by cache (source, template) and result (hit, miss)",
  labelNames: ["cache", "result"] as const,
  collect() {
    syncCacheCounters();
  },
});

export const cacheEvictions = getOrCreateCounter({
  name: "microstack_authz_condition_cache_evictions_total",
  help: "Compiled-condition cache evictions, by cache and reason (capacity: a reload keeps compiled conditions, so only the LRU bound evicts)",
  labelNames: ["cache", "reason"] as const,
  collect() {
    syncCacheCounters();
  },
});

// The caches count in plain numbers (cel/lru.ts); scrape turns the growth since the last scrape
// into counter increments.
const seen = {
  sourceHits: 0,
  sourceMisses: 0,
  templateHits: 0,
  templateMisses: 0,
  sourceEvictions: 0,
  templateEvictions: 0,
};

function syncCacheCounters(): void {
  const stats = getConditionCacheStats();
  const add = (key: keyof typeof seen, now: number, inc: (by: number) => void) => {
    if (now > seen[key]) inc(now - seen[key]);
    seen[key] = now;
  };
  add("sourceHits", stats.sources.hits, (by) => cacheRequests.inc({ cache: "source", result: "hit" }, by));
  add("sourceMisses", stats.sources.misses, (by) => cacheRequests.inc({ cache: "source", result: "miss" }, by));
  add("templateHits", stats.templates.hits, (by) => cacheRequests.inc({ cache: "template", result: "hit" }, by));
  add("templateMisses", stats.templates.misses, (by) => cacheRequests.inc({ cache: "template", result: "miss" }, by));
  add("sourceEvictions", stats.sources.evictions, (by) =>
    cacheEvictions.inc({ cache: "source", reason: "capacity" }, by),
  );
  add("templateEvictions", stats.templates.evictions, (by) =>
    cacheEvictions.inc({ cache: "template", reason: "capacity" }, by),
  );
}

// Benchmark of the authorization engine (server/authz/engine) against the issue's goals, in
// process on one core, on a synthetic multi-tenant rule set (bench/authz-fixture.ts):
//   npm run bench:authz                      10,000 rules
//   npm run bench:authz -- --rules 100000    100,000 rules
//   npm run bench:authz -- --peers           also node-casbin and Cedar (WASM), same rules and requests
// (npm run bench:authz = node [--expose-gc] --import tsx --import ./scripts/hooks/register.mjs bench/authz.ts)
//
// Measures, in this order:
//   reload   buildSnapshot on the whole set: the first build (empty condition caches, cold JIT),
//            with an empty compiler again once the JIT is warm, and with warm caches (a reload
//            after reconnecting); plus replaceOrganizations for one changed policy, timed until
//            a decision sees it.
//   memory   retained heap of the snapshot and the condition caches, before and after the
//            workload fills the per-action memos (JIT code excluded).
//   latency  decide() per call over the rotated distinct requests, each call between two
//            performance.now() reads, minus the median cost of an empty pair of reads.
//   speed    decisions per second in a tight loop over the same requests (median of rounds).
//   logging  decideWith() (timers + metrics + decision-log push) with the log on and off,
//            against decide() alone; the log's flush timer gets the event loop between chunks,
//            as it would between requests.
// The last line printed is one JSON object.
import { constants, PerformanceObserver, performance } from "node:perf_hooks";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import { createConditionCompiler } from "@/server/authz/cel/compile";
import { configureDecisionLog, getDecisionLogStats, stopDecisionLog } from "@/server/authz/decision-log";
import { decide } from "@/server/authz/engine/decide";
import { buildSnapshot, replaceOrganizations, type Snapshot } from "@/server/authz/engine/snapshot";
import type { AuthzRequest, Decision, OrganizationRules } from "@/server/authz/engine/types";
import { decideWith } from "@/server/authz/service";
import { type AuthzFixture, generateAuthzFixture, withOneChangedPolicy } from "./authz-fixture";

const { values: args } = parseArgs({
  // `node bench/authz.ts -- --rules 100000` passes the "--" through; npm strips it.
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    rules: { type: "string", default: "10000" },
    requests: { type: "string", default: "8192" },
    seed: { type: "string", default: "20251" },
    peers: { type: "boolean", default: false },
  },
  allowPositionals: true,
});
const RULES = Number(args.rules);
const REQUESTS = Number(args.requests);
if (!Number.isInteger(RULES) || RULES < 100) throw new Error("--rules must be an integer of at least 100");
if (!Number.isInteger(REQUESTS) || REQUESTS < 1) throw new Error("--requests must be a positive integer");

const WARMUP = 500_000;
const LATENCY_CALLS = 2_000_000;
const THROUGHPUT_ROUNDS = 5;
const THROUGHPUT_CALLS = 1_000_000;
const LOG_ROUNDS = 4;
const LOG_CALLS_PER_ROUND = 250_000;
/**
 * Decisions between yields to the event loop in the logging runs: one server turn's worth (a
 * request or a list filter). The log's flush timer runs between turns and drains one batch of
 * 500 per turn, so much longer stretches without a yield would fill the buffer and measure drops.
 */
const CHUNK = 256;

const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

// ---- gc and heap ---------------------------------------------------------------------------
v8.setFlagsFromString("--expose-gc");
const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext("gc") as () => void);
/** Used heap without code spaces, so JIT output does not count as the snapshot's memory. */
function heapUsed(): number {
  gc();
  gc();
  let used = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith("code")) used += space.space_used_size;
  }
  return used;
}
const MB = 1024 * 1024;

// ---- fixture -------------------------------------------------------------------------------
let started = performance.now();
const fixture: AuthzFixture = generateAuthzFixture({ rules: RULES, requests: REQUESTS, seed: Number(args.seed) });
const generateMs = performance.now() - started;
const requests = fixture.requests;
const n = requests.length;
if (n < 4_000) console.warn(`only ${n} distinct requests (the issue asks for at least 4,000)`);

// ---- reload and memory ---------------------------------------------------------------------
const heapBefore = heapUsed();

started = performance.now();
const current: Snapshot = buildSnapshot(fixture.ruleSet); // parse, compile, index...
const reloadColdMs = performance.now() - started; // ...and the swap is this assignment
const heapAfterBuild = heapUsed();
if (current.ruleCount !== RULES) throw new Error(`snapshot has ${current.ruleCount} rules, expected ${RULES}`);
if (current.problems.length > 0) throw new Error(`rules did not compile: ${JSON.stringify(current.problems[0])}`);

// The previous build's garbage is collected first: each run times the build, not a GC of the last one.
const coldCacheRuns: number[] = [];
for (let i = 0; i < 3; i++) {
  const compiler = createConditionCompiler();
  gc();
  started = performance.now();
  buildSnapshot(fixture.ruleSet, (source) => compiler.compile(source));
  coldCacheRuns.push(performance.now() - started);
}
const warmRuns: number[] = [];
for (let i = 0; i < 5; i++) {
  gc();
  started = performance.now();
  const rebuilt = buildSnapshot({ ...fixture.ruleSet, revision: fixture.ruleSet.revision + 1 + i });
  warmRuns.push(performance.now() - started);
  if (rebuilt.ruleCount !== current.ruleCount) throw new Error("rebuild lost rules");
}
const reloadColdCacheMs = median(coldCacheRuns);
const reloadWarmMs = median(warmRuns);

// One changed policy: a deny for a principal the engine currently allows, in the largest
// organization and in a median one; timed from the new rules to the first decision that sees it.
function changeFigures(organizationIndex: number): { medianMs: number; maxMs: number; orgRules: number } {
  const rules = fixture.ruleSet.organizations[organizationIndex] as OrganizationRules;
  const allowed = requests.find(
    (request) => request.resource.organizationId === rules.organizationId && decide(current, request).allow,
  );
  if (!allowed) throw new Error(`no allowed request in ${rules.organizationId}`);
  const runs: number[] = [];
  for (let serial = 0; serial < 21; serial++) {
    const changed = withOneChangedPolicy(rules, allowed.principal.id, allowed.action, serial);
    const t0 = performance.now();
    const next = replaceOrganizations(current, current.revision + 1, [
      { organizationId: rules.organizationId, rules: changed },
    ]);
    const seen = decide(next, allowed);
    const elapsed = performance.now() - t0;
    if (seen.allow || seen.reasonCode !== "deny_policy") throw new Error("the changed policy did not take effect");
    runs.push(elapsed);
  }
  return {
    medianMs: median(runs.slice(1)),
    maxMs: Math.max(...runs),
    orgRules: rules.bindings.length + rules.policies.length,
  };
}
const changeLargest = changeFigures(0);
const changeMedian = changeFigures(Math.floor(fixture.ruleSet.organizations.length / 2));

// ---- warm-up, decision mix -----------------------------------------------------------------
let allowed = 0;
let sinkValue = 0;
for (let i = 0, j = 0; i < WARMUP; i++, j = j + 1 === n ? 0 : j + 1) {
  if (decide(current, requests[j] as AuthzRequest).allow) allowed++;
}
const reasons = new Map<string, number>();
let candidates = 0;
let allowCount = 0;
for (const request of requests) {
  const decision = decide(current, request);
  reasons.set(decision.reasonCode, (reasons.get(decision.reasonCode) ?? 0) + 1);
  candidates += decision.candidates;
  if (decision.allow) allowCount++;
}
const heapAfterWorkload = heapUsed();
const heapMb = (heapAfterWorkload - heapBefore) / MB;
const heapBuildMb = (heapAfterBuild - heapBefore) / MB;

// ---- latency per call ----------------------------------------------------------------------
/** Median cost of an empty performance.now() pair, in ms (subtracted from every sample). */
function timerOverheadMs(): { median: number; resolutionNs: number } {
  const samples = new Float64Array(200_000);
  let smallest = Number.POSITIVE_INFINITY;
  for (let k = 0; k < samples.length; k++) {
    const t0 = performance.now();
    const elapsed = performance.now() - t0;
    samples[k] = elapsed;
    if (elapsed > 0 && elapsed < smallest) smallest = elapsed;
  }
  samples.sort();
  return { median: quantile(samples, 0.5), resolutionNs: smallest * 1e6 };
}
const timer = timerOverheadMs();

interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

function percentilesUs(samples: Float64Array, overheadMs: number): Percentiles {
  for (let k = 0; k < samples.length; k++) samples[k] = Math.max(0, (samples[k] as number) - overheadMs) * 1_000;
  samples.sort();
  return {
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    p999: quantile(samples, 0.999),
    max: samples[samples.length - 1] ?? Number.NaN,
  };
}

// Garbage collections during the latency run (they are the tail), and allocation per decision.
const gcPauses: number[] = [];
const gcKinds = new Map<string, { count: number; totalMs: number; maxMs: number }>();
const GC_KIND_NAMES: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks",
};
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcPauses.push(entry.duration);
    const kind = GC_KIND_NAMES[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? "other";
    const figures = gcKinds.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
    figures.count++;
    figures.totalMs += entry.duration;
    figures.maxMs = Math.max(figures.maxMs, entry.duration);
    gcKinds.set(kind, figures);
  }
});
gcObserver.observe({ entryTypes: ["gc"] });
const allocationRuns: number[] = [];
for (let r = 0; r < 7; r++) {
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < 2_000; k++)
    if (decide(current, requests[(k * 7 + r * 2_000) % n] as AuthzRequest).allow) allowed++;
  const delta = process.memoryUsage().heapUsed - before;
  if (delta > 0) allocationRuns.push(delta / 2_000); // a scavenge in between makes it negative: skipped
}
const bytesPerDecision = median(allocationRuns);

const latencySamples = new Float64Array(LATENCY_CALLS);
const latencyStart = performance.now();
for (let k = 0, j = 0; k < LATENCY_CALLS; k++, j = j + 1 === n ? 0 : j + 1) {
  const request = requests[j] as AuthzRequest;
  const t0 = performance.now();
  const decision = decide(current, request);
  latencySamples[k] = performance.now() - t0;
  if (decision.allow) sinkValue++;
}
const latencyMs = performance.now() - latencyStart;
const latency = percentilesUs(latencySamples, timer.median);
await new Promise((resolve) => setTimeout(resolve, 50)); // lets the observer deliver the entries
gcObserver.disconnect();
const gcTotalMs = gcPauses.reduce((sum, pause) => sum + pause, 0);
const gcMaxMs = Math.max(0, ...gcPauses);

// ---- throughput ----------------------------------------------------------------------------
// Wall clock, and this process's CPU time (which other processes on the machine cannot inflate).
const throughputRuns: number[] = [];
const throughputCpuRuns: number[] = [];
for (let r = 0, j = 0; r < THROUGHPUT_ROUNDS; r++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < THROUGHPUT_CALLS; k++) {
    if (decide(current, requests[j] as AuthzRequest).allow) allowed++;
    j = j + 1 === n ? 0 : j + 1;
  }
  throughputRuns.push(THROUGHPUT_CALLS / ((performance.now() - t0) / 1_000));
  const cpu = process.cpuUsage(cpu0);
  throughputCpuRuns.push(THROUGHPUT_CALLS / ((cpu.user + cpu.system) / 1e6));
}
const opsPerS = median(throughputRuns);
const opsPerSBest = Math.max(...throughputRuns);
const opsPerCpuS = median(throughputCpuRuns);

// ---- decision log overhead -----------------------------------------------------------------
let logWritten = 0;
const logOptions = {
  sink: async (entries: unknown[]) => {
    logWritten += entries.length;
  },
  flushIntervalMs: 10,
};

type Variant = "decide" | "logOff" | "logOn";
const decideOnly = (request: AuthzRequest): Decision => decide(current, request);
const decideLogged = (request: AuthzRequest): Decision => decideWith(current, request, "bench");
async function timeVariant(fn: (request: AuthzRequest) => Decision, into: Float64Array, offset: number, start: number) {
  let j = start % n;
  for (let k = 0; k < LOG_CALLS_PER_ROUND; k++) {
    const request = requests[j] as AuthzRequest;
    const t0 = performance.now();
    const decision = fn(request);
    into[offset + k] = performance.now() - t0;
    if (decision.allow) sinkValue++;
    j = j + 1 === n ? 0 : j + 1;
    if ((k & (CHUNK - 1)) === CHUNK - 1) await yieldToLoop();
  }
}
const logSamples: Record<Variant, Float64Array> = {
  decide: new Float64Array(LOG_ROUNDS * LOG_CALLS_PER_ROUND),
  logOff: new Float64Array(LOG_ROUNDS * LOG_CALLS_PER_ROUND),
  logOn: new Float64Array(LOG_ROUNDS * LOG_CALLS_PER_ROUND),
};
// Warm decideWith up in both modes, with the same yields as the measured rounds.
const warmSamples = new Float64Array(LOG_CALLS_PER_ROUND);
configureDecisionLog({ mode: "off", ...logOptions });
await timeVariant(decideLogged, warmSamples, 0, 0);
configureDecisionLog({ mode: "all", ...logOptions });
await timeVariant(decideLogged, warmSamples, 0, 0);
await yieldToLoop();
const logStatsBefore = { ...getDecisionLogStats() };
const writtenBefore = logWritten;
// Interleaved rounds, so drift (neighbours on the VM, GC state) hits all three alike.
for (let r = 0; r < LOG_ROUNDS; r++) {
  const offset = r * LOG_CALLS_PER_ROUND;
  await timeVariant(decideOnly, logSamples.decide, offset, offset);
  configureDecisionLog({ mode: "off", ...logOptions });
  await timeVariant(decideLogged, logSamples.logOff, offset, offset);
  configureDecisionLog({ mode: "all", ...logOptions });
  await timeVariant(decideLogged, logSamples.logOn, offset, offset);
}
await stopDecisionLog();
const logStatsInterleaved = {
  buffered: getDecisionLogStats().buffered - logStatsBefore.buffered,
  dropped: getDecisionLogStats().dropped - logStatsBefore.dropped,
  written: logWritten - writtenBefore,
};
const logLatency = {
  decide: percentilesUs(logSamples.decide, timer.median),
  logOff: percentilesUs(logSamples.logOff, timer.median),
  logOn: percentilesUs(logSamples.logOn, timer.median),
};
const logOverheadP50 = logLatency.logOn.p50 - logLatency.decide.p50;
const logPushP50 = logLatency.logOn.p50 - logLatency.logOff.p50;

// Sustained maximum rate with the production log settings (capacity 10,000, flush every 1 s):
// the request path must keep its speed; what does not fit is dropped and counted.
configureDecisionLog({
  mode: "all",
  sampleRate: 1,
  capacity: 10_000,
  batchSize: 500,
  flushIntervalMs: 1_000,
  sink: logOptions.sink,
});
const statsBefore = { ...getDecisionLogStats() };
let loggedCalls = 0;
const loggedStart = performance.now();
for (let j = 0; performance.now() - loggedStart < 2_000; ) {
  for (let k = 0; k < CHUNK; k++) {
    if (decideLogged(requests[j] as AuthzRequest).allow) sinkValue++;
    j = j + 1 === n ? 0 : j + 1;
  }
  loggedCalls += CHUNK;
  await yieldToLoop();
}
const loggedOpsPerS = loggedCalls / ((performance.now() - loggedStart) / 1_000);
await stopDecisionLog();
const statsAfter = getDecisionLogStats();
const sustainedBuffered = statsAfter.buffered - statsBefore.buffered;
const sustainedDropped = statsAfter.dropped - statsBefore.dropped;
configureDecisionLog({ mode: "off", sink: null });

// ---- peers ---------------------------------------------------------------------------------
const peers = args.peers
  ? await (await import("./authz-peers")).runPeers(fixture, current, {
      sample: RULES > 20_000 ? 100 : 400,
      statelessCalls: RULES > 20_000 ? 2 : 5,
    })
  : null;

// ---- report --------------------------------------------------------------------------------
// The issue states the latency and throughput goals at 10,000 rules and only p99 <= 50 us at
// 100,000; reload and heap scale per 10,000 rules. Goals that do not apply at this size are null.
const isLarge = RULES > 10_000;
const goals = {
  p50: isLarge ? null : latency.p50 <= 1,
  p99: isLarge ? latency.p99 <= 50 : latency.p99 <= 10,
  p999: isLarge ? null : latency.p999 <= 50,
  throughput: isLarge ? null : opsPerS >= 500_000,
  reload: reloadColdMs * (10_000 / RULES) <= 250,
  change: changeLargest.medianMs <= 5,
  heap: heapMb * (10_000 / RULES) <= 25,
  log_overhead: logOverheadP50 <= 0.5,
};
const ok = (pass: boolean | null) => (pass === null ? "n/a" : pass ? "ok" : "MISSED");
const stats = fixture.stats;
const share = (count: number) => `${((count / n) * 100).toFixed(1)}%`;
const lines = [
  `node ${process.version}, one thread; load average ${loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")} on ${availableParallelism()} CPUs (other processes on the machine skew the tails and the throughput)`,
  `rule set: ${stats.rules} rules (${stats.bindings} bindings, ${stats.teamBindings} to teams; ${stats.policies} policies, ${stats.guardrails} guardrails) in ${stats.organizations} organizations, ${stats.conditional} conditional (${stats.distinctConditions} distinct CEL sources), ${stats.customRoles} custom roles, ${stats.users} users, ${stats.teams} teams; generated in ${generateMs.toFixed(0)} ms (seed ${fixture.seed})`,
  `workload: ${n} distinct requests rotated, ${share(allowCount)} allowed, ${share(stats.crossTenantRequests)} cross-tenant probes; reasons ${[
    ...reasons,
  ]
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => `${reason} ${share(count)}`)
    .join(", ")}; ${(candidates / n).toFixed(2)} index candidates per decision`,
  `reload (buildSnapshot, ${RULES} rules): first ${reloadColdMs.toFixed(1)} ms (empty caches, cold JIT), empty caches ${reloadColdCacheMs.toFixed(1)} ms, warm caches ${reloadWarmMs.toFixed(1)} ms  [${ok(goals.reload)}: <= 250 ms per 10k]`,
  `one changed policy (replaceOrganizations + first decision): ${changeLargest.medianMs.toFixed(2)} ms median, ${changeLargest.maxMs.toFixed(2)} ms max in the largest organization (${changeLargest.orgRules} rules); ${changeMedian.medianMs.toFixed(2)} ms in a median one (${changeMedian.orgRules} rules)  [${ok(goals.change)}: <= 5 ms]`,
  `heap: ${heapBuildMb.toFixed(1)} MB after the build, ${heapMb.toFixed(1)} MB after the workload filled the memos (${((heapMb * 10_000) / RULES).toFixed(1)} MB per 10k rules, code space excluded)  [${ok(goals.heap)}: <= 25 MB per 10k]`,
  `latency per decide(), ${LATENCY_CALLS} calls, empty-timer median ${(timer.median * 1e6).toFixed(0)} ns subtracted (timer resolution ~${timer.resolutionNs.toFixed(0)} ns): p50 ${latency.p50.toFixed(3)} us  p99 ${latency.p99.toFixed(3)} us  p99.9 ${latency.p999.toFixed(3)} us  max ${latency.max.toFixed(0)} us  [p50 <= 1: ${ok(goals.p50)}, p99 <= ${isLarge ? 50 : 10}: ${ok(goals.p99)}, p99.9 <= 50: ${ok(goals.p999)}]`,
  `  during it: ${gcPauses.length} garbage collections, ${gcTotalMs.toFixed(0)} ms of ${latencyMs.toFixed(0)} ms (${[
    ...gcKinds,
  ]
    .map(([kind, f]) => `${f.count} ${kind}, longest ${f.maxMs.toFixed(2)} ms`)
    .join("; ")}); ~${bytesPerDecision.toFixed(0)} bytes allocated per decision`,
  `throughput, tight loop: ${Math.round(opsPerS).toLocaleString("en")} decisions/s median of ${THROUGHPUT_ROUNDS} x ${THROUGHPUT_CALLS.toLocaleString("en")} (best ${Math.round(opsPerSBest).toLocaleString("en")}; ${Math.round(opsPerCpuS).toLocaleString("en")} per second of this process's CPU time)  [${ok(goals.throughput)}: >= 500,000]`,
  `decision log, ${LOG_ROUNDS} interleaved rounds x ${LOG_CALLS_PER_ROUND.toLocaleString("en")} calls each: decide p50 ${logLatency.decide.p50.toFixed(3)} us p99 ${logLatency.decide.p99.toFixed(3)}; decideWith log off p50 ${logLatency.logOff.p50.toFixed(3)} us p99 ${logLatency.logOff.p99.toFixed(3)}; log on p50 ${logLatency.logOn.p50.toFixed(3)} us p99 ${logLatency.logOn.p99.toFixed(3)} p99.9 ${logLatency.logOn.p999.toFixed(3)}`,
  `  overhead at p50: ${logOverheadP50.toFixed(3)} us for decideWith with logging (timers + metrics + log push), of which the log push ${logPushP50.toFixed(3)} us  [${ok(goals.log_overhead)}: <= 0.5 us]; buffered ${logStatsInterleaved.buffered}, written ${logStatsInterleaved.written}, dropped ${logStatsInterleaved.dropped} (flush every 10 ms)`,
  `  sustained with production settings (10k buffer, 1 s flush): ${Math.round(loggedOpsPerS).toLocaleString("en")} decisions/s logged vs ${Math.round(opsPerS).toLocaleString("en")} without; ${sustainedBuffered} buffered, ${sustainedDropped} dropped (${((sustainedDropped / Math.max(1, loggedCalls)) * 100).toFixed(1)}% of ${loggedCalls}) - the request path never waits for the sink`,
  ...(peers?.lines ?? []),
];
for (const line of lines) console.log(line);
if (sinkValue < 0 || allowed < 0) console.log(sinkValue, allowed);

console.log(
  JSON.stringify({
    bench: "authz",
    rules: RULES,
    p50_us: round(latency.p50),
    p99_us: round(latency.p99),
    p999_us: round(latency.p999),
    ops_per_s: Math.round(opsPerS),
    reload_ms: round(reloadColdMs, 1),
    heap_mb: round(heapMb, 2),
    log_overhead_p50_us: round(logOverheadP50),
    node: process.version,
    loadavg_1m: round(loadavg()[0] ?? 0, 2),
    organizations: stats.organizations,
    requests: n,
    allow_ratio: round(allowCount / n),
    timer_overhead_ns: Math.round(timer.median * 1e6),
    max_us: round(latency.max, 1),
    gc_count: gcPauses.length,
    gc_max_ms: round(gcMaxMs, 2),
    alloc_bytes_per_decision: Math.round(bytesPerDecision),
    ops_per_s_best: Math.round(opsPerSBest),
    ops_per_cpu_s: Math.round(opsPerCpuS),
    reload_cold_cache_ms: round(reloadColdCacheMs, 1),
    reload_warm_ms: round(reloadWarmMs, 1),
    change_ms: round(changeLargest.medianMs),
    change_max_ms: round(changeLargest.maxMs),
    change_median_org_ms: round(changeMedian.medianMs),
    heap_build_mb: round(heapBuildMb, 2),
    heap_mb_per_10k_rules: round((heapMb * 10_000) / RULES, 2),
    log_push_p50_us: round(logPushP50),
    log_on_p99_us: round(logLatency.logOn.p99),
    logged_ops_per_s: Math.round(loggedOpsPerS),
    log_dropped_ratio: round(sustainedDropped / Math.max(1, loggedCalls), 4),
    goals,
    ...(peers
      ? {
          peers: {
            casbin: peers.casbin,
            casbin_no_conditions: peers.casbin_no_conditions,
            cedar: peers.cedar,
            cedar_stateless: peers.cedar_stateless,
            sample: peers.sample,
            shadowed_in_sample: peers.shadowed_in_sample,
          },
        }
      : {}),
  }),
);

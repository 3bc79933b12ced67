import "server-only";
import {
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Metric,
  Registry,
  Summary,
  type SummaryConfiguration,
} from "prom-client";
import { singleton } from "./singleton";

// The one registry of the process. Both module graphs (tsx server, Next route handlers) must
// register into and render from the same object, or /metrics would show half the picture.
const registry = singleton("metrics-registry", () => {
  const created = new Registry();
  // Standard unprefixed names (process_cpu_user_seconds_total, nodejs_heap_size_used_bytes, ...):
  // the stock Node.js dashboards query them as prom-client emits them.
  collectDefaultMetrics({ register: created });
  return created;
});

export function getMetricsRegistry(): Registry {
  return registry;
}

type MetricClass<M> = abstract new (...args: never[]) => M;

function getOrCreate<M extends Metric>(name: string, kind: MetricClass<M>, create: () => M): M {
  const existing = registry.getSingleMetric(name);
  if (!existing) return create();
  // Name comparison as well as instanceof: should prom-client ever be loaded twice (bundled into
  // one graph), the classes differ while the metric is still the right one.
  if (existing instanceof kind || existing.constructor.name === kind.name) return existing as M;
  throw new Error(`Metric ${name} is already registered as a ${existing.constructor.name}, not a ${kind.name}`);
}

/**
 * Register-once accessors for modules' own metrics. A module file may be evaluated once per
 * module graph (and again on hot reload); a plain `new Counter()` would then throw "already
 * registered". Call at module load, keep the returned object.
 */
export function getOrCreateCounter<L extends string>(config: Omit<CounterConfiguration<L>, "registers">): Counter<L> {
  return getOrCreate(config.name, Counter<L>, () => new Counter<L>({ ...config, registers: [registry] }));
}

export function getOrCreateGauge<L extends string>(config: Omit<GaugeConfiguration<L>, "registers">): Gauge<L> {
  return getOrCreate(config.name, Gauge<L>, () => new Gauge<L>({ ...config, registers: [registry] }));
}

export function getOrCreateHistogram<L extends string>(
  config: Omit<HistogramConfiguration<L>, "registers">,
): Histogram<L> {
  return getOrCreate(config.name, Histogram<L>, () => new Histogram<L>({ ...config, registers: [registry] }));
}

export function getOrCreateSummary<L extends string>(config: Omit<SummaryConfiguration<L>, "registers">): Summary<L> {
  return getOrCreate(config.name, Summary<L>, () => new Summary<L>({ ...config, registers: [registry] }));
}

// Milliseconds, against the base-unit rule, because the existing dashboards expect this name
// and unit (STYLE.md).
const requestDuration = getOrCreateHistogram({
  name: "microstack_requests_duration_ms",
  help: "HTTP request duration in milliseconds, by route template, method and status code",
  labelNames: ["route", "method", "status_code"] as const,
  buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
});

const requestCodes = getOrCreateCounter({
  name: "microstack_requests_code_total",
  help: "HTTP responses, by route template, method and status code",
  labelNames: ["route", "method", "code"] as const,
});

const unhandledErrors = getOrCreateCounter({
  name: "microstack_unhandled_errors_total",
  help: "Errors no handler expected (answered as 500 or dropped), by where they surfaced",
  labelNames: ["source"] as const,
});

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface RequestObservation {
  /** The route template from the route matcher, never the raw path. */
  route: string;
  method: string;
  status: number;
  durationMs: number;
}

export function observeRequest({ route, method, status, durationMs }: RequestObservation): void {
  // Any string can arrive as a method; an unbounded label would blow up the series count.
  const upper = method.toUpperCase();
  const methodLabel = KNOWN_METHODS.has(upper) ? upper : "OTHER";
  const code = String(status);
  requestDuration.observe({ route, method: methodLabel, status_code: code }, durationMs);
  requestCodes.inc({ route, method: methodLabel, code });
}

export type UnhandledErrorSource = "api" | "action" | "socket" | "job" | "process";

export function countUnhandledError(source: UnhandledErrorSource): void {
  unhandledErrors.inc({ source });
}

/** The Prometheus exposition of every metric in the process, for GET /metrics. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

// Pre-aggregated metrics for hot paths. prom-client's Histogram.observe costs about 270 ns and
// Counter.inc about 135 ns here (measured, Node 20), more than a whole authorization decision.
// These keep plain typed-array counts indexed by a precomputed label-set number and build the
// exposition only on scrape. Same text format as prom-client's own metrics.

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

abstract class PreaggregatedMetric {
  readonly aggregator = "sum" as const;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
  ) {}
  protected abstract values(): MetricValue[];
  abstract reset(): void;
  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }
}

/** A counter over a fixed list of label sets; inc(i) adds to the i-th. */
export class FastCounter extends PreaggregatedMetric {
  private readonly counts: Float64Array;
  constructor(
    name: string,
    help: string,
    readonly labelSets: readonly Record<string, string>[],
  ) {
    super(name, help, "counter");
    this.counts = new Float64Array(labelSets.length);
  }
  inc(index: number, by = 1): void {
    this.counts[index] = (this.counts[index] ?? 0) + by;
  }
  value(index: number): number {
    return this.counts[index] ?? 0;
  }
  protected values(): MetricValue[] {
    return this.labelSets.map((labels, index) => ({ labels, value: this.counts[index] ?? 0 }));
  }
  reset(): void {
    this.counts.fill(0);
  }
}

/** A histogram over a fixed list of label sets; observe(i, v) records v under the i-th. */
export class FastHistogram extends PreaggregatedMetric {
  private readonly bucketCounts: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  constructor(
    name: string,
    help: string,
    readonly labelSets: readonly Record<string, string>[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, "histogram");
    this.bucketCounts = new Float64Array(labelSets.length * buckets.length);
    this.sums = new Float64Array(labelSets.length);
    this.counts = new Float64Array(labelSets.length);
  }
  observe(index: number, value: number): void {
    const buckets = this.buckets;
    let bucket = 0;
    while (bucket < buckets.length && value > (buckets[bucket] as number)) bucket++;
    if (bucket < buckets.length) {
      const slot = index * buckets.length + bucket;
      this.bucketCounts[slot] = (this.bucketCounts[slot] ?? 0) + 1;
    }
    this.sums[index] = (this.sums[index] ?? 0) + value;
    this.counts[index] = (this.counts[index] ?? 0) + 1;
  }
  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    this.labelSets.forEach((labels, index) => {
      let cumulative = 0;
      this.buckets.forEach((le, bucket) => {
        cumulative += this.bucketCounts[index * this.buckets.length + bucket] ?? 0;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      const count = this.counts[index] ?? 0;
      values.push({ labels: { ...labels, le: "+Inf" }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: this.sums[index] ?? 0, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    });
    return values;
  }
  reset(): void {
    this.bucketCounts.fill(0);
    this.sums.fill(0);
    this.counts.fill(0);
  }
}

/** Registers a pre-aggregated metric once per process (see getOrCreate). */
export function getOrCreatePreaggregated<M extends FastCounter | FastHistogram>(create: () => M): M {
  const created = create();
  const existing = registry.getSingleMetric(created.name) as unknown as M | undefined;
  if (existing) return existing;
  registry.registerMetric(created as never);
  return created;
}

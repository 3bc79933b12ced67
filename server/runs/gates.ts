import "server-only";

// Gate metrics: each metric of a gate is a PromQL query, answered by Prometheus' HTTP API
// (`GET /api/v1/query`). The engine evaluates the gate's CEL condition on the numbers; a query
// that cannot be answered is a sampling error, and the gate tries again at its next poll.

export interface GateSample {
  metrics: Record<string, number>;
  error?: string;
}

const QUERY_TIMEOUT_MS = 10_000;

interface PrometheusAnswer {
  status: "success" | "error";
  error?: string;
  data?: { resultType: string; result: unknown };
}

async function queryPrometheus(base: string, query: string): Promise<number> {
  const url = new URL("api/v1/query", base.endsWith("/") ? base : `${base}/`);
  url.searchParams.set("query", query);
  const response = await fetch(url, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
  const answer = (await response.json().catch(() => null)) as PrometheusAnswer | null;
  if (answer?.status !== "success" || !answer.data) {
    throw new Error(answer?.error ?? `Prometheus answered ${response.status}`);
  }
  const { resultType, result } = answer.data;
  if (resultType === "scalar") return Number((result as [number, string])[1]);
  if (resultType === "vector") {
    const series = result as { value: [number, string] }[];
    if (series.length === 0) throw new Error("the query returned no data");
    if (series.length > 1)
      throw new Error(`the query returned ${series.length} series: aggregate it (sum, avg, max ...)`);
    return Number((series[0] as { value: [number, string] }).value[1]);
  }
  throw new Error(`the query returned a ${resultType}; a gate needs one number`);
}

export async function sampleGate(
  metrics: Readonly<Record<string, { readonly query: string; readonly source: string | null }>>,
  options: { prometheusUrl?: string },
): Promise<GateSample> {
  const values: Record<string, number> = {};
  const errors: string[] = [];
  await Promise.all(
    Object.entries(metrics).map(async ([name, metric]) => {
      const base =
        metric.source && /^https?:\/\//.test(metric.source)
          ? metric.source
          : metric.source
            ? null
            : options.prometheusUrl;
      if (!base) {
        errors.push(
          metric.source
            ? `${name}: metric source "${metric.source}" is not configured (give a Prometheus URL as source)`
            : `${name}: no metric source: set MICROSTACK_PROMETHEUS_URL or give the metric a source URL`,
        );
        return;
      }
      try {
        const value = await queryPrometheus(base, metric.query);
        if (!Number.isFinite(value)) throw new Error(`the value is ${value}`);
        values[name] = value;
      } catch (error) {
        errors.push(`${name}: ${(error as Error).message}`);
      }
    }),
  );
  return errors.length > 0 ? { metrics: values, error: errors.join("; ") } : { metrics: values };
}

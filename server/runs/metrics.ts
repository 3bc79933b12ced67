import "server-only";
import { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from "@/server/observability/metrics";

// microstack_run_* metrics: what an operator watches to know the engine keeps up.

const transitionDuration = getOrCreateHistogram({
  name: "microstack_run_transition_duration_seconds",
  help: "Time to apply a batch of events to one run (lock, compute, write, enqueue, commit)",
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

const transitionEvents = getOrCreateCounter({
  name: "microstack_run_events_total",
  help: "Events applied to runs (or ignored as stale or refused)",
});

const runsStarted = getOrCreateCounter<"trigger">({
  name: "microstack_runs_started_total",
  help: "Runs created, by trigger",
  labelNames: ["trigger"],
});

const runsFinished = getOrCreateCounter<"status">({
  name: "microstack_runs_finished_total",
  help: "Runs that reached a final status, by status",
  labelNames: ["status"],
});

const runDuration = getOrCreateHistogram<"status">({
  name: "microstack_run_duration_seconds",
  help: "Wall time from a run's start to its end, by final status",
  labelNames: ["status"],
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400],
});

const stepStartLatency = getOrCreateHistogram<"kind">({
  name: "microstack_run_step_start_latency_seconds",
  help: "From a step being dispatched to its process (or built-in kind) running, by executor kind",
  labelNames: ["kind"],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});

const stepsRunning = getOrCreateGauge({
  name: "microstack_run_steps_running",
  help: "Steps this process is executing now",
});

const executorLost = getOrCreateCounter<"reason">({
  name: "microstack_run_steps_lost_total",
  help: "Step attempts reported lost (their executor stopped or vanished), by reason",
  labelNames: ["reason"],
});

const logLines = getOrCreateCounter({
  name: "microstack_run_log_lines_total",
  help: "Log lines stored",
});

const logBytes = getOrCreateCounter({
  name: "microstack_run_log_bytes_total",
  help: "Bytes of log text stored",
});

const logDropped = getOrCreateCounter({
  name: "microstack_run_log_dropped_lines_total",
  help: "Log lines dropped because a step exceeded its log size limit",
});

export function observeTransition(seconds: number, events: number): void {
  transitionDuration.observe(seconds);
  transitionEvents.inc(events);
}

export function countRunStarted(trigger: string): void {
  runsStarted.inc({ trigger });
}

export function countRunFinished(status: string, seconds: number | null): void {
  runsFinished.inc({ status });
  if (seconds !== null) runDuration.observe({ status }, seconds);
}

export function observeStepStart(kind: string, seconds: number): void {
  stepStartLatency.observe({ kind }, seconds);
}

export function setStepsRunning(count: number): void {
  stepsRunning.set(count);
}

export function countStepLost(reason: "executor-gone" | "executor-stopped"): void {
  executorLost.inc({ reason });
}

export function countLogChunk(lines: number, bytes: number): void {
  logLines.inc(lines);
  logBytes.inc(bytes);
}

export function countLogDropped(lines: number): void {
  logDropped.inc(lines);
}

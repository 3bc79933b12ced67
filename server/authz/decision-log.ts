import "server-only";
import { randomUUID } from "node:crypto";
import { singleton } from "@/server/observability/singleton";
import type { AuthzRequest, Decision } from "./engine/types";
import { decisionLogEvents } from "./metrics";
import type { DecisionLogEntry } from "./schema";

// The decision log. The request path only stores references into a bounded ring buffer (tens of
// nanoseconds, no allocation: one slot per event across parallel arrays); a timer drains it in
// batches to the sink (the audit module's table) off the request path. When the buffer is full
// the event is dropped and counted, never queued without bound and never waited for.
// Formatting into the stored shape happens at flush time.

export type DecisionLogMode = "all" | "deny" | "off";

export interface DecisionLogOptions {
  mode: DecisionLogMode;
  /** Fraction of allows kept in mode "all"; denies are always kept. */
  sampleRate: number;
  capacity: number;
  batchSize: number;
  flushIntervalMs: number;
  sink: ((entries: DecisionLogEntry[]) => Promise<void>) | null;
}

interface Pending {
  request: AuthzRequest;
  decision: Decision;
  latencyUs: number;
  /** When it was decided, on the monotonic clock (performance.now(), ms); made wall-clock at flush. */
  at: number;
  path: string;
  decisionId: string | undefined;
}

export interface DecisionLogStats {
  buffered: number;
  written: number;
  dropped: number;
  pending: number;
}

const DEFAULTS: DecisionLogOptions = {
  mode: "off",
  sampleRate: 1,
  capacity: 10_000,
  batchSize: 250,
  flushIntervalMs: 1_000,
  sink: null,
};

/**
 * A fixed-capacity FIFO of events in parallel arrays: pushing an event writes six slots and
 * allocates nothing (the decision and request are the caller's objects; decisions are shared).
 */
class EventRing {
  private readonly requests: (AuthzRequest | undefined)[];
  private readonly decisions: (Decision | undefined)[];
  private readonly latencies: Float64Array;
  private readonly times: Float64Array;
  private readonly paths: (string | undefined)[];
  private readonly ids: (string | undefined)[];
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.requests = new Array(capacity).fill(undefined);
    this.decisions = new Array(capacity).fill(undefined);
    this.latencies = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.paths = new Array(capacity).fill(undefined);
    this.ids = new Array(capacity).fill(undefined);
  }

  /** False when full. */
  push(
    request: AuthzRequest,
    decision: Decision,
    latencyUs: number,
    at: number,
    path: string,
    decisionId: string | undefined,
  ): boolean {
    if (this.size >= this.capacity) return false;
    let slot = this.head + this.size;
    if (slot >= this.capacity) slot -= this.capacity;
    this.requests[slot] = request;
    this.decisions[slot] = decision;
    this.latencies[slot] = latencyUs;
    this.times[slot] = at;
    this.paths[slot] = path;
    this.ids[slot] = decisionId;
    this.size++;
    return true;
  }

  /** Removes up to `count` of the oldest events, in order, releasing the references they held. */
  take(count: number): Pending[] {
    const taken: Pending[] = [];
    const n = Math.min(count, this.size);
    for (let k = 0; k < n; k++) {
      const slot = this.head;
      taken.push({
        request: this.requests[slot] as AuthzRequest,
        decision: this.decisions[slot] as Decision,
        latencyUs: this.latencies[slot] as number,
        at: this.times[slot] as number,
        path: this.paths[slot] as string,
        decisionId: this.ids[slot],
      });
      this.requests[slot] = undefined;
      this.decisions[slot] = undefined;
      this.paths[slot] = undefined;
      this.ids[slot] = undefined;
      this.head = slot + 1 === this.capacity ? 0 : slot + 1;
      this.size--;
    }
    return taken;
  }
}

class DecisionLog {
  options: DecisionLogOptions = DEFAULTS;
  private ring = new EventRing(DEFAULTS.capacity);
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  readonly stats: DecisionLogStats = { buffered: 0, written: 0, dropped: 0, pending: 0 };

  configure(options: Partial<DecisionLogOptions>): void {
    this.options = { ...this.options, ...options };
    if (this.options.capacity !== this.ring.capacity) {
      // Events already buffered move to the new ring (those beyond a smaller capacity are dropped, and counted).
      const previous = this.ring;
      this.ring = new EventRing(this.options.capacity);
      for (const event of previous.take(previous.size)) {
        if (!this.ring.push(event.request, event.decision, event.latencyUs, event.at, event.path, event.decisionId)) {
          this.stats.dropped++;
          decisionLogEvents.inc({ outcome: "dropped" });
        }
      }
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.mode !== "off" && this.options.sink) {
      this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Request path: O(1), allocation-free, never blocks, never throws. `at` is when the decision
   * was made on the monotonic clock (the caller's timer reading; read here if absent): reading the
   * wall clock costs more, and events are at most seconds old when flush converts them.
   */
  record(
    request: AuthzRequest,
    decision: Decision,
    latencyUs: number,
    path: string,
    decisionId?: string,
    at?: number,
  ): void {
    const { mode, sink } = this.options;
    if (mode === "off" || sink === null) return;
    if (decision.allow) {
      if (mode === "deny") return;
      if (this.options.sampleRate < 1 && Math.random() >= this.options.sampleRate) return;
    }
    if (!this.ring.push(request, decision, latencyUs, at ?? performance.now(), path, decisionId)) {
      this.stats.dropped++;
      decisionLogEvents.inc({ outcome: "dropped" });
      return;
    }
    this.stats.buffered++;
  }

  /** Writes everything buffered so far (the timer, shutdown and tests call it). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    const sink = this.options.sink;
    if (!sink) return;
    while (this.ring.size > 0) {
      const batch = this.ring.take(this.options.batchSize);
      this.stats.pending = this.ring.size;
      const wallClockOffset = Date.now() - performance.now();
      try {
        await sink(batch.map((pending) => toEntry(pending, wallClockOffset)));
        this.stats.written += batch.length;
        decisionLogEvents.inc({ outcome: "written" }, batch.length);
      } catch {
        // The database is down or refused the batch: these events are lost, and counted.
        this.stats.dropped += batch.length;
        decisionLogEvents.inc({ outcome: "dropped" }, batch.length);
      }
      // Let requests run between batches (the embedded database shares this thread).
      if (this.ring.size > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.stats.pending = 0;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

function toEntry(pending: Pending, wallClockOffset: number): DecisionLogEntry {
  const { request, decision } = pending;
  const resource = request.resource;
  return {
    decision_id: pending.decisionId ?? randomUUID(),
    timestamp: new Date(Math.round(pending.at + wallClockOffset)).toISOString(),
    path: pending.path,
    revision: decision.revision,
    input: {
      principal: { type: request.principal.type, id: request.principal.id },
      action: request.action,
      resource: {
        type: resource.type,
        id: resource.id ?? null,
        organizationId: resource.organizationId,
        projectId: resource.projectId ?? null,
        environment: resource.environment ?? null,
      },
    },
    result: decision.allow,
    reason_code: decision.reasonCode,
    reason: decision.reason,
    policy_id: decision.policyId,
    binding_id: decision.bindingId,
    scope: decision.scope,
    latency_us: pending.latencyUs,
  };
}

const log = singleton("authz-decision-log", () => new DecisionLog());

export function configureDecisionLog(options: Partial<DecisionLogOptions>): void {
  log.configure(options);
}

export function recordDecision(
  request: AuthzRequest,
  decision: Decision,
  latencyUs: number,
  path: string,
  decisionId?: string,
  at?: number,
): void {
  log.record(request, decision, latencyUs, path, decisionId, at);
}

export function flushDecisionLog(): Promise<void> {
  return log.flush();
}

export function stopDecisionLog(): Promise<void> {
  return log.stop();
}

export function getDecisionLogStats(): Readonly<DecisionLogStats> {
  return log.stats;
}

import "server-only";
import { randomUUID } from "node:crypto";
import { singleton } from "@/server/observability/singleton";
import type { AuthzRequest, Decision } from "./engine/types";
import { decisionLogEvents } from "./metrics";
import type { DecisionLogEntry } from "./schema";

// The decision log. The request path only pushes a reference into a bounded buffer (tens of
// nanoseconds); a timer drains it in batches to the sink (the audit module's table) off the
// request path. When the buffer is full the event is dropped and counted, never queued without
// bound and never waited for. Formatting into the stored shape happens at flush time.

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

class DecisionLog {
  options: DecisionLogOptions = DEFAULTS;
  private buffer: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  readonly stats: DecisionLogStats = { buffered: 0, written: 0, dropped: 0, pending: 0 };

  configure(options: Partial<DecisionLogOptions>): void {
    this.options = { ...this.options, ...options };
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.mode !== "off" && this.options.sink) {
      this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Request path: O(1), never blocks, never throws. */
  record(request: AuthzRequest, decision: Decision, latencyUs: number, path: string, decisionId?: string): void {
    const { mode, sink } = this.options;
    if (mode === "off" || sink === null) return;
    if (decision.allow) {
      if (mode === "deny") return;
      if (this.options.sampleRate < 1 && Math.random() >= this.options.sampleRate) return;
    }
    if (this.buffer.length >= this.options.capacity) {
      this.stats.dropped++;
      decisionLogEvents.inc({ outcome: "dropped" });
      return;
    }
    this.buffer.push({ request, decision, latencyUs, at: Date.now(), path, decisionId });
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
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.options.batchSize);
      this.stats.pending = this.buffer.length;
      try {
        await sink(batch.map(toEntry));
        this.stats.written += batch.length;
        decisionLogEvents.inc({ outcome: "written" }, batch.length);
      } catch {
        // The database is down or refused the batch: these events are lost, and counted.
        this.stats.dropped += batch.length;
        decisionLogEvents.inc({ outcome: "dropped" }, batch.length);
      }
      // Let requests run between batches (the embedded database shares this thread).
      if (this.buffer.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.stats.pending = 0;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

function toEntry(pending: Pending): DecisionLogEntry {
  const { request, decision } = pending;
  const resource = request.resource;
  return {
    decision_id: pending.decisionId ?? randomUUID(),
    timestamp: new Date(pending.at).toISOString(),
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
): void {
  log.record(request, decision, latencyUs, path, decisionId);
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

import "server-only";
import { getActorById } from "@/server/auth/service";
import { getDatabase } from "@/server/db";
import { AppError, isAppError } from "@/server/http/errors";
import { getLogger } from "@/server/observability/logger";
import { addConnectionHandler, type RealtimeSocket } from "@/server/realtime/socket-server";
import { linesOfChunks } from "./logs";
import { assertCanOnRun } from "./policy";
import { findRunById, findStepIndex, lastLogSeq, readLogChunks } from "./repo";
import { logRoom, runRoom } from "./runtime";
import { logSubscriptionSchema, runSubscriptionSchema, type SubscribeAck } from "./schema";

// Socket subscriptions to runs and step logs. Each one authorizes (run:read) before joining its
// room; a log subscription first sends the stored lines after the client's sequence number,
// then live lines follow through the room. Lines are published only after they are stored,
// so "stored, then live" has no gap; the client drops sequence numbers it already has.

const log = getLogger("runs.realtime");
const BACKLOG_PAGE = 5_000;

function failure(error: unknown): SubscribeAck {
  if (isAppError(error)) return { ok: false, code: error.code, message: error.message };
  log.error({ err: error }, "subscription failed");
  return { ok: false, code: "INTERNAL", message: "Something went wrong" };
}

async function authorizedRun(socket: RealtimeSocket, runId: string) {
  const actor = await getActorById(socket.data.userId);
  if (!actor) throw new AppError("UNAUTHORIZED", "Sign in again");
  const run = await findRunById(runId);
  if (!run) throw AppError.notFound("The run");
  await assertCanOnRun(actor, "run:read", {
    id: run.id,
    organizationId: run.organizationId,
    projectId: run.projectId,
    pipelineId: run.pipelineId,
    startedById: run.startedById,
  });
  return run;
}

function safeAck<T>(ack: unknown): (reply: T) => void {
  return typeof ack === "function" ? (ack as (reply: T) => void) : () => {};
}

export function registerRunSocketHandlers(): void {
  addConnectionHandler((socket) => {
    socket.on("runs:subscribe", async (raw, rawAck) => {
      const ack = safeAck<SubscribeAck>(rawAck);
      const parsed = runSubscriptionSchema.safeParse(raw);
      if (!parsed.success) return ack({ ok: false, code: "INVALID_INPUT", message: "runId must be a run id" });
      try {
        const run = await authorizedRun(socket, parsed.data.runId);
        await socket.join(runRoom(run.id));
        ack({ ok: true });
      } catch (error) {
        ack(failure(error));
      }
    });

    socket.on("runs:unsubscribe", (raw) => {
      const parsed = runSubscriptionSchema.safeParse(raw);
      if (parsed.success) void socket.leave(runRoom(parsed.data.runId));
    });

    socket.on("logs:subscribe", async (raw, rawAck) => {
      const ack = safeAck<SubscribeAck & { lastSeq?: number }>(rawAck);
      const parsed = logSubscriptionSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return ack({ ok: false, code: "INVALID_INPUT", message: `${issue?.path.join(".")}: ${issue?.message}` });
      }
      const { runId, step, attempt, after } = parsed.data;
      try {
        const run = await authorizedRun(socket, runId);
        const db = await getDatabase();
        const idx = await findStepIndex(db, run.id, step);
        if (idx === null) return ack({ ok: false, code: "NOT_FOUND", message: `The run has no step ${step}` });
        const key = { runId: run.id, idx, attempt };
        // Join first: whatever is stored from now on also arrives live (duplicates are dropped
        // by sequence number on the client); then send everything stored after `after`.
        await socket.join(logRoom(run.id, idx, attempt));
        let from = after;
        for (;;) {
          const chunks = await readLogChunks(db, key, from, BACKLOG_PAGE);
          const lines = linesOfChunks(chunks, from, BACKLOG_PAGE);
          if (lines.length === 0) break;
          socket.emit("log:lines", { runId: run.id, step, attempt, lines });
          from = (lines.at(-1) as { seq: number }).seq;
          if (lines.length < BACKLOG_PAGE) break;
        }
        ack({ ok: true, lastSeq: Math.max(from, await lastLogSeq(db, key)) });
      } catch (error) {
        ack(failure(error));
      }
    });

    socket.on("logs:unsubscribe", async (raw) => {
      if (typeof raw !== "object" || raw === null) return;
      const { runId, step, attempt } = raw as { runId?: unknown; step?: unknown; attempt?: unknown };
      if (typeof runId !== "string" || typeof step !== "string" || typeof attempt !== "number") return;
      const parsed = runSubscriptionSchema.safeParse({ runId });
      if (!parsed.success) return;
      const idx = await findStepIndex(await getDatabase(), runId, step).catch(() => null);
      if (idx !== null) void socket.leave(logRoom(runId, idx, attempt));
    });
  });
}

import "server-only";
import { getActorById } from "@/server/auth/service";
import { getDatabase } from "@/server/db";
import { AppError, isAppError } from "@/server/http/errors";
import { getLogger } from "@/server/observability/logger";
import { addConnectionHandler, type RealtimeSocket } from "@/server/realtime/socket-server";
import { linesOfChunks } from "./logs";
import { assertCanOnRun } from "./policy";
import { findRunById, findStepIndex, lastLogSeq, readLogChunks } from "./repo";
import { followLog, logRoom, ownLogRoom, runRoom } from "./runtime";
import { type LogLine, logSubscriptionSchema, runSubscriptionSchema, type SubscribeAck } from "./schema";

// Socket subscriptions to runs and step logs. Each one authorizes (run:read) before joining its
// room. A log subscription sends the stored lines after the client's sequence number, then the
// live ones: lines are published only after they are stored, and those published by this
// process while the stored ones are read are held and sent after them (see followLog), so the
// client gets every line once, in order, with no gap. (Lines published by another replica come
// through the room and may arrive early or twice: a client drops sequence numbers it has.)

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

/** Per socket, its log subscriptions by room, each with the function that ends it. */
const following = new WeakMap<RealtimeSocket, Map<string, () => void>>();

function stopFollowing(socket: RealtimeSocket, room: string): void {
  const subscriptions = following.get(socket);
  subscriptions?.get(room)?.();
  subscriptions?.delete(room);
}

export function registerRunSocketHandlers(): void {
  addConnectionHandler((socket) => {
    following.set(socket, new Map());
    socket.on("disconnect", () => {
      for (const stop of following.get(socket)?.values() ?? []) stop();
      following.delete(socket);
    });

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
        const subscriptions = following.get(socket);
        if (!subscriptions || socket.disconnected) return;
        const room = logRoom(run.id, idx, attempt);
        const ownRoom = ownLogRoom(room);
        // A second subscription to the same log replaces the first.
        stopFollowing(socket, room);
        let from = after;
        let active = true;
        let held: LogLine[] | null = [];
        const send = (lines: readonly LogLine[]) => {
          const fresh = lines.filter((line) => line.seq > from);
          if (!active || fresh.length === 0) return;
          socket.emit("log:lines", { runId: run.id, step, attempt, lines: fresh });
          from = (fresh.at(-1) as LogLine).seq;
        };
        // Follow first, so that nothing stored from now on is missed; what is published
        // meanwhile waits until everything stored after `after` has been sent.
        const unfollow = followLog(room, (event) => {
          if (held) held.push(...event.lines);
          else send(event.lines);
        });
        subscriptions.set(room, () => {
          active = false;
          unfollow();
          void socket.leave(ownRoom);
          void socket.leave(room);
        });
        try {
          await socket.join([room, ownRoom]);
          while (active) {
            const chunks = await readLogChunks(db, key, from, BACKLOG_PAGE);
            const lines = linesOfChunks(chunks, from, BACKLOG_PAGE);
            if (lines.length === 0) break;
            send(lines);
            if (lines.length < BACKLOG_PAGE) break;
          }
          const pending = held;
          held = null;
          send(pending);
        } catch (error) {
          stopFollowing(socket, room);
          throw error;
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
      if (idx !== null) stopFollowing(socket, logRoom(runId, idx, attempt));
    });
  });
}

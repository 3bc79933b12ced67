import "server-only";
import type { Server as HttpServer } from "node:http";
import { Server } from "socket.io";
import { getActorById, getSessionUserId } from "@/server/auth/service";
import { getLogger } from "@/server/observability/logger";
import { singleton } from "@/server/observability/singleton";
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from "./events";

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const log = getLogger("realtime");
const holder = singleton("realtime.server", () => ({ io: undefined as RealtimeServer | undefined }));

export function userRoom(userId: string): string {
  return `user:${userId}`;
}

/**
 * socket.io on the app's own port. Every connection authenticates with the session cookie and
 * joins only its own user room; topic subscriptions (runs, logs) come with their modules and
 * each asks the authz engine before joining.
 */
export function attachRealtime(server: HttpServer): RealtimeServer {
  const io: RealtimeServer = new Server(server, {
    path: "/socket.io",
    serveClient: false,
    // Next's dev server owns the other upgrade requests (hot reload): leave them alone.
    destroyUpgrade: false,
    // WebSockets skip CORS and carry the session cookie: accept only pages of this origin
    // (cross-site WebSocket hijacking). Non-browser clients send no Origin.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      if (!origin) return callback(null, true);
      try {
        callback(null, new URL(origin).host === req.headers.host);
      } catch {
        callback(null, false);
      }
    },
  });
  io.use(async (socket, next) => {
    try {
      const userId = await getSessionUserId(socket.handshake.headers.cookie ?? null);
      const actor = userId ? await getActorById(userId) : null;
      if (!actor) return next(new Error("UNAUTHORIZED"));
      socket.data.userId = actor.id;
      next();
    } catch (error) {
      log.error({ err: error }, "socket authentication failed");
      next(new Error("INTERNAL"));
    }
  });
  io.on("connection", (socket) => {
    void socket.join(userRoom(socket.data.userId));
    socket.on("ping", (ack) => {
      if (typeof ack === "function") ack({ serverTime: new Date().toISOString() });
    });
  });
  holder.io = io;
  return io;
}

/** The process's socket.io server, for modules that emit after commit; undefined in scripts. */
export function getRealtime(): RealtimeServer | undefined {
  return holder.io;
}

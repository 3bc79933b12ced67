import "server-only";
import type { Server as HttpServer } from "node:http";
import { createAdapter } from "@socket.io/postgres-adapter";
import pg from "pg";
import { Server, type Socket } from "socket.io";
import { getActorById, getSessionUserId } from "@/server/auth/service";
import { listMemberships } from "@/server/authz/service";
import { getLogger } from "@/server/observability/logger";
import { singleton } from "@/server/observability/singleton";
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from "./events";

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ConnectionHandler = (socket: RealtimeSocket) => void;

const log = getLogger("realtime");
const holder = singleton("realtime.server", () => ({
  io: undefined as RealtimeServer | undefined,
  handlers: [] as ConnectionHandler[],
  closeAdapter: undefined as (() => Promise<void>) | undefined,
}));

export function userRoom(userId: string): string {
  return `user:${userId}`;
}

/** Everyone signed in who belongs to the organization (any binding, direct or through a team). */
export function organizationRoom(organizationId: string): string {
  return `org:${organizationId}`;
}

/**
 * Registers a module's socket handlers (run and log subscriptions, ...), for connections made
 * from now on. Each handler authorizes what it serves itself.
 */
export function addConnectionHandler(handler: ConnectionHandler): void {
  holder.handlers.push(handler);
}

/**
 * socket.io on the app's own port. Every connection authenticates with the session cookie and
 * joins only its own user room; topic subscriptions (runs, logs) come with their modules and
 * each asks the authz engine before joining.
 */
export function attachRealtime(server: HttpServer, options: { postgresUrl?: string } = {}): RealtimeServer {
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
  if (options.postgresUrl) {
    // Replicas share rooms through PostgreSQL (LISTEN/NOTIFY): an event emitted on one reaches
    // subscribers connected to any other.
    const pool = new pg.Pool({ connectionString: options.postgresUrl, max: 2 });
    pool.on("error", (error) => log.warn({ err: error }, "realtime adapter connection error"));
    // The adapter keeps one client checked out for LISTEN and attaches no "error" listener to
    // it: without this one a lost connection (a database restart) would be an uncaught exception
    // that stops the server. The failed client goes back to the pool to be discarded (a slot is
    // not leaked), and its "end" makes the adapter listen again on a new one.
    pool.on("connect", (client) => {
      client.on("error", (error) => {
        log.warn({ err: error }, "realtime adapter connection lost");
        try {
          (client as pg.PoolClient).release?.(error);
        } catch {
          // idle, or already released: the pool discards it itself
        }
      });
    });
    io.adapter(
      createAdapter(pool, {
        channelPrefix: "microstack_socket_io",
        errorHandler: (error) => log.warn({ err: error }, "realtime adapter error"),
      }),
    );
    holder.closeAdapter = () => pool.end();
  }
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
    // Organization rooms carry only "something changed" signals; data is fetched through the
    // API, which authorizes every read.
    listMemberships({ type: "user", id: socket.data.userId })
      .then((memberships) => {
        for (const organizationId of new Set(memberships.map((m) => m.organizationId))) {
          void socket.join(organizationRoom(organizationId));
        }
      })
      .catch((error: unknown) => log.warn({ err: error }, "could not join organization rooms"));
    socket.on("ping", (ack) => {
      if (typeof ack === "function") ack({ serverTime: new Date().toISOString() });
    });
    for (const handler of holder.handlers) handler(socket);
  });
  holder.io = io;
  return io;
}

/** The process's socket.io server, for modules that emit after commit; undefined in scripts. */
export function getRealtime(): RealtimeServer | undefined {
  return holder.io;
}

/** Closes the adapter's database connections (after io.close() at shutdown). */
export async function closeRealtimeAdapter(): Promise<void> {
  const close = holder.closeAdapter;
  holder.closeAdapter = undefined;
  await close?.().catch(() => {});
}

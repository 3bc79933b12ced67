// Typed socket.io event maps, shared by the server and the browser client (isomorphic).
import type { LogLinesEvent, LogSubscription, RunUpdatedEvent, SubscribeAck } from "@/server/runs/schema";

export interface ServerToClientEvents {
  /** The user's preferences changed in another tab or device. */
  "preferences:changed": (preferences: { theme: string; density: string; locale: string }) => void;
  /** A run the socket subscribed to changed: its status and the steps that changed. */
  "run:updated": (event: RunUpdatedEvent) => void;
  /** Log lines of a step attempt the socket follows, in sequence order within one event. */
  "log:lines": (event: LogLinesEvent) => void;
  /** Something waiting for people (approvals, manual steps) changed in one of the user's organizations. */
  "approvals:changed": (event: { organizationId: string }) => void;
  /** A run of this project was created or changed status: lists refetch (data comes from the API). */
  "runs:changed": (event: { organizationId: string; projectId: string }) => void;
}

export interface ClientToServerEvents {
  /** Round-trip check; the server answers with its time. */
  ping: (ack: (reply: { serverTime: string }) => void) => void;
  /** Live updates of a run (needs run:read on it). */
  "runs:subscribe": (input: { runId: string }, ack: (reply: SubscribeAck) => void) => void;
  "runs:unsubscribe": (input: { runId: string }) => void;
  /**
   * Follows a step attempt's log: the lines after `after` are sent first (log:lines), then live
   * lines as they are stored. A client merges by sequence number; after a reconnect it
   * subscribes again with the last sequence number it has, and gets no gap and no duplicate.
   */
  "logs:subscribe": (input: LogSubscription, ack: (reply: SubscribeAck & { lastSeq?: number }) => void) => void;
  "logs:unsubscribe": (input: { runId: string; step: string; attempt: number }) => void;
}

export interface SocketData {
  userId: string;
}

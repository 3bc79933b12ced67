// Typed socket.io event maps, shared by the server and the browser client (isomorphic).

export interface ServerToClientEvents {
  /** The user's preferences changed in another tab or device. */
  "preferences:changed": (preferences: { theme: string; density: string; locale: string }) => void;
}

export interface ClientToServerEvents {
  /** Round-trip check; the server answers with its time. */
  ping: (ack: (reply: { serverTime: string }) => void) => void;
}

export interface SocketData {
  userId: string;
}

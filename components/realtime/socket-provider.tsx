"use client";
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "@/server/realtime/events";

// One socket.io connection per signed-in tab, on the app's own origin (the session cookie
// authenticates it). Features subscribe to what they show (a run, a step's log) and listen for
// events; after a reconnect they subscribe again (useOnReconnect), passing what they already
// have, so nothing is missed or shown twice.

export type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type ConnectionState = "connecting" | "connected" | "disconnected";

interface RealtimeValue {
  socket: AppSocket | null;
  state: ConnectionState;
}

const RealtimeContext = createContext<RealtimeValue>({ socket: null, state: "disconnected" });

export function RealtimeProvider({ children }: { children: ReactNode }) {
  const [value, setValue] = useState<RealtimeValue>({ socket: null, state: "connecting" });
  useEffect(() => {
    const socket: AppSocket = io({ path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
    const update = (state: ConnectionState) => setValue({ socket, state });
    update(socket.connected ? "connected" : "connecting");
    socket.on("connect", () => update("connected"));
    socket.on("disconnect", () => update("disconnected"));
    socket.io.on("reconnect_attempt", () => update("connecting"));
    // Tests drop and restore the connection through this handle (e2e: no gap after a reconnect).
    (window as unknown as { __microstackSocket?: AppSocket }).__microstackSocket = socket;
    return () => {
      socket.close();
    };
  }, []);
  return <RealtimeContext.Provider value={value}>{children}</RealtimeContext.Provider>;
}

/** The tab's socket (null before the first render on the client) and its connection state. */
export function useRealtime(): RealtimeValue {
  return useContext(RealtimeContext);
}

/** Listens for a server event while mounted; the latest handler is always the one called. */
export function useSocketEvent<E extends keyof ServerToClientEvents>(event: E, handler: ServerToClientEvents[E]): void {
  const { socket } = useRealtime();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    if (!socket) return;
    const listener = ((...args: unknown[]) =>
      (ref.current as (...a: unknown[]) => void)(...args)) as unknown as ServerToClientEvents[E];
    // socket.io's typed on/off need the exact event type; the listener forwards whatever comes.
    (socket as unknown as Socket).on(event as string, listener as never);
    return () => {
      (socket as unknown as Socket).off(event as string, listener as never);
    };
  }, [socket, event]);
}

/** Runs `effect` each time the socket (re)connects while mounted: the place to (re)subscribe. */
export function useOnConnect(effect: (socket: AppSocket) => void | (() => void), deps: readonly unknown[]): void {
  const { socket, state } = useRealtime();
  const ref = useRef(effect);
  ref.current = effect;
  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's subscription key
  useEffect(() => {
    if (!socket || state !== "connected") return;
    return ref.current(socket) ?? undefined;
  }, [socket, state, ...deps]);
}

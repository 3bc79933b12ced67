import "server-only";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";
import { singleton } from "./singleton";

/** What every log line and audit event of one request can say about it. */
export interface RequestContext {
  requestId: string;
  /** Route template (e.g. /api/v1/projects/[projectId]), never the raw path. */
  route?: string;
  actorId?: string;
  clientIp?: string;
}

export const REQUEST_ID_HEADER = "x-request-id";

// A caller-supplied id ends up in logs and response headers: accept only short ids made of
// characters that cannot break a header, a log line or a URL.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

// Shared by the tsx graph (main.ts, which opens the context) and Next's graph (route handlers,
// which read it); two instances would make every lookup from app/ come back empty.
const storage = singleton("request-context", () => new AsyncLocalStorage<RequestContext>());

export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function getRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** A fresh request id: 16 lowercase hex characters (64 random bits). */
export function newRequestId(): string {
  return randomBytes(8).toString("hex");
}

export function isSafeRequestId(value: unknown): value is string {
  return typeof value === "string" && SAFE_REQUEST_ID.test(value);
}

type HeaderSource = Headers | IncomingHttpHeaders;

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const value = (headers as IncomingHttpHeaders)[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The caller's x-request-id when it is safe to echo, else a new one. */
export function requestIdFrom(headers: HeaderSource): string {
  const incoming = readHeader(headers, REQUEST_ID_HEADER)?.trim();
  return isSafeRequestId(incoming) ? incoming : newRequestId();
}

function normalizeIp(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ip = value.trim();
  // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; logs and rate limits want a.b.c.d.
  const unmapped = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  return isIP(unmapped) ? unmapped : undefined;
}

/**
 * The client's address. x-forwarded-for is anyone's to forge, so its first hop is believed only
 * when the deployment says a trusted proxy sets it (`trustProxy`); otherwise the socket peer.
 */
export function clientIpFrom(
  req: { headers: HeaderSource; socket?: { remoteAddress?: string | undefined } | null },
  trustProxy = false,
): string | undefined {
  if (trustProxy) {
    const forwarded = readHeader(req.headers, "x-forwarded-for");
    const firstHop = normalizeIp(forwarded?.split(",")[0]);
    if (firstHop) return firstHop;
  }
  return normalizeIp(req.socket?.remoteAddress);
}

/**
 * Set by the custom server on every request (any incoming value is overwritten), so code in
 * Next's module graph can rebuild the request context from headers: Next runs some handlers
 * outside the async context the server opened.
 */
export const CLIENT_IP_HEADER = "x-microstack-client-ip";

/** The request context as the custom server stamped it into the request's headers. */
export function contextFromHeaders(headers: HeaderSource): RequestContext {
  const current = getRequestContext();
  const clientIp = readHeader(headers, CLIENT_IP_HEADER)?.trim();
  return {
    ...current,
    requestId: current?.requestId ?? requestIdFrom(headers),
    clientIp: current?.clientIp ?? (clientIp && isIP(clientIp) ? clientIp : undefined),
  };
}

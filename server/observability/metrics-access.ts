import "server-only";
import { timingSafeEqual } from "node:crypto";
import { getEnv } from "@/server/env";

/** /metrics is open unless MICROSTACK_METRICS_TOKEN is set; then a matching bearer token is needed. */
export function metricsAccessAllowed(authorization: string | null): boolean {
  const token = getEnv().MICROSTACK_METRICS_TOKEN;
  if (!token) return true;
  const given = authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim() ?? "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

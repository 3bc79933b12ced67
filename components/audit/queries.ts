import { infiniteQueryOptions } from "@tanstack/react-query";
import type { AuditEventPage } from "@/server/audit/schema";

export interface AuditFilters {
  action?: string;
  outcome?: string;
  from?: string;
  to?: string;
}

import { ApiError } from "@/components/ui/api-error";

export { ApiError };

async function fetchAuditPage(filters: AuditFilters, cursor: string | null, signal: AbortSignal) {
  const params = new URLSearchParams({ limit: "100" });
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  if (cursor) params.set("cursor", cursor);
  const response = await fetch(`/api/v1/audit-events?${params}`, { signal, headers: { accept: "application/json" } });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
    throw new ApiError(response.status, problem.code ?? "INTERNAL", problem.detail ?? response.statusText);
  }
  return (await response.json()) as AuditEventPage;
}

export function auditEventsQuery(filters: AuditFilters) {
  return infiniteQueryOptions({
    queryKey: ["audit-events", filters],
    queryFn: ({ pageParam, signal }) => fetchAuditPage(filters, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
}

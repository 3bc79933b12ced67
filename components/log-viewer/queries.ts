import { queryOptions } from "@tanstack/react-query";
import { ApiError, type InvalidParam } from "@/components/ui/api-error";
import type { LogPage, LogSearchResult, LogStream } from "@/server/runs/schema";

// The log viewer's reads against /api/v1: pages of lines by sequence number, server-side search,
// and the download address. Errors arrive as problem+json and become ApiError.

export { ApiError };

async function api<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { signal, headers: { accept: "application/json" } });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as {
      code?: string;
      detail?: string;
      invalidParams?: InvalidParam[];
    };
    throw new ApiError(
      response.status,
      problem.code ?? "INTERNAL",
      problem.detail ?? response.statusText,
      problem.invalidParams ?? [],
    );
  }
  return (await response.json()) as T;
}

export interface LogTarget {
  runId: string;
  step: string;
  attempt: number;
}

const logsPath = (target: LogTarget, suffix: string, params: Record<string, string | number | boolean | undefined>) => {
  const search = new URLSearchParams({ step: target.step, attempt: String(target.attempt) });
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  return `/api/v1/runs/${encodeURIComponent(target.runId)}/logs${suffix}?${search}`;
};

export const logKeys = {
  all: (target: LogTarget) => ["run-logs", target.runId, target.step, target.attempt] as const,
  lines: (target: LogTarget, after: number, limit: number) => [...logKeys.all(target), "lines", after, limit] as const,
  search: (target: LogTarget, search: LogSearchParams) => [...logKeys.all(target), "search", search] as const,
};

/**
 * Lines after `after` (at most `limit`). Not kept in the query cache (gcTime 0): the viewer's
 * own page cache holds lines, bounded; the query layer de-duplicates and retries the fetches.
 */
export function logLinesQuery(target: LogTarget, after: number, limit: number) {
  return queryOptions({
    queryKey: logKeys.lines(target, after, limit),
    queryFn: ({ signal }) => api<LogPage>(logsPath(target, "", { after, limit }), signal),
    staleTime: 0,
    gcTime: 0,
  });
}

export interface LogSearchParams {
  q?: string;
  regex?: boolean;
  caseSensitive?: boolean;
  stream?: LogStream;
  limit?: number;
}

export function logSearchQuery(target: LogTarget, search: LogSearchParams) {
  return queryOptions({
    queryKey: logKeys.search(target, search),
    queryFn: ({ signal }) => api<LogSearchResult>(logsPath(target, "/search", { ...search }), signal),
    // A bad pattern will not get better by asking again.
    retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 1,
  });
}

export function logDownloadUrl(target: LogTarget): string {
  return logsPath(target, "/download", {});
}

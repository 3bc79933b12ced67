import type { z } from "zod";
import { ApiError, type InvalidParam } from "./api-error";

/**
 * A JSON call to /api/v1: the answer (checked against `schema` when given: the API's own DTO
 * schemas), or an ApiError carrying the problem+json code, detail, invalid params (which the
 * screens map to errors:code.* and to form fields) and details (a conflict's current version,
 * a pipeline's diagnostics). Every feature's queries call the API through this.
 */
export async function apiFetch<T>(
  path: string,
  init: RequestInit & { json?: unknown; schema?: z.ZodType<T> } = {},
): Promise<T> {
  const { json, schema, ...rest } = init;
  const response = await fetch(path, {
    ...rest,
    headers: {
      accept: "application/json",
      ...(json === undefined ? {} : { "content-type": "application/json" }),
      ...(rest.headers as Record<string, string> | undefined),
    },
    body: json === undefined ? rest.body : JSON.stringify(json),
  });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as {
      code?: string;
      detail?: string;
      invalidParams?: InvalidParam[];
      details?: Record<string, unknown>;
    };
    const error = new ApiError(
      response.status,
      problem.code ?? "INTERNAL",
      problem.detail ?? response.statusText,
      problem.invalidParams ?? [],
    );
    Object.assign(error, { details: problem.details ?? {} });
    throw error;
  }
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json();
  if (!schema) return body as T;
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError(response.status, "INTERNAL", `Unexpected answer from ${path}`);
  return parsed.data;
}

/** The machine-readable details of a problem (a conflict's current version, diagnostics). */
export function problemDetails(error: unknown): Record<string, unknown> {
  return (error as { details?: Record<string, unknown> })?.details ?? {};
}

import { z } from "zod";

// An API operation described once: the route handler is built from it (apiHandler) and the
// OpenAPI document is generated from the same schemas (server/http/openapi.ts), so the docs
// cannot drift from what the server parses and answers. Isomorphic: schema files declare them.

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface Operation<
  P extends z.ZodType | undefined = z.ZodType | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R = unknown,
> {
  /** Unique, camelCase: the OpenAPI operationId. */
  id: string;
  method: HttpMethod;
  /** The Next route template, e.g. "/api/v1/runs/[runId]". */
  route: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  response?: z.ZodType<R>;
  successStatus?: 200 | 201 | 202 | 204;
  maxBodyBytes?: number;
  /** "public": no session needed (the handler authenticates another way, e.g. a signature). */
  auth?: "required" | "public";
  /** A body the handler reads raw (any JSON), described here instead of by a schema. */
  rawBody?: string;
}

/** Declares an operation (typed; the OpenAPI document lists each module's operations). */
export function defineOperation<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R = unknown,
>(operation: Operation<P, Q, B, R>): Operation<P, Q, B, R> {
  return operation;
}

/** The RFC 9457 problem every error answer carries. */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  code: z.enum([
    "NOT_FOUND",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "INVALID_INPUT",
    "CONFLICT",
    "INVALID_STATE",
    "RATE_LIMITED",
    "UPSTREAM_FAILED",
    "INTERNAL",
  ]),
  detail: z.string(),
  invalidParams: z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  requestId: z.string().optional(),
});

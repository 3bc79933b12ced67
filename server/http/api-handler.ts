import "server-only";
import type { z } from "zod";
import { type Actor, getActorFromRequest } from "@/server/auth/service";
import { getLogger } from "@/server/observability/logger";
import { countUnhandledError } from "@/server/observability/metrics";
import {
  contextFromHeaders,
  getRequestContext,
  isSafeRequestId,
  newRequestId,
  REQUEST_ID_HEADER,
  type RequestContext,
  runWithRequestContext,
} from "@/server/observability/request-context";
import { AppError, isAppError, toProblem } from "./errors";
import type { Operation } from "./operation";

const log = getLogger("api");

/** Bodies larger than this are refused before they are parsed. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

type AuthMode = "required" | "public";
type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

/** Next's second route-handler argument; params is a promise since Next 15. */
export interface RouteContext {
  params: Promise<Record<string, string | string[] | undefined>>;
}

export interface ApiHandlerContext<A extends AuthMode, P, Q, B> {
  /** The signed-in actor; null only on public routes. */
  actor: A extends "public" ? Actor | null : Actor;
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  requestId: string;
  request: Request;
}

export interface ApiHandlerConfig<
  A extends AuthMode,
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
  R,
> {
  /** The route template for logs, e.g. "/api/v1/projects/[projectId]". */
  route: string;
  /** Default "required": an anonymous request is answered 401 before anything is parsed. */
  auth?: A;
  params?: P;
  query?: Q;
  body?: B;
  /** The outgoing DTO. The handler's result is parsed through it, so unlisted fields never leave. */
  response?: z.ZodType<R>;
  /** Default 200; 204 sends no body whatever the handler returns. */
  successStatus?: 200 | 201 | 202 | 204;
  maxBodyBytes?: number;
  /** Return the DTO, or a Response for what JSON cannot carry (downloads, redirects). */
  handler: (context: ApiHandlerContext<A, P, Q, B>) => Promise<R | Response>;
}

/**
 * Wraps a route handler: request id, authentication, zod parsing of params/query/body, DTO
 * validation, and problem+json errors. Route files become one export:
 *
 *   export const GET = apiHandler({ route: "/api/v1/runs/[runId]", params, response, handler });
 */
export function apiHandler<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R = unknown,
  A extends AuthMode = "required",
>(config: ApiHandlerConfig<A, P, Q, B, R>): (request: Request, context?: RouteContext) => Promise<Response> {
  return async (request, routeContext) => {
    const requestId = requestIdOf(request);
    const context: RequestContext = { ...contextFromHeaders(request.headers), requestId, route: config.route };
    return runWithRequestContext(context, async () => {
      try {
        const actor = await getActorFromRequest(request);
        if (!actor && config.auth !== "public") {
          throw new AppError("UNAUTHORIZED", "Sign in or send an API token to use this endpoint");
        }
        if (actor) context.actorId = actor.id;

        const params = await parseInput(config.params, (await routeContext?.params) ?? {}, "params");
        const query = await parseInput(config.query, searchParamsToObject(new URL(request.url).searchParams), "query");
        const body = config.body
          ? await parseInput(
              config.body,
              await readJsonBody(request, config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
              "body",
            )
          : undefined;

        const result = await config.handler({
          actor: actor as ApiHandlerContext<A, P, Q, B>["actor"],
          params: params as Infer<P>,
          query: query as Infer<Q>,
          body: body as Infer<B>,
          requestId,
          request,
        });
        if (result instanceof Response) return withRequestId(result, requestId);

        const status = config.successStatus ?? 200;
        if (status === 204) return new Response(null, { status, headers: baseHeaders(requestId) });
        const dto = config.response ? checkResponse(config.response, result, config.route) : result;
        return Response.json(dto, { status, headers: baseHeaders(requestId) });
      } catch (error) {
        return errorResponse(error, requestId, config.route);
      }
    });
  };
}

// main.ts assigns every request an id and sets it on the incoming headers; a route reached
// some other way (tests, a direct Next start) still gets one.
function requestIdOf(request: Request): string {
  const header = request.headers.get(REQUEST_ID_HEADER);
  if (isSafeRequestId(header)) return header;
  return getRequestContext()?.requestId ?? newRequestId();
}

function baseHeaders(requestId: string, contentType?: string): Headers {
  const headers = new Headers({ [REQUEST_ID_HEADER]: requestId, "cache-control": "no-store" });
  if (contentType) headers.set("content-type", contentType);
  return headers;
}

function withRequestId(response: Response, requestId: string): Response {
  if (response.headers.has(REQUEST_ID_HEADER)) return response;
  try {
    response.headers.set(REQUEST_ID_HEADER, requestId);
    return response;
  } catch {
    // Some responses (Response.redirect, fetched ones) have immutable headers: copy instead.
    const headers = new Headers(response.headers);
    headers.set(REQUEST_ID_HEADER, requestId);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

async function parseInput(schema: z.ZodType | undefined, input: unknown, prefix: string): Promise<unknown> {
  if (!schema) return undefined;
  const result = await schema.safeParseAsync(input);
  if (!result.success) throw AppError.fromZod(result.error, prefix);
  return result.data;
}

/** Single values as strings, repeated keys (?tag=a&tag=b) as arrays. */
export function searchParamsToObject(searchParams: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(searchParams.keys())) {
    const values = searchParams.getAll(key);
    out[key] = values.length > 1 ? values : (values[0] ?? "");
  }
  return out;
}

function invalidBody(reason: string): AppError {
  return new AppError("INVALID_INPUT", `body: ${reason}`, { invalidParams: [{ name: "body", reason }] });
}

function isJsonContentType(value: string | null): boolean {
  const mediaType = value?.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

/** The JSON body, or undefined when there is none (the schema decides whether that is allowed). */
async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw invalidBody(`must be at most ${maxBytes} bytes`);
  const text = await readTextCapped(request, maxBytes);
  if (text.trim() === "") return undefined;
  if (!isJsonContentType(request.headers.get("content-type"))) {
    throw invalidBody("Content-Type must be application/json");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidBody("is not valid JSON");
  }
}

// Reads at most maxBytes: a missing or lying Content-Length must not let a client make the
// process buffer an unbounded body.
async function readTextCapped(request: Request, maxBytes: number): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw invalidBody(`must be at most ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

function checkResponse<R>(schema: z.ZodType<R>, result: unknown, route: string): unknown {
  const parsed = schema.safeParse(result);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
  // A contract break is a bug. Never send the unparsed result: the schema is also what strips
  // fields that must not leave the server. Fail as a 500 (logged and counted by the caller).
  throw new Error(`Response of ${route} does not match its schema: ${JSON.stringify(issues)}`);
}

function problemResponse(error: AppError, requestId: string): Response {
  return new Response(JSON.stringify(toProblem(error, requestId)), {
    status: error.status,
    headers: baseHeaders(requestId, "application/problem+json"),
  });
}

function errorResponse(error: unknown, requestId: string, route: string): Response {
  if (isAppError(error)) {
    if (error.status >= 500) {
      log.error({ err: error, requestId, route }, "request failed");
      // INTERNAL messages are written for logs, not for callers.
      if (error.code === "INTERNAL")
        return problemResponse(new AppError("INTERNAL", "Something went wrong"), requestId);
    } else {
      log.debug({ code: error.code, detail: error.message, requestId, route }, "request rejected");
    }
    return problemResponse(error, requestId);
  }
  countUnhandledError("api");
  log.error({ err: error, requestId, route }, "unhandled error");
  return problemResponse(new AppError("INTERNAL", "Something went wrong"), requestId);
}

/**
 * A route handler from a declared operation (server/http/operation.ts): the same schemas parse
 * the request, check the response and document the endpoint in /api/v1/openapi.json.
 */
export function operationHandler<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
  R,
>(
  operation: Operation<P, Q, B, R>,
  handler: (context: ApiHandlerContext<"required", P, Q, B>) => Promise<R | Response>,
): (request: Request, context?: RouteContext) => Promise<Response> {
  return apiHandler<P, Q, B, R, "required">({
    route: operation.route,
    params: operation.params,
    query: operation.query,
    body: operation.body,
    response: operation.response,
    successStatus: operation.successStatus,
    maxBodyBytes: operation.maxBodyBytes,
    handler,
  });
}

/**
 * A route handler for an operation that needs no session (it authenticates the request
 * another way, such as a webhook signature over the raw body, which the handler reads itself).
 */
export function publicOperationHandler<P extends z.ZodType | undefined, Q extends z.ZodType | undefined, R>(
  operation: Operation<P, Q, undefined, R>,
  handler: (context: ApiHandlerContext<"public", P, Q, undefined>) => Promise<R | Response>,
): (request: Request, context?: RouteContext) => Promise<Response> {
  return apiHandler<P, Q, undefined, R, "public">({
    route: operation.route,
    auth: "public",
    params: operation.params,
    query: operation.query,
    response: operation.response,
    successStatus: operation.successStatus,
    maxBodyBytes: operation.maxBodyBytes,
    handler,
  });
}

/** The raw request body as text, refused beyond maxBytes (for signature checks). */
export async function readRawBody(request: Request, maxBytes: number): Promise<string> {
  return readTextCapped(request, maxBytes);
}

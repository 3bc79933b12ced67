import "server-only";
import type { z } from "zod";

/** The closed set of error codes every module throws (STYLE.md). */
export const ERROR_CODES = [
  "NOT_FOUND",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "INVALID_INPUT",
  "CONFLICT",
  "INVALID_STATE",
  "RATE_LIMITED",
  "UPSTREAM_FAILED",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ERROR_STATUS: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INVALID_INPUT: 400,
  CONFLICT: 409,
  INVALID_STATE: 422,
  RATE_LIMITED: 429,
  UPSTREAM_FAILED: 502,
  INTERNAL: 500,
};

export const ERROR_TITLES: Record<ErrorCode, string> = {
  NOT_FOUND: "Not found",
  UNAUTHORIZED: "Authentication required",
  FORBIDDEN: "Forbidden",
  INVALID_INPUT: "Invalid input",
  CONFLICT: "Conflict",
  INVALID_STATE: "Invalid state",
  RATE_LIMITED: "Too many requests",
  UPSTREAM_FAILED: "Upstream service failed",
  INTERNAL: "Something went wrong",
};

/** One invalid field: a dotted path into the input and the reason. */
export interface InvalidParam {
  name: string;
  reason: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly invalidParams: InvalidParam[];
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { invalidParams?: InvalidParam[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.invalidParams = options.invalidParams ?? [];
    this.details = options.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  static notFound(what: string): AppError {
    return new AppError("NOT_FOUND", `${what} was not found`);
  }

  /** An INVALID_INPUT naming each field and why, from a zod error. */
  static fromZod(error: z.ZodError, prefix?: string): AppError {
    const invalidParams = error.issues.map((issue) => ({
      name: [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "(root)",
      reason: issue.message,
    }));
    const first = invalidParams[0];
    const message = first ? `${first.name}: ${first.reason}` : "The input is not valid";
    return new AppError("INVALID_INPUT", message, { invalidParams });
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError || (error instanceof Error && error.name === "AppError" && "code" in error);
}

/** RFC 9457 problem details, as every /api route answers errors. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  invalidParams?: InvalidParam[];
  /** Machine-readable context: a pipeline's diagnostics, the current version on a conflict. */
  details?: Record<string, unknown>;
  requestId?: string;
}

export function toProblem(error: AppError, requestId?: string): Problem {
  return {
    type: `https://microstack.dev/problems/${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: ERROR_TITLES[error.code],
    status: error.status,
    code: error.code,
    detail: error.message,
    ...(error.invalidParams.length > 0 ? { invalidParams: error.invalidParams } : {}),
    ...(error.details && error.code !== "INTERNAL" ? { details: error.details } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

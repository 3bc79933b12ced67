import "server-only";
import type { z } from "zod";
import type { Actor } from "@/server/auth/schema";
import { headers } from "next/headers";
import { getLogger } from "@/server/observability/logger";
import { countUnhandledError } from "@/server/observability/metrics";
import { contextFromHeaders, runWithRequestContext } from "@/server/observability/request-context";
import { AppError, type ErrorCode, type InvalidParam, isAppError } from "./errors";

/** What a server action returns: data, or an expected failure the client maps to i18n keys. */
export type ActionResult<T> =
  | { data: T; error?: undefined }
  | { data?: undefined; error: { code: ErrorCode; message: string; invalidParams?: InvalidParam[] } };

const log = getLogger("action");

/**
 * Wraps a UI-only mutation: authenticates (every action is its own security boundary), parses
 * the input with zod, and turns AppErrors into `{error}`. Anything unexpected is logged and
 * answered as INTERNAL without internals.
 */
export function defineAction<S extends z.ZodType, T>(options: {
  name: string;
  input: S;
  getActor: () => Promise<Actor | null>;
  handler: (actor: Actor, input: z.infer<S>) => Promise<T>;
}): (raw: unknown) => Promise<ActionResult<T>> {
  return async (raw) =>
    runWithRequestContext(contextFromHeaders(await headers()), async (): Promise<ActionResult<T>> => {
      try {
        const actor = await options.getActor();
        if (!actor) throw new AppError("UNAUTHORIZED", "Sign in to do this");
        const parsed = options.input.safeParse(raw);
        if (!parsed.success) throw AppError.fromZod(parsed.error);
        return { data: await options.handler(actor, parsed.data) };
      } catch (error) {
        if (isAppError(error)) {
          return {
            error: {
              code: error.code,
              message: error.message,
              ...(error.invalidParams.length > 0 ? { invalidParams: error.invalidParams } : {}),
            },
          };
        }
        log.error({ err: error, action: options.name }, "server action failed");
        countUnhandledError("action");
        return { error: { code: "INTERNAL", message: "Something went wrong" } };
      }
    });
}

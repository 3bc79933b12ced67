import { z } from "zod";
import { checkCondition } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";

// Compiles a CEL condition as an editor types it: 200 with ok or the error's line and column.
export const POST = apiHandler({
  route: "/api/v1/authz/conditions/check",
  body: z.object({ source: z.string().max(4_096) }),
  handler: async ({ body }) => checkCondition(body.source),
});

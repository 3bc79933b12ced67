import { z } from "zod";
import { authzRequestSchema } from "@/server/authz/schema";
import { parseAuthzRequest, queryDecision } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";

const query = z.object({
  explain: z.preprocess((value) => (value === "" ? undefined : value), z.enum(["true", "false"]).default("false")),
});

// The native decision API: may this principal do this action on this resource? Asking about
// someone else needs authz:query in the resource's organization.
export const POST = apiHandler({
  route: "/api/v1/authz/decisions",
  query,
  body: authzRequestSchema,
  handler: ({ actor, query, body }) =>
    queryDecision(actor, parseAuthzRequest(body, "body"), { explain: query.explain === "true" }),
});

import { z } from "zod";
import { policyInputSchema } from "@/server/authz/schema";
import { createPolicy, listPolicies } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

const params = z.object({ org: slugSchema });

export const GET = apiHandler({
  route: "/api/v1/organizations/[org]/policies",
  params,
  handler: async ({ actor, params }) => ({ items: await listPolicies(actor, params.org) }),
});

export const POST = apiHandler({
  route: "/api/v1/organizations/[org]/policies",
  params,
  body: policyInputSchema,
  successStatus: 201,
  handler: ({ actor, params, body }) => createPolicy(actor, params.org, body),
});

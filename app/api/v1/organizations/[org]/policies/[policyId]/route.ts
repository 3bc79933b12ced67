import { z } from "zod";
import { policyInputSchema } from "@/server/authz/schema";
import { deletePolicy, updatePolicy } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

const params = z.object({ org: slugSchema, policyId: z.uuid() });

export const PUT = apiHandler({
  route: "/api/v1/organizations/[org]/policies/[policyId]",
  params,
  body: policyInputSchema,
  handler: ({ actor, params, body }) => updatePolicy(actor, params.org, params.policyId, body),
});

export const DELETE = apiHandler({
  route: "/api/v1/organizations/[org]/policies/[policyId]",
  params,
  successStatus: 204,
  handler: ({ actor, params }) => deletePolicy(actor, params.org, params.policyId),
});

import { z } from "zod";
import { customRoleInputSchema } from "@/server/authz/schema";
import { createRole, listRoles } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

const params = z.object({ org: slugSchema });

export const GET = apiHandler({
  route: "/api/v1/organizations/[org]/roles",
  params,
  handler: async ({ actor, params }) => ({ items: await listRoles(actor, params.org) }),
});

export const POST = apiHandler({
  route: "/api/v1/organizations/[org]/roles",
  params,
  body: customRoleInputSchema,
  successStatus: 201,
  handler: ({ actor, params, body }) => createRole(actor, params.org, body),
});

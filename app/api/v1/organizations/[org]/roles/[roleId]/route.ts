import { z } from "zod";
import { customRoleInputSchema, roleSchema } from "@/server/authz/schema";
import { deleteRole, updateRole } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

// A built-in role is named (`developer`), a custom one by its id; built-ins answer 422.
const params = z.object({ org: slugSchema, roleId: z.union([roleSchema, z.uuid()]) });

export const PUT = apiHandler({
  route: "/api/v1/organizations/[org]/roles/[roleId]",
  params,
  body: customRoleInputSchema,
  handler: ({ actor, params, body }) => updateRole(actor, params.org, params.roleId, body),
});

export const DELETE = apiHandler({
  route: "/api/v1/organizations/[org]/roles/[roleId]",
  params,
  successStatus: 204,
  handler: ({ actor, params }) => deleteRole(actor, params.org, params.roleId),
});

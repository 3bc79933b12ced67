import { z } from "zod";
import { deleteBinding } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

export const DELETE = apiHandler({
  route: "/api/v1/organizations/[org]/bindings/[bindingId]",
  params: z.object({ org: slugSchema, bindingId: z.uuid() }),
  successStatus: 204,
  handler: ({ actor, params }) => deleteBinding(actor, params.org, params.bindingId),
});

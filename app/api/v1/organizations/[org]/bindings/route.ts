import { z } from "zod";
import { bindingInputSchema } from "@/server/authz/schema";
import { createBinding, listBindings } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

const params = z.object({ org: slugSchema });

export const GET = apiHandler({
  route: "/api/v1/organizations/[org]/bindings",
  params,
  handler: async ({ actor, params }) => ({ items: await listBindings(actor, params.org) }),
});

export const POST = apiHandler({
  route: "/api/v1/organizations/[org]/bindings",
  params,
  body: bindingInputSchema,
  successStatus: 201,
  handler: ({ actor, params, body }) => createBinding(actor, params.org, body),
});

import { z } from "zod";
import { getOrganizationDirectory } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

// The members, teams and projects the organization's rules can name (the editors' pickers).
export const GET = apiHandler({
  route: "/api/v1/organizations/[org]/directory",
  params: z.object({ org: slugSchema }),
  handler: ({ actor, params }) => getOrganizationDirectory(actor, params.org),
});

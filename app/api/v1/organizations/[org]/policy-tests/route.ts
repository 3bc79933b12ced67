import { z } from "zod";
import { runPolicyTests } from "@/server/authz/service";
import { apiHandler } from "@/server/http/api-handler";
import { slugSchema } from "@/server/projects/schema";

// Runs every policy test case of the organization against its current rules.
export const POST = apiHandler({
  route: "/api/v1/organizations/[org]/policy-tests",
  params: z.object({ org: slugSchema }),
  handler: async ({ actor, params }) => {
    const results = await runPolicyTests(actor, params.org);
    const passed = results.filter((result) => result.passed).length;
    return { passed, failed: results.length - passed, results };
  },
});

import { assertCanReadAudit } from "@/server/audit/policy";
import { auditListQuerySchema } from "@/server/audit/schema";
import { listAuditEvents } from "@/server/audit/service";
import { apiHandler } from "@/server/http/api-handler";

export const GET = apiHandler({
  route: "/api/v1/audit-events",
  query: auditListQuerySchema,
  handler: async ({ actor, query }) => listAuditEvents(await assertCanReadAudit(actor), query),
});

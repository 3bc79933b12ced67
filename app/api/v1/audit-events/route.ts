import { auditListQuerySchema } from "@/server/audit/schema";
import { listAuditEventsForActor } from "@/server/audit/service";
import { apiHandler } from "@/server/http/api-handler";

export const GET = apiHandler({
  route: "/api/v1/audit-events",
  query: auditListQuerySchema,
  handler: ({ actor, query }) => listAuditEventsForActor(actor, query),
});

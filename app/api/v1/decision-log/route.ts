import { decisionLogQuerySchema } from "@/server/audit/schema";
import { listDecisionLogForActor } from "@/server/audit/service";
import { apiHandler } from "@/server/http/api-handler";

export const GET = apiHandler({
  route: "/api/v1/decision-log",
  query: decisionLogQuerySchema,
  handler: ({ actor, query }) => listDecisionLogForActor(actor, query),
});

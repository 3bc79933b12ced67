import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { searchStepLogs } from "@/server/runs/service";

export const GET = operationHandler(runOperations.searchRunLogs, ({ actor, params, query }) =>
  searchStepLogs(actor, params.runId, query),
);

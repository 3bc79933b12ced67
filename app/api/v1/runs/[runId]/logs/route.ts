import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { readStepLogs } from "@/server/runs/service";

export const GET = operationHandler(runOperations.readRunLogs, ({ actor, params, query }) =>
  readStepLogs(actor, params.runId, query),
);

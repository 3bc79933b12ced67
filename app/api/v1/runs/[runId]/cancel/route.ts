import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { cancelRun } from "@/server/runs/service";

export const POST = operationHandler(runOperations.cancelRun, ({ actor, params, body }) =>
  cancelRun(actor, params.runId, body),
);

import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { rerunRun } from "@/server/runs/service";

export const POST = operationHandler(runOperations.rerunRun, ({ actor, params, body }) =>
  rerunRun(actor, params.runId, body),
);

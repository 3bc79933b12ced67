import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { runManualStep } from "@/server/runs/service";

export const POST = operationHandler(runOperations.runManualStep, ({ actor, params, body }) =>
  runManualStep(actor, params.runId, body),
);

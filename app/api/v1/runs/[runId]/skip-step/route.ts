import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { skipManualStep } from "@/server/runs/service";

export const POST = operationHandler(runOperations.skipManualStep, ({ actor, params, body }) =>
  skipManualStep(actor, params.runId, body),
);

import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { rejectStep } from "@/server/runs/service";

export const POST = operationHandler(runOperations.rejectStep, ({ actor, params, body }) =>
  rejectStep(actor, params.runId, body),
);

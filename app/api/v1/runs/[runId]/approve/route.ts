import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { approveStep } from "@/server/runs/service";

export const POST = operationHandler(runOperations.approveStep, ({ actor, params, body }) =>
  approveStep(actor, params.runId, body),
);

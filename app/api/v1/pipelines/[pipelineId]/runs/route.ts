import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { listPipelineRuns, startRun } from "@/server/runs/service";

export const GET = operationHandler(runOperations.listPipelineRuns, ({ actor, params, query }) =>
  listPipelineRuns(actor, params.pipelineId, query),
);

export const POST = operationHandler(runOperations.startRun, ({ actor, params, body }) =>
  startRun(actor, params.pipelineId, body, "api"),
);

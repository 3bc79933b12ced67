import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { deletePipeline, getPipeline, savePipelineVersion } from "@/server/pipelines/service";

export const GET = operationHandler(pipelineOperations.getPipeline, ({ actor, params }) =>
  getPipeline(actor, params.pipelineId),
);

export const PUT = operationHandler(pipelineOperations.savePipelineVersion, ({ actor, params, body }) =>
  savePipelineVersion(actor, params.pipelineId, body),
);

export const DELETE = operationHandler(pipelineOperations.deletePipeline, ({ actor, params }) =>
  deletePipeline(actor, params.pipelineId),
);

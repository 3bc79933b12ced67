import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { createPipeline, listPipelines } from "@/server/pipelines/service";

export const GET = operationHandler(pipelineOperations.listPipelines, ({ actor, params, query }) =>
  listPipelines(actor, params.org, params.project, query),
);

export const POST = operationHandler(pipelineOperations.createPipeline, ({ actor, params, body }) =>
  createPipeline(actor, params.org, params.project, body),
);

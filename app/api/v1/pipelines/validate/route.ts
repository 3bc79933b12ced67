import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { validatePipelineText } from "@/server/pipelines/service";

export const POST = operationHandler(pipelineOperations.validatePipeline, async ({ body }) =>
  validatePipelineText(body.yaml),
);

import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { importWorkflow } from "@/server/pipelines/service";

export const POST = operationHandler(pipelineOperations.importPipeline, async ({ body }) => importWorkflow(body));

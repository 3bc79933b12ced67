import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { pipelineLanguageSchema } from "@/server/pipelines/service";

export const GET = operationHandler(pipelineOperations.pipelineJsonSchema, async () => pipelineLanguageSchema());

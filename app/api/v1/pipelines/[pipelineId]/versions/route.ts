import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { listPipelineVersions } from "@/server/pipelines/service";

export const GET = operationHandler(pipelineOperations.listPipelineVersions, ({ actor, params }) =>
  listPipelineVersions(actor, params.pipelineId),
);

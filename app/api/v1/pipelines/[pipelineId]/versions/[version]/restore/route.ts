import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { restorePipelineVersion } from "@/server/pipelines/service";

export const POST = operationHandler(pipelineOperations.restorePipelineVersion, ({ actor, params, body }) =>
  restorePipelineVersion(actor, params.pipelineId, params.version, body),
);

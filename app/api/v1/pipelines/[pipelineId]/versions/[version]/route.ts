import { operationHandler } from "@/server/http/api-handler";
import { pipelineOperations } from "@/server/pipelines/schema";
import { getPipelineVersion } from "@/server/pipelines/service";

export const GET = operationHandler(pipelineOperations.getPipelineVersion, ({ actor, params }) =>
  getPipelineVersion(actor, params.pipelineId, params.version),
);

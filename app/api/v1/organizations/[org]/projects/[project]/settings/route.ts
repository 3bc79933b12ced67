import { operationHandler } from "@/server/http/api-handler";
import { projectOperations } from "@/server/projects/schema";
import { getProjectSettings, updateProjectSettings } from "@/server/projects/service";

export const GET = operationHandler(projectOperations.getProjectSettings, ({ actor, params }) =>
  getProjectSettings(actor, params.org, params.project),
);

export const PATCH = operationHandler(projectOperations.updateProjectSettings, ({ actor, params, body }) =>
  updateProjectSettings(actor, params.org, params.project, body),
);

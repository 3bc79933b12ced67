import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { listProjectRuns } from "@/server/runs/service";

export const GET = operationHandler(runOperations.listProjectRuns, ({ actor, params, query }) =>
  listProjectRuns(actor, params.org, params.project, query),
);

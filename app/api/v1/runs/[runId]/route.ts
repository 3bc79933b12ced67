import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { getRun } from "@/server/runs/service";

export const GET = operationHandler(runOperations.getRun, ({ actor, params }) => getRun(actor, params.runId));

import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { listPendingActions } from "@/server/runs/service";

export const GET = operationHandler(runOperations.listPendingActions, ({ actor }) => listPendingActions(actor));

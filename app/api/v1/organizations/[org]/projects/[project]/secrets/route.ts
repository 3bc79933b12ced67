import { operationHandler } from "@/server/http/api-handler";
import { secretOperations } from "@/server/secrets/schema";
import { listProjectSecrets } from "@/server/secrets/service";

export const GET = operationHandler(secretOperations.listProjectSecrets, ({ actor, params }) =>
  listProjectSecrets(actor, params.org, params.project),
);

import { operationHandler } from "@/server/http/api-handler";
import { secretOperations } from "@/server/secrets/schema";
import { deleteProjectSecret, putProjectSecret } from "@/server/secrets/service";

export const PUT = operationHandler(secretOperations.putProjectSecret, ({ actor, params, body }) =>
  putProjectSecret(actor, params.org, params.project, params.name, body),
);

export const DELETE = operationHandler(secretOperations.deleteProjectSecret, ({ actor, params }) =>
  deleteProjectSecret(actor, params.org, params.project, params.name),
);

import { publicOperationHandler, readRawBody } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { deliverWebhook } from "@/server/runs/service";

export const POST = publicOperationHandler(runOperations.deliverWebhook, async ({ params, request }) =>
  deliverWebhook(
    params.pipelineId,
    params.hookId,
    await readRawBody(request, runOperations.deliverWebhook.maxBodyBytes ?? 1024 * 1024),
    Object.fromEntries([...request.headers].map(([name, value]) => [name.toLowerCase(), value])),
  ),
);

import { operationHandler } from "@/server/http/api-handler";
import { runOperations } from "@/server/runs/schema";
import { openStepLogDownload } from "@/server/runs/service";

// The body streams from the database as the client reads it.
export const GET = operationHandler(runOperations.downloadRunLogs, async ({ actor, params, query }) => {
  const { filename, body } = await openStepLogDownload(actor, params.runId, query);
  return new Response(body, {
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    },
  });
});

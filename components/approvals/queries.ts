import { type QueryClient, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { apiFetch } from "@/components/ui/api-fetch";
import { type PendingAction, pendingActionSchema } from "@/server/runs/schema";

const pendingActionsSchema = z.array(pendingActionSchema);

// What waits for the signed-in person (GET /api/v1/approvals): the inbox page, the sidebar badge
// and the palette's approve commands share this one query.

export const approvalKeys = {
  inbox: ["approvals", "inbox"] as const,
};

export function pendingActionsQuery() {
  return queryOptions({
    queryKey: approvalKeys.inbox,
    queryFn: ({ signal }) => apiFetch("/api/v1/approvals", { signal, schema: pendingActionsSchema }),
  });
}

/** One item of the inbox: a step of a run (a run may wait at two steps at once). */
export function actionKey(action: Pick<PendingAction, "runId" | "step">): string {
  return `${action.runId}:${action.step}`;
}

/** Newest first: by when the step started waiting, then by run number. */
export function sortNewestFirst(actions: readonly PendingAction[]): PendingAction[] {
  return [...actions].sort(
    (a, b) =>
      (b.waitingSince ? Date.parse(b.waitingSince) : 0) - (a.waitingSince ? Date.parse(a.waitingSince) : 0) ||
      b.runNumber - a.runNumber,
  );
}

/** After acting on an item: drop it at once, then ask the server what is left. */
export function settleAction(queryClient: QueryClient, action: Pick<PendingAction, "runId" | "step">): void {
  queryClient.setQueryData<PendingAction[]>(approvalKeys.inbox, (current) =>
    current?.filter((item) => actionKey(item) !== actionKey(action)),
  );
  void queryClient.invalidateQueries({ queryKey: approvalKeys.inbox });
}

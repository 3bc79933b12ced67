"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { useOnConnect, useSocketEvent } from "@/components/realtime/socket-provider";
import { approvalKeys, pendingActionsQuery } from "./queries";

// setTimeout's largest delay; a later deadline is re-armed when the data next changes.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The inbox query, kept live: mounted once, by the shell (the sidebar badge and the palette read
 * it; the inbox page shares its cache). Refetches on `approvals:changed` (something waiting for
 * people changed in one of the user's organizations), after a reconnect (events may have been
 * missed), and when the soonest deadline passes (a timed-out step leaves the inbox).
 */
export function useApprovalsInbox() {
  const queryClient = useQueryClient();
  const query = useQuery(pendingActionsQuery());
  const refetch = () => void queryClient.invalidateQueries({ queryKey: approvalKeys.inbox });

  useSocketEvent("approvals:changed", refetch);

  const connectedBefore = useRef(false);
  useOnConnect(() => {
    if (connectedBefore.current) refetch();
    connectedBefore.current = true;
  }, []);

  const nextDeadline = (query.data ?? [])
    .map((action) => (action.deadlineAt ? Date.parse(action.deadlineAt) : Number.POSITIVE_INFINITY))
    .reduce((soonest, at) => Math.min(soonest, at), Number.POSITIVE_INFINITY);
  const updatedAt = query.dataUpdatedAt;
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-armed when the soonest deadline or the data changes
  useEffect(() => {
    if (!Number.isFinite(nextDeadline)) return;
    const left = nextDeadline - Date.now();
    // Past the deadline but still listed: the server's timer is due; ask again shortly.
    const delay = left > 0 ? Math.min(MAX_TIMER_MS, left + 1_000) : 15_000;
    const timer = window.setTimeout(refetch, delay);
    return () => window.clearTimeout(timer);
  }, [nextDeadline, updatedAt]);

  return query;
}

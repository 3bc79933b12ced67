"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { useOnConnect, useSocketEvent } from "@/components/realtime/socket-provider";
import { GROUP_MARKER_SEARCH, markerKindOfMatchLength } from "./log-model";
import { LogStore, PAGE_LINES, pageOf } from "./log-store";
import { type LogTarget, logLinesQuery, logSearchQuery } from "./queries";

// Where the viewer's lines come from: the first page over REST (which also says how long the log
// is), further pages on demand as rows come into view, the group markers of the whole log from
// one server-side search, and live lines over the tab's socket after the last line the viewer
// has (again after every reconnect), with any gap filled over REST.

/** Pages fetched at once; the ones no longer in view by the time a slot frees are skipped. */
const MAX_PAGE_FETCHES = 4;
/** Group markers the viewer asks the server for (more are rare; later ones show as plain lines). */
const MAX_MARKERS = 10_000;

export type LoadState = { status: "loading" } | { status: "ready" } | { status: "error"; error: unknown };

export function useLogData(target: LogTarget, isRunning: boolean) {
  const queryClient = useQueryClient();
  const store = useMemo(() => new LogStore(), []);
  const [load, setLoad] = useState<LoadState>({ status: "loading" });
  const ready = load.status === "ready";

  // Re-render at most once a frame, however fast lines arrive.
  const subscribe = useCallback(
    (notify: () => void) => {
      let frame = 0;
      const unsubscribe = store.subscribe(() => {
        if (frame === 0) {
          frame = requestAnimationFrame(() => {
            frame = 0;
            notify();
          });
        }
      });
      return () => {
        unsubscribe();
        cancelAnimationFrame(frame);
      };
    },
    [store],
  );
  const version = useSyncExternalStore(
    subscribe,
    () => store.version,
    () => 0,
  );

  const fetchLines = useCallback(
    async (after: number, limit: number) => {
      const page = await queryClient.fetchQuery(logLinesQuery(target, after, limit));
      store.put(page.lines);
      store.noteLastSeq(page.lastSeq);
      return page;
    },
    [queryClient, store, target],
  );

  // The first page: the log's length, and where following live lines starts. Once per log:
  // whether the step runs only decides where the viewer starts.
  const startedRunning = useRef(isRunning);
  useEffect(() => {
    let cancelled = false;
    fetchLines(0, PAGE_LINES)
      .then(async (first) => {
        if (cancelled) return;
        store.startLiveAt(first.lastSeq);
        // A running step is followed from its end: have the last page before showing it.
        const tail = pageOf(Math.max(1, first.lastSeq));
        if (startedRunning.current && tail > 0) await fetchLines(tail * PAGE_LINES, PAGE_LINES).catch(() => {});
        if (!cancelled) setLoad({ status: "ready" });
      })
      .catch((error: unknown) => {
        if (!cancelled) setLoad({ status: "error", error });
      });
    return () => {
      cancelled = true;
    };
  }, [fetchLines, store]);

  // Group markers anywhere in the log (live lines and loaded pages add theirs as they come).
  const markers = useQuery({
    ...logSearchQuery(target, { q: GROUP_MARKER_SEARCH, regex: true, caseSensitive: true, limit: MAX_MARKERS }),
    enabled: ready,
    staleTime: Number.POSITIVE_INFINITY,
  });
  useEffect(() => {
    if (!markers.data) return;
    store.addMarkers(
      markers.data.matches.map((match) => {
        const [start, end] = match.ranges[0] ?? [0, 0];
        return [match.seq, markerKindOfMatchLength(end - start)] as [number, "start" | "end"];
      }),
    );
  }, [markers.data, store]);

  // Pages wanted on screen, fetched a few at a time.
  const wanted = useRef<number[]>([]);
  const inFlight = useRef(new Set<number>());
  const pump = useCallback(() => {
    while (inFlight.current.size < MAX_PAGE_FETCHES && wanted.current.length > 0) {
      const index = wanted.current.shift() as number;
      if (inFlight.current.has(index) || store.isPageComplete(index)) continue;
      inFlight.current.add(index);
      fetchLines(index * PAGE_LINES, PAGE_LINES)
        .catch(() => {})
        .finally(() => {
          inFlight.current.delete(index);
          pump();
        });
    }
  }, [fetchLines, store]);

  /** Asks for the lines firstSeq..lastSeq (what is on screen); the nearest pages first. */
  const ensureLines = useCallback(
    (firstSeq: number, lastSeq: number) => {
      if (!ready || lastSeq < 1) return;
      const first = pageOf(Math.max(1, firstSeq));
      const last = pageOf(Math.max(1, Math.min(lastSeq, store.lastSeq)));
      const pages: number[] = [];
      for (let index = first; index <= last; index++) pages.push(index);
      store.touch(pages);
      wanted.current = pages.filter((index) => !store.isPageComplete(index));
      pump();
    },
    [pump, ready, store],
  );

  // Live lines.
  const fillingGap = useRef(false);
  const fillGap = useCallback(() => {
    const gap = store.gapAfterLiveThrough();
    if (!gap || fillingGap.current) return;
    fillingGap.current = true;
    fetchLines(gap.after, gap.limit)
      .catch(() => {})
      .finally(() => {
        fillingGap.current = false;
        if (store.gapAfterLiveThrough()) fillGap();
      });
  }, [fetchLines, store]);

  useSocketEvent("log:lines", (event) => {
    if (event.runId !== target.runId || event.step !== target.step || event.attempt !== target.attempt) return;
    store.put(event.lines, { live: true });
    fillGap();
  });

  const [liveError, setLiveError] = useState<string | null>(null);
  useOnConnect(
    (socket) => {
      if (!ready) return;
      const key = { runId: target.runId, step: target.step, attempt: target.attempt };
      // After a reconnect this resumes at the last line held: the server sends what followed.
      socket.emit("logs:subscribe", { ...key, after: store.liveThrough }, (ack) => {
        if (!ack.ok) {
          setLiveError(ack.code);
          return;
        }
        setLiveError(null);
        if (ack.lastSeq !== undefined) store.noteLastSeq(ack.lastSeq);
        fillGap();
      });
      return () => {
        if (socket.connected) socket.emit("logs:unsubscribe", key);
      };
    },
    [ready, target.runId, target.step, target.attempt],
  );

  // The step finished: make sure the viewer has its last lines.
  const wasRunning = useRef(isRunning);
  useEffect(() => {
    if (wasRunning.current && !isRunning && ready) {
      void fetchLines(store.liveThrough, PAGE_LINES).catch(() => {});
    }
    wasRunning.current = isRunning;
  }, [fetchLines, isRunning, ready, store]);

  return { store, version, load, liveError, ensureLines };
}

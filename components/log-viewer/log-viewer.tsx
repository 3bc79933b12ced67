"use client";
import "./log-viewer.css";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import {
  Fragment,
  type KeyboardEvent,
  memo,
  type MouseEvent,
  type ReactNode,
  useCallback,
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
} from "react";
import { useTranslation } from "react-i18next";
import { useRealtime } from "@/components/realtime/socket-provider";
import type { LogLine } from "@/server/runs/schema";
import { type AnsiSegment, parseAnsi, styleProps } from "./ansi";
import { groupMarkerOf, groupsOf, type LogGroup, lineHash, parseLineHash, RowMap } from "./log-model";
import { ApiError, type LogTarget, logDownloadUrl, logSearchQuery } from "./queries";
import { useLogData } from "./use-log-data";

// A step's log: full scrollback of any size (a million lines and more), virtualized over the
// log's sequence numbers and loaded page by page as it scrolls; live lines while the step runs,
// followed at the end until the user scrolls up; ANSI colours; collapsible sections; server-side
// search; links to lines (#L120, #L120-L140); the whole log as a download.

export interface LogViewerProps {
  runId: string;
  /** The step instance (`build`, `test[node=20]`). */
  step: string;
  attempt: number;
  /** Live: follow the end and expand sections; finished: sections start collapsed. */
  isRunning: boolean;
}

export function LogViewer(props: LogViewerProps) {
  // A new log is a new viewer: nothing of the previous one's lines, state or subscription.
  return <StepLog key={`${props.runId}\u0000${props.step}\u0000${props.attempt}`} {...props} />;
}

const DEFAULT_ROW_HEIGHT = 20;
const ERROR_PATTERN = "error|failed|fatal";
const SEARCH_LIMIT = 1_000;

type Range = { from: number; to: number };

function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

const segmentsCache = new WeakMap<LogLine, AnsiSegment[]>();
function segmentsOf(line: LogLine): AnsiSegment[] {
  let segments = segmentsCache.get(line);
  if (!segments) {
    segments = parseAnsi(line.text);
    segmentsCache.set(line, segments);
  }
  return segments;
}

/** The line's text as styled spans, with search ranges marked. Text only: React escapes it. */
function renderText(line: LogLine, ranges: readonly [number, number][] | undefined, isCurrent: boolean): ReactNode[] {
  const nodes: ReactNode[] = [];
  for (const segment of segmentsOf(line)) {
    const end = segment.start + segment.text.length;
    const pieces: ReactNode[] = [];
    let at = segment.start;
    const text = (from: number, to: number) => (
      <Fragment key={`t${from}`}>{segment.text.slice(from - segment.start, to - segment.start)}</Fragment>
    );
    for (const [from, to] of ranges ?? []) {
      if (to <= at || from >= end) continue;
      const start = Math.max(from, at);
      if (start > at) pieces.push(text(at, start));
      const stop = Math.min(to, end);
      pieces.push(
        <mark key={`m${start}`} className={isCurrent ? "log-match is-current" : "log-match"}>
          {segment.text.slice(start - segment.start, stop - segment.start)}
        </mark>,
      );
      at = stop;
    }
    if (at < end) pieces.push(text(at, end));
    if (segment.style) {
      const props = styleProps(segment.style);
      nodes.push(
        <span
          key={segment.start}
          className={props.className || undefined}
          style={props.color || props.background ? { color: props.color, background: props.background } : undefined}
        >
          {pieces}
        </span>,
      );
    } else {
      nodes.push(<Fragment key={segment.start}>{pieces}</Fragment>);
    }
  }
  return nodes;
}

interface RowProps {
  seq: number;
  index: number;
  start: number;
  line: LogLine | undefined;
  group: LogGroup | undefined;
  isCollapsed: boolean;
  ranges: readonly [number, number][] | undefined;
  isCurrentMatch: boolean;
  isSelected: boolean;
  showTime: boolean;
  formatTime: (t: number) => string;
  measure: ((element: Element | null) => void) | undefined;
  onLineClick: (event: MouseEvent<HTMLAnchorElement>, seq: number) => void;
  onToggleGroup: (group: LogGroup) => void;
  labels: { stderr: string; system: string; expand: string; collapse: string; loading: string };
}

const LogRow = memo(function LogRow(props: RowProps) {
  const { seq, line, group, labels } = props;
  const stream = line?.stream ?? "stdout";
  const classes = ["log-row", `is-${stream}`];
  if (props.isSelected) classes.push("is-selected");
  if (props.isCurrentMatch) classes.push("is-current-match");
  if (group) classes.push("is-group");
  if (!line) classes.push("is-loading");
  const title = group && line ? (groupMarkerOf(line.text) as { title?: string } | null)?.title || "…" : "";
  return (
    <div
      ref={props.measure}
      className={classes.join(" ")}
      data-index={props.index}
      data-seq={seq}
      data-stream={line ? stream : undefined}
      style={{ transform: `translateY(${props.start}px)` }}
    >
      <a className="log-ln" href={`#L${seq}`} onClick={(event) => props.onLineClick(event, seq)}>
        {seq}
      </a>
      {stream !== "stdout" ? (
        <span className="log-gutter" aria-hidden="true">
          {stream === "stderr" ? "!" : "»"}
        </span>
      ) : null}
      {props.showTime ? <span className="log-time">{line ? props.formatTime(line.t) : ""}</span> : null}
      {group ? (
        <button
          type="button"
          className="log-group-toggle"
          aria-expanded={!props.isCollapsed}
          aria-label={`${props.isCollapsed ? labels.expand : labels.collapse}: ${title}`}
          onClick={() => props.onToggleGroup(group)}
        >
          <span className="log-group-caret" aria-hidden="true">
            {props.isCollapsed ? "▸" : "▾"}
          </span>
          <span className="log-group-title">{title}</span>
        </button>
      ) : (
        <span className="log-text">
          {stream !== "stdout" && line ? (
            <span className="visually-hidden">{stream === "stderr" ? labels.stderr : labels.system}: </span>
          ) : null}
          {line ? renderText(line, props.ranges, props.isCurrentMatch) : labels.loading}
        </span>
      )}
    </div>
  );
});

function StepLog({ runId, step, attempt, isRunning }: LogViewerProps) {
  const { t, i18n } = useTranslation("logs");
  const id = useId();
  const queryClient = useQueryClient();
  const target: LogTarget = useMemo(() => ({ runId, step, attempt }), [runId, step, attempt]);
  const { store, version, load, liveError, ensureLines } = useLogData(target, isRunning);
  const { state: connection } = useRealtime();

  const scrollerRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const [follow, setFollow] = useState(isRunning);
  const [wrap, setWrap] = useState(false);
  const [showTime, setShowTime] = useState(false);
  const [selection, setSelection] = useState<Range | null>(null);
  const anchor = useRef<number | null>(null);
  /** Scrolls until `until` are the user's (wheel, keys, touch, scrollbar), in that direction. */
  const userIntent = useRef<{ until: number; direction: "up" | "down" | "any" }>({ until: 0, direction: "any" });
  const lastScrollTop = useRef(0);
  const lastScrollLeft = useRef(0);
  const pendingScroll = useRef<number | null>(null);
  const [revealRequests, setRevealRequests] = useState(0);

  // Sections: collapsed by default in a finished log, open while it runs; the user's choices win.
  const collapsedByDefault = useRef(!isRunning).current;
  const [toggled, setToggled] = useState<ReadonlyMap<number, boolean>>(new Map());
  // biome-ignore lint/correctness/useExhaustiveDependencies: version is the store's change counter
  const rowMap = useMemo(
    () =>
      new RowMap(
        store.lastSeq,
        groupsOf(store.markers, store.lastSeq),
        (group) => toggled.get(group.start) ?? collapsedByDefault,
      ),
    [store, version, toggled, collapsedByDefault],
  );

  const [rowHeight, setRowHeight] = useState(DEFAULT_ROW_HEIGHT);
  useEffect(() => {
    const element = scrollerRef.current;
    if (!element) return;
    const value = Number.parseFloat(getComputedStyle(element).getPropertyValue("--log-row-h"));
    if (value > 0) setRowHeight(value);
  }, []);

  const estimateSize = useCallback(() => rowHeight, [rowHeight]);
  // Keys are row indices (the default): a custom key would cost a call per row of a million-row
  // log whenever the count changes. Sizes measured while wrapping are reset when rows move.
  const virtualizer = useVirtualizer({
    count: rowMap.count,
    getScrollElement: () => scrollerRef.current,
    estimateSize,
    overscan: 10,
  });
  // Wrapped lines differ in height: measure them. Unwrapped, every row is one line high.
  useEffect(() => {
    void wrap;
    void toggled;
    void rowHeight;
    virtualizer.measure();
  }, [virtualizer, wrap, toggled, rowHeight]);
  const items = virtualizer.getVirtualItems();
  const firstItem = items[0];
  const lastItem = items[items.length - 1];
  const firstSeq = firstItem ? rowMap.seqOfRow(firstItem.index) : 0;
  const lastSeqShown = lastItem ? rowMap.seqOfRow(lastItem.index) : 0;

  // Load what is on screen: at most every 100 ms while it scrolls at reading speed; after a
  // fling (far from what was last asked for) only once it settles, so a sweep through a million
  // lines does not ask for every page on the way.
  const lastEnsured = useRef({ at: 0, seq: 0 });
  useEffect(() => {
    if (lastSeqShown === 0) return;
    const far = Math.abs(firstSeq - lastEnsured.current.seq) > 4 * Math.max(1, lastSeqShown - firstSeq);
    const wait = far ? 150 : Math.max(0, 100 - (performance.now() - lastEnsured.current.at));
    const timer = setTimeout(() => {
      lastEnsured.current = { at: performance.now(), seq: firstSeq };
      ensureLines(firstSeq, lastSeqShown);
    }, wait);
    return () => clearTimeout(timer);
  }, [ensureLines, firstSeq, lastSeqShown]);

  const scrollToRow = useCallback(
    (row: number, align: "start" | "center" | "end") => {
      virtualizer.scrollToIndex(row, { align });
    },
    [virtualizer],
  );

  const isCollapsed = useCallback(
    (group: LogGroup) => toggled.get(group.start) ?? collapsedByDefault,
    [toggled, collapsedByDefault],
  );

  /** Shows a line: expands the sections hiding it, then scrolls it to the middle. */
  const revealSeq = useCallback(
    (seq: number) => {
      setFollow(false);
      const hiding = rowMap.groupsHolding(seq).filter(isCollapsed);
      if (hiding.length > 0) {
        setToggled((previous) => {
          const next = new Map(previous);
          for (const group of hiding) next.set(group.start, false);
          return next;
        });
        pendingScroll.current = seq;
        return;
      }
      if (seq > store.lastSeq) {
        pendingScroll.current = seq;
        return;
      }
      scrollToRow(rowMap.rowOfSeq(seq), "center");
    },
    [isCollapsed, rowMap, scrollToRow, store],
  );
  // A line to show once it exists and its sections are open (a link, a match, an error).
  useEffect(() => {
    void revealRequests;
    const seq = pendingScroll.current;
    if (seq === null || load.status !== "ready" || seq > rowMap.lastSeq) return;
    pendingScroll.current = null;
    revealSeq(seq);
  }, [load.status, revealSeq, rowMap, revealRequests]);

  // Follow: keep the last line in view as lines arrive (straight to the end of the canvas, which
  // is laid out by the time effects run; no animation to fight the user's next scroll).
  const scrollToEnd = useCallback(() => {
    const element = scrollerRef.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, []);
  useEffect(() => {
    void rowMap.count;
    if (follow && load.status === "ready") scrollToEnd();
  }, [follow, load.status, rowMap.count, scrollToEnd]);

  // Following stops when the user scrolls up (however: wheel, keys, touch, the scrollbar) and
  // resumes when they scroll down to the end of a running log, or press End, or the button.
  const userScrolls = (direction: "up" | "down" | "any", forMs = 250) => {
    userIntent.current = { until: performance.now() + forMs, direction };
  };
  function onScroll() {
    const element = scrollerRef.current;
    if (!element) return;
    const left = element.scrollLeft;
    if (left !== lastScrollLeft.current) {
      lastScrollLeft.current = left;
      // Set only while scrolled sideways: a custom property here is inherited by every row.
      element.classList.toggle("is-scrolled-x", left > 0);
      if (left > 0) element.style.setProperty("--log-scroll-left", `${left}px`);
      else element.style.removeProperty("--log-scroll-left");
    }
    const top = element.scrollTop;
    const previous = lastScrollTop.current;
    lastScrollTop.current = top;
    const intent = userIntent.current;
    if (performance.now() > intent.until) return;
    const atEnd = top + element.clientHeight >= element.scrollHeight - rowHeight * 1.5;
    if (intent.direction !== "down" && top < previous - 1 && !atEnd) setFollow(false);
    else if (intent.direction !== "up" && atEnd && isRunning && top > previous) setFollow(true);
  }

  // Line links: #L120 or #L120-L140 in the address, now and when it changes.
  useEffect(() => {
    const apply = () => {
      const range = parseLineHash(window.location.hash);
      if (!range) return;
      setSelection(range);
      anchor.current = range.from;
      setFollow(false);
      pendingScroll.current = range.from;
      setRevealRequests((count) => count + 1);
    };
    apply();
    window.addEventListener("hashchange", apply);
    return () => window.removeEventListener("hashchange", apply);
  }, []);

  const onLineClick = useCallback((event: MouseEvent<HTMLAnchorElement>, seq: number) => {
    event.preventDefault();
    const from = event.shiftKey && anchor.current !== null ? Math.min(anchor.current, seq) : seq;
    const to = event.shiftKey && anchor.current !== null ? Math.max(anchor.current, seq) : seq;
    if (!event.shiftKey) anchor.current = seq;
    const range = { from, to };
    setSelection(range);
    setFollow(false);
    const url = `${window.location.pathname}${window.location.search}${lineHash(range)}`;
    window.history.replaceState(window.history.state, "", url);
  }, []);

  const onToggleGroup = useCallback(
    (group: LogGroup) => {
      setToggled((previous) => {
        const next = new Map(previous);
        next.set(group.start, !(previous.get(group.start) ?? collapsedByDefault));
        return next;
      });
    },
    [collapsedByDefault],
  );

  // ---- Search ----
  const [searchText, setSearchText] = useState("");
  const [isRegex, setIsRegex] = useState(false);
  const [caseSensitive, setCaseSensitive] = useState(false);
  const q = useDebounced(searchText, 250);
  const search = useQuery({
    ...logSearchQuery(target, { q, regex: isRegex, caseSensitive, limit: SEARCH_LIMIT }),
    enabled: q !== "",
    placeholderData: (previous) => previous,
  });
  const searchData = q !== "" ? search.data : undefined;
  const matches = searchData?.matches ?? [];
  const [current, setCurrent] = useState(0);
  const highlights = useMemo(() => new Map(matches.map((match) => [match.seq, match.ranges])), [matches]);
  const currentSeq = matches[current]?.seq ?? null;
  const lastResult = useRef<unknown>(null);
  useEffect(() => {
    if (!searchData || lastResult.current === searchData) return;
    lastResult.current = searchData;
    setCurrent(0);
    const first = searchData.matches[0];
    if (first) revealSeq(first.seq);
  }, [searchData, revealSeq]);
  const goToMatch = (delta: number) => {
    if (matches.length === 0) return;
    const next = (current + delta + matches.length) % matches.length;
    setCurrent(next);
    revealSeq((matches[next] as { seq: number }).seq);
  };
  const searchError = q !== "" && search.error ? search.error : null;
  const searchStatus = (() => {
    if (q === "") return "";
    if (searchError) {
      if (searchError instanceof ApiError && searchError.code === "INVALID_INPUT") {
        return t("search.invalid", { reason: searchError.invalidParams[0]?.reason ?? searchError.message });
      }
      return t("search.failed");
    }
    if (!searchData || search.isFetching) return t("search.searching");
    if (searchData.total === 0) return t("search.none");
    return t(searchData.truncated ? "search.countMore" : "search.count", {
      current: current + 1,
      total: Math.max(searchData.total, matches.length),
    });
  })();

  // ---- Jump to the first error: a stderr line or a line saying error/failed/fatal ----
  const [jump, setJump] = useState<"idle" | "busy" | "none" | "failed">("idle");
  async function jumpToError() {
    setJump("busy");
    try {
      const [text, stderr] = await Promise.all([
        queryClient.fetchQuery(logSearchQuery(target, { q: ERROR_PATTERN, regex: true, limit: 1 })),
        queryClient.fetchQuery(logSearchQuery(target, { stream: "stderr", limit: 1 })),
      ]);
      const seqs = [text.matches[0]?.seq, stderr.matches[0]?.seq].filter((seq): seq is number => seq !== undefined);
      if (seqs.length === 0) {
        setJump("none");
        return;
      }
      const seq = Math.min(...seqs);
      setJump("idle");
      setSelection({ from: seq, to: seq });
      anchor.current = seq;
      revealSeq(seq);
    } catch {
      setJump("failed");
    }
  }

  // ---- Keyboard ----
  function onViewerKeyDown(event: KeyboardEvent<HTMLElement>) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "f") {
      event.preventDefault();
      searchRef.current?.focus();
      searchRef.current?.select();
    }
  }
  function onLogKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.target !== event.currentTarget || event.ctrlKey || event.metaKey || event.altKey) return;
    if (["ArrowUp", "PageUp"].includes(event.key)) {
      userScrolls("up");
      setFollow(false);
    } else if (["ArrowDown", "PageDown", " "].includes(event.key)) {
      userScrolls("down");
    } else if (event.key === "End") {
      event.preventDefault();
      setFollow(true);
      scrollToEnd();
    } else if (event.key === "Home") {
      event.preventDefault();
      setFollow(false);
      scrollToRow(0, "start");
    }
  }

  const timeFormat = useMemo(
    () =>
      new Intl.DateTimeFormat(i18n.language, {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        fractionalSecondDigits: 3,
        hour12: false,
      }),
    [i18n.language],
  );
  const formatTime = useCallback((ms: number) => timeFormat.format(ms), [timeFormat]);
  const labels = useMemo(
    () => ({
      stderr: t("stream.stderr"),
      system: t("stream.system"),
      expand: t("group.expand"),
      collapse: t("group.collapse"),
      loading: t("loadingLine"),
    }),
    [t],
  );

  const total = store.lastSeq;
  const live = isRunning && load.status === "ready";
  const liveLabel = !isRunning
    ? null
    : liveError
      ? t("live.failed")
      : connection === "connected"
        ? t("live.connected")
        : t("live.reconnecting");

  return (
    <section className="log-viewer" aria-labelledby={`${id}-title`} onKeyDown={onViewerKeyDown}>
      <h2 id={`${id}-title`} className="visually-hidden">
        {t("title", { step })}
      </h2>
      <div className="log-toolbar">
        <search className="log-search">
          <input
            ref={searchRef}
            id={`${id}-search`}
            type="search"
            value={searchText}
            placeholder={t("search.placeholder")}
            aria-label={t("search.label")}
            aria-describedby={`${id}-search-status`}
            aria-invalid={searchError instanceof ApiError && searchError.code === "INVALID_INPUT" ? true : undefined}
            onChange={(event) => setSearchText(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter") {
                event.preventDefault();
                goToMatch(event.shiftKey ? -1 : 1);
              } else if (event.key === "Escape" && searchText) {
                event.preventDefault();
                setSearchText("");
              }
            }}
          />
          <button
            type="button"
            className="button log-toggle"
            aria-pressed={isRegex}
            title={t("search.regex")}
            onClick={() => setIsRegex((value) => !value)}
          >
            <span aria-hidden="true">.*</span>
            <span className="visually-hidden">{t("search.regex")}</span>
          </button>
          <button
            type="button"
            className="button log-toggle"
            aria-pressed={caseSensitive}
            title={t("search.case")}
            onClick={() => setCaseSensitive((value) => !value)}
          >
            <span aria-hidden="true">Aa</span>
            <span className="visually-hidden">{t("search.case")}</span>
          </button>
          <button
            type="button"
            className="button"
            disabled={matches.length === 0}
            onClick={() => goToMatch(-1)}
            title={t("search.previous")}
          >
            <span aria-hidden="true">↑</span>
            <span className="visually-hidden">{t("search.previous")}</span>
          </button>
          <button
            type="button"
            className="button"
            disabled={matches.length === 0}
            onClick={() => goToMatch(1)}
            title={t("search.next")}
          >
            <span aria-hidden="true">↓</span>
            <span className="visually-hidden">{t("search.next")}</span>
          </button>
          <output
            id={`${id}-search-status`}
            className={searchError ? "log-search-status is-error" : "log-search-status"}
            aria-live="polite"
          >
            {searchStatus}
          </output>
        </search>
        <div className="log-actions">
          <button type="button" className="button" onClick={() => void jumpToError()} disabled={jump === "busy"}>
            {t("jumpToError")}
          </button>
          <button
            type="button"
            className="button log-toggle"
            aria-pressed={follow}
            onClick={() => {
              const next = !follow;
              setFollow(next);
              if (next) scrollToEnd();
            }}
          >
            {t("follow")}
          </button>
          <button
            type="button"
            className="button log-toggle"
            aria-pressed={showTime}
            onClick={() => setShowTime((value) => !value)}
          >
            {t("timestamps")}
          </button>
          <button
            type="button"
            className="button log-toggle"
            aria-pressed={wrap}
            onClick={() => setWrap((value) => !value)}
          >
            {t("wrap")}
          </button>
          <a className="button" href={logDownloadUrl(target)} download>
            {t("download")}
          </a>
        </div>
      </div>
      <p className="log-status muted">
        <span>{t("lines", { count: total })}</span>
        {liveLabel ? <span className={`log-live is-${liveError ? "failed" : connection}`}>{liveLabel}</span> : null}
        {jump === "none" ? <span role="status">{t("noErrors")}</span> : null}
        {jump === "failed" ? <span role="status">{t("search.failed")}</span> : null}
      </p>
      {load.status === "error" ? (
        <p role="alert" className="alert">
          {t("loadFailed")}{" "}
          {load.error instanceof ApiError ? t(`errors:code.${load.error.code}`, { defaultValue: "" }) : ""}
        </p>
      ) : null}
      <div
        ref={scrollerRef}
        className={wrap ? "log-scroller is-wrapped" : "log-scroller"}
        role="log"
        aria-live={live && follow ? "polite" : "off"}
        aria-labelledby={`${id}-title`}
        aria-busy={load.status === "loading"}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the log scrolls by keyboard (arrows, Page Up/Down, Home/End)
        tabIndex={0}
        onScroll={onScroll}
        onKeyDown={onLogKeyDown}
        onWheel={(event) => {
          userScrolls(event.deltaY < 0 ? "up" : "down");
          if (event.deltaY < 0) setFollow(false);
        }}
        onTouchMove={() => userScrolls("any")}
        onPointerDown={() => userScrolls("any", Number.POSITIVE_INFINITY)}
        onPointerUp={() => userScrolls("any")}
        data-last-seq={total}
        data-rows={rowMap.count}
        data-live-through={store.liveThrough}
        data-live-received={store.liveReceived}
        data-duplicates-dropped={store.duplicatesDropped}
        data-follow={follow}
        data-state={load.status}
      >
        {load.status === "ready" && total === 0 ? <p className="log-empty">{t("empty")}</p> : null}
        <div className="log-canvas" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const seq = rowMap.seqOfRow(item.index);
            const line = store.get(seq);
            const group = rowMap.groupAt(seq);
            return (
              <LogRow
                key={seq}
                seq={seq}
                index={item.index}
                start={item.start}
                line={line}
                group={group}
                isCollapsed={group ? isCollapsed(group) : false}
                ranges={highlights.get(seq)}
                isCurrentMatch={seq === currentSeq}
                isSelected={selection !== null && seq >= selection.from && seq <= selection.to}
                showTime={showTime}
                formatTime={formatTime}
                measure={wrap ? virtualizer.measureElement : undefined}
                onLineClick={onLineClick}
                onToggleGroup={onToggleGroup}
                labels={labels}
              />
            );
          })}
        </div>
      </div>
    </section>
  );
}

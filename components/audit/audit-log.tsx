"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import { type AuditFilters, auditEventsQuery } from "./queries";

const OUTCOMES = ["success", "failure", "denied"] as const;

function toIso(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

/**
 * The audit log: server-side filtered and paginated (keyset cursor), rendered as a virtualized
 * list so tens of thousands of loaded events scroll smoothly.
 */
export function AuditLog() {
  const { t } = useTranslation(["audit", "errors"]);
  const format = useFormat();
  const id = useId();
  const [filters, setFilters] = useState<AuditFilters>({});
  const query = useInfiniteQuery(auditEventsQuery(filters));
  const items = query.data?.pages.flatMap((page) => page.items) ?? [];
  const scrollerRef = useRef<HTMLElement>(null);
  const rowHeight = () =>
    Number.parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--row-h")) || 40;
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => scrollerRef.current,
    estimateSize: rowHeight,
    overscan: 12,
  });
  const virtualItems = virtualizer.getVirtualItems();
  const last = virtualItems[virtualItems.length - 1];

  useEffect(() => {
    if (!last) return;
    if (last.index >= items.length - 20 && query.hasNextPage && !query.isFetchingNextPage) {
      void query.fetchNextPage();
    }
  }, [last, items.length, query]);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setFilters({
      action: String(form.get("action") ?? "").trim() || undefined,
      outcome: String(form.get("outcome") ?? "") || undefined,
      from: toIso(String(form.get("from") ?? "")),
      to: toIso(String(form.get("to") ?? "")),
    });
    scrollerRef.current?.scrollTo({ top: 0 });
  }

  const error = query.error as (Error & { code?: string }) | null;

  return (
    <div className="stack">
      <form className="audit-filters" onSubmit={onSubmit} aria-label={t("audit:filters.label")}>
        <div className="field">
          <label htmlFor={`${id}-action`}>{t("audit:filters.action")}</label>
          <input id={`${id}-action`} name="action" placeholder={t("audit:filters.actionPlaceholder")} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-outcome`}>{t("audit:filters.outcome")}</label>
          <select id={`${id}-outcome`} name="outcome" defaultValue="">
            <option value="">{t("audit:filters.anyOutcome")}</option>
            {OUTCOMES.map((outcome) => (
              <option key={outcome} value={outcome}>
                {t(`audit:outcome.${outcome}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-from`}>{t("audit:filters.from")}</label>
          <input id={`${id}-from`} name="from" type="datetime-local" />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>{t("audit:filters.to")}</label>
          <input id={`${id}-to`} name="to" type="datetime-local" />
        </div>
        <button type="submit" className="button primary">
          {t("audit:filters.apply")}
        </button>
        <button
          type="reset"
          className="button"
          onClick={() => {
            setFilters({});
          }}
        >
          {t("audit:filters.reset")}
        </button>
      </form>

      {error ? (
        <p role="alert" className="alert">
          {t("audit:loadFailed")} {t(`errors:code.${error.code ?? "INTERNAL"}`)}
        </p>
      ) : null}

      <p className="muted" aria-live="polite">
        {query.isPending ? t("common:loading") : t("audit:shown", { count: items.length })}
        {query.isFetchingNextPage ? ` · ${t("audit:loadingMore")}` : ""}
        {!query.hasNextPage && !query.isPending && items.length > 0 ? ` · ${t("audit:end")}` : ""}
      </p>

      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard to scroll it */}
      <section ref={scrollerRef} className="audit-scroller" aria-label={t("audit:title")} tabIndex={0}>
        <table className="audit-table" aria-rowcount={items.length + 1}>
          <thead>
            <tr className="audit-row audit-head" aria-rowindex={1}>
              <th scope="col">{t("audit:columns.time")}</th>
              <th scope="col">{t("audit:columns.actor")}</th>
              <th scope="col">{t("audit:columns.action")}</th>
              <th scope="col">{t("audit:columns.target")}</th>
              <th scope="col">{t("audit:columns.outcome")}</th>
              <th scope="col">{t("audit:columns.ip")}</th>
            </tr>
          </thead>
          <tbody style={{ height: virtualizer.getTotalSize() }}>
            {virtualItems.map((row) => {
              const event = items[row.index];
              if (!event) return null;
              const target = event.target ? `${event.target.type}:${event.target.id}` : "";
              return (
                <tr
                  key={event.id}
                  aria-rowindex={row.index + 2}
                  className="audit-row"
                  style={{ transform: `translateY(${row.start}px)` }}
                >
                  <td title={event.occurredAt}>{format.dateTime(event.occurredAt)}</td>
                  <td title={event.actor.id ?? undefined}>
                    {event.actor.label || event.actor.id || t("audit:system")}
                  </td>
                  <td className="mono">{event.action}</td>
                  <td className="mono" title={target}>
                    {target || "—"}
                  </td>
                  <td>
                    <span className={`badge ${event.outcome}`}>{t(`audit:outcome.${event.outcome}`)}</span>
                  </td>
                  <td
                    className="mono"
                    title={event.requestId ? `${t("audit:columns.requestId")}: ${event.requestId}` : undefined}
                  >
                    {event.clientIp ?? "—"}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!query.isPending && items.length === 0 && !error ? <p className="audit-empty">{t("audit:empty")}</p> : null}
      </section>
    </div>
  );
}

"use client";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import type { ReasonCode } from "@/server/authz/schema";
import { ErrorAlert } from "./error-alert";
import { type DecisionLogFilters, decisionLogQuery, directoryQuery, type OrganizationDirectory } from "./queries";
import "./access.css";

export const REASON_CODES: readonly ReasonCode[] = [
  "binding",
  "allow_policy",
  "guardrail",
  "deny_policy",
  "condition_failed",
  "condition_error",
  "no_grant",
  "not_member",
  "invalid_request",
];

function toIso(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

/** The organization's authorization decisions, newest first, filtered on the server, a page at a time. */
export function DecisionLog({ org, initialDirectory }: { org: string; initialDirectory: OrganizationDirectory }) {
  const { t } = useTranslation(["access", "common"]);
  const format = useFormat();
  const id = useId();
  const directory = useQuery({ ...directoryQuery(org), initialData: initialDirectory });
  const dir = directory.data ?? initialDirectory;
  const [filters, setFilters] = useState<DecisionLogFilters>({ organizationId: dir.organization.id });
  const log = useInfiniteQuery(decisionLogQuery(filters));
  const items = log.data?.pages.flatMap((page) => page.items) ?? [];

  const userName = (principalId: string) => dir.users.find((user) => user.id === principalId)?.name ?? principalId;
  const projectSlug = (projectId: string | null) =>
    projectId ? (dir.projects.find((project) => project.id === projectId)?.slug ?? projectId) : null;

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? "").trim() || undefined;
    setFilters({
      organizationId: dir.organization.id,
      principalId: text("principalId"),
      action: text("action"),
      effect: text("effect") as DecisionLogFilters["effect"],
      reasonCode: text("reasonCode"),
      from: toIso(String(form.get("from") ?? "")),
      to: toIso(String(form.get("to") ?? "")),
    });
  }

  return (
    <div className="stack">
      <form className="audit-filters" onSubmit={onSubmit} aria-label={t("decisionLog.filters.label")}>
        <div className="field">
          <label htmlFor={`${id}-principal`}>{t("decisionLog.filters.principal")}</label>
          <select id={`${id}-principal`} name="principalId" defaultValue="">
            <option value="">{t("decisionLog.filters.anyone")}</option>
            {dir.users.map((user) => (
              <option key={user.id} value={user.id}>
                {user.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-action`}>{t("decisionLog.filters.action")}</label>
          <input id={`${id}-action`} name="action" placeholder="pipeline:run" maxLength={100} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-effect`}>{t("decisionLog.filters.effect")}</label>
          <select id={`${id}-effect`} name="effect" defaultValue="">
            <option value="">{t("decisionLog.filters.anyEffect")}</option>
            <option value="allow">{t("effects.allow")}</option>
            <option value="deny">{t("effects.deny")}</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-reason`}>{t("decisionLog.filters.reason")}</label>
          <select id={`${id}-reason`} name="reasonCode" defaultValue="">
            <option value="">{t("decisionLog.filters.anyReason")}</option>
            {REASON_CODES.map((code) => (
              <option key={code} value={code}>
                {t(`reasons.${code}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-from`}>{t("decisionLog.filters.from")}</label>
          <input id={`${id}-from`} name="from" type="datetime-local" />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>{t("decisionLog.filters.to")}</label>
          <input id={`${id}-to`} name="to" type="datetime-local" />
        </div>
        <button type="submit" className="button primary">
          {t("decisionLog.filters.apply")}
        </button>
        <button type="reset" className="button" onClick={() => setFilters({ organizationId: dir.organization.id })}>
          {t("decisionLog.filters.reset")}
        </button>
        <button type="button" className="button" onClick={() => void log.refetch()} disabled={log.isFetching}>
          {t("decisionLog.refresh")}
        </button>
      </form>

      {log.error ? <ErrorAlert error={log.error} prefix={t("decisionLog.loadFailed")} /> : null}

      <p className="muted" aria-live="polite" style={{ margin: 0 }}>
        {log.isPending ? t("common:loading") : t("decisionLog.shown", { count: items.length })}
      </p>

      <div className="access-table-wrap">
        <table className="data">
          <caption className="visually-hidden">{t("decisionLog.title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("decisionLog.columns.time")}</th>
              <th scope="col">{t("decisionLog.columns.principal")}</th>
              <th scope="col">{t("decisionLog.columns.action")}</th>
              <th scope="col">{t("decisionLog.columns.resource")}</th>
              <th scope="col">{t("decisionLog.columns.decision")}</th>
              <th scope="col">{t("decisionLog.columns.reason")}</th>
              <th scope="col">{t("decisionLog.columns.path")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => {
              const project = projectSlug(item.input.resource.projectId);
              const resource = [
                item.input.resource.type,
                project,
                item.input.resource.environment,
                item.input.resource.id,
              ]
                .filter(Boolean)
                .join(" / ");
              return (
                <tr key={item.seq}>
                  <td title={item.timestamp}>{format.dateTime(item.timestamp)}</td>
                  <td title={item.input.principal.id}>{userName(item.input.principal.id)}</td>
                  <td className="mono">{item.input.action}</td>
                  <td className="mono access-cell-wrap">{resource}</td>
                  <td>
                    <span className={`badge ${item.result ? "success" : "denied"}`}>
                      {item.result ? t("effects.allow") : t("effects.deny")}
                    </span>
                  </td>
                  <td className="access-cell-wrap" title={item.reason}>
                    {t(`reasons.${item.reason_code}`, { defaultValue: item.reason_code })}
                    <div className="muted">{item.reason}</div>
                  </td>
                  <td className="mono">{item.path}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {!log.isPending && items.length === 0 && !log.error ? <p className="notice">{t("decisionLog.empty")}</p> : null}
      {log.hasNextPage ? (
        <div>
          <button
            type="button"
            className="button"
            onClick={() => void log.fetchNextPage()}
            disabled={log.isFetchingNextPage}
          >
            {log.isFetchingNextPage ? t("common:loading") : t("decisionLog.loadMore")}
          </button>
        </div>
      ) : null}
    </div>
  );
}

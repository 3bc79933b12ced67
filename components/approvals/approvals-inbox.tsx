"use client";
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { ProblemAlert } from "@/components/runs/problem-alert";
import type { PendingAction } from "@/server/runs/schema";
import { ApprovalItem, type OpenForm } from "./approval-item";
import { actionKey, pendingActionsQuery, sortNewestFirst } from "./queries";

/**
 * The approvals inbox: every approval and manual step waiting for the signed-in person, newest
 * first. One form is open at a time; what was done is announced and focus moves on to the next
 * item. Kept live by the shell (useApprovalsInbox), whose query this shares.
 */
export function ApprovalsInbox({ initialActions }: { initialActions: PendingAction[] }) {
  const { t } = useTranslation(["approvals", "common"]);
  // The shell's query usually exists already (no initialData then): show the server's render
  // until the first answer arrives.
  const query = useQuery({ ...pendingActionsQuery(), placeholderData: initialActions });
  const [openForm, setOpenForm] = useState<OpenForm | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const listRef = useRef<HTMLUListElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const actions = sortNewestFirst(query.data ?? []);

  /** After an item was handled: say so, and move focus to the item that takes its place. */
  function onHandled(action: PendingAction, message: string) {
    setAnnouncement(message);
    setOpenForm(null);
    const index = actions.findIndex((item) => actionKey(item) === actionKey(action));
    const next = actions.filter((item) => actionKey(item) !== actionKey(action))[Math.max(0, index)] ?? null;
    requestAnimationFrame(() => {
      const target = next
        ? listRef.current?.querySelector<HTMLElement>(`[data-action-key="${CSS.escape(actionKey(next))}"] h3`)
        : null;
      (target ?? headingRef.current)?.focus();
    });
  }

  return (
    <section className="stack" aria-labelledby="approvals-list-title">
      <h2 id="approvals-list-title" ref={headingRef} tabIndex={-1} className="approvals-list-title">
        {t("listLabel")}{" "}
        <span className="muted">
          {query.isPending && !query.data ? t("common:loading") : t("count", { count: actions.length })}
        </span>
      </h2>
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
      {query.error ? <ProblemAlert error={query.error} prefix={t("loadFailed")} /> : null}
      {actions.length === 0 && !query.isPending ? (
        <div className="notice">
          <p className="approvals-empty-title">{t("empty")}</p>
          <p className="muted">{t("emptyHint")}</p>
        </div>
      ) : null}
      {actions.length > 0 ? (
        <ul ref={listRef} className="approvals-list">
          {actions.map((action) => (
            <li key={actionKey(action)} data-action-key={actionKey(action)}>
              <ApprovalItem
                action={action}
                openForm={openForm && openForm.key === actionKey(action) ? openForm : null}
                onOpenForm={setOpenForm}
                onHandled={(message) => onHandled(action, message)}
              />
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

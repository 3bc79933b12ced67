"use client";
import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { PendingAction } from "@/server/runs/schema";
import { DecisionForm } from "./decision-form";
import { riskLabel, riskHints } from "./risk";

/**
 * The small confirm dialog the palette's "Approve run #…" commands open: what is approved (and
 * whether it is production-like), a comment, Enter to approve. A native modal dialog: focus
 * moves in, Esc closes. The outcome is announced after it closes.
 */
export function DecisionDialog({ action, onClose }: { action: PendingAction | null; onClose(): void }) {
  const { t } = useTranslation("approvals");
  const id = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const [announcement, setAnnouncement] = useState("");

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (action && !dialog.open) {
      setAnnouncement("");
      dialog.showModal();
    }
    if (!action && dialog.open) dialog.close();
  }, [action]);

  const risk = action ? riskLabel(riskHints(action)) : null;
  return (
    <>
      <dialog ref={ref} className="modal decision-dialog" aria-labelledby={`${id}-title`} onClose={onClose}>
        {action ? (
          <div className="stack">
            <h2 id={`${id}-title`}>
              {t("form.approveTitle", { number: action.runNumber, pipeline: action.pipelineName })}
            </h2>
            <p className="muted">
              {action.organizationSlug} / {action.projectSlug} · {action.stepName}
              {action.environment ? ` · ${action.environment}` : ""}
            </p>
            {risk ? <p className="risk-hint">{t("item.risk", { label: risk })}</p> : null}
            {action.message ? <p className="approval-message">{action.message}</p> : null}
            <DecisionForm
              key={`${action.runId}:${action.step}`}
              action={action}
              decision="approve"
              titleId={`${id}-title`}
              onCancel={() => ref.current?.close()}
              onDone={(message) => {
                setAnnouncement(message);
                ref.current?.close();
              }}
            />
          </div>
        ) : null}
      </dialog>
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
    </>
  );
}

"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import { ProblemAlert } from "@/components/runs/problem-alert";
import { runManualStep, skipManualStep } from "@/components/runs/queries";
import { useFormatDuration, useNow } from "@/components/runs/use-now";
import type { PendingAction } from "@/server/runs/schema";
import { type Decision, DecisionForm } from "./decision-form";
import { actionKey, settleAction } from "./queries";
import { riskHints, riskLabel } from "./risk";

export interface OpenForm {
  key: string;
  decision: Decision;
}

/** One thing waiting: what an approver needs to decide, and the controls to decide it. */
export function ApprovalItem({
  action,
  openForm,
  onOpenForm,
  onHandled,
}: {
  action: PendingAction;
  openForm: OpenForm | null;
  onOpenForm(form: OpenForm | null): void;
  onHandled(message: string): void;
}) {
  const { t } = useTranslation(["approvals", "runs", "common"]);
  const format = useFormat();
  const id = useId();
  const titleId = `${id}-title`;
  const formTitleId = `${id}-form-title`;
  const key = actionKey(action);
  const hints = riskHints(action);
  const risk = riskLabel(hints);
  const params = Object.entries(action.params);
  const approveRef = useRef<HTMLButtonElement>(null);
  const rejectRef = useRef<HTMLButtonElement>(null);

  /** Cancelled: focus returns to the button that opened the form. */
  function closeForm() {
    const opener = openForm?.decision === "reject" ? rejectRef : approveRef;
    onOpenForm(null);
    requestAnimationFrame(() => opener.current?.focus());
  }

  return (
    <article className={`card approval-item${risk ? " is-risky" : ""}`} aria-labelledby={titleId}>
      <header className="approval-item-head">
        <span className={`badge approval-kind approval-kind-${action.kind}`}>{t(`kind.${action.kind}`)}</span>
        <h3 id={titleId} tabIndex={-1}>
          {action.pipelineName}
          {" · "}
          <Link href={`/runs/${action.runId}`}>{t("item.run", { number: action.runNumber })}</Link>
        </h3>
        {risk ? (
          <p className="risk-hint">
            <span aria-hidden="true">⚠ </span>
            {t("item.risk", { label: risk })}
            <span className="muted">
              {" ("}
              {hints
                .map((hint) =>
                  hint.source === "environment"
                    ? t("item.riskEnvironment", { name: hint.name })
                    : t("item.riskParam", { name: hint.name, value: String(action.params[hint.name]) }),
                )
                .join("; ")}
              {")"}
            </span>
          </p>
        ) : null}
      </header>

      {action.message ? (
        <p className="approval-message">
          <span className="visually-hidden">{t("item.message")}: </span>
          {action.message}
        </p>
      ) : null}

      <dl className="approval-facts">
        <div>
          <dt>{t("item.project")}</dt>
          <dd>
            <Link href={`/projects/${action.organizationSlug}/${action.projectSlug}`}>
              {action.organizationSlug} / {action.projectSlug}
            </Link>
          </dd>
        </div>
        <div>
          <dt>{t("item.step")}</dt>
          <dd>
            {action.stepName}
            {action.stepName !== action.step ? <span className="muted mono"> {action.step}</span> : null}
          </dd>
        </div>
        <div>
          <dt>{t("item.environment")}</dt>
          <dd>{action.environment ?? <span className="muted">{t("item.noEnvironment")}</span>}</dd>
        </div>
        <div>
          <dt>{t("item.startedBy")}</dt>
          <dd>{action.startedBy?.name || t("item.automation")}</dd>
        </div>
        {action.kind === "approval" ? (
          <div>
            <dt>{t("item.approvals")}</dt>
            <dd>{t("item.approvalsCount", { count: action.approvals, min: action.minApprovals })}</dd>
          </div>
        ) : null}
        <div>
          <dt>{t("item.timeLeft")}</dt>
          <dd>
            <Countdown deadlineAt={action.deadlineAt} />
          </dd>
        </div>
        {action.waitingSince ? (
          <div>
            <dt>{t("item.waitingSince")}</dt>
            <dd>
              <time dateTime={action.waitingSince} suppressHydrationWarning>
                {format.dateTime(action.waitingSince)}
              </time>
            </dd>
          </div>
        ) : null}
      </dl>

      <div className="approval-params">
        {params.length === 0 ? (
          <p className="muted">{t("item.noParams")}</p>
        ) : (
          <table className="data approval-params-table">
            <caption className="approval-params-caption">{t("item.params")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("item.paramName")}</th>
                <th scope="col">{t("item.paramValue")}</th>
              </tr>
            </thead>
            <tbody>
              {params.map(([name, value]) => (
                <tr key={name}>
                  <th scope="row" className="mono">
                    {name}
                  </th>
                  <td className="mono">{String(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>

      {action.kind === "approval" ? (
        openForm ? (
          <div className="approval-form">
            <h4 id={formTitleId} className="visually-hidden">
              {t(openForm.decision === "approve" ? "form.approveTitle" : "form.rejectTitle", {
                number: action.runNumber,
                pipeline: action.pipelineName,
              })}
            </h4>
            <DecisionForm
              key={openForm.decision}
              action={action}
              decision={openForm.decision}
              titleId={formTitleId}
              onCancel={closeForm}
              onDone={onHandled}
            />
          </div>
        ) : (
          <div className="row approval-actions">
            <button
              ref={approveRef}
              type="button"
              className="button primary"
              aria-label={t("form.approveTitle", { number: action.runNumber, pipeline: action.pipelineName })}
              onClick={() => onOpenForm({ key, decision: "approve" })}
            >
              {t("actions.approve")}
            </button>
            <button
              ref={rejectRef}
              type="button"
              className="button danger"
              aria-label={t("form.rejectTitle", { number: action.runNumber, pipeline: action.pipelineName })}
              onClick={() => onOpenForm({ key, decision: "reject" })}
            >
              {t("actions.reject")}
            </button>
          </div>
        )
      ) : (
        <ManualControls action={action} onHandled={onHandled} />
      )}
    </article>
  );
}

/** Run or skip a manual step; skipping asks once more (focus moves to the confirmation). */
function ManualControls({ action, onHandled }: { action: PendingAction; onHandled(message: string): void }) {
  const { t } = useTranslation(["approvals", "common"]);
  const queryClient = useQueryClient();
  const [confirmingSkip, setConfirmingSkip] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const control = useMutation({
    mutationFn: (what: "run" | "skip") =>
      what === "run" ? runManualStep(action.runId, action.step) : skipManualStep(action.runId, action.step),
    onSuccess: (_run, what) => {
      settleAction(queryClient, action);
      const values = { step: action.stepName, number: action.runNumber };
      onHandled(what === "run" ? t("done.ran", values) : t("done.skipped", values));
    },
  });

  useEffect(() => {
    if (confirmingSkip) confirmRef.current?.focus();
  }, [confirmingSkip]);

  return (
    <div className="stack">
      <div className="row approval-actions">
        <button
          type="button"
          className="button primary"
          disabled={control.isPending}
          onClick={() => control.mutate("run")}
        >
          {control.isPending && control.variables === "run" ? t("actions.working") : t("actions.run")}
        </button>
        {confirmingSkip ? (
          <>
            <button
              ref={confirmRef}
              type="button"
              className="button danger"
              disabled={control.isPending}
              onClick={() => {
                setConfirmingSkip(false);
                control.mutate("skip");
              }}
              onKeyDown={(event) => {
                if (event.key === "Escape") setConfirmingSkip(false);
              }}
            >
              {t("actions.confirmSkip", { step: action.stepName })}
            </button>
            <button type="button" className="button" onClick={() => setConfirmingSkip(false)}>
              {t("common:cancel")}
            </button>
          </>
        ) : (
          <button type="button" className="button" disabled={control.isPending} onClick={() => setConfirmingSkip(true)}>
            {control.isPending && control.variables === "skip" ? t("actions.working") : t("actions.skip")}
          </button>
        )}
      </div>
      <ProblemAlert error={control.error} prefix={t("form.refused")} />
    </div>
  );
}

/** Time left before the step times out, ticking each second (text, so it reads without colour). */
function Countdown({ deadlineAt }: { deadlineAt: string | null }) {
  const { t } = useTranslation("approvals");
  const formatDuration = useFormatDuration();
  const now = useNow(deadlineAt !== null);
  if (!deadlineAt) return <span className="muted">{t("item.noTimeout")}</span>;
  const deadline = Date.parse(deadlineAt);
  if (now === null) {
    return (
      <time dateTime={deadlineAt} className="countdown">
        …
      </time>
    );
  }
  const left = deadline - now;
  if (left <= 0) return <span className="countdown is-expired">{t("item.expired")}</span>;
  return (
    <time dateTime={deadlineAt} className={`countdown${left < 3_600_000 ? " is-urgent" : ""}`}>
      {t("item.left", { duration: formatDuration(left) })}
    </time>
  );
}

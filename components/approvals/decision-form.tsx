"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type KeyboardEvent, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { ProblemAlert } from "@/components/runs/problem-alert";
import { approveStep, rejectStep } from "@/components/runs/queries";
import type { PendingAction } from "@/server/runs/schema";
import { settleAction } from "./queries";

export type Decision = "approve" | "reject";

/**
 * Approve or reject one pending approval, with a comment (required to reject). Enter sends,
 * Shift+Enter starts a new line, Escape cancels. The server decides (approvers, not the run's author, MFA,
 * environment rules); a refusal is shown here with its reason and the form stays open.
 */
export function DecisionForm({
  action,
  decision,
  onDone,
  onCancel,
  titleId,
}: {
  action: PendingAction;
  decision: Decision;
  onDone(message: string): void;
  onCancel(): void;
  /** The heading that names the form (the dialog's or the item's). */
  titleId?: string;
}) {
  const { t } = useTranslation(["approvals", "common"]);
  const id = useId();
  const queryClient = useQueryClient();
  const commentRef = useRef<HTMLTextAreaElement>(null);
  const [comment, setComment] = useState("");
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    commentRef.current?.focus();
  }, []);

  const submit = useMutation({
    mutationFn: (text: string) =>
      decision === "approve"
        ? approveStep(action.runId, action.step, text || undefined)
        : rejectStep(action.runId, action.step, text),
    onSuccess: () => {
      settleAction(queryClient, action);
      const values = { number: action.runNumber, pipeline: action.pipelineName };
      onDone(decision === "approve" ? t("done.approved", values) : t("done.rejected", values));
    },
  });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (submit.isPending) return;
    const text = comment.trim();
    if (decision === "reject" && text === "") {
      setMissing(true);
      commentRef.current?.focus();
      return;
    }
    submit.mutate(text);
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.nativeEvent.isComposing) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      event.currentTarget.form?.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
    }
  }

  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const refusalId = `${id}-refusal`;
  return (
    <form className="stack decision-form" onSubmit={onSubmit} aria-labelledby={titleId} noValidate>
      <div className="field">
        <label htmlFor={`${id}-comment`}>
          {decision === "reject" ? t("form.commentRequired") : t("form.commentOptional")}
        </label>
        <textarea
          ref={commentRef}
          id={`${id}-comment`}
          className="decision-comment"
          rows={2}
          maxLength={10_000}
          value={comment}
          required={decision === "reject"}
          aria-invalid={missing ? true : undefined}
          aria-describedby={[hintId, missing ? errorId : null, submit.error ? refusalId : null]
            .filter(Boolean)
            .join(" ")}
          onChange={(event) => {
            setComment(event.target.value);
            if (missing && event.target.value.trim() !== "") setMissing(false);
          }}
          onKeyDown={onKeyDown}
        />
        <span id={hintId} className="muted">
          {t("form.commentHint")}
        </span>
        {missing ? (
          <span id={errorId} className="field-error">
            {t("form.commentMissing")}
          </span>
        ) : null}
      </div>
      <ProblemAlert error={submit.error} prefix={t("form.refused")} id={refusalId} />
      <div className="row">
        <button
          type="submit"
          className={decision === "approve" ? "button primary" : "button danger"}
          disabled={submit.isPending}
        >
          {submit.isPending
            ? t("actions.working")
            : decision === "approve"
              ? t("form.submitApprove")
              : t("form.submitReject")}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          {t("common:cancel")}
        </button>
      </div>
    </form>
  );
}

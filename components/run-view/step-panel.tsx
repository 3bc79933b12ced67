"use client";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import { LogViewer } from "@/components/log-viewer/log-viewer";
import type { RunDetail, StepDto } from "@/server/runs/schema";
import { formatDuration } from "./model";
import { runControls } from "./queries";
import { useRunMutation } from "./run-controls";
import { StatusBadge } from "./run-view";

// The selected step: its instances (matrix), state, why it is in it, what it is waiting for
// (approval, manual start, gate), its outputs and earlier attempts, the controls the user may
// use on it, and its log.

export function StepPanel({
  run,
  instances,
  title,
  instanceId,
  onInstance,
  now,
}: {
  run: RunDetail;
  instances: StepDto[];
  title: string;
  instanceId: string | null;
  onInstance(id: string): void;
  now: number;
}) {
  const { t } = useTranslation(["runview", "errors"]);
  const format = useFormat();
  const step = instances.find((instance) => instance.id === instanceId) ?? instances[0];
  const [attempt, setAttempt] = useState<number | null>(null);
  const [comment, setComment] = useState("");
  const approve = useRunMutation(run.id, (id: string, text: string) => runControls.approve(run.id, id, text));
  const reject = useRunMutation(run.id, (id: string, text: string) => runControls.reject(run.id, id, text));
  const runStep = useRunMutation(run.id, (id: string) => runControls.runStep(run.id, id));
  const skipStep = useRunMutation(run.id, (id: string) => runControls.skipStep(run.id, id));
  const cancelStep = useRunMutation(run.id, (id: string) => runControls.cancel(run.id, id));
  const rerunFrom = useRunMutation(run.id, (id: string) => runControls.rerun(run.id, id));
  if (!step) return null;
  const error = approve.error ?? reject.error ?? runStep.error ?? skipStep.error ?? cancelStep.error ?? rerunFrom.error;
  const runActive = run.status === "queued" || run.status === "running" || run.status === "waiting";
  const stepActive = step.status === "running" || step.status === "waiting";
  const shownAttempt = attempt ?? Math.max(1, step.attempt);
  const started = step.startedAt ? Date.parse(step.startedAt) : null;
  const finished = step.finishedAt ? Date.parse(step.finishedAt) : null;
  const waitingApproval = step.status === "waiting" && step.waitingFor === "approval";
  const waitingManual = step.status === "waiting" && step.waitingFor === "manual";

  return (
    <div className="step-panel stack">
      <header className="stack">
        <h2>{title}</h2>
        {instances.length > 1 ? (
          <label>
            {t("runview:instance")}
            <select
              value={step.id}
              onChange={(event) => {
                onInstance(event.target.value);
                setAttempt(null);
              }}
            >
              {instances.map((instance) => (
                <option key={instance.id} value={instance.id}>
                  {instance.id} — {t(`runview:status.${instance.status}`)}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <div className="row">
          <StatusBadge status={step.status} />
          {step.waitingFor ? <span className="muted">{t(`runview:waitingFor.${step.waitingFor}`)}</span> : null}
          {step.attempt > 1 ? <span className="muted">{t("runview:attempt", { attempt: step.attempt })}</span> : null}
        </div>
        {step.reason ? <p className="step-reason">{step.reason}</p> : null}
      </header>

      <dl className="step-facts">
        {started !== null ? (
          <>
            <dt>{t("runview:started")}</dt>
            <dd>{format.dateTime(new Date(started))}</dd>
            <dt>{t("runview:took")}</dt>
            <dd>{formatDuration((finished ?? now) - started)}</dd>
          </>
        ) : null}
        {step.exitCode !== null ? (
          <>
            <dt>{t("runview:exitCode")}</dt>
            <dd>{step.exitCode}</dd>
          </>
        ) : null}
        {step.deadlineAt && stepActive ? (
          <>
            <dt>{t("runview:deadline")}</dt>
            <dd>{format.dateTime(step.deadlineAt)}</dd>
          </>
        ) : null}
        {step.matrix ? (
          <>
            <dt>{t("runview:matrix")}</dt>
            <dd>
              {Object.entries(step.matrix)
                .map(([key, value]) => `${key}=${value}`)
                .join(", ")}
            </dd>
          </>
        ) : null}
      </dl>

      {step.approval ? (
        <section className="stack" aria-label={t("runview:approval")}>
          <h3>{t("runview:approval")}</h3>
          {step.notice ? <p className="notice">{step.notice}</p> : null}
          <p className="muted">
            {t("runview:approvalRule", {
              count: step.approval.minApprovals,
              environment: step.approval.environment ?? "—",
            })}
          </p>
          {step.approvals.length > 0 ? (
            <ul>
              {step.approvals.map((record) => (
                <li key={`${record.by}-${record.at}`}>
                  {t(record.decision === "approve" ? "runview:approvedBy" : "runview:rejectedBy", {
                    name: record.byName,
                  })}
                  {record.comment ? `: “${record.comment}”` : ""}{" "}
                  <span className="muted">{format.dateTime(record.at)}</span>
                </li>
              ))}
            </ul>
          ) : null}
          {waitingApproval && run.can.approve ? (
            <form
              className="stack"
              onSubmit={(event) => {
                event.preventDefault();
                approve.mutate([step.id, comment], { onSuccess: () => setComment("") });
              }}
            >
              <label>
                {t("runview:comment")}
                <textarea value={comment} onChange={(event) => setComment(event.target.value)} rows={2} />
              </label>
              <div className="row">
                <button type="submit" className="primary" disabled={approve.isPending}>
                  {t("runview:approve")}
                </button>
                <button
                  type="button"
                  className="danger"
                  disabled={reject.isPending || comment.trim() === ""}
                  title={comment.trim() === "" ? t("runview:rejectNeedsComment") : undefined}
                  onClick={() => reject.mutate([step.id, comment], { onSuccess: () => setComment("") })}
                >
                  {t("runview:reject")}
                </button>
              </div>
            </form>
          ) : null}
        </section>
      ) : null}

      {waitingManual ? (
        <section className="stack" aria-label={t("runview:manual")}>
          <h3>{t("runview:manual")}</h3>
          {(step.notice ?? step.manualMessage) ? <p className="notice">{step.notice ?? step.manualMessage}</p> : null}
          {run.can.run ? (
            <div className="row">
              <button
                type="button"
                className="primary"
                disabled={runStep.isPending}
                onClick={() => runStep.mutate([step.id])}
              >
                {t("runview:runStep")}
              </button>
              {run.can.cancel ? (
                <button type="button" disabled={skipStep.isPending} onClick={() => skipStep.mutate([step.id])}>
                  {t("runview:skipStep")}
                </button>
              ) : null}
            </div>
          ) : null}
        </section>
      ) : null}

      {step.gate ? (
        <section className="stack" aria-label={t("runview:gate")}>
          <h3>{t("runview:gate")}</h3>
          <code>{step.gate.condition}</code>
          <p className="muted">
            {step.gate.lastEvaluatedAt
              ? t("runview:gateLast", {
                  value: String(step.gate.lastValue),
                  when: format.dateTime(step.gate.lastEvaluatedAt),
                })
              : t("runview:gateNotYet")}
          </p>
          {step.gate.lastError ? <p className="error-text">{step.gate.lastError}</p> : null}
        </section>
      ) : null}

      <div className="row">
        {stepActive && run.can.cancel ? (
          <button type="button" disabled={cancelStep.isPending} onClick={() => cancelStep.mutate([step.id])}>
            {t("runview:cancelStep")}
          </button>
        ) : null}
        {!runActive && run.can.retry ? (
          <button type="button" disabled={rerunFrom.isPending} onClick={() => rerunFrom.mutate([step.id])}>
            {t("runview:rerunFrom")}
          </button>
        ) : null}
      </div>
      {error ? (
        <p role="alert" className="error-text">
          <strong>{t(`errors:code.${error.code}`, { defaultValue: error.code })}</strong> {error.message}
        </p>
      ) : null}

      {Object.keys(step.outputs).length > 0 ? (
        <section aria-label={t("runview:outputs")}>
          <h3>{t("runview:outputs")}</h3>
          <dl className="step-facts">
            {Object.entries(step.outputs).map(([name, value]) => (
              <div key={name} className="contents">
                <dt>
                  <code>{name}</code>
                </dt>
                <dd>
                  <code>{value}</code>
                </dd>
              </div>
            ))}
          </dl>
        </section>
      ) : null}

      {step.kind === "run" || step.kind === "uses" ? (
        <section className="stack step-logs" aria-label={t("runview:logs")}>
          <div className="row">
            <h3>{t("runview:logs")}</h3>
            {step.attempt > 1 ? (
              <label>
                {t("runview:attemptPicker")}
                <select value={shownAttempt} onChange={(event) => setAttempt(Number(event.target.value))}>
                  {Array.from({ length: step.attempt }, (_, k) => step.attempt - k).map((value) => (
                    <option key={value} value={value}>
                      {value}
                    </option>
                  ))}
                </select>
              </label>
            ) : null}
          </div>
          {step.attempt > 0 ? (
            <LogViewer
              key={`${step.id}:${shownAttempt}`}
              runId={run.id}
              step={step.id}
              attempt={shownAttempt}
              isRunning={step.status === "running" && shownAttempt === step.attempt}
            />
          ) : (
            <p className="muted">{t("runview:notStarted")}</p>
          )}
        </section>
      ) : null}
    </div>
  );
}

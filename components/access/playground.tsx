"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { type AuthzRequestInput, type Decision, PERMISSIONS, RESOURCE_TYPES } from "@/server/authz/schema";
import { ErrorAlert } from "./error-alert";
import { askDecision, type DecisionAnswer, directoryQuery, type OrganizationDirectory } from "./queries";
import "./access.css";

interface Question {
  principalId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  projectId: string;
  environment: string;
  createdBy: string;
  labels: string;
  time: string;
  mfa: boolean;
}

/** `key=value` per line; blank lines ignored. */
function parseLabels(text: string): { labels: Record<string, string>; badLine: number | null } {
  const labels: Record<string, string> = {};
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const at = line.indexOf("=");
    if (at <= 0) return { labels, badLine: index + 1 };
    labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { labels, badLine: null };
}

function toRequest(organizationId: string, question: Question, labels: Record<string, string>): AuthzRequestInput {
  return {
    principal: { type: "user", id: question.principalId, ...(question.mfa ? { mfa: true } : {}) },
    action: question.action,
    resource: {
      type: question.resourceType,
      organizationId,
      id: question.resourceId.trim() || null,
      projectId: question.projectId || null,
      environment: question.environment.trim() || null,
      createdBy: question.createdBy || null,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
    },
    context: {
      mfa: question.mfa,
      ...(question.time ? { time: new Date(question.time).toISOString() } : {}),
    },
  };
}

/** "Can X do Y on Z?": the engine's answer with its reason, the rule that decided, and why others did not. */
export function Playground({ org, initialDirectory }: { org: string; initialDirectory: OrganizationDirectory }) {
  const { t } = useTranslation(["access", "common"]);
  const id = useId();
  const directory = useQuery({ ...directoryQuery(org), initialData: initialDirectory });
  const dir = directory.data ?? initialDirectory;
  const [question, setQuestion] = useState<Question>({
    principalId: "",
    action: "pipeline:run",
    resourceType: "pipeline",
    resourceId: "",
    projectId: "",
    environment: "",
    createdBy: "",
    labels: "",
    time: "",
    mfa: false,
  });
  const [labelsError, setLabelsError] = useState<string | null>(null);
  const [principalError, setPrincipalError] = useState(false);
  const set = (patch: Partial<Question>) => setQuestion((current) => ({ ...current, ...patch }));
  const ask = useMutation({ mutationFn: askDecision });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { labels, badLine } = parseLabels(question.labels);
    setLabelsError(badLine === null ? null : t("playground.labelsError", { line: badLine }));
    setPrincipalError(question.principalId === "");
    if (badLine !== null || question.principalId === "") return;
    ask.mutate(toRequest(dir.organization.id, question, labels));
  }

  return (
    <div className="access-columns">
      <form className="access-form card" onSubmit={onSubmit} noValidate aria-labelledby={`${id}-title`}>
        <h2 id={`${id}-title`} style={{ margin: 0, fontSize: 16 }}>
          {t("playground.question")}
        </h2>
        <div className="field">
          <label htmlFor={`${id}-principal`}>{t("playground.fields.principal")}</label>
          <select
            id={`${id}-principal`}
            value={question.principalId}
            required
            aria-invalid={principalError ? true : undefined}
            aria-describedby={principalError ? `${id}-principal-error` : undefined}
            onChange={(event) => set({ principalId: event.target.value })}
          >
            <option value="">{t("playground.fields.choosePrincipal")}</option>
            {dir.users.map((user) => (
              <option key={user.id} value={user.id}>
                {user.name} &lt;{user.email}&gt;
              </option>
            ))}
          </select>
          {principalError ? (
            <span id={`${id}-principal-error`} className="field-error">
              {t("playground.principalRequired")}
            </span>
          ) : null}
        </div>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-action`}>{t("playground.fields.action")}</label>
            <select
              id={`${id}-action`}
              value={question.action}
              onChange={(event) =>
                set({
                  action: event.target.value,
                  resourceType: event.target.value.slice(0, event.target.value.indexOf(":")),
                })
              }
            >
              {PERMISSIONS.map((permission) => (
                <option key={permission} value={permission}>
                  {permission}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-type`}>{t("playground.fields.resourceType")}</label>
            <select
              id={`${id}-type`}
              value={question.resourceType}
              onChange={(event) => set({ resourceType: event.target.value })}
            >
              {RESOURCE_TYPES.map((type) => (
                <option key={type} value={type}>
                  {type}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-project`}>{t("playground.fields.project")}</label>
            <select
              id={`${id}-project`}
              value={question.projectId}
              onChange={(event) => set({ projectId: event.target.value })}
            >
              <option value="">{t("playground.fields.noProject")}</option>
              {dir.projects.map((project) => (
                <option key={project.id} value={project.id}>
                  {project.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-environment`}>{t("playground.fields.environment")}</label>
            <input
              id={`${id}-environment`}
              value={question.environment}
              maxLength={64}
              placeholder="prod"
              onChange={(event) => set({ environment: event.target.value })}
            />
          </div>
        </div>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-resource-id`}>{t("playground.fields.resourceId")}</label>
            <input
              id={`${id}-resource-id`}
              value={question.resourceId}
              maxLength={200}
              onChange={(event) => set({ resourceId: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-created-by`}>{t("playground.fields.createdBy")}</label>
            <select
              id={`${id}-created-by`}
              value={question.createdBy}
              onChange={(event) => set({ createdBy: event.target.value })}
            >
              <option value="">{t("playground.fields.nobody")}</option>
              {dir.users.map((user) => (
                <option key={user.id} value={user.id}>
                  {user.name}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="field">
          <label htmlFor={`${id}-labels`}>{t("playground.fields.labels")}</label>
          <textarea
            id={`${id}-labels`}
            className="access-code"
            value={question.labels}
            rows={2}
            spellCheck={false}
            placeholder="tier=critical"
            aria-invalid={labelsError ? true : undefined}
            aria-describedby={`${id}-labels-help`}
            onChange={(event) => set({ labels: event.target.value })}
          />
          <span id={`${id}-labels-help`} className={labelsError ? "field-error" : "muted"}>
            {labelsError ?? t("playground.fields.labelsHelp")}
          </span>
        </div>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-time`}>{t("playground.fields.time")}</label>
            <input
              id={`${id}-time`}
              type="datetime-local"
              value={question.time}
              aria-describedby={`${id}-time-help`}
              onChange={(event) => set({ time: event.target.value })}
            />
            <span id={`${id}-time-help`} className="muted">
              {t("playground.fields.timeHelp")}
            </span>
          </div>
          <label className="access-check">
            <input type="checkbox" checked={question.mfa} onChange={(event) => set({ mfa: event.target.checked })} />
            {t("playground.fields.mfa")}
          </label>
        </div>
        <div className="row">
          <button type="submit" className="button primary" disabled={ask.isPending}>
            {ask.isPending ? t("playground.asking") : t("playground.ask")}
          </button>
        </div>
      </form>
      <div className="stack">
        {/* A short summary for screen readers; focus stays in the form for the next question. */}
        <p className="visually-hidden" aria-live="polite">
          {ask.data
            ? `${ask.data.decision.allow ? t("playground.allowed") : t("playground.denied")}: ${t(`reasons.${ask.data.decision.reasonCode}`)}`
            : ""}
        </p>
        <ErrorAlert error={ask.error} prefix={t("playground.failed")} />
        {ask.data ? <Answer answer={ask.data} /> : <p className="notice">{t("playground.hint")}</p>}
      </div>
    </div>
  );
}

function Answer({ answer }: { answer: DecisionAnswer }) {
  const { t } = useTranslation(["access", "common"]);
  const id = useId();
  const { decision } = answer;
  const evaluated = decision.explanation?.evaluated ?? [];
  const nearMisses = decision.explanation?.nearMisses ?? [];

  return (
    <>
      <section
        className={`access-verdict ${decision.allow ? "access-allow" : "access-deny"}`}
        aria-labelledby={`${id}-verdict`}
      >
        <h3 id={`${id}-verdict`}>{decision.allow ? t("playground.allowed") : t("playground.denied")}</h3>
        <p style={{ margin: "0 0 8px" }}>
          <strong>{t(`reasons.${decision.reasonCode}`)}</strong> — {decision.reason}
        </p>
        <dl className="access-details">
          <MatchedRule decision={decision} />
          {decision.scope ? (
            <>
              <dt>{t("playground.result.scope")}</dt>
              <dd>{t(`scope.levels.${decision.scope}`)}</dd>
            </>
          ) : null}
          {decision.error ? (
            <>
              <dt>{t("playground.result.error")}</dt>
              <dd className="mono">{decision.error}</dd>
            </>
          ) : null}
          <dt>{t("playground.result.revision")}</dt>
          <dd>{decision.revision}</dd>
          <dt>{t("playground.result.decisionId")}</dt>
          <dd className="mono">{answer.decisionId}</dd>
        </dl>
      </section>

      <section className="stack" aria-labelledby={`${id}-evaluated`}>
        <h3 id={`${id}-evaluated`} style={{ margin: 0, fontSize: 16 }}>
          {t("playground.explanation.evaluated")}
        </h3>
        {evaluated.length === 0 ? (
          <p className="muted">{t("playground.explanation.noneEvaluated")}</p>
        ) : (
          <div className="access-table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">{t("playground.explanation.rule")}</th>
                  <th scope="col">{t("playground.explanation.effect")}</th>
                  <th scope="col">{t("playground.explanation.scope")}</th>
                  <th scope="col">{t("playground.explanation.outcome")}</th>
                </tr>
              </thead>
              <tbody>
                {evaluated.map((rule) => (
                  <tr key={`${rule.kind}-${rule.id}`}>
                    <td>
                      {t(`playground.kinds.${rule.kind}`)} <span className="mono">{rule.name}</span>
                    </td>
                    <td>{t(`effects.${rule.effect}`)}</td>
                    <td>{t(`scope.levels.${rule.scope}`)}</td>
                    <td>{t(`playground.outcomes.${rule.outcome}`)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="stack" aria-labelledby={`${id}-near`}>
        <h3 id={`${id}-near`} style={{ margin: 0, fontSize: 16 }}>
          {t("playground.explanation.nearMisses")}
        </h3>
        {nearMisses.length === 0 ? (
          <p className="muted">{t("playground.explanation.noNearMisses")}</p>
        ) : (
          <ul className="stack" style={{ listStyle: "none", padding: 0, margin: 0 }}>
            {nearMisses.map((miss) => (
              <li key={`${miss.kind}-${miss.id}`} className="card stack" style={{ gap: 4 }}>
                <div>
                  <strong>
                    {t(`playground.kinds.${miss.kind}`)} <span className="mono">{miss.name}</span>
                  </strong>{" "}
                  <span className="muted">
                    {t(`effects.${miss.effect}`)} · {t(`scope.levels.${miss.scope}`)}
                  </span>
                </div>
                {miss.condition ? <code className="mono">{miss.condition}</code> : null}
                {miss.error ? (
                  <p className="field-error">{t("playground.explanation.error", { error: miss.error })}</p>
                ) : null}
                {miss.failing.length > 0 ? (
                  <>
                    <span className="muted">{t("playground.explanation.failing")}</span>
                    <ul style={{ margin: 0 }}>
                      {miss.failing.map((clause) => (
                        <li key={`${clause.line}:${clause.column}:${clause.expression}`}>
                          <code>{clause.expression}</code>{" "}
                          <span className="muted">
                            {t("playground.explanation.at", { line: clause.line, column: clause.column })}
                          </span>{" "}
                          — {clause.message}
                        </li>
                      ))}
                    </ul>
                  </>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

function MatchedRule({ decision }: { decision: Decision }) {
  const { t } = useTranslation(["access", "common"]);
  const evaluated = decision.explanation?.evaluated ?? [];
  if (decision.bindingId) {
    const rule = evaluated.find((entry) => entry.kind === "binding" && entry.id === decision.bindingId);
    return (
      <>
        <dt>{t("playground.result.binding")}</dt>
        <dd>
          {decision.role ? t("playground.result.roleNamed", { role: decision.role }) : (rule?.name ?? "")}{" "}
          <span className="muted mono">{decision.bindingId}</span>
        </dd>
      </>
    );
  }
  if (decision.policyId) {
    const rule = evaluated.find((entry) => entry.kind === "policy" && entry.id === decision.policyId);
    return (
      <>
        <dt>{t("playground.result.policy")}</dt>
        <dd>
          <span className="mono">{rule?.name ?? decision.policyId}</span>
        </dd>
      </>
    );
  }
  return (
    <>
      <dt>{t("playground.result.rule")}</dt>
      <dd className="muted">{t("playground.result.noRule")}</dd>
    </>
  );
}

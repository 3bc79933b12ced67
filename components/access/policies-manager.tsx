"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { isBuiltInRole, type PolicyDto, type PolicyInput, RESOURCE_TYPES, type RoleDto } from "@/server/authz/schema";
import { ConditionEditor } from "./condition-editor";
import { ConfirmButton } from "./confirm-button";
import { ErrorAlert } from "./error-alert";
import { PermissionList, PermissionPicker } from "./permission-picker";
import { PolicyTestCases, type TestCaseDraft, testCaseDraft, testCaseInput } from "./policy-test-cases";
import {
  ApiError,
  accessKeys,
  createPolicy,
  deletePolicy,
  directoryQuery,
  type OrganizationDirectory,
  type PolicyTestRun,
  policiesQuery,
  rolesQuery,
  runPolicyTests,
  updatePolicy,
} from "./queries";
import { EMPTY_SCOPE, type ScopeDraft, ScopeFields, ScopeText, scopeInput } from "./scope-fields";
import "./access.css";

type Editing = { mode: "create" } | { mode: "edit"; policy: PolicyDto } | null;

export function PoliciesManager({
  org,
  initialPolicies,
  initialRoles,
  initialDirectory,
  canManage,
}: {
  org: string;
  initialPolicies: PolicyDto[];
  initialRoles: RoleDto[];
  initialDirectory: OrganizationDirectory;
  canManage: boolean;
}) {
  const { t } = useTranslation(["access", "common"]);
  const queryClient = useQueryClient();
  const policies = useQuery({ ...policiesQuery(org), initialData: initialPolicies });
  const roles = useQuery({ ...rolesQuery(org), initialData: initialRoles });
  const directory = useQuery({ ...directoryQuery(org), initialData: initialDirectory });
  const [editing, setEditing] = useState<Editing>(null);
  const [notice, setNotice] = useState("");
  const newButtonRef = useRef<HTMLButtonElement>(null);

  const remove = useMutation({
    mutationFn: (policy: PolicyDto) => deletePolicy(org, policy.id),
    onSuccess: (_data, policy) => {
      setNotice(t("policies.deleted", { name: policy.name }));
      void queryClient.invalidateQueries({ queryKey: accessKeys.all(org) });
    },
  });
  const tests = useMutation({ mutationFn: () => runPolicyTests(org) });

  const subjectLabel = useSubjectLabel(directory.data);

  return (
    <div className="stack">
      <div className="row">
        <p className="muted" style={{ margin: 0, flex: 1 }}>
          {t("policies.intro")}
        </p>
        <button type="button" className="button" onClick={() => tests.mutate()} disabled={tests.isPending}>
          {tests.isPending ? t("policies.runningTests") : t("policies.runTests")}
        </button>
        {canManage ? (
          <button
            ref={newButtonRef}
            type="button"
            className="button primary"
            onClick={() => setEditing({ mode: "create" })}
            disabled={editing?.mode === "create"}
          >
            {t("policies.new")}
          </button>
        ) : null}
      </div>
      <p className="muted" aria-live="polite" style={{ margin: 0 }}>
        {notice}
      </p>
      <ErrorAlert error={remove.error} prefix={t("policies.deleteFailed")} />
      <ErrorAlert error={tests.error} prefix={t("policies.testsFailed")} />
      {policies.error ? <ErrorAlert error={policies.error} prefix={t("loadFailed")} /> : null}

      {tests.data ? <TestResults run={tests.data} /> : null}

      {editing ? (
        <PolicyEditor
          key={editing.mode === "edit" ? editing.policy.id : "new"}
          org={org}
          policy={editing.mode === "edit" ? editing.policy : null}
          roles={roles.data ?? []}
          directory={directory.data}
          onDone={(saved) => {
            setEditing(null);
            if (saved) setNotice(t("policies.saved", { name: saved.name }));
            newButtonRef.current?.focus();
          }}
        />
      ) : null}

      {(policies.data ?? []).length === 0 ? <p className="notice">{t("policies.empty")}</p> : null}
      {(policies.data ?? []).length > 0 ? (
        <div className="access-table-wrap">
          <table className="data">
            <caption className="visually-hidden">{t("policies.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("policies.columns.name")}</th>
                <th scope="col">{t("policies.columns.effect")}</th>
                <th scope="col">{t("policies.columns.actions")}</th>
                <th scope="col">{t("policies.columns.appliesTo")}</th>
                <th scope="col">{t("policies.columns.condition")}</th>
                <th scope="col">{t("policies.columns.tests")}</th>
                {canManage ? <th scope="col">{t("columns.actions")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {(policies.data ?? []).map((policy) => (
                <tr key={policy.id}>
                  <td className="access-cell-wrap">
                    <strong className="mono">{policy.name}</strong>
                    {policy.enabled ? null : <span className="badge"> {t("policies.disabled")}</span>}
                    {policy.description ? <div className="muted">{policy.description}</div> : null}
                  </td>
                  <td>
                    <span className={`badge ${policy.effect === "allow" ? "success" : "denied"}`}>
                      {t(`effects.${policy.effect}`)}
                    </span>{" "}
                    {policy.guardrail ? <span className="badge">{t("policies.guardrail")}</span> : null}
                  </td>
                  <td className="access-cell-wrap">
                    <PermissionList permissions={policy.actions} />
                  </td>
                  <td className="access-cell-wrap">
                    <ScopeText scope={policy.scope} />
                    {policy.resourceTypes.length > 0 ? (
                      <div className="muted">{policy.resourceTypes.join(", ")}</div>
                    ) : null}
                    <div className="muted">
                      {policy.subjects.length > 0
                        ? policy.subjects.map(subjectLabel).join(", ")
                        : t("policies.everyMember")}
                    </div>
                  </td>
                  <td className="access-cell-wrap mono">{policy.condition ?? <span className="muted">—</span>}</td>
                  <td>{policy.tests.length}</td>
                  {canManage ? (
                    <td>
                      <span className="row" style={{ gap: 4 }}>
                        <button
                          type="button"
                          className="button"
                          aria-label={t("policies.editNamed", { name: policy.name })}
                          onClick={() => setEditing({ mode: "edit", policy })}
                        >
                          {t("edit")}
                        </button>
                        <ConfirmButton
                          label={t("delete")}
                          confirmLabel={t("policies.confirmDelete", { name: policy.name })}
                          onConfirm={() => remove.mutate(policy)}
                          disabled={remove.isPending}
                        />
                      </span>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function useSubjectLabel(directory: OrganizationDirectory | undefined) {
  const { t } = useTranslation(["access", "common"]);
  return (subject: string) => {
    const [kind, id] = subject.split(":", 2) as [string, string];
    if (kind === "user") {
      const user = directory?.users.find((u) => u.id === id);
      return user ? user.name : subject;
    }
    if (kind === "team") {
      const team = directory?.teams.find((candidate) => candidate.id === id);
      return team ? t("policies.subjects.teamNamed", { name: team.name }) : subject;
    }
    if (kind === "role")
      return t("policies.subjects.roleNamed", { name: isBuiltInRole(id) ? t(`common:role.${id}`) : id });
    return subject;
  };
}

function TestResults({ run }: { run: PolicyTestRun }) {
  const { t } = useTranslation("access");
  const id = useId();
  return (
    <section className="card stack" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} style={{ fontSize: 16, margin: 0 }}>
        {t("policies.results.title")}
      </h2>
      <p role="status" className={run.failed > 0 ? "access-fail" : "access-pass"} style={{ margin: 0 }}>
        {t("policies.results.summary", { passed: run.passed, failed: run.failed })}
      </p>
      {run.results.length > 0 ? (
        <div className="access-table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">{t("policies.results.columns.result")}</th>
                <th scope="col">{t("policies.results.columns.policy")}</th>
                <th scope="col">{t("policies.results.columns.test")}</th>
                <th scope="col">{t("policies.results.columns.expected")}</th>
                <th scope="col">{t("policies.results.columns.actual")}</th>
                <th scope="col">{t("policies.results.columns.reason")}</th>
              </tr>
            </thead>
            <tbody>
              {run.results.map((result) => (
                <tr key={`${result.policyId}-${result.name}`}>
                  <td className={result.passed ? "access-pass" : "access-fail"}>
                    {result.passed ? t("policies.results.pass") : t("policies.results.fail")}
                  </td>
                  <td className="mono">{result.policyName}</td>
                  <td className="access-cell-wrap">{result.name}</td>
                  <td>{t(`effects.${result.expect}`)}</td>
                  <td>{t(`effects.${result.actual}`)}</td>
                  <td className="access-cell-wrap muted">{result.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

interface PolicyDraft {
  name: string;
  description: string;
  effect: "allow" | "deny";
  guardrail: boolean;
  enabled: boolean;
  actions: string[];
  resourceTypes: string[];
  subjects: string[];
  scope: ScopeDraft;
  condition: string;
  tests: TestCaseDraft[];
}

function draftOf(policy: PolicyDto | null): PolicyDraft {
  if (!policy) {
    return {
      name: "",
      description: "",
      effect: "deny",
      guardrail: false,
      enabled: true,
      actions: [],
      resourceTypes: [],
      subjects: [],
      scope: EMPTY_SCOPE,
      condition: "",
      tests: [],
    };
  }
  const level =
    policy.scope.level === "environment"
      ? "environment"
      : policy.scope.level === "project"
        ? "project"
        : "organization";
  return {
    name: policy.name,
    description: policy.description,
    effect: policy.effect,
    guardrail: policy.guardrail,
    enabled: policy.enabled,
    actions: policy.actions,
    resourceTypes: policy.resourceTypes,
    subjects: policy.subjects,
    scope: { level, projectId: policy.scope.projectId ?? "", environment: policy.scope.environment ?? "" },
    condition: policy.condition ?? "",
    tests: policy.tests.map(testCaseDraft),
  };
}

function toggle(list: readonly string[], value: string, on: boolean): string[] {
  const rest = list.filter((item) => item !== value);
  return on ? [...rest, value] : rest;
}

function PolicyEditor({
  org,
  policy,
  roles,
  directory,
  onDone,
}: {
  org: string;
  policy: PolicyDto | null;
  roles: RoleDto[];
  directory: OrganizationDirectory | undefined;
  onDone(saved: PolicyDto | null): void;
}) {
  const { t } = useTranslation(["access", "common"]);
  const id = useId();
  const queryClient = useQueryClient();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [draft, setDraft] = useState<PolicyDraft>(() => draftOf(policy));
  const set = (patch: Partial<PolicyDraft>) => setDraft((current) => ({ ...current, ...patch }));

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  const save = useMutation({
    mutationFn: (input: PolicyInput) => (policy ? updatePolicy(org, policy.id, input) : createPolicy(org, input)),
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: accessKeys.all(org) });
      onDone(saved);
    },
  });
  const errorFor = (name: string) => (save.error instanceof ApiError ? save.error.fieldError(name) : undefined);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    save.mutate({
      name: draft.name.trim(),
      description: draft.description.trim(),
      effect: draft.effect,
      guardrail: draft.effect === "deny" && draft.guardrail,
      enabled: draft.enabled,
      actions: draft.actions,
      resourceTypes: draft.resourceTypes,
      subjects: draft.subjects,
      scope: scopeInput(draft.scope),
      condition: draft.condition.trim() === "" ? null : draft.condition,
      tests: draft.tests.map(testCaseInput),
    });
  }

  const canBeGuardrail = draft.effect === "deny" && draft.scope.level === "organization";
  const subjectGroups: { legend: string; items: { value: string; label: string }[] }[] = [
    {
      legend: t("policies.subjects.roles"),
      items: roles.map((role) => ({
        value: `role:${role.slug}`,
        label: role.builtIn && isBuiltInRole(role.slug) ? t(`common:role.${role.slug}`) : role.name,
      })),
    },
    {
      legend: t("policies.subjects.teams"),
      items: (directory?.teams ?? []).map((team) => ({ value: `team:${team.id}`, label: team.name })),
    },
    {
      legend: t("policies.subjects.users"),
      items: (directory?.users ?? []).map((user) => ({ value: `user:${user.id}`, label: user.name })),
    },
  ];

  return (
    <section className="card stack" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} ref={headingRef} tabIndex={-1}>
        {policy ? t("policies.editTitle", { name: policy.name }) : t("policies.newTitle")}
      </h2>
      <form className="access-form" onSubmit={onSubmit} noValidate>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-name`}>{t("policies.fields.name")}</label>
            <input
              id={`${id}-name`}
              value={draft.name}
              required
              maxLength={64}
              aria-invalid={errorFor("name") ? true : undefined}
              aria-describedby={`${id}-name-help`}
              onChange={(event) => set({ name: event.target.value })}
            />
            <span id={`${id}-name-help`} className={errorFor("name") ? "field-error" : "muted"}>
              {errorFor("name") ?? t("policies.fields.nameHelp")}
            </span>
          </div>
          <fieldset className="access-fieldset">
            <legend>{t("policies.fields.effect")}</legend>
            <div className="row">
              {(["allow", "deny"] as const).map((effect) => (
                <label key={effect} className="access-check">
                  <input
                    type="radio"
                    name={`${id}-effect`}
                    value={effect}
                    checked={draft.effect === effect}
                    onChange={() => set({ effect })}
                  />
                  {t(`effects.${effect}`)}
                </label>
              ))}
            </div>
          </fieldset>
        </div>
        <div className="field">
          <label htmlFor={`${id}-description`}>{t("policies.fields.description")}</label>
          <textarea
            id={`${id}-description`}
            className="access-plain"
            value={draft.description}
            maxLength={2000}
            onChange={(event) => set({ description: event.target.value })}
          />
        </div>
        <div className="row">
          <label className="access-check">
            <input
              type="checkbox"
              checked={canBeGuardrail && draft.guardrail}
              disabled={!canBeGuardrail}
              aria-describedby={`${id}-guardrail-help`}
              onChange={(event) => set({ guardrail: event.target.checked })}
            />
            {t("policies.fields.guardrail")}
          </label>
          <span id={`${id}-guardrail-help`} className={errorFor("guardrail") ? "field-error" : "muted"}>
            {errorFor("guardrail") ?? t("policies.fields.guardrailHelp")}
          </span>
        </div>
        <label className="access-check">
          <input type="checkbox" checked={draft.enabled} onChange={(event) => set({ enabled: event.target.checked })} />
          {t("policies.fields.enabled")}
        </label>
        <PermissionPicker
          legend={t("policies.fields.actions")}
          value={draft.actions}
          onChange={(actions) => set({ actions })}
          error={errorFor("actions") ?? errorFor("actions.0")}
        />
        <fieldset className="access-fieldset">
          <legend>{t("policies.fields.resourceTypes")}</legend>
          <p className="muted" style={{ marginTop: 0 }}>
            {t("policies.fields.resourceTypesHelp")}
          </p>
          <div className="access-check-grid">
            {RESOURCE_TYPES.map((type) => (
              <label key={type} className="access-check">
                <input
                  type="checkbox"
                  checked={draft.resourceTypes.includes(type)}
                  onChange={(event) => set({ resourceTypes: toggle(draft.resourceTypes, type, event.target.checked) })}
                />
                {t(`resourceTypes.${type}`)}
              </label>
            ))}
          </div>
        </fieldset>
        <fieldset className="access-fieldset">
          <legend>{t("policies.fields.subjects")}</legend>
          <p className="muted" style={{ marginTop: 0 }}>
            {t("policies.fields.subjectsHelp")}
          </p>
          {subjectGroups.map((group) => (
            <fieldset key={group.legend} className="access-subfieldset">
              <legend className="access-group-head">{group.legend}</legend>
              <div className="access-check-grid">
                {group.items.map((item) => (
                  <label key={item.value} className="access-check">
                    <input
                      type="checkbox"
                      checked={draft.subjects.includes(item.value)}
                      onChange={(event) => set({ subjects: toggle(draft.subjects, item.value, event.target.checked) })}
                    />
                    {item.label}
                  </label>
                ))}
              </div>
            </fieldset>
          ))}
          {errorFor("subjects") ? <p className="field-error">{errorFor("subjects")}</p> : null}
        </fieldset>
        <ScopeFields
          value={draft.scope}
          onChange={(scope) => set({ scope })}
          directory={directory}
          errorFor={errorFor}
        />
        <ConditionEditor
          value={draft.condition}
          onChange={(condition) => set({ condition })}
          serverError={errorFor("condition")}
        />
        <PolicyTestCases
          value={draft.tests}
          onChange={(tests) => set({ tests })}
          directory={directory}
          errorFor={errorFor}
        />
        <ErrorAlert error={save.error} prefix={t("saveFailed")} />
        <div className="row">
          <button type="submit" className="button primary" disabled={save.isPending}>
            {save.isPending ? t("saving") : policy ? t("common:save") : t("policies.create")}
          </button>
          <button type="button" className="button" onClick={() => onDone(null)}>
            {t("common:cancel")}
          </button>
        </div>
      </form>
    </section>
  );
}

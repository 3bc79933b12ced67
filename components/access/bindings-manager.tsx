"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import { type BindingDto, isBuiltInRole, type RoleDto } from "@/server/authz/schema";
import { ConditionEditor } from "./condition-editor";
import { ConfirmButton } from "./confirm-button";
import { ErrorAlert } from "./error-alert";
import {
  ApiError,
  accessKeys,
  bindingsQuery,
  createBinding,
  deleteBinding,
  directoryQuery,
  type OrganizationDirectory,
  rolesQuery,
} from "./queries";
import { EMPTY_SCOPE, type ScopeDraft, ScopeFields, ScopeText, scopeInput } from "./scope-fields";
import "./access.css";

const SCOPE_ORDER = { organization: 0, project: 1, environment: 2, resource: 3 } as const;

function scopeKey(binding: BindingDto): string {
  const { scope } = binding;
  return [
    scope.level,
    scope.projectSlug ?? "",
    scope.environment ?? "",
    scope.resourceType ?? "",
    scope.resourceId ?? "",
  ].join("/");
}

/** Bindings grouped by scope (organization first, then each project, environment, resource). */
function groupByScope(
  bindings: readonly BindingDto[],
): { key: string; scope: BindingDto["scope"]; items: BindingDto[] }[] {
  const groups = new Map<string, { key: string; scope: BindingDto["scope"]; items: BindingDto[] }>();
  for (const binding of bindings) {
    const key = scopeKey(binding);
    const group = groups.get(key) ?? { key, scope: binding.scope, items: [] };
    group.items.push(binding);
    groups.set(key, group);
  }
  return [...groups.values()].sort(
    (a, b) => SCOPE_ORDER[a.scope.level] - SCOPE_ORDER[b.scope.level] || a.key.localeCompare(b.key),
  );
}

export function BindingsManager({
  org,
  initialBindings,
  initialRoles,
  initialDirectory,
  canManage,
}: {
  org: string;
  initialBindings: BindingDto[];
  initialRoles: RoleDto[];
  initialDirectory: OrganizationDirectory;
  canManage: boolean;
}) {
  const { t } = useTranslation(["access", "common"]);
  const format = useFormat();
  const id = useId();
  const queryClient = useQueryClient();
  const bindings = useQuery({ ...bindingsQuery(org), initialData: initialBindings });
  const roles = useQuery({ ...rolesQuery(org), initialData: initialRoles });
  const directory = useQuery({ ...directoryQuery(org), initialData: initialDirectory });
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState("");
  const addButtonRef = useRef<HTMLButtonElement>(null);

  const remove = useMutation({
    mutationFn: (binding: BindingDto) => deleteBinding(org, binding.id),
    onSuccess: (_data, binding) => {
      setNotice(t("bindings.removed", { subject: binding.subjectLabel, role: binding.roleName }));
      void queryClient.invalidateQueries({ queryKey: accessKeys.all(org) });
    },
  });

  const roleLabel = (name: string) => (isBuiltInRole(name) ? t(`common:role.${name}`) : name);
  const groups = groupByScope(bindings.data ?? []);

  return (
    <div className="stack">
      <div className="row">
        <p className="muted" style={{ margin: 0, flex: 1 }}>
          {t("bindings.intro")}
        </p>
        {canManage ? (
          <button
            ref={addButtonRef}
            type="button"
            className="button primary"
            onClick={() => setAdding(true)}
            disabled={adding}
          >
            {t("bindings.new")}
          </button>
        ) : null}
      </div>
      <p className="muted" aria-live="polite" style={{ margin: 0 }}>
        {notice}
      </p>
      <ErrorAlert error={remove.error} prefix={t("bindings.removeFailed")} />
      {bindings.error ? <ErrorAlert error={bindings.error} prefix={t("loadFailed")} /> : null}

      {adding ? (
        <BindingForm
          org={org}
          roles={roles.data ?? []}
          directory={directory.data}
          onDone={(created) => {
            setAdding(false);
            if (created) setNotice(t("bindings.created", { subject: created.subjectLabel, role: created.roleName }));
            addButtonRef.current?.focus();
          }}
        />
      ) : null}

      {groups.length === 0 ? <p className="notice">{t("bindings.empty")}</p> : null}
      {groups.map((group, index) => (
        <section key={group.key} className="stack" aria-labelledby={`${id}-scope-${index}`}>
          <h2 id={`${id}-scope-${index}`} style={{ fontSize: 16, margin: 0 }}>
            <ScopeText scope={group.scope} />
          </h2>
          <div className="access-table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">{t("bindings.columns.subject")}</th>
                  <th scope="col">{t("bindings.columns.role")}</th>
                  <th scope="col">{t("bindings.columns.condition")}</th>
                  <th scope="col">{t("bindings.columns.created")}</th>
                  {canManage ? <th scope="col">{t("columns.actions")}</th> : null}
                </tr>
              </thead>
              <tbody>
                {group.items.map((binding) => (
                  <tr key={binding.id}>
                    <td className="access-cell-wrap">
                      {binding.subjectLabel}{" "}
                      <span className="badge">{t(`bindings.subjectTypes.${binding.subjectType}`)}</span>
                    </td>
                    <td>{roleLabel(binding.roleName)}</td>
                    <td className="access-cell-wrap mono">{binding.condition ?? <span className="muted">—</span>}</td>
                    <td>{format.date(binding.createdAt)}</td>
                    {canManage ? (
                      <td>
                        <ConfirmButton
                          label={t("bindings.remove")}
                          confirmLabel={t("bindings.confirmRemove", {
                            subject: binding.subjectLabel,
                            role: binding.roleName,
                          })}
                          onConfirm={() => remove.mutate(binding)}
                          disabled={remove.isPending}
                        />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </div>
  );
}

function BindingForm({
  org,
  roles,
  directory,
  onDone,
}: {
  org: string;
  roles: RoleDto[];
  directory: OrganizationDirectory | undefined;
  onDone(created: BindingDto | null): void;
}) {
  const { t } = useTranslation(["access", "common"]);
  const id = useId();
  const queryClient = useQueryClient();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [subjectType, setSubjectType] = useState<"user" | "team">("user");
  const [subjectId, setSubjectId] = useState("");
  const [role, setRole] = useState("developer");
  const [scope, setScope] = useState<ScopeDraft>(EMPTY_SCOPE);
  const [condition, setCondition] = useState("");

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  const save = useMutation({
    mutationFn: () =>
      createBinding(org, {
        subjectType,
        subjectId,
        role,
        scope: scopeInput(scope),
        condition: condition.trim() === "" ? null : condition,
      }),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: accessKeys.all(org) });
      onDone(created);
    },
  });
  const errorFor = (name: string) => (save.error instanceof ApiError ? save.error.fieldError(name) : undefined);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    save.mutate();
  }

  const subjects =
    subjectType === "user"
      ? (directory?.users ?? []).map((user) => ({ id: user.id, label: `${user.name} <${user.email}>` }))
      : (directory?.teams ?? []).map((team) => ({ id: team.id, label: team.name }));

  return (
    <section className="card stack" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} ref={headingRef} tabIndex={-1}>
        {t("bindings.newTitle")}
      </h2>
      <form className="access-form" onSubmit={onSubmit} noValidate>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-subject-type`}>{t("bindings.fields.subjectType")}</label>
            <select
              id={`${id}-subject-type`}
              value={subjectType}
              onChange={(event) => {
                setSubjectType(event.target.value as "user" | "team");
                setSubjectId("");
              }}
            >
              <option value="user">{t("bindings.subjectTypes.user")}</option>
              <option value="team">{t("bindings.subjectTypes.team")}</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-subject`}>{t("bindings.fields.subject")}</label>
            <select
              id={`${id}-subject`}
              value={subjectId}
              required
              aria-invalid={errorFor("subjectId") ? true : undefined}
              onChange={(event) => setSubjectId(event.target.value)}
            >
              <option value="">{t("bindings.fields.chooseSubject")}</option>
              {subjects.map((subject) => (
                <option key={subject.id} value={subject.id}>
                  {subject.label}
                </option>
              ))}
            </select>
            {errorFor("subjectId") ? <span className="field-error">{errorFor("subjectId")}</span> : null}
          </div>
          <div className="field">
            <label htmlFor={`${id}-role`}>{t("bindings.fields.role")}</label>
            <select
              id={`${id}-role`}
              value={role}
              aria-invalid={errorFor("role") ? true : undefined}
              onChange={(event) => setRole(event.target.value)}
            >
              <optgroup label={t("roles.builtIn")}>
                {roles
                  .filter((r) => r.builtIn)
                  .map((r) => (
                    <option key={r.id} value={r.id}>
                      {isBuiltInRole(r.slug) ? t(`common:role.${r.slug}`) : r.name}
                    </option>
                  ))}
              </optgroup>
              {roles.some((r) => !r.builtIn) ? (
                <optgroup label={t("roles.custom")}>
                  {roles
                    .filter((r) => !r.builtIn)
                    .map((r) => (
                      <option key={r.id} value={r.id}>
                        {r.name} ({r.slug})
                      </option>
                    ))}
                </optgroup>
              ) : null}
            </select>
            {errorFor("role") ? <span className="field-error">{errorFor("role")}</span> : null}
          </div>
        </div>
        <ScopeFields value={scope} onChange={setScope} directory={directory} errorFor={errorFor} />
        <ConditionEditor value={condition} onChange={setCondition} serverError={errorFor("condition")} />
        <ErrorAlert error={save.error} prefix={t("saveFailed")} />
        <div className="row">
          <button type="submit" className="button primary" disabled={save.isPending}>
            {save.isPending ? t("saving") : t("bindings.create")}
          </button>
          <button type="button" className="button" onClick={() => onDone(null)}>
            {t("common:cancel")}
          </button>
        </div>
      </form>
    </section>
  );
}

"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { type CustomRoleInput, isBuiltInRole, type RoleDto } from "@/server/authz/schema";
import { ConfirmButton } from "./confirm-button";
import { ErrorAlert } from "./error-alert";
import { PermissionList, PermissionPicker } from "./permission-picker";
import { ApiError, accessKeys, createRole, deleteRole, rolesQuery, updateRole } from "./queries";
import "./access.css";

type Editing = { mode: "create" } | { mode: "edit"; role: RoleDto } | null;

/** Built-in roles (read-only, with their permissions) and the organization's custom roles. */
export function RolesManager({
  org,
  initialRoles,
  canManage,
}: {
  org: string;
  initialRoles: RoleDto[];
  canManage: boolean;
}) {
  const { t } = useTranslation(["access", "common"]);
  const queryClient = useQueryClient();
  const roles = useQuery({ ...rolesQuery(org), initialData: initialRoles });
  const [editing, setEditing] = useState<Editing>(null);
  const [notice, setNotice] = useState("");
  const newButtonRef = useRef<HTMLButtonElement>(null);

  const remove = useMutation({
    mutationFn: (role: RoleDto) => deleteRole(org, role.id),
    onSuccess: (_data, role) => {
      setNotice(t("roles.deleted", { name: role.slug }));
      void queryClient.invalidateQueries({ queryKey: accessKeys.all(org) });
    },
  });

  const list = roles.data ?? [];
  const roleLabel = (role: RoleDto) =>
    role.builtIn && isBuiltInRole(role.slug) ? t(`common:role.${role.slug}`) : role.name;

  return (
    <div className="stack">
      <div className="row">
        <p className="muted" style={{ margin: 0, flex: 1 }}>
          {t("roles.intro")}
        </p>
        {canManage ? (
          <button
            ref={newButtonRef}
            type="button"
            className="button primary"
            onClick={() => setEditing({ mode: "create" })}
            disabled={editing?.mode === "create"}
          >
            {t("roles.new")}
          </button>
        ) : null}
      </div>
      <p className="muted" aria-live="polite" style={{ margin: 0 }}>
        {notice}
      </p>
      <ErrorAlert error={remove.error} prefix={t("roles.deleteFailed")} />
      {roles.error ? <ErrorAlert error={roles.error} prefix={t("loadFailed")} /> : null}

      {editing ? (
        <RoleEditor
          key={editing.mode === "edit" ? editing.role.id : "new"}
          org={org}
          role={editing.mode === "edit" ? editing.role : null}
          onDone={(saved) => {
            setEditing(null);
            if (saved) setNotice(t("roles.saved", { name: saved.slug }));
            newButtonRef.current?.focus();
          }}
        />
      ) : null}

      <div className="access-table-wrap">
        <table className="data">
          <caption className="visually-hidden">{t("roles.title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("roles.columns.role")}</th>
              <th scope="col">{t("roles.columns.kind")}</th>
              <th scope="col">{t("roles.columns.permissions")}</th>
              <th scope="col">{t("roles.columns.bindings")}</th>
              {canManage ? <th scope="col">{t("columns.actions")}</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.map((role) => (
              <tr key={role.id}>
                <td className="access-cell-wrap">
                  <strong>{roleLabel(role)}</strong>
                  <div className="muted mono">{role.slug}</div>
                  {role.builtIn && isBuiltInRole(role.slug) ? (
                    <div className="muted">{t(`roles.builtInDescription.${role.slug}`)}</div>
                  ) : role.description ? (
                    <div className="muted">{role.description}</div>
                  ) : null}
                </td>
                <td>{role.builtIn ? t("roles.builtIn") : t("roles.custom")}</td>
                <td className="access-cell-wrap">
                  <PermissionList permissions={role.permissions} />
                </td>
                <td>{role.bindingCount}</td>
                {canManage ? (
                  <td>
                    {role.builtIn ? (
                      <span className="muted">{t("roles.readOnly")}</span>
                    ) : (
                      <span className="row" style={{ gap: 4 }}>
                        <button
                          type="button"
                          className="button"
                          aria-label={t("roles.editNamed", { name: role.slug })}
                          onClick={() => setEditing({ mode: "edit", role })}
                        >
                          {t("edit")}
                        </button>
                        <ConfirmButton
                          label={t("delete")}
                          confirmLabel={t("roles.confirmDelete", { name: role.slug })}
                          onConfirm={() => remove.mutate(role)}
                          disabled={remove.isPending}
                        />
                      </span>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function RoleEditor({ org, role, onDone }: { org: string; role: RoleDto | null; onDone(saved: RoleDto | null): void }) {
  const { t } = useTranslation(["access", "common"]);
  const id = useId();
  const queryClient = useQueryClient();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [draft, setDraft] = useState<CustomRoleInput>({
    slug: role?.slug ?? "",
    name: role?.name ?? "",
    description: role?.description ?? "",
    permissions: role?.permissions ?? [],
  });

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  const save = useMutation({
    mutationFn: (input: CustomRoleInput) => (role ? updateRole(org, role.id, input) : createRole(org, input)),
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: accessKeys.all(org) });
      onDone(saved);
    },
  });
  const fieldError = (name: string) => (save.error instanceof ApiError ? save.error.fieldError(name) : undefined);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    save.mutate(draft);
  }

  return (
    <section className="card stack" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} ref={headingRef} tabIndex={-1}>
        {role ? t("roles.editTitle", { name: role.slug }) : t("roles.newTitle")}
      </h2>
      <form className="access-form" onSubmit={onSubmit} noValidate>
        <div className="access-form-row">
          <div className="field">
            <label htmlFor={`${id}-slug`}>{t("roles.fields.slug")}</label>
            <input
              id={`${id}-slug`}
              value={draft.slug}
              required
              maxLength={64}
              aria-invalid={fieldError("slug") ? true : undefined}
              aria-describedby={`${id}-slug-help`}
              onChange={(event) => setDraft({ ...draft, slug: event.target.value })}
            />
            <span id={`${id}-slug-help`} className={fieldError("slug") ? "field-error" : "muted"}>
              {fieldError("slug") ?? t("roles.fields.slugHelp")}
            </span>
          </div>
          <div className="field">
            <label htmlFor={`${id}-name`}>{t("roles.fields.name")}</label>
            <input
              id={`${id}-name`}
              value={draft.name}
              required
              maxLength={120}
              aria-invalid={fieldError("name") ? true : undefined}
              onChange={(event) => setDraft({ ...draft, name: event.target.value })}
            />
            {fieldError("name") ? <span className="field-error">{fieldError("name")}</span> : null}
          </div>
        </div>
        <div className="field">
          <label htmlFor={`${id}-description`}>{t("roles.fields.description")}</label>
          <textarea
            id={`${id}-description`}
            className="access-plain"
            value={draft.description}
            maxLength={2000}
            onChange={(event) => setDraft({ ...draft, description: event.target.value })}
          />
        </div>
        <PermissionPicker
          legend={t("roles.fields.permissions")}
          value={draft.permissions}
          onChange={(permissions) => setDraft({ ...draft, permissions })}
          error={fieldError("permissions") ?? fieldError("permissions.0")}
        />
        <ErrorAlert error={save.error} prefix={t("saveFailed")} />
        <div className="row">
          <button type="submit" className="button primary" disabled={save.isPending}>
            {save.isPending ? t("saving") : role ? t("common:save") : t("roles.create")}
          </button>
          <button type="button" className="button" onClick={() => onDone(null)}>
            {t("common:cancel")}
          </button>
        </div>
      </form>
    </section>
  );
}

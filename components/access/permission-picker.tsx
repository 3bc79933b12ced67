"use client";
import { useId } from "react";
import { useTranslation } from "react-i18next";
import { PERMISSION_CATALOG, RESOURCE_TYPES } from "@/server/authz/schema";

function toggle(list: readonly string[], value: string, on: boolean): string[] {
  const rest = list.filter((item) => item !== value);
  return on ? [...rest, value] : rest;
}

/**
 * Permissions from the catalog, grouped by resource type, with the `type:*` and `*` wildcards.
 * A wildcard covers its group, so the group's boxes show as checked and cannot be unticked alone.
 */
export function PermissionPicker({
  legend,
  value,
  onChange,
  error,
}: {
  legend: string;
  value: readonly string[];
  onChange(value: string[]): void;
  error?: string;
}) {
  const { t } = useTranslation("access");
  const id = useId();
  const everything = value.includes("*");
  return (
    <fieldset className="access-fieldset" aria-describedby={error ? `${id}-error` : undefined}>
      <legend>{legend}</legend>
      <label className="access-check">
        <input
          type="checkbox"
          checked={everything}
          onChange={(event) => onChange(toggle(value, "*", event.target.checked))}
        />
        <code>*</code> {t("permissions.everything")}
      </label>
      {RESOURCE_TYPES.map((type) => {
        const wildcard = `${type}:*`;
        const hasWildcard = everything || value.includes(wildcard);
        return (
          <fieldset key={type} className="access-subfieldset">
            <legend className="access-group-head">{t(`resourceTypes.${type}`)}</legend>
            <div className="access-check-grid">
              <label className="access-check">
                <input
                  type="checkbox"
                  checked={hasWildcard}
                  disabled={everything}
                  onChange={(event) => onChange(toggle(value, wildcard, event.target.checked))}
                />
                <code>{wildcard}</code>
              </label>
              {PERMISSION_CATALOG[type].map((verb) => {
                const permission = `${type}:${verb}`;
                return (
                  <label key={permission} className="access-check">
                    <input
                      type="checkbox"
                      checked={hasWildcard || value.includes(permission)}
                      disabled={hasWildcard}
                      onChange={(event) => onChange(toggle(value, permission, event.target.checked))}
                    />
                    <code>{permission}</code>
                  </label>
                );
              })}
            </div>
          </fieldset>
        );
      })}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/** Permissions as a compact list of code chips. */
export function PermissionList({ permissions }: { permissions: readonly string[] }) {
  return (
    <span className="access-permissions">
      {permissions.map((permission) => (
        <code key={permission}>{permission}</code>
      ))}
    </span>
  );
}

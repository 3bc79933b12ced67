"use client";
import { useId } from "react";
import { useTranslation } from "react-i18next";
import type { OrganizationDirectory } from "./queries";

export type ScopeChoice = "organization" | "project" | "environment";

export interface ScopeDraft {
  level: ScopeChoice;
  projectId: string;
  environment: string;
}

export const EMPTY_SCOPE: ScopeDraft = { level: "organization", projectId: "", environment: "" };

/** The scope as the API takes it. */
export function scopeInput(draft: ScopeDraft) {
  return {
    projectId: draft.level === "organization" ? null : draft.projectId || null,
    environment: draft.level === "environment" ? draft.environment.trim() || null : null,
    resourceType: null,
    resourceId: null,
  };
}

/** Organization, one project, or one environment of a project. */
export function ScopeFields({
  value,
  onChange,
  directory,
  errorFor,
  disabledLevels = [],
}: {
  value: ScopeDraft;
  onChange(value: ScopeDraft): void;
  directory: OrganizationDirectory | undefined;
  errorFor(name: string): string | undefined;
  disabledLevels?: ScopeChoice[];
}) {
  const { t } = useTranslation("access");
  const id = useId();
  const projectError = errorFor("scope.projectId");
  const environmentError = errorFor("scope.environment");
  return (
    <fieldset className="access-fieldset">
      <legend>{t("scope.legend")}</legend>
      <div className="access-form-row">
        <div className="field">
          <label htmlFor={`${id}-level`}>{t("scope.level")}</label>
          <select
            id={`${id}-level`}
            value={value.level}
            onChange={(event) => onChange({ ...value, level: event.target.value as ScopeChoice })}
          >
            {(["organization", "project", "environment"] as const).map((level) => (
              <option key={level} value={level} disabled={disabledLevels.includes(level)}>
                {t(`scope.levels.${level}`)}
              </option>
            ))}
          </select>
        </div>
        {value.level !== "organization" ? (
          <div className="field">
            <label htmlFor={`${id}-project`}>{t("scope.project")}</label>
            <select
              id={`${id}-project`}
              value={value.projectId}
              required
              aria-invalid={projectError ? true : undefined}
              onChange={(event) => onChange({ ...value, projectId: event.target.value })}
            >
              <option value="">{t("scope.chooseProject")}</option>
              {directory?.projects.map((project) => (
                <option key={project.id} value={project.id}>
                  {project.name} ({project.slug})
                </option>
              ))}
            </select>
            {projectError ? <span className="field-error">{projectError}</span> : null}
          </div>
        ) : null}
        {value.level === "environment" ? (
          <div className="field">
            <label htmlFor={`${id}-environment`}>{t("scope.environment")}</label>
            <input
              id={`${id}-environment`}
              value={value.environment}
              required
              maxLength={64}
              placeholder="prod"
              aria-invalid={environmentError ? true : undefined}
              onChange={(event) => onChange({ ...value, environment: event.target.value })}
            />
            {environmentError ? <span className="field-error">{environmentError}</span> : null}
          </div>
        ) : null}
      </div>
    </fieldset>
  );
}

/** A rule's scope in words: "Organization", "Project storefront", "storefront / prod". */
export function ScopeText({
  scope,
}: {
  scope: {
    level: string;
    projectSlug: string | null;
    environment: string | null;
    resourceType: string | null;
    resourceId: string | null;
  };
}) {
  const { t } = useTranslation("access");
  switch (scope.level) {
    case "project":
      return <>{t("scope.describe.project", { project: scope.projectSlug ?? "?" })}</>;
    case "environment":
      return (
        <>{t("scope.describe.environment", { project: scope.projectSlug ?? "?", environment: scope.environment })}</>
      );
    case "resource":
      return <>{t("scope.describe.resource", { resource: `${scope.resourceType}:${scope.resourceId}` })}</>;
    default:
      return <>{t("scope.describe.organization")}</>;
  }
}

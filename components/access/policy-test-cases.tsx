"use client";
import { useId } from "react";
import { useTranslation } from "react-i18next";
import { PERMISSIONS, type PolicyTestCase, RESOURCE_TYPES } from "@/server/authz/schema";
import type { OrganizationDirectory } from "./queries";

/** One test case as the form edits it; `original` keeps what the form has no field for. */
export interface TestCaseDraft {
  key: string;
  name: string;
  principalId: string;
  mfa: boolean;
  action: string;
  resourceType: string;
  projectId: string;
  environment: string;
  createdBy: string;
  expect: "allow" | "deny";
  original?: PolicyTestCase;
}

let nextKey = 0;
const newKey = () => `test-${++nextKey}`;

export function emptyTestCase(action = "pipeline:run"): TestCaseDraft {
  return {
    key: newKey(),
    name: "",
    principalId: "",
    mfa: false,
    action,
    resourceType: action.slice(0, action.indexOf(":")),
    projectId: "",
    environment: "",
    createdBy: "",
    expect: "allow",
  };
}

export function testCaseDraft(test: PolicyTestCase): TestCaseDraft {
  const { principal, action, resource, context } = test.input;
  return {
    key: newKey(),
    name: test.name,
    principalId: principal.id,
    mfa: principal.mfa ?? context?.mfa ?? false,
    action,
    resourceType: resource.type,
    projectId: resource.projectId ?? "",
    environment: resource.environment ?? "",
    createdBy: resource.createdBy ?? "",
    expect: test.expect,
    original: test,
  };
}

export function testCaseInput(draft: TestCaseDraft): PolicyTestCase {
  const original = draft.original?.input;
  return {
    name: draft.name.trim(),
    input: {
      principal: { id: draft.principalId, type: "user", ...(draft.mfa ? { mfa: true } : {}) },
      action: draft.action,
      resource: {
        ...original?.resource,
        type: draft.resourceType,
        projectId: draft.projectId || null,
        environment: draft.environment.trim() || null,
        createdBy: draft.createdBy || null,
      },
      ...(original?.context || draft.mfa ? { context: { ...original?.context, mfa: draft.mfa } } : {}),
    },
    expect: draft.expect,
  };
}

/** The policy's test cases: a principal, an action on a resource, and the expected decision. */
export function PolicyTestCases({
  value,
  onChange,
  directory,
  errorFor,
}: {
  value: TestCaseDraft[];
  onChange(value: TestCaseDraft[]): void;
  directory: OrganizationDirectory | undefined;
  errorFor(name: string): string | undefined;
}) {
  const { t } = useTranslation("access");
  const id = useId();
  const update = (index: number, patch: Partial<TestCaseDraft>) =>
    onChange(value.map((test, i) => (i === index ? { ...test, ...patch } : test)));

  return (
    <fieldset className="access-fieldset stack">
      <legend>{t("policies.tests.legend")}</legend>
      {value.length === 0 ? <p className="muted">{t("policies.tests.none")}</p> : null}
      {value.map((test, index) => {
        const base = `${id}-${test.key}`;
        const error = (field: string) => errorFor(`tests.${index}.${field}`);
        return (
          <fieldset key={test.key} className="access-test-case">
            <legend className="visually-hidden">{t("policies.tests.caseLabel", { n: index + 1 })}</legend>
            <div className="access-form-row">
              <div className="field" style={{ flex: 3 }}>
                <label htmlFor={`${base}-name`}>{t("policies.tests.name")}</label>
                <input
                  id={`${base}-name`}
                  value={test.name}
                  maxLength={200}
                  aria-invalid={error("name") ? true : undefined}
                  onChange={(event) => update(index, { name: event.target.value })}
                />
                {error("name") ? <span className="field-error">{error("name")}</span> : null}
              </div>
              <div className="field">
                <label htmlFor={`${base}-expect`}>{t("policies.tests.expect")}</label>
                <select
                  id={`${base}-expect`}
                  value={test.expect}
                  onChange={(event) => update(index, { expect: event.target.value as "allow" | "deny" })}
                >
                  <option value="allow">{t("effects.allow")}</option>
                  <option value="deny">{t("effects.deny")}</option>
                </select>
              </div>
            </div>
            <div className="access-form-row">
              <div className="field">
                <label htmlFor={`${base}-principal`}>{t("playground.fields.principal")}</label>
                <select
                  id={`${base}-principal`}
                  value={test.principalId}
                  aria-invalid={error("input.principal.id") ? true : undefined}
                  onChange={(event) => update(index, { principalId: event.target.value })}
                >
                  <option value="">{t("playground.fields.choosePrincipal")}</option>
                  {directory?.users.map((user) => (
                    <option key={user.id} value={user.id}>
                      {user.name}
                    </option>
                  ))}
                </select>
                {error("input.principal.id") ? (
                  <span className="field-error">{error("input.principal.id")}</span>
                ) : null}
              </div>
              <div className="field">
                <label htmlFor={`${base}-action`}>{t("playground.fields.action")}</label>
                <select
                  id={`${base}-action`}
                  value={test.action}
                  onChange={(event) =>
                    update(index, {
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
                <label htmlFor={`${base}-type`}>{t("playground.fields.resourceType")}</label>
                <select
                  id={`${base}-type`}
                  value={test.resourceType}
                  onChange={(event) => update(index, { resourceType: event.target.value })}
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
                <label htmlFor={`${base}-project`}>{t("playground.fields.project")}</label>
                <select
                  id={`${base}-project`}
                  value={test.projectId}
                  onChange={(event) => update(index, { projectId: event.target.value })}
                >
                  <option value="">{t("playground.fields.noProject")}</option>
                  {directory?.projects.map((project) => (
                    <option key={project.id} value={project.id}>
                      {project.name}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <label htmlFor={`${base}-environment`}>{t("playground.fields.environment")}</label>
                <input
                  id={`${base}-environment`}
                  value={test.environment}
                  maxLength={64}
                  onChange={(event) => update(index, { environment: event.target.value })}
                />
              </div>
              <div className="field">
                <label htmlFor={`${base}-created-by`}>{t("playground.fields.createdBy")}</label>
                <select
                  id={`${base}-created-by`}
                  value={test.createdBy}
                  onChange={(event) => update(index, { createdBy: event.target.value })}
                >
                  <option value="">{t("playground.fields.nobody")}</option>
                  {directory?.users.map((user) => (
                    <option key={user.id} value={user.id}>
                      {user.name}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <div className="row">
              <label className="access-check">
                <input
                  type="checkbox"
                  checked={test.mfa}
                  onChange={(event) => update(index, { mfa: event.target.checked })}
                />
                {t("playground.fields.mfa")}
              </label>
              <span style={{ flex: 1 }} />
              <button
                type="button"
                className="button"
                onClick={() => onChange(value.filter((_, i) => i !== index))}
                aria-label={t("policies.tests.removeNamed", { n: index + 1 })}
              >
                {t("policies.tests.remove")}
              </button>
            </div>
          </fieldset>
        );
      })}
      <div>
        <button
          type="button"
          className="button"
          onClick={() => onChange([...value, emptyTestCase(value[value.length - 1]?.action)])}
        >
          {t("policies.tests.add")}
        </button>
      </div>
    </fieldset>
  );
}

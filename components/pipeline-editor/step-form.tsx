"use client";
import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { z } from "zod";
import type { Diagnostic } from "@/pipelines/spec/diagnostics";
import type { PipelineEdit } from "@/pipelines/spec/edit";
import { stepKinds } from "@/pipelines/spec/schema";
import type { DocStep } from "./model";

// The property panel of the selected step, generated from what the step is: common fields, the
// fields of its kind (a run script, the typed inputs of a `uses` kind from its schema, approval
// and gate settings), the matrix. Each change is one lossless edit of the YAML; each field shows
// the diagnostics the parser reports for it, where it is.

type Path = readonly (string | number)[];

interface StepFormProps {
  step: DocStep;
  allIds: readonly string[];
  stages: readonly { id: string; name: string }[];
  problems: readonly Diagnostic[];
  onEdit(edit: PipelineEdit): void;
  /** Where keyboard focus goes back to (Escape). */
  onClose(): void;
}

function get(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[part];
  }
  return value;
}

function problemsAt(problems: readonly Diagnostic[], field: Path): Diagnostic[] {
  return problems.filter((problem) => {
    const rest = problem.path.slice(2);
    return field.every((part, i) => rest[i] === part);
  });
}

function FieldShell({
  label,
  help,
  problems,
  children,
  id,
}: {
  label: string;
  help?: string;
  problems: readonly Diagnostic[];
  children: ReactNode;
  id: string;
}) {
  return (
    <div className={`field${problems.length > 0 ? " has-error" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {help ? (
        <p className="muted field-help" id={`${id}-help`}>
          {help}
        </p>
      ) : null}
      {problems.map((problem) => (
        <p key={`${problem.code}-${problem.column}-${problem.message}`} className="error-text" id={`${id}-error`}>
          {problem.message}
        </p>
      ))}
    </div>
  );
}

/** A text field that commits on blur or Enter (or Ctrl+Enter in a multi-line one). */
function TextField(props: {
  label: string;
  value: string;
  onCommit(value: string): void;
  problems: readonly Diagnostic[];
  multiline?: boolean;
  mono?: boolean;
  help?: string;
  placeholder?: string;
}) {
  const id = useId();
  const [draft, setDraft] = useState(props.value);
  const focused = useRef(false);
  useEffect(() => {
    if (!focused.current) setDraft(props.value);
  }, [props.value]);
  const commit = () => {
    if (draft !== props.value) props.onCommit(draft);
  };
  const common = {
    id,
    value: draft,
    placeholder: props.placeholder,
    className: props.mono ? "mono" : undefined,
    "aria-invalid": props.problems.length > 0 || undefined,
    "aria-describedby":
      [props.help ? `${id}-help` : "", props.problems.length > 0 ? `${id}-error` : ""].join(" ").trim() || undefined,
    onFocus: () => {
      focused.current = true;
    },
    onBlur: () => {
      focused.current = false;
      commit();
    },
  };
  return (
    <FieldShell label={props.label} help={props.help} problems={props.problems} id={id}>
      {props.multiline ? (
        <textarea
          {...common}
          rows={Math.min(16, Math.max(3, draft.split("\n").length + 1))}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) commit();
          }}
        />
      ) : (
        <input
          {...common}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter") commit();
          }}
        />
      )}
    </FieldShell>
  );
}

const list = (value: unknown): string[] =>
  typeof value === "string" ? [value] : Array.isArray(value) ? value.map((item) => String(item)) : [];
const csv = (values: readonly string[]) => values.join(", ");
const fromCsv = (text: string) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

interface InputField {
  name: string;
  type: "string" | "number" | "integer" | "boolean" | "enum" | "list" | "json";
  options?: string[];
  required: boolean;
  description?: string;
}

/** The `with` fields of a `uses` kind, from its zod input schema. */
function inputFields(kind: string): InputField[] {
  const schema = stepKinds.get(kind)?.inputs;
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<
      string,
      { type?: string; enum?: string[]; items?: { type?: string }; description?: string; anyOf?: unknown[] }
    >;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    type: property.enum
      ? "enum"
      : property.type === "boolean"
        ? "boolean"
        : property.type === "integer"
          ? "integer"
          : property.type === "number"
            ? "number"
            : property.type === "array" && property.items?.type === "string"
              ? "list"
              : property.type === "string"
                ? "string"
                : "json",
    options: property.enum,
    required: json.required?.includes(name) ?? false,
    description: property.description,
  }));
}

export function StepForm({ step, allIds, stages, problems, onEdit, onClose }: StepFormProps) {
  const { t } = useTranslation("pipelines");
  const raw = step.raw;
  const set = (field: Path, value: unknown) => onEdit({ op: "setStepField", id: step.id, field: [...field], value });
  const text = (field: Path) => {
    const value = get(raw, field);
    return value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
  };
  const optional = (value: string) => (value.trim() === "" ? undefined : value);
  const needsId = useId();
  const others = allIds.filter((id) => id !== step.id);
  const needs = new Set(step.needs);

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: Escape returns to the canvas from anywhere in the form
    <div
      className="step-form stack"
      onKeyDown={(event) => {
        if (event.key === "Escape") onClose();
      }}
    >
      <TextField
        label={t("form.id")}
        value={step.id}
        problems={problemsAt(problems, ["id"])}
        help={t("form.idHelp")}
        onCommit={(value) => value.trim() && onEdit({ op: "renameStep", from: step.id, to: value.trim() })}
      />
      <TextField
        label={t("form.name")}
        value={text(["name"])}
        problems={problemsAt(problems, ["name"])}
        onCommit={(v) => set(["name"], optional(v))}
      />
      {stages.length > 0 ? (
        <div className="field">
          <label htmlFor={`${needsId}-stage`}>{t("form.stage")}</label>
          <select
            id={`${needsId}-stage`}
            value={step.stage ?? ""}
            onChange={(event) => onEdit({ op: "moveStepToStage", id: step.id, stage: event.target.value || null })}
          >
            <option value="">{t("form.noStage")}</option>
            {stages.map((stage) => (
              <option key={stage.id} value={stage.id}>
                {stage.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {!step.handler ? (
        <fieldset className="field needs-field">
          <legend>{t("form.needs")}</legend>
          {others.length === 0 ? <p className="muted">{t("form.noOtherSteps")}</p> : null}
          <div className="needs-list">
            {others.map((id) => (
              <label key={id} className="checkbox">
                <input
                  type="checkbox"
                  checked={needs.has(id)}
                  onChange={(event) => {
                    const next = event.target.checked ? [...step.needs, id] : step.needs.filter((need) => need !== id);
                    onEdit({ op: "setNeeds", id: step.id, needs: next });
                  }}
                />
                {id}
              </label>
            ))}
          </div>
          {problemsAt(problems, ["needs"]).map((problem) => (
            <p key={problem.message} className="error-text">
              {problem.message}
            </p>
          ))}
        </fieldset>
      ) : null}
      <TextField
        label={t("form.if")}
        value={text(["if"])}
        mono
        help={t("form.ifHelp")}
        problems={problemsAt(problems, ["if"])}
        onCommit={(v) => set(["if"], optional(v))}
      />

      {step.kind === "run" ? (
        <>
          <TextField
            label={t("form.run")}
            value={text(["run"])}
            multiline
            mono
            problems={problemsAt(problems, ["run"])}
            onCommit={(v) => set(["run"], v)}
          />
          <div className="field">
            <label htmlFor={`${needsId}-shell`}>{t("form.shell")}</label>
            <select
              id={`${needsId}-shell`}
              value={text(["shell"])}
              onChange={(event) => set(["shell"], event.target.value || undefined)}
            >
              <option value="">bash</option>
              <option value="sh">sh</option>
              <option value="python">python</option>
              <option value="pwsh">pwsh</option>
            </select>
          </div>
          <TextField
            label={t("form.image")}
            value={text(["image"])}
            problems={problemsAt(problems, ["image"])}
            onCommit={(v) => set(["image"], optional(v))}
          />
          <TextField
            label={t("form.outputs")}
            value={csv(list(get(raw, ["outputs"])))}
            help={t("form.outputsHelp")}
            problems={problemsAt(problems, ["outputs"])}
            onCommit={(v) => set(["outputs"], fromCsv(v).length > 0 ? fromCsv(v) : undefined)}
          />
        </>
      ) : null}

      {step.kind === "uses" ? (
        <>
          <div className="field">
            <label htmlFor={`${needsId}-uses`}>{t("form.uses")}</label>
            <select
              id={`${needsId}-uses`}
              value={step.uses ?? ""}
              onChange={(event) => set(["uses"], event.target.value)}
            >
              {stepKinds.names().map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          {inputFields(step.uses ?? "").map((field) =>
            field.type === "boolean" ? (
              <label key={field.name} className="checkbox">
                <input
                  type="checkbox"
                  checked={get(raw, ["with", field.name]) === true}
                  onChange={(event) => set(["with", field.name], event.target.checked ? true : undefined)}
                />
                {field.name}
              </label>
            ) : field.type === "enum" ? (
              <div key={field.name} className="field">
                <label htmlFor={`${needsId}-with-${field.name}`}>
                  {field.name}
                  {field.required ? " *" : ""}
                </label>
                <select
                  id={`${needsId}-with-${field.name}`}
                  value={text(["with", field.name])}
                  onChange={(event) => set(["with", field.name], event.target.value || undefined)}
                >
                  {field.required ? null : <option value="" />}
                  {(field.options ?? []).map((option) => (
                    <option key={option} value={option}>
                      {option}
                    </option>
                  ))}
                </select>
              </div>
            ) : (
              <TextField
                key={field.name}
                label={`${field.name}${field.required ? " *" : ""}`}
                value={field.type === "list" ? csv(list(get(raw, ["with", field.name]))) : text(["with", field.name])}
                help={field.description}
                mono={field.type === "json"}
                problems={problemsAt(problems, ["with", field.name])}
                onCommit={(v) => {
                  if (v.trim() === "") return set(["with", field.name], undefined);
                  if (field.type === "number" || field.type === "integer") {
                    const number = Number(v);
                    return set(["with", field.name], Number.isFinite(number) && !v.includes("${{") ? number : v);
                  }
                  if (field.type === "list") return set(["with", field.name], fromCsv(v));
                  if (field.type === "json") {
                    try {
                      return set(["with", field.name], JSON.parse(v));
                    } catch {
                      return set(["with", field.name], v);
                    }
                  }
                  return set(["with", field.name], v);
                }}
              />
            ),
          )}
        </>
      ) : null}

      {step.kind === "approval" ? (
        <>
          {(["users", "teams", "roles"] as const).map((who) => (
            <TextField
              key={who}
              label={t(`form.approvers.${who}`)}
              value={csv(list(get(raw, ["approval", "approvers", who])))}
              problems={problemsAt(problems, ["approval", "approvers", who])}
              onCommit={(v) => set(["approval", "approvers", who], fromCsv(v).length > 0 ? fromCsv(v) : undefined)}
            />
          ))}
          <TextField
            label={t("form.minApprovals")}
            value={text(["approval", "min-approvals"])}
            problems={problemsAt(problems, ["approval", "min-approvals"])}
            onCommit={(v) => set(["approval", "min-approvals"], v.trim() === "" ? undefined : Number(v))}
          />
          <TextField
            label={t("form.environment")}
            value={text(["approval", "environment"])}
            problems={problemsAt(problems, ["approval", "environment"])}
            onCommit={(v) => set(["approval", "environment"], optional(v))}
          />
          <TextField
            label={t("form.message")}
            value={text(["approval", "message"])}
            multiline
            problems={problemsAt(problems, ["approval", "message"])}
            onCommit={(v) => set(["approval", "message"], optional(v))}
          />
          <TextField
            label={t("form.waitTimeout")}
            value={text(["approval", "timeout"])}
            problems={problemsAt(problems, ["approval", "timeout"])}
            onCommit={(v) => set(["approval", "timeout"], optional(v))}
          />
          <label className="checkbox">
            <input
              type="checkbox"
              checked={get(raw, ["approval", "allow-self-approval"]) === true}
              onChange={(event) => set(["approval", "allow-self-approval"], event.target.checked ? true : undefined)}
            />
            {t("form.allowSelfApproval")}
          </label>
        </>
      ) : null}

      {step.kind === "gate" ? (
        <>
          <TextField
            label={t("form.condition")}
            value={text(["gate", "condition"])}
            mono
            problems={problemsAt(problems, ["gate", "condition"])}
            onCommit={(v) => set(["gate", "condition"], v)}
          />
          <TextField
            label={t("form.interval")}
            value={text(["gate", "interval"])}
            problems={problemsAt(problems, ["gate", "interval"])}
            onCommit={(v) => set(["gate", "interval"], optional(v))}
          />
          <TextField
            label={t("form.waitTimeout")}
            value={text(["gate", "timeout"])}
            problems={problemsAt(problems, ["gate", "timeout"])}
            onCommit={(v) => set(["gate", "timeout"], optional(v))}
          />
        </>
      ) : null}

      {step.kind === "manual" ? (
        <TextField
          label={t("form.message")}
          value={typeof raw.manual === "object" ? text(["manual", "message"]) : ""}
          problems={problemsAt(problems, ["manual"])}
          onCommit={(v) =>
            set(
              ["manual"],
              v.trim() === ""
                ? true
                : { ...(typeof raw.manual === "object" ? (raw.manual as object) : {}), message: v },
            )
          }
        />
      ) : null}

      <details>
        <summary>{t("form.behaviour")}</summary>
        <div className="stack">
          <TextField
            label={t("form.timeout")}
            value={text(["timeout"])}
            help={t("form.durationHelp")}
            problems={problemsAt(problems, ["timeout"])}
            onCommit={(v) => set(["timeout"], optional(v))}
          />
          <TextField
            label={t("form.retry")}
            value={typeof raw.retry === "number" ? String(raw.retry) : text(["retry", "max"])}
            problems={problemsAt(problems, ["retry"])}
            onCommit={(v) => set(["retry"], v.trim() === "" ? undefined : Number(v))}
          />
          <label className="checkbox">
            <input
              type="checkbox"
              checked={raw["continue-on-error"] === true}
              onChange={(event) => set(["continue-on-error"], event.target.checked ? true : undefined)}
            />
            {t("form.continueOnError")}
          </label>
        </div>
      </details>

      {!step.handler && (step.kind === "run" || step.kind === "uses") ? (
        <MatrixEditor raw={raw} problems={problemsAt(problems, ["matrix"])} onSet={(value) => set(["matrix"], value)} />
      ) : null}
    </div>
  );
}

/** Matrix axes as name = comma-separated values; numbers stay numbers. */
function MatrixEditor({
  raw,
  problems,
  onSet,
}: {
  raw: Record<string, unknown>;
  problems: readonly Diagnostic[];
  onSet(value: unknown): void;
}) {
  const { t } = useTranslation("pipelines");
  const matrix = (raw.matrix ?? null) as { axes?: Record<string, unknown[]>; "max-parallel"?: number } | null;
  const axes = Object.entries(matrix?.axes ?? {});
  const parse = (text: string) =>
    fromCsv(text).map((value) =>
      /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value === "true" ? true : value === "false" ? false : value,
    );
  const update = (next: Record<string, unknown[]>) => {
    if (Object.keys(next).length === 0) return onSet(undefined);
    onSet({ ...(matrix ?? {}), axes: next });
  };
  return (
    <details open={axes.length > 0}>
      <summary>{t("form.matrix")}</summary>
      <div className="stack">
        {axes.map(([name, values]) => (
          <div key={name} className="row">
            <TextField
              label={t("form.axis", { name })}
              value={csv((values ?? []).map(String))}
              problems={[]}
              onCommit={(v) => update({ ...Object.fromEntries(axes), [name]: parse(v) })}
            />
            <button
              type="button"
              aria-label={t("form.removeAxis", { name })}
              onClick={() => update(Object.fromEntries(axes.filter(([key]) => key !== name)))}
            >
              ✕
            </button>
          </div>
        ))}
        <TextField
          label={t("form.newAxis")}
          value=""
          help={t("form.newAxisHelp")}
          problems={problems}
          onCommit={(v) => {
            const [name, values] = v.split("=", 2);
            if (!name?.trim() || !values) return;
            update({ ...Object.fromEntries(axes), [name.trim()]: parse(values) });
          }}
        />
        {axes.length > 0 ? (
          <TextField
            label={t("form.maxParallel")}
            value={matrix?.["max-parallel"] === undefined ? "" : String(matrix["max-parallel"])}
            problems={[]}
            onCommit={(v) => onSet({ ...(matrix ?? {}), "max-parallel": v.trim() === "" ? undefined : Number(v) })}
          />
        ) : null}
      </div>
    </details>
  );
}

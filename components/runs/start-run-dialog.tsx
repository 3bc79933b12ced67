"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, type ReactNode, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { ParamDto, PipelineDetail } from "@/server/pipelines/schema";
import { ProblemAlert } from "./problem-alert";
import { ApiError, type ParamValues, startRun } from "./queries";

type RunnablePipeline = Pick<PipelineDetail, "id" | "name" | "currentVersion" | "params" | "manualRuns">;

/**
 * The "Run pipeline" button and its dialog: a form generated from the pipeline's declared params
 * (text, numbers, a select for options, a checkbox for booleans, defaults filled in). Required
 * params are checked here; everything else by the server, whose errors (`params.NAME`) go to
 * their field. A started run opens at /runs/{id}.
 */
export function StartRunButton({ pipeline, canRun }: { pipeline: RunnablePipeline; canRun: boolean }) {
  const { t } = useTranslation("runs");
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const hintId = useId();
  const disabledReason = !pipeline.manualRuns ? t("start.manualDisabled") : !canRun ? t("start.notAllowed") : null;
  return (
    <>
      <button
        ref={buttonRef}
        type="button"
        className="button primary"
        aria-haspopup="dialog"
        disabled={disabledReason !== null}
        aria-describedby={disabledReason ? hintId : undefined}
        onClick={() => setOpen(true)}
      >
        {t("start.button")}
      </button>
      {disabledReason ? (
        <span id={hintId} className="muted">
          {disabledReason}
        </span>
      ) : null}
      {open ? (
        <StartRunDialog
          pipeline={pipeline}
          onClose={() => {
            setOpen(false);
            buttonRef.current?.focus();
          }}
        />
      ) : null}
    </>
  );
}

/** The value a field starts with: the param's default, as the input holds it. */
function initialValue(param: ParamDto): string | boolean {
  if (param.type === "boolean") return param.default === true || param.default === "true";
  return param.default === null ? "" : String(param.default);
}

function StartRunDialog({ pipeline, onClose }: { pipeline: RunnablePipeline; onClose(): void }) {
  const { t } = useTranslation(["runs", "common"]);
  const router = useRouter();
  const id = useId();
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(pipeline.params.map((param) => [param.name, initialValue(param)])),
  );
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    const dialog = dialogRef.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);

  const start = useMutation({
    mutationFn: (params: ParamValues) => startRun(pipeline.id, params),
    onSuccess: (run) => router.push(`/runs/${run.id}`),
    onError: (error) => {
      if (!(error instanceof ApiError)) return;
      const errors: Record<string, string> = {};
      for (const param of error.invalidParams) {
        const name = param.name.replace(/^body\./, "").replace(/^params\./, "");
        if (pipeline.params.some((p) => p.name === name)) errors[name] = param.reason;
      }
      setFieldErrors(errors);
      focusFirstInvalid(Object.keys(errors));
    },
  });

  function fieldId(name: string) {
    return `${id}-param-${pipeline.params.findIndex((param) => param.name === name)}`;
  }

  function focusFirstInvalid(names: string[]) {
    const first = pipeline.params.find((param) => names.includes(param.name));
    if (first) requestAnimationFrame(() => document.getElementById(fieldId(first.name))?.focus());
  }

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const params: ParamValues = {};
    const missing: Record<string, string> = {};
    for (const param of pipeline.params) {
      const value = values[param.name];
      if (typeof value === "boolean") {
        params[param.name] = value;
      } else if (value !== undefined && value.trim() !== "") {
        // Text as typed: the server coerces it to the declared type and says so when it cannot.
        params[param.name] = param.type === "string" ? value : value.trim();
      } else if (param.required) {
        missing[param.name] = t("start.requiredError");
      }
    }
    setFieldErrors(missing);
    if (Object.keys(missing).length > 0) {
      focusFirstInvalid(Object.keys(missing));
      return;
    }
    start.mutate(params);
  }

  const otherError =
    start.error && !(start.error instanceof ApiError && Object.keys(fieldErrors).length > 0) ? start.error : null;

  return (
    <dialog
      ref={dialogRef}
      className="modal start-run-dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-description`}
      onClose={onClose}
    >
      <h2 id={`${id}-title`}>{t("start.title", { name: pipeline.name })}</h2>
      <p id={`${id}-description`} className="muted">
        {t("start.description", { version: pipeline.currentVersion })}
      </p>
      <form className="stack" onSubmit={onSubmit} noValidate>
        {pipeline.params.length === 0 ? <p>{t("start.noParams")}</p> : null}
        {pipeline.params.map((param) => (
          <ParamField
            key={param.name}
            param={param}
            inputId={fieldId(param.name)}
            value={values[param.name] ?? ""}
            error={fieldErrors[param.name]}
            onChange={(value) => {
              setValues((current) => ({ ...current, [param.name]: value }));
              if (fieldErrors[param.name]) {
                setFieldErrors(({ [param.name]: _cleared, ...rest }) => rest);
              }
            }}
          />
        ))}
        <ProblemAlert error={otherError} prefix={t("start.failed")} />
        <div className="row">
          <button type="submit" className="button primary" disabled={start.isPending || start.isSuccess}>
            {start.isPending || start.isSuccess ? t("start.starting") : t("start.submit")}
          </button>
          <button type="button" className="button" onClick={() => dialogRef.current?.close()}>
            {t("common:cancel")}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function ParamField({
  param,
  inputId,
  value,
  error,
  onChange,
}: {
  param: ParamDto;
  inputId: string;
  value: string | boolean;
  error: string | undefined;
  onChange(value: string | boolean): void;
}) {
  const { t } = useTranslation("runs");
  const hintId = `${inputId}-hint`;
  const errorId = `${inputId}-error`;
  const hint = [
    param.description,
    param.default !== null && param.type !== "boolean" ? t("start.default", { value: String(param.default) }) : null,
  ]
    .filter(Boolean)
    .join(" · ");
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  const label = (
    <>
      <span className="mono">{param.name}</span>
      {param.required ? <span className="muted"> ({t("start.required")})</span> : null}
    </>
  );
  const common = {
    id: inputId,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
    "aria-required": param.required || undefined,
  } as const;

  let control: ReactNode;
  if (param.type === "boolean") {
    return (
      <div className="field start-run-field">
        <label className="start-run-checkbox">
          <input
            {...common}
            type="checkbox"
            checked={value === true}
            onChange={(event) => onChange(event.target.checked)}
          />
          {label}
        </label>
        {hint ? (
          <span id={hintId} className="muted">
            {hint}
          </span>
        ) : null}
        {error ? (
          <span id={errorId} className="field-error">
            {error}
          </span>
        ) : null}
      </div>
    );
  }
  if (param.options) {
    control = (
      <select {...common} value={String(value)} onChange={(event) => onChange(event.target.value)}>
        {param.required && param.default !== null ? null : <option value="">{t("start.noValue")}</option>}
        {param.options.map((option) => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  } else {
    const numeric = param.type === "integer" || param.type === "number";
    control = (
      <input
        {...common}
        type="text"
        inputMode={param.type === "integer" ? "numeric" : numeric ? "decimal" : undefined}
        autoComplete="off"
        spellCheck={numeric ? false : undefined}
        value={String(value)}
        onChange={(event) => onChange(event.target.value)}
      />
    );
  }
  return (
    <div className="field start-run-field">
      <label htmlFor={inputId}>{label}</label>
      {control}
      {hint ? (
        <span id={hintId} className="muted">
          {hint}
        </span>
      ) : null}
      {error ? (
        <span id={errorId} className="field-error">
          {error}
        </span>
      ) : null}
    </div>
  );
}

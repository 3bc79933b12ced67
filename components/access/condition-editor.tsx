"use client";
import { useQuery } from "@tanstack/react-query";
import { type ReactNode, useEffect, useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { conditionCheckQuery } from "./queries";

const CHECK_DELAY_MS = 300;

function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

/** The line the error is on, with a caret under its column (columns count from 1). */
function caretView(source: string, line: number, column: number): string | null {
  const text = source.split("\n")[line - 1];
  if (text === undefined) return null;
  return `${text}\n${" ".repeat(Math.max(0, column - 1))}^`;
}

/**
 * A CEL condition field, checked by the server as it is typed (the same compiler that checks it
 * on save), with the error's line and column. `serverError` is the reason a save was refused.
 */
export function ConditionEditor({
  value,
  onChange,
  serverError,
  label,
}: {
  value: string;
  onChange(value: string): void;
  serverError?: string;
  label?: string;
}) {
  const { t } = useTranslation("access");
  const id = useId();
  const debounced = useDebounced(value, CHECK_DELAY_MS);
  const check = useQuery(conditionCheckQuery(debounced));
  const isEmpty = value.trim() === "";
  const isStale = debounced !== value || check.isFetching;
  const result = !isEmpty && !isStale ? check.data : undefined;
  const invalid = result && !result.ok ? result : null;

  let status: ReactNode;
  if (isEmpty) status = <span className="muted">{t("condition.empty")}</span>;
  else if (isStale) status = <span className="muted">{t("condition.checking")}</span>;
  else if (check.isError) status = <span className="field-error">{t("condition.checkFailed")}</span>;
  else if (invalid)
    status = (
      <span className="field-error">
        {t("condition.error", { line: invalid.line, column: invalid.column, message: invalid.message })}
      </span>
    );
  else if (result?.ok) status = <span className="access-ok">{t("condition.valid")}</span>;

  const caret = invalid ? caretView(value, invalid.line, invalid.column) : null;

  return (
    <div className="field">
      <label htmlFor={`${id}-source`}>{label ?? t("condition.label")}</label>
      <textarea
        id={`${id}-source`}
        className="access-code"
        value={value}
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        rows={3}
        placeholder={t("condition.placeholder")}
        aria-invalid={invalid || serverError ? true : undefined}
        aria-describedby={`${id}-status ${id}-help`}
        onChange={(event) => onChange(event.target.value)}
      />
      <div id={`${id}-status`} className="access-status" aria-live="polite">
        {status}
      </div>
      {caret ? (
        <pre className="access-caret" aria-hidden="true">
          {caret}
        </pre>
      ) : null}
      {serverError ? <span className="field-error">{serverError}</span> : null}
      <span id={`${id}-help`} className="muted">
        {t("condition.help")}
      </span>
    </div>
  );
}

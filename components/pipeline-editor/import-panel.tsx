"use client";
import { useMutation } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import type { ApiError } from "@/components/ui/api-error";
import type { ImportResultDto } from "@/server/pipelines/schema";
import { importRequest } from "./queries";

/** Paste or upload a GitHub Actions workflow or a .gitlab-ci.yml; see what it becomes and what did not carry over. */
export function ImportPanel({ onUse }: { onUse(yaml: string): void }) {
  const { t } = useTranslation(["pipelines", "errors"]);
  const id = useId();
  const [text, setText] = useState("");
  const [fileName, setFileName] = useState<string | undefined>();
  const [format, setFormat] = useState("");
  const convert = useMutation<ImportResultDto, ApiError>({
    mutationFn: () => importRequest({ text, ...(format ? { format } : {}), ...(fileName ? { fileName } : {}) }),
  });
  const result = convert.data;
  return (
    <form
      className="stack import-panel"
      onSubmit={(event) => {
        event.preventDefault();
        convert.mutate();
      }}
    >
      <p className="muted">{t("pipelines:import.help")}</p>
      <div className="field">
        <label htmlFor={`${id}-format`}>{t("pipelines:import.format")}</label>
        <select id={`${id}-format`} value={format} onChange={(event) => setFormat(event.target.value)}>
          <option value="">{t("pipelines:import.detect")}</option>
          <option value="github-actions">GitHub Actions</option>
          <option value="gitlab-ci">GitLab CI</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-file`}>{t("pipelines:import.file")}</label>
        <input
          id={`${id}-file`}
          type="file"
          accept=".yml,.yaml"
          onChange={async (event) => {
            const file = event.target.files?.[0];
            if (!file) return;
            setFileName(file.name);
            setText(await file.text());
          }}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-text`}>{t("pipelines:import.paste")}</label>
        <textarea
          id={`${id}-text`}
          className="mono"
          rows={10}
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
      </div>
      <button type="submit" disabled={text.trim() === "" || convert.isPending}>
        {t("pipelines:import.convert")}
      </button>
      {convert.error ? (
        <p role="alert" className="error-text">
          <strong>{t(`errors:code.${convert.error.code}`, { defaultValue: convert.error.code })}</strong>{" "}
          {convert.error.message}
        </p>
      ) : null}
      {result ? (
        <section className="stack" aria-live="polite">
          <p>
            {t("pipelines:import.result", {
              format: result.format === "github-actions" ? "GitHub Actions" : "GitLab CI",
              count: result.notes.length,
            })}
          </p>
          {result.notes.length > 0 ? (
            <ul className="problems">
              {result.notes.map((note) => (
                <li key={`${note.line}:${note.column}:${note.code}`} className={`problem ${note.severity}`}>
                  <span className="problem-where">
                    {t(`pipelines:import.severity.${note.severity}`)} ·{" "}
                    {t("pipelines:studio.lineColumn", { line: note.line, column: note.column })} ·{" "}
                    <code>{note.path}</code>
                  </span>{" "}
                  {note.message}
                </li>
              ))}
            </ul>
          ) : null}
          <pre className="import-preview">{result.yaml}</pre>
          <button type="button" className="primary" disabled={result.yaml === ""} onClick={() => onUse(result.yaml)}>
            {t("pipelines:import.use")}
          </button>
        </section>
      ) : null}
    </form>
  );
}

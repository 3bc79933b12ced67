"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useFormat } from "@/components/i18n/use-format";
import type { ApiError } from "@/components/ui/api-error";
import type { PipelineDetail } from "@/server/pipelines/schema";
import { DiffView } from "./diff-view";
import { graphDiff, readDocument } from "./model";
import { restoreVersionRequest, versionQuery, versionsQuery } from "./queries";

/**
 * Every saved version; picking one shows what differs from the text being edited (YAML diff here,
 * the changed steps marked on the canvas) and offers to restore it as a new version.
 */
export function VersionsPanel({
  pipelineId,
  currentText,
  baseVersion,
  onMarks,
  onRestored,
}: {
  pipelineId: string;
  currentText: string;
  baseVersion: number;
  onMarks(marks: Map<string, "added" | "removed" | "changed"> | null): void;
  onRestored(detail: PipelineDetail): void;
}) {
  const { t } = useTranslation(["pipelines", "errors"]);
  const format = useFormat();
  const queryClient = useQueryClient();
  const versions = useQuery(versionsQuery(pipelineId));
  const [picked, setPicked] = useState<number | null>(null);
  const version = useQuery({ ...versionQuery(pipelineId, picked ?? 0), enabled: picked !== null });
  const restore = useMutation<PipelineDetail, ApiError, number>({
    mutationFn: (number) => restoreVersionRequest(pipelineId, number, baseVersion),
    onSuccess: (detail) => {
      void queryClient.invalidateQueries({ queryKey: ["pipelines", pipelineId, "versions"] });
      setPicked(null);
      onRestored(detail);
    },
  });

  useEffect(() => {
    if (!version.data) {
      onMarks(null);
      return;
    }
    onMarks(graphDiff(readDocument(version.data.yaml).steps, readDocument(currentText).steps));
  }, [version.data, currentText, onMarks]);
  useEffect(() => () => onMarks(null), [onMarks]);

  if (versions.isPending) return <p className="muted">{t("pipelines:versions.loading")}</p>;
  if (versions.isError) return <p className="error-text">{versions.error.message}</p>;
  return (
    <div className="stack">
      <ol className="versions">
        {versions.data.map((entry) => (
          <li key={entry.id}>
            <button
              type="button"
              className={`link-button${picked === entry.version ? " active" : ""}`}
              aria-pressed={picked === entry.version}
              onClick={() => setPicked(picked === entry.version ? null : entry.version)}
            >
              <strong>v{entry.version}</strong> {entry.message || t("pipelines:versions.noMessage")}{" "}
              <span className="muted">
                {entry.author?.name ?? "—"} · {format.dateTime(entry.createdAt)}
                {entry.isCurrent ? ` · ${t("pipelines:versions.current")}` : ""}
              </span>
            </button>
          </li>
        ))}
      </ol>
      {picked !== null && version.data ? (
        <div className="stack">
          <p className="muted">{t("pipelines:versions.diffHint", { version: picked })}</p>
          <DiffView
            before={version.data.yaml}
            after={currentText}
            beforeLabel={`v${picked}`}
            afterLabel={t("pipelines:versions.editing")}
          />
          {!version.data.isCurrent ? (
            <button type="button" onClick={() => restore.mutate(picked)} disabled={restore.isPending}>
              {t("pipelines:versions.restore", { version: picked })}
            </button>
          ) : null}
          {restore.error ? (
            <p role="alert" className="error-text">
              <strong>{t(`errors:code.${restore.error.code}`, { defaultValue: restore.error.code })}</strong>{" "}
              {restore.error.message}
            </p>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

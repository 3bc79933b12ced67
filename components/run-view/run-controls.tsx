"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { ApiError } from "@/components/ui/api-error";
import type { RunDetail } from "@/server/runs/schema";
import { runControls, runKeys } from "./queries";

// Run-level controls, shown only to people the server says may use them (RunDetail.can); the
// server checks again on every call and a refusal is shown with its reason.

export function useRunMutation<A extends unknown[]>(runId: string, call: (...args: A) => Promise<RunDetail>) {
  const queryClient = useQueryClient();
  return useMutation<RunDetail, ApiError, A>({
    mutationFn: (args: A) => call(...args),
    onSuccess: (run) => queryClient.setQueryData(runKeys.run(runId), run),
  });
}

export function RunControls({ run }: { run: RunDetail }) {
  const { t } = useTranslation(["runview", "errors"]);
  const active = run.status === "queued" || run.status === "running" || run.status === "waiting";
  const cancel = useRunMutation(run.id, () => runControls.cancel(run.id));
  const rerun = useRunMutation(run.id, () => runControls.rerun(run.id));
  const [confirming, setConfirming] = useState(false);
  const error = cancel.error ?? rerun.error;
  return (
    <div className="row run-controls">
      {active && run.can.cancel ? (
        confirming ? (
          <>
            <span>{t("runview:confirmCancel")}</span>
            <button
              type="button"
              className="danger"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate([], { onSettled: () => setConfirming(false) })}
            >
              {t("runview:cancelRun")}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              {t("runview:keepRunning")}
            </button>
          </>
        ) : (
          <button type="button" onClick={() => setConfirming(true)}>
            {t("runview:cancelRun")}
          </button>
        )
      ) : null}
      {!active && run.can.retry ? (
        <button type="button" disabled={rerun.isPending} onClick={() => rerun.mutate([])}>
          {t("runview:rerun")}
        </button>
      ) : null}
      {error ? (
        <p role="alert" className="error-text">
          <strong>{t(`errors:code.${error.code}`, { defaultValue: error.code })}</strong> {error.message}
        </p>
      ) : null}
    </div>
  );
}

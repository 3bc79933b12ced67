"use client";
import { useTranslation } from "react-i18next";
import { ApiError } from "./queries";

/**
 * A failed request in the reader's language, followed by the server's own reason (its
 * problem+json `detail`): "You are not allowed to do that. Not allowed to run:approve: …".
 */
export function ProblemAlert({ error, prefix, id }: { error: unknown; prefix?: string; id?: string }) {
  const { t } = useTranslation("errors");
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : "INTERNAL";
  const detail = error instanceof ApiError && error.status < 500 ? error.message : null;
  return (
    <p role="alert" className="alert" id={id}>
      {prefix ? `${prefix} ` : null}
      {t(`code.${code}`, { defaultValue: t("code.INTERNAL") })}
      {detail ? <span className="problem-detail"> {detail}</span> : null}
    </p>
  );
}

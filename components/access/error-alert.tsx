"use client";
import { useTranslation } from "react-i18next";
import { ApiError } from "./queries";

/** A failed request, in the reader's language, with the server's detail for the specifics. */
export function ErrorAlert({ error, prefix }: { error: unknown; prefix?: string }) {
  const { t } = useTranslation(["access", "errors"]);
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : "INTERNAL";
  const detail = error instanceof ApiError && error.status < 500 ? error.message : null;
  return (
    <p role="alert" className="alert">
      {prefix ? `${prefix} ` : null}
      {t(`errors:code.${code}`, { defaultValue: t("errors:code.INTERNAL") })}
      {detail ? <span className="mono"> {detail}</span> : null}
    </p>
  );
}

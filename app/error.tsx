"use client";
import { useTranslation } from "react-i18next";

// An unexpected error while rendering a page: the shell stays, the page says so in the user's
// language and offers a retry. The digest matches the server log entry for the error.
export default function PageError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  const { t } = useTranslation("errors");
  return (
    <main className="auth-page">
      <section className="card auth-card stack" aria-labelledby="error-title" role="alert">
        <h1 id="error-title">{t("unexpected.title")}</h1>
        <p>{t("unexpected.body")}</p>
        {error.digest ? <p className="muted mono">{t("unexpected.reference", { id: error.digest })}</p> : null}
        <p>
          <button type="button" className="button primary" onClick={reset}>
            {t("unexpected.retry")}
          </button>
        </p>
      </section>
    </main>
  );
}

import Link from "next/link";
import { cookies, headers } from "next/headers";
import { getCurrentActor } from "@/server/auth/session";
import { getTranslator, LOCALE_COOKIE, resolveLocale } from "@/server/i18n/translator";

export default async function NotFound() {
  const actor = await getCurrentActor();
  const t = await getTranslator(
    resolveLocale({
      saved: actor?.preferences.locale,
      cookie: (await cookies()).get(LOCALE_COOKIE)?.value,
      acceptLanguage: (await headers()).get("accept-language"),
    }),
  );
  return (
    <main className="auth-page">
      <section className="card auth-card stack" aria-labelledby="not-found-title">
        <h1 id="not-found-title">{t("errors:notFound.title")}</h1>
        <p>{t("errors:notFound.body")}</p>
        <p>
          <Link href="/" className="button primary">
            {t("errors:notFound.home")}
          </Link>
        </p>
      </section>
    </main>
  );
}

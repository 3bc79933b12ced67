import type { Metadata } from "next";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { SignInForm } from "@/components/auth/sign-in-form";
import { getCurrentActor } from "@/server/auth/session";
import { getTranslator, LOCALE_COOKIE, resolveLocale } from "@/server/i18n/translator";

async function requestLocale() {
  return resolveLocale({
    cookie: (await cookies()).get(LOCALE_COOKIE)?.value,
    acceptLanguage: (await headers()).get("accept-language"),
  });
}

export async function generateMetadata(): Promise<Metadata> {
  const t = await getTranslator(await requestLocale());
  return { title: t("auth:signIn.submit") };
}

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  if (await getCurrentActor()) redirect("/");
  const params = await searchParams;
  const callbackUrl = typeof params.callbackUrl === "string" ? params.callbackUrl : undefined;
  const t = await getTranslator(await requestLocale());
  return (
    <main className="auth-page">
      <section className="card auth-card" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">{t("auth:signIn.title")}</h1>
        <p className="muted">{t("auth:signIn.subtitle")}</p>
        <SignInForm callbackUrl={callbackUrl} />
      </section>
    </main>
  );
}

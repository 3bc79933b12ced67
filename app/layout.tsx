import type { Metadata, Viewport } from "next";
import { cookies, headers } from "next/headers";
import type { ReactNode } from "react";
import { Providers } from "@/components/providers";
import { getCurrentActor } from "@/server/auth/session";
import type { Actor } from "@/server/auth/schema";
import { getTranslator, LOCALE_COOKIE, resolveLocale } from "@/server/i18n/translator";
import { getLogger } from "@/server/observability/logger";
import "./globals.css";

async function requestLocale(actor: Actor | null) {
  return resolveLocale({
    saved: actor?.preferences.locale,
    cookie: (await cookies()).get(LOCALE_COOKIE)?.value,
    acceptLanguage: (await headers()).get("accept-language"),
  });
}

/** The signed-in actor, or null; a database outage renders pages as anonymous, not as a crash. */
async function actorOrNull(): Promise<Actor | null> {
  try {
    return await getCurrentActor();
  } catch (error) {
    getLogger("layout").warn({ err: error }, "could not load the signed-in user");
    return null;
  }
}

export async function generateMetadata(): Promise<Metadata> {
  const t = await getTranslator(await requestLocale(await actorOrNull()));
  const name = t("common:appName");
  return { title: { default: name, template: `%s · ${name}` }, description: t("common:appDescription") };
}

export const viewport: Viewport = { colorScheme: "light dark" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const actor = await actorOrNull();
  const locale = await requestLocale(actor);
  return (
    <html
      lang={locale}
      data-theme={actor?.preferences.theme ?? "system"}
      data-density={actor?.preferences.density ?? "comfortable"}
    >
      <body>
        <Providers locale={locale}>{children}</Providers>
      </body>
    </html>
  );
}

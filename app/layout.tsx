import type { Metadata, Viewport } from "next";
import { cookies, headers } from "next/headers";
import type { ReactNode } from "react";
import { Providers } from "@/components/providers";
import { getCurrentActor } from "@/server/auth/session";
import { LOCALE_COOKIE, resolveLocale } from "@/server/i18n/translator";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Microstack", template: "%s · Microstack" },
  description: "Internal developer platform: pipelines, runs, approvals and deploys.",
};

export const viewport: Viewport = { colorScheme: "light dark" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const actor = await getCurrentActor();
  const locale = resolveLocale({
    saved: actor?.preferences.locale,
    cookie: (await cookies()).get(LOCALE_COOKIE)?.value,
    acceptLanguage: (await headers()).get("accept-language"),
  });
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

import "server-only";
import type { TFunction } from "i18next";
import { cookies, headers } from "next/headers";
import type { Actor, Locale } from "@/server/auth/schema";
import { requireActor } from "@/server/auth/session";
import { getTranslator, LOCALE_COOKIE, resolveLocale } from "./translator";

export interface PageContext {
  actor: Actor;
  locale: Locale;
  t: TFunction;
  formatDate(value: Date | string): string;
  formatDateTime(value: Date | string): string;
  formatNumber(value: number): string;
}

/** For server-component pages: the signed-in actor and a translator/formatters in their locale. */
export async function getPageContext(): Promise<PageContext> {
  const actor = await requireActor();
  const locale = resolveLocale({
    saved: actor.preferences.locale,
    cookie: (await cookies()).get(LOCALE_COOKIE)?.value,
    acceptLanguage: (await headers()).get("accept-language"),
  });
  const t = await getTranslator(locale);
  const date = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const number = new Intl.NumberFormat(locale);
  return {
    actor,
    locale,
    t,
    formatDate: (value) => date.format(new Date(value)),
    formatDateTime: (value) => dateTime.format(new Date(value)),
    formatNumber: (value) => number.format(value),
  };
}

import "server-only";
import { createInstance, type TFunction } from "i18next";
import { type Locale, localeSchema } from "@/server/auth/schema";
import { NAMESPACES, RESOURCES } from "@/messages/resources";

export const DEFAULT_LOCALE: Locale = "en";
export const LOCALE_COOKIE = "ms_locale";

/** A fresh i18next instance per request: no locale leaks between concurrent requests. */
export async function getTranslator(locale: Locale): Promise<TFunction> {
  const i18n = createInstance();
  await i18n.init({
    lng: locale,
    fallbackLng: DEFAULT_LOCALE,
    ns: [...NAMESPACES],
    defaultNS: "common",
    resources: RESOURCES,
    interpolation: { escapeValue: false },
    initAsync: false,
  });
  return i18n.t;
}

/** The user's saved locale, else the locale cookie, else the best Accept-Language match. */
export function resolveLocale(options: {
  saved?: string | null;
  cookie?: string | null;
  acceptLanguage?: string | null;
}): Locale {
  for (const candidate of [options.saved, options.cookie]) {
    const parsed = localeSchema.safeParse(candidate);
    if (parsed.success) return parsed.data;
  }
  for (const part of (options.acceptLanguage ?? "").split(",")) {
    const tag = part.split(";")[0]?.trim().toLowerCase() ?? "";
    if (tag.startsWith("zh")) return "zh-CN";
    if (tag.startsWith("en")) return "en";
  }
  return DEFAULT_LOCALE;
}

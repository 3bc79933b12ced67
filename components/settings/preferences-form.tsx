"use client";
import { useId } from "react";
import { useTranslation } from "react-i18next";
import { usePreferences } from "@/components/layout/preferences";
import { DENSITIES, LOCALES, THEMES } from "@/server/auth/schema";

/** Theme, density and language: applied as soon as a choice changes, saved to the account. */
export function PreferencesForm() {
  const { t } = useTranslation(["settings", "shell"]);
  const { preferences, setPreferences } = usePreferences();
  const id = useId();
  return (
    <form className="stack" onSubmit={(event) => event.preventDefault()} style={{ maxWidth: 360 }}>
      <div className="field">
        <label htmlFor={`${id}-theme`}>{t("settings:theme")}</label>
        <select
          id={`${id}-theme`}
          value={preferences.theme}
          onChange={(event) => void setPreferences({ theme: event.target.value as (typeof THEMES)[number] })}
        >
          {THEMES.map((theme) => (
            <option key={theme} value={theme}>
              {t(`shell:theme.${theme}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-density`}>{t("settings:density")}</label>
        <select
          id={`${id}-density`}
          value={preferences.density}
          onChange={(event) => void setPreferences({ density: event.target.value as (typeof DENSITIES)[number] })}
        >
          {DENSITIES.map((density) => (
            <option key={density} value={density}>
              {t(`shell:density.${density}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-locale`}>{t("settings:language")}</label>
        <select
          id={`${id}-locale`}
          value={preferences.locale}
          onChange={(event) => void setPreferences({ locale: event.target.value as (typeof LOCALES)[number] })}
        >
          {LOCALES.map((locale) => (
            <option key={locale} value={locale} lang={locale}>
              {t(`shell:language.${locale}`)}
            </option>
          ))}
        </select>
      </div>
    </form>
  );
}

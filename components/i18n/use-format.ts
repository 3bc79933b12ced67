"use client";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

/** Dates and numbers formatted for the active locale. */
export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.language;
  return useMemo(() => {
    const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" });
    const date = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
    const number = new Intl.NumberFormat(locale);
    return {
      dateTime: (value: string | Date) => dateTime.format(new Date(value)),
      date: (value: string | Date) => date.format(new Date(value)),
      number: (value: number) => number.format(value),
    };
  }, [locale]);
}

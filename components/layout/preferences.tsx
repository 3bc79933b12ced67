"use client";
import { useRouter } from "next/navigation";
import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { Preferences } from "@/server/auth/schema";
import { updatePreferencesAction } from "@/server/auth/actions";

interface PreferencesContextValue {
  preferences: Preferences;
  setPreferences(change: Partial<Preferences>): Promise<void>;
  error: string | null;
}

const PreferencesContext = createContext<PreferencesContextValue | null>(null);

function apply(preferences: Preferences) {
  const root = document.documentElement;
  root.dataset.theme = preferences.theme;
  root.dataset.density = preferences.density;
  root.lang = preferences.locale;
}

/**
 * Theme, density and locale: applied at once (optimistic), then saved to the user's account
 * through a server action; reverted with a message when saving fails.
 */
export function PreferencesProvider({ initial, children }: { initial: Preferences; children: ReactNode }) {
  const [preferences, setState] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const { t, i18n } = useTranslation("shell");
  const router = useRouter();

  // What is shown (optimistic) and what the server last confirmed (for rolling back); refs, so
  // quick successive changes build on each other instead of on a stale render's copy.
  const shown = useRef(initial);
  const saved = useRef(initial);

  const setPreferences = useCallback(
    async (change: Partial<Preferences>) => {
      const next = { ...shown.current, ...change };
      shown.current = next;
      setState(next);
      apply(next);
      if (next.locale !== i18n.language) await i18n.changeLanguage(next.locale);
      let failed = false;
      try {
        const result = await updatePreferencesAction(change);
        failed = Boolean(result.error);
        if (result.data) saved.current = result.data;
      } catch {
        failed = true; // network error or server restart
      }
      if (failed) {
        const previous = saved.current;
        shown.current = previous;
        setState(previous);
        apply(previous);
        if (previous.locale !== i18n.language) await i18n.changeLanguage(previous.locale);
        setError(t("prefsFailed"));
        return;
      }
      setError(null);
      // Server-rendered text (page titles, dates) follows the new locale.
      if (change.locale) router.refresh();
    },
    [i18n, router, t],
  );

  const value = useMemo(() => ({ preferences, setPreferences, error }), [preferences, setPreferences, error]);
  return <PreferencesContext.Provider value={value}>{children}</PreferencesContext.Provider>;
}

export function usePreferences(): PreferencesContextValue {
  const value = useContext(PreferencesContext);
  if (!value) throw new Error("usePreferences must be used inside PreferencesProvider");
  return value;
}

"use client";
import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { durationMessage, pad2 } from "./format";

/**
 * The current time, ticking while `enabled`; null on the server and in the first client render,
 * so what hydrates matches what the server sent (durations and countdowns fill in on mount).
 */
export function useNow(enabled: boolean, intervalMs = 1000): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    if (!enabled) return;
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [enabled, intervalMs]);
  return now;
}

/** Formats a span in the reader's language: `3h 04m`, `4m 05s`, `42s`. */
export function useFormatDuration(): (ms: number) => string {
  const { t } = useTranslation("runs");
  return useCallback(
    (ms: number) => {
      const { key, values } = durationMessage(ms);
      return t(`list.duration.${key}`, {
        hours: values.hours,
        minutes: key === "hours" ? pad2(values.minutes) : values.minutes,
        seconds: key === "minutes" ? pad2(values.seconds) : values.seconds,
      });
    },
    [t],
  );
}

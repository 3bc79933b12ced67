"use client";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

// A status always reads as an icon and a word, never colour alone. Icons are inline SVG (no
// font glyph that a system may lack), drawn with the text colour.
const PATHS: Record<string, ReactNode> = {
  queued: <circle cx="8" cy="8" r="5.5" fill="none" strokeDasharray="2.5 2" />,
  running: (
    <>
      <circle cx="8" cy="8" r="5.5" fill="none" />
      <path d="M8 2.5 A5.5 5.5 0 0 1 8 13.5 Z" stroke="none" fill="currentColor" />
    </>
  ),
  waiting: <path d="M6 4v8M10 4v8" />,
  succeeded: <path d="M3.5 8.5l3 3 6-7" fill="none" />,
  failed: <path d="M4.5 4.5l7 7M11.5 4.5l-7 7" />,
  skipped: <path d="M3 4l5 4-5 4M9 4l4 4-4 4" fill="none" />,
  cancelled: (
    <>
      <circle cx="8" cy="8" r="5.5" fill="none" />
      <path d="M4.2 11.8l7.6-7.6" />
    </>
  ),
  timed_out: (
    <path d="M4.5 2.5h7M4.5 13.5h7M5 2.5c0 3 6 3 6 5.5s-6 2.5-6 5.5M11 2.5c0 3-6 3-6 5.5s6 2.5 6 5.5" fill="none" />
  ),
};

export function RunStatusIcon({ status }: { status: string }) {
  return (
    <svg
      className="run-status-icon"
      viewBox="0 0 16 16"
      width="14"
      height="14"
      aria-hidden="true"
      focusable="false"
      stroke="currentColor"
      strokeWidth="1.8"
      strokeLinecap="round"
      strokeLinejoin="round"
    >
      {PATHS[status] ?? <circle cx="8" cy="8" r="2" fill="currentColor" />}
    </svg>
  );
}

export function RunStatusBadge({ status }: { status: string }) {
  const { t } = useTranslation("runs");
  return (
    <span className={`run-status run-status-${status}`}>
      <RunStatusIcon status={status} />
      {t(`status.${status}`, { defaultValue: status })}
    </span>
  );
}

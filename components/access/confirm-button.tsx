"use client";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

/**
 * A destructive action in two steps: the first press asks, the second does it. Focus moves to
 * the confirming button so keyboard users confirm (or Escape) without hunting for it.
 */
export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  disabled,
}: {
  label: string;
  confirmLabel: string;
  onConfirm(): void;
  disabled?: boolean;
}) {
  const { t } = useTranslation("common");
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" className="button" onClick={() => setAsking(true)} disabled={disabled}>
        {label}
      </button>
    );
  }
  return (
    <span className="row" style={{ gap: 4 }}>
      <button
        ref={confirmRef}
        type="button"
        className="button access-danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
        onKeyDown={(event) => {
          if (event.key === "Escape") setAsking(false);
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" className="button" onClick={() => setAsking(false)}>
        {t("cancel")}
      </button>
    </span>
  );
}

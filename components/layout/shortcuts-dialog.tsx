"use client";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { NAV_SECTIONS } from "./navigation";

const GO_KEYS = {
  home: "goHome",
  projects: "goProjects",
  approvals: "goApprovals",
  audit: "goAudit",
  access: "goAccess",
  settings: "goSettings",
} as const;

/** The `?` overlay: a native modal dialog (focus moves in, Esc closes, focus returns). */
export function ShortcutsDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const { t } = useTranslation("shell");
  const ref = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <dialog ref={ref} className="modal" aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">{t("shortcuts.title")}</h2>
      <p className="muted">{t("shortcuts.description")}</p>
      <dl className="shortcut-list">
        <dt>
          <kbd>Ctrl</kbd> <kbd>K</kbd> / <kbd>⌘</kbd> <kbd>K</kbd>
        </dt>
        <dd>{t("shortcuts.openPalette")}</dd>
        <dt>
          <kbd>?</kbd>
        </dt>
        <dd>{t("shortcuts.showHelp")}</dd>
        {NAV_SECTIONS.map((section) => (
          <div key={section.key} style={{ display: "contents" }}>
            <dt>
              <kbd>g</kbd> {t("shortcuts.then")} <kbd>{section.shortcut}</kbd>
            </dt>
            <dd>{t(`shortcuts.${GO_KEYS[section.key]}`)}</dd>
          </div>
        ))}
        <dt>
          <kbd>Esc</kbd>
        </dt>
        <dd>{t("shortcuts.close")}</dd>
      </dl>
      <form method="dialog">
        <button type="submit" className="button">
          {t("common:close")}
        </button>
      </form>
    </dialog>
  );
}

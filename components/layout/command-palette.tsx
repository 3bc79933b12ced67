"use client";
import { Command } from "cmdk";
import { useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { useTranslation } from "react-i18next";
import { NAV_SECTIONS, projectHref, type ShellProject } from "./navigation";
import { usePreferences } from "./preferences";

interface PaletteProps {
  open: boolean;
  onOpenChange(open: boolean): void;
  projects: ShellProject[];
  canReadAudit: boolean;
  onShowShortcuts(): void;
}

/** Ctrl/Cmd+K: every page and every shell action, by keyboard. */
export function CommandPalette({ open, onOpenChange, projects, canReadAudit, onShowShortcuts }: PaletteProps) {
  const { t } = useTranslation("shell");
  const router = useRouter();
  const { preferences, setPreferences } = usePreferences();

  function run(action: () => void | Promise<void>) {
    onOpenChange(false);
    void action();
  }

  const current = (active: boolean) =>
    active ? <span className="muted">{t("palette.current")}</span> : null;

  return (
    <Command.Dialog
      open={open}
      onOpenChange={onOpenChange}
      label={t("palette.label")}
      loop
      aria-describedby={undefined}
    >
      <Command.Input placeholder={t("palette.placeholder")} aria-label={t("palette.placeholder")} />
      <Command.List>
        <Command.Empty>{t("palette.empty")}</Command.Empty>
        <Command.Group heading={t("palette.groupNavigate")}>
          {NAV_SECTIONS.filter((s) => s.key !== "audit" || canReadAudit).map((section) => (
            <Command.Item
              key={section.key}
              value={`nav ${section.key} ${t(`nav.${section.key}`)}`}
              onSelect={() => run(() => router.push(section.href))}
            >
              <span>{t("palette.goTo", { page: t(`nav.${section.key}`) })}</span>
              <kbd>g {section.shortcut}</kbd>
            </Command.Item>
          ))}
        </Command.Group>
        {projects.length > 0 ? (
          <Command.Group heading={t("palette.groupProjects")}>
            {projects.map((project) => (
              <Command.Item
                key={project.id}
                value={`project ${project.organizationName} ${project.name} ${project.slug}`}
                onSelect={() => run(() => router.push(projectHref(project)))}
              >
                <span>{t("palette.openProject", { name: project.name })}</span>
                <span className="muted">{project.organizationName}</span>
              </Command.Item>
            ))}
          </Command.Group>
        ) : null}
        <Command.Group heading={t("palette.groupTheme")}>
          {(["light", "dark", "system"] as const).map((theme) => (
            <Command.Item
              key={theme}
              value={`theme ${theme} ${t(`palette.theme${theme[0]?.toUpperCase()}${theme.slice(1)}`)}`}
              onSelect={() => run(() => setPreferences({ theme }))}
            >
              <span>{t(`palette.theme${theme[0]?.toUpperCase()}${theme.slice(1)}`)}</span>
              {current(preferences.theme === theme)}
            </Command.Item>
          ))}
        </Command.Group>
        <Command.Group heading={t("palette.groupDensity")}>
          {(["compact", "comfortable"] as const).map((density) => (
            <Command.Item
              key={density}
              value={`density ${density} ${t(`palette.density${density[0]?.toUpperCase()}${density.slice(1)}`)}`}
              onSelect={() => run(() => setPreferences({ density }))}
            >
              <span>{t(`palette.density${density[0]?.toUpperCase()}${density.slice(1)}`)}</span>
              {current(preferences.density === density)}
            </Command.Item>
          ))}
        </Command.Group>
        <Command.Group heading={t("palette.groupLanguage")}>
          <Command.Item
            value="language english en"
            onSelect={() => run(() => setPreferences({ locale: "en" }))}
          >
            <span>{t("palette.languageEn")}</span>
            {current(preferences.locale === "en")}
          </Command.Item>
          <Command.Item
            value="language chinese zh 中文 简体中文"
            onSelect={() => run(() => setPreferences({ locale: "zh-CN" }))}
          >
            <span>{t("palette.languageZh")}</span>
            {current(preferences.locale === "zh-CN")}
          </Command.Item>
        </Command.Group>
        <Command.Group heading={t("palette.groupAccount")}>
          <Command.Item value={`shortcuts help ${t("palette.showShortcuts")}`} onSelect={() => run(onShowShortcuts)}>
            <span>{t("palette.showShortcuts")}</span>
            <kbd>?</kbd>
          </Command.Item>
          <Command.Item
            value={`sign out logout ${t("palette.signOut")}`}
            onSelect={() => run(() => signOut({ callbackUrl: "/sign-in" }))}
          >
            <span>{t("palette.signOut")}</span>
          </Command.Item>
        </Command.Group>
      </Command.List>
    </Command.Dialog>
  );
}

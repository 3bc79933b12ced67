"use client";
import { Command } from "cmdk";
import { useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { useTranslation } from "react-i18next";
import { usePageCommandList } from "@/components/command-registry/page-commands";
import type { PendingAction } from "@/server/runs/schema";
import {
  ACCESS_PAGES,
  accessHref,
  type NavSection,
  projectHref,
  type ShellOrganization,
  type ShellProject,
} from "./navigation";
import { usePreferences } from "./preferences";

interface PaletteProps {
  open: boolean;
  onOpenChange(open: boolean): void;
  projects: ShellProject[];
  /** The sections this user may open (as the sidebar shows them). */
  sections: NavSection[];
  accessOrganizations: ShellOrganization[];
  onShowShortcuts(): void;
  /** What waits for the user: each approval becomes an "Approve run #…" command. */
  pendingActions: PendingAction[];
  /** Opens the confirm dialog (comment, Enter approves) for one approval. */
  onApprove(action: PendingAction): void;
}

/** Ctrl/Cmd+K: every page and every shell action, by keyboard. */
export function CommandPalette({
  open,
  onOpenChange,
  projects,
  sections,
  accessOrganizations,
  onShowShortcuts,
  pendingActions,
  onApprove,
}: PaletteProps) {
  const { t } = useTranslation("shell");
  const router = useRouter();
  const { preferences, setPreferences } = usePreferences();
  const pageCommands = usePageCommandList();

  function run(action: () => void | Promise<void>) {
    onOpenChange(false);
    void action();
  }

  const current = (active: boolean) => (active ? <span className="muted">{t("palette.current")}</span> : null);
  const approvals = pendingActions.filter((action) => action.kind === "approval");
  const approveLabel = (action: PendingAction) =>
    action.environment
      ? t("palette.approveRunIn", {
          number: action.runNumber,
          pipeline: action.pipelineName,
          environment: action.environment,
        })
      : t("palette.approveRun", { number: action.runNumber, pipeline: action.pipelineName });

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
        {pageCommands.length > 0 ? (
          <Command.Group heading={t("palette.groupPage")}>
            {pageCommands
              .filter((command) => !command.disabled)
              .map((command) => (
                <Command.Item
                  key={command.id}
                  value={command.label}
                  keywords={command.keywords}
                  onSelect={() => run(() => command.run())}
                >
                  <span>{command.label}</span>
                  {command.shortcut ? <kbd>{command.shortcut}</kbd> : null}
                </Command.Item>
              ))}
          </Command.Group>
        ) : null}
        <Command.Group heading={t("palette.groupNavigate")}>
          {sections.map((section) => (
            <Command.Item
              key={section.key}
              value={t("palette.goTo", { page: t(`nav.${section.key}`) })}
              keywords={[section.key, section.href]}
              onSelect={() => run(() => router.push(section.href))}
            >
              <span>{t("palette.goTo", { page: t(`nav.${section.key}`) })}</span>
              <kbd>g {section.shortcut}</kbd>
            </Command.Item>
          ))}
        </Command.Group>
        <Command.Group heading={t("palette.groupApprovals")}>
          <Command.Item
            value={t("palette.openApprovals")}
            keywords={["approvals", "inbox", "waiting"]}
            onSelect={() => run(() => router.push("/approvals"))}
          >
            <span>{t("palette.openApprovals")}</span>
            <span className="muted">{t("palette.waitingCount", { count: pendingActions.length })}</span>
          </Command.Item>
          {approvals.map((action) => (
            <Command.Item
              key={`${action.runId}:${action.step}`}
              // Unique per item (cmdk keys items by value): a run can wait at two approvals.
              value={`${approveLabel(action)} ${action.stepName} ${action.runId}:${action.step}`}
              keywords={["approve", action.organizationSlug, action.projectSlug, action.step]}
              onSelect={() => run(() => onApprove(action))}
            >
              <span>{approveLabel(action)}</span>
              <span className="muted">
                {action.projectSlug} · {action.stepName}
              </span>
            </Command.Item>
          ))}
        </Command.Group>
        {projects.length > 0 ? (
          <Command.Group heading={t("palette.groupProjects")}>
            {projects.map((project) => (
              <Command.Item
                key={project.id}
                value={`${t("palette.openProject", { name: project.name })} ${project.organizationName}`}
                keywords={[project.slug, project.organizationSlug]}
                onSelect={() => run(() => router.push(projectHref(project)))}
              >
                <span>{t("palette.openProject", { name: project.name })}</span>
                <span className="muted">{project.organizationName}</span>
              </Command.Item>
            ))}
          </Command.Group>
        ) : null}
        {accessOrganizations.length > 0 ? (
          <Command.Group heading={t("nav.access")}>
            {accessOrganizations.flatMap((organization) =>
              ACCESS_PAGES.map((page) => (
                <Command.Item
                  key={`${organization.slug}-${page}`}
                  value={`${t(`access:palette.${page}`)} ${organization.name}`}
                  keywords={["access", "authz", page, organization.slug]}
                  onSelect={() => run(() => router.push(accessHref(organization.slug, page)))}
                >
                  <span>{t(`access:palette.${page}`)}</span>
                  <span className="muted">{organization.name}</span>
                </Command.Item>
              )),
            )}
          </Command.Group>
        ) : null}
        <Command.Group heading={t("palette.groupTheme")}>
          {(["light", "dark", "system"] as const).map((theme) => (
            <Command.Item
              key={theme}
              value={t(`palette.theme${theme[0]?.toUpperCase()}${theme.slice(1)}`)}
              keywords={["theme", theme]}
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
              value={t(`palette.density${density[0]?.toUpperCase()}${density.slice(1)}`)}
              keywords={["density", density]}
              onSelect={() => run(() => setPreferences({ density }))}
            >
              <span>{t(`palette.density${density[0]?.toUpperCase()}${density.slice(1)}`)}</span>
              {current(preferences.density === density)}
            </Command.Item>
          ))}
        </Command.Group>
        <Command.Group heading={t("palette.groupLanguage")}>
          <Command.Item
            value={t("palette.languageEn")}
            keywords={["language", "english", "en"]}
            onSelect={() => run(() => setPreferences({ locale: "en" }))}
          >
            <span>{t("palette.languageEn")}</span>
            {current(preferences.locale === "en")}
          </Command.Item>
          <Command.Item
            value={t("palette.languageZh")}
            keywords={["language", "chinese", "zh-CN", "中文"]}
            onSelect={() => run(() => setPreferences({ locale: "zh-CN" }))}
          >
            <span>{t("palette.languageZh")}</span>
            {current(preferences.locale === "zh-CN")}
          </Command.Item>
        </Command.Group>
        <Command.Group heading={t("palette.groupAccount")}>
          <Command.Item
            value={t("palette.showShortcuts")}
            keywords={["shortcuts", "help", "keyboard"]}
            onSelect={() => run(onShowShortcuts)}
          >
            <span>{t("palette.showShortcuts")}</span>
            <kbd>?</kbd>
          </Command.Item>
          <Command.Item
            value={t("palette.signOut")}
            keywords={["sign out", "logout"]}
            onSelect={() => run(() => signOut({ callbackUrl: "/sign-in" }))}
          >
            <span>{t("palette.signOut")}</span>
          </Command.Item>
        </Command.Group>
      </Command.List>
    </Command.Dialog>
  );
}

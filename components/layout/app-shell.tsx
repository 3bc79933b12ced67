"use client";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { signOut } from "next-auth/react";
import { type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";
import { DecisionDialog } from "@/components/approvals/decision-dialog";
import { useApprovalsInbox } from "@/components/approvals/use-approvals";
import { RealtimeProvider } from "@/components/realtime/socket-provider";
import type { Preferences } from "@/server/auth/schema";
import type { PendingAction } from "@/server/runs/schema";
import { Breadcrumbs } from "./breadcrumbs";
import { CommandPalette } from "./command-palette";
import { isActive, type ShellOrganization, type ShellProject, visibleSections } from "./navigation";
import { PreferencesProvider, usePreferences } from "./preferences";
import { ShortcutsDialog } from "./shortcuts-dialog";
import { useShortcuts } from "./use-shortcuts";

export interface ShellUser {
  name: string;
  email: string;
  preferences: Preferences;
}

interface AppShellProps {
  user: ShellUser;
  projects: ShellProject[];
  canReadAudit: boolean;
  /** Organizations whose access rules the user may read (the Access control section). */
  accessOrganizations: ShellOrganization[];
  children: ReactNode;
}

export function AppShell(props: AppShellProps) {
  return (
    <PreferencesProvider initial={props.user.preferences}>
      <RealtimeProvider>
        <ShellFrame {...props} />
      </RealtimeProvider>
    </PreferencesProvider>
  );
}

function ShellFrame({ user, projects, canReadAudit, accessOrganizations, children }: AppShellProps) {
  const { t } = useTranslation("shell");
  const pathname = usePathname();
  const router = useRouter();
  const { error } = usePreferences();
  const [paletteOpen, setPaletteOpen] = useState(false);
  const [helpOpen, setHelpOpen] = useState(false);
  const [approving, setApproving] = useState<PendingAction | null>(null);
  const sections = visibleSections({ canReadAudit, accessOrganizations });
  const inbox = useApprovalsInbox();
  const waiting = inbox.data ?? [];

  useShortcuts({
    onPalette: () => setPaletteOpen((open) => !open),
    onHelp: () => setHelpOpen(true),
    onGo: (letter) => {
      const section = sections.find((s) => s.shortcut === letter);
      if (!section) return false;
      router.push(section.href);
      return true;
    },
  });

  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        {t("skipToContent")}
      </a>
      <aside className="shell-sidebar">
        <Link href="/" className="shell-brand">
          {t("common:appName")}
        </Link>
        <nav aria-label={t("nav.label")} className="shell-nav">
          <ul>
            {sections.map((section) => {
              const count = section.key === "approvals" && inbox.data ? waiting.length : null;
              return (
                <li key={section.key}>
                  <Link
                    href={section.href}
                    aria-current={isActive(section, pathname) ? "page" : undefined}
                    aria-label={count === null ? undefined : t("nav.approvalsCount", { count })}
                  >
                    <span className="shell-nav-label">
                      {t(`nav.${section.key}`)}
                      {count ? (
                        <span className="nav-badge" aria-hidden="true">
                          {count}
                        </span>
                      ) : null}
                    </span>
                    <span className="muted" aria-hidden="true">
                      <kbd>g</kbd> <kbd>{section.shortcut}</kbd>
                    </span>
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
      </aside>
      <header className="shell-topbar">
        <Breadcrumbs projects={projects} />
        <span className="spacer" />
        <button
          type="button"
          className="button palette-trigger"
          onClick={() => setPaletteOpen(true)}
          aria-keyshortcuts="Control+K Meta+K"
          aria-haspopup="dialog"
        >
          <span>{t("topbar.openPalette")}</span>
          <kbd>{t("topbar.paletteHint")}</kbd>
        </button>
        <button
          type="button"
          className="button"
          onClick={() => setHelpOpen(true)}
          aria-keyshortcuts="?"
          aria-haspopup="dialog"
          aria-label={t("topbar.shortcuts")}
          title={t("topbar.shortcuts")}
        >
          ?
        </button>
        <span className="muted" title={user.email}>
          {t("topbar.signedInAs", { name: user.name })}
        </span>
        <button type="button" className="button" onClick={() => signOut({ callbackUrl: "/sign-in" })}>
          {t("palette.signOut")}
        </button>
      </header>
      <main id="main" className="shell-main" tabIndex={-1}>
        {error ? (
          <p role="alert" className="alert">
            {error}
          </p>
        ) : null}
        {children}
      </main>
      <CommandPalette
        open={paletteOpen}
        onOpenChange={setPaletteOpen}
        projects={projects}
        sections={sections}
        accessOrganizations={accessOrganizations}
        onShowShortcuts={() => setHelpOpen(true)}
        pendingActions={waiting}
        onApprove={setApproving}
      />
      <ShortcutsDialog open={helpOpen} onClose={() => setHelpOpen(false)} />
      <DecisionDialog action={approving} onClose={() => setApproving(null)} />
    </div>
  );
}

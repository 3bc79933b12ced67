import type { Metadata } from "next";
import { PreferencesForm } from "@/components/settings/preferences-form";
import { getPageContext } from "@/server/i18n/request";

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("settings:title") };
}

export default async function SettingsPage() {
  const { actor, t } = await getPageContext();
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("settings:title")}</h1>
        <p className="muted">{t("settings:subtitle")}</p>
      </header>
      <section aria-labelledby="appearance-title" className="card stack">
        <h2 id="appearance-title">{t("settings:appearance")}</h2>
        <PreferencesForm />
      </section>
      <section aria-labelledby="profile-title" className="card">
        <h2 id="profile-title">{t("settings:profile")}</h2>
        <dl className="shortcut-list">
          <dt>{t("settings:name")}</dt>
          <dd>{actor.name}</dd>
          <dt>{t("settings:email")}</dt>
          <dd>{actor.email}</dd>
        </dl>
      </section>
    </div>
  );
}

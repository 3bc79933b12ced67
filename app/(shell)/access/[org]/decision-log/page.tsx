import type { Metadata } from "next";
import { DecisionLog } from "@/components/access/decision-log";
import { getPageContext } from "@/server/i18n/request";
import { loadAccessPage } from "../../_lib/load";

type Params = Promise<{ org: string }>;

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("access:decisionLog.title") };
}

export default async function DecisionLogPage({ params }: { params: Params }) {
  const { org } = await params;
  const page = await loadAccessPage(org, async () => null);
  const { t } = page.ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("access:decisionLog.title")}</h1>
        <p className="muted">{t("access:decisionLog.subtitle")}</p>
      </header>
      {page.forbidden ? (
        <p className="notice">{t("access:forbidden")}</p>
      ) : (
        <DecisionLog org={org} initialDirectory={page.directory} />
      )}
    </div>
  );
}

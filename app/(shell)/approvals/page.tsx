import type { Metadata } from "next";
import { ApprovalsInbox } from "@/components/approvals/approvals-inbox";
import { getPageContext } from "@/server/i18n/request";
import { listPendingActions } from "@/server/runs/service";

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("approvals:title") };
}

export default async function ApprovalsPage() {
  const { actor, t } = await getPageContext();
  const actions = await listPendingActions(actor);
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("approvals:title")}</h1>
        <p className="muted">{t("approvals:subtitle")}</p>
      </header>
      <ApprovalsInbox initialActions={actions} />
    </div>
  );
}

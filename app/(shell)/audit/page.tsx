import type { Metadata } from "next";
import { AuditLog } from "@/components/audit/audit-log";
import { organizationsWhere } from "@/server/authz/service";
import { getPageContext } from "@/server/i18n/request";

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("audit:title") };
}

export default async function AuditPage() {
  const { actor, t } = await getPageContext();
  const allowed = (await organizationsWhere(actor, "audit:read")).length > 0;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("audit:title")}</h1>
        <p className="muted">{t("audit:subtitle")}</p>
      </header>
      {allowed ? <AuditLog /> : <p className="notice">{t("audit:forbidden")}</p>}
    </div>
  );
}

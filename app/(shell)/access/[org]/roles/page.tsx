import type { Metadata } from "next";
import { RolesManager } from "@/components/access/roles-manager";
import { listRoles } from "@/server/authz/service";
import { getPageContext } from "@/server/i18n/request";
import { loadAccessPage } from "../../_lib/load";

type Params = Promise<{ org: string }>;

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("access:roles.title") };
}

export default async function RolesPage({ params }: { params: Params }) {
  const { org } = await params;
  const page = await loadAccessPage(org, (actor) => listRoles(actor, org));
  const { t } = page.ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("access:roles.title")}</h1>
        {page.forbidden ? null : (
          <p className="muted">{t("access:organization", { name: page.directory.organization.name })}</p>
        )}
      </header>
      {page.forbidden ? (
        <p className="notice">{t("access:forbidden")}</p>
      ) : (
        <RolesManager org={org} initialRoles={page.data} canManage={page.canManage} />
      )}
    </div>
  );
}

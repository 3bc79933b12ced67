import type { Metadata } from "next";
import { BindingsManager } from "@/components/access/bindings-manager";
import { listBindings, listRoles } from "@/server/authz/service";
import { getPageContext } from "@/server/i18n/request";
import { loadAccessPage } from "../../_lib/load";

type Params = Promise<{ org: string }>;

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("access:bindings.title") };
}

export default async function BindingsPage({ params }: { params: Params }) {
  const { org } = await params;
  const page = await loadAccessPage(org, async (actor) => {
    const [bindings, roles] = await Promise.all([listBindings(actor, org), listRoles(actor, org)]);
    return { bindings, roles };
  });
  const { t } = page.ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("access:bindings.title")}</h1>
        {page.forbidden ? null : (
          <p className="muted">{t("access:organization", { name: page.directory.organization.name })}</p>
        )}
      </header>
      {page.forbidden ? (
        <p className="notice">{t("access:forbidden")}</p>
      ) : (
        <BindingsManager
          org={org}
          initialBindings={page.data.bindings}
          initialRoles={page.data.roles}
          initialDirectory={page.directory}
          canManage={page.canManage}
        />
      )}
    </div>
  );
}

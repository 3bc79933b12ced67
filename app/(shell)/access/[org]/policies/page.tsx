import type { Metadata } from "next";
import { PoliciesManager } from "@/components/access/policies-manager";
import { listPolicies, listRoles } from "@/server/authz/service";
import { getPageContext } from "@/server/i18n/request";
import { loadAccessPage } from "../../_lib/load";

type Params = Promise<{ org: string }>;

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("access:policies.title") };
}

export default async function PoliciesPage({ params }: { params: Params }) {
  const { org } = await params;
  const page = await loadAccessPage(org, async (actor) => {
    const [policies, roles] = await Promise.all([listPolicies(actor, org), listRoles(actor, org)]);
    return { policies, roles };
  });
  const { t } = page.ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("access:policies.title")}</h1>
        {page.forbidden ? null : (
          <p className="muted">{t("access:organization", { name: page.directory.organization.name })}</p>
        )}
      </header>
      {page.forbidden ? (
        <p className="notice">{t("access:forbidden")}</p>
      ) : (
        <PoliciesManager
          org={org}
          initialPolicies={page.data.policies}
          initialRoles={page.data.roles}
          initialDirectory={page.directory}
          canManage={page.canManage}
        />
      )}
    </div>
  );
}

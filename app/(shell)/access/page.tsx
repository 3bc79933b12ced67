import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { listMemberships, organizationsWhere } from "@/server/authz/service";
import { getPageContext } from "@/server/i18n/request";

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("access:title") };
}

/** The organizations whose access rules the actor may read; straight to the only one. */
export default async function AccessPage() {
  const { actor, t } = await getPageContext();
  const [readable, memberships] = await Promise.all([organizationsWhere(actor, "authz:read"), listMemberships(actor)]);
  const organizations = new Map<string, { slug: string; name: string }>();
  for (const m of memberships) {
    if (readable.includes(m.organizationId)) {
      organizations.set(m.organizationId, { slug: m.organizationSlug, name: m.organizationName });
    }
  }
  const [only] = organizations.values();
  if (organizations.size === 1 && only) redirect(`/access/${only.slug}/roles`);
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("access:title")}</h1>
        <p className="muted">{t("access:subtitle")}</p>
      </header>
      {organizations.size === 0 ? (
        <p className="notice">{t("access:forbidden")}</p>
      ) : (
        <ul className="grid" style={{ listStyle: "none", padding: 0, margin: 0 }}>
          {[...organizations.values()].map((org) => (
            <li key={org.slug} className="card">
              <h2 style={{ margin: 0 }}>{org.name}</h2>
              <p style={{ margin: "4px 0 0" }}>
                <Link href={`/access/${org.slug}/roles`}>{t("access:openOrganization", { name: org.name })}</Link>
              </p>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

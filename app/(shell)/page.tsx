import type { Metadata } from "next";
import Link from "next/link";
import { listMemberships } from "@/server/authz/service";
import { getPageContext } from "@/server/i18n/request";
import { listProjectsForActor } from "@/server/projects/service";

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("shell:nav.home") };
}

export default async function HomePage() {
  const { actor, t, formatNumber } = await getPageContext();
  const [memberships, projects] = await Promise.all([listMemberships(actor), listProjectsForActor(actor)]);
  const organizations = new Map<string, { name: string; slug: string; roles: Set<string> }>();
  for (const m of memberships) {
    const org = organizations.get(m.organizationId) ?? {
      name: m.organizationName,
      slug: m.organizationSlug,
      roles: new Set<string>(),
    };
    org.roles.add(m.role);
    organizations.set(m.organizationId, org);
  }
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("home:title", { name: actor.name })}</h1>
        <p className="muted">{t("home:subtitle")}</p>
      </header>
      <p className="notice">{t("home:tipPalette")}</p>
      <section aria-labelledby="orgs-title" className="stack">
        <h2 id="orgs-title">{t("home:organizations")}</h2>
        {organizations.size === 0 ? <p>{t("home:noMemberships")}</p> : null}
        <ul className="grid" style={{ listStyle: "none", padding: 0, margin: 0 }}>
          {[...organizations.entries()].map(([id, org]) => {
            const count = projects.filter((p) => p.organizationId === id).length;
            return (
              <li key={id} className="card">
                <h3 style={{ margin: 0 }}>{org.name}</h3>
                <p className="muted" style={{ margin: "4px 0" }}>
                  {t("home:yourRole")}: {[...org.roles].map((r) => t(`common:role.${r}`)).join(", ")}
                </p>
                <Link href={`/projects?org=${org.slug}`}>
                  {t("home:projectCount", { count, formatted: formatNumber(count) })}
                </Link>
              </li>
            );
          })}
        </ul>
      </section>
      <section aria-labelledby="projects-title" className="stack">
        <h2 id="projects-title">{t("home:recentProjects")}</h2>
        <ul className="grid" style={{ listStyle: "none", padding: 0, margin: 0 }}>
          {projects.map((project) => (
            <li key={project.id} className="card">
              <Link href={`/projects/${project.organizationSlug}/${project.slug}`}>
                <strong>{project.name}</strong>
              </Link>
              <p className="muted" style={{ margin: "4px 0 0" }}>
                {project.organizationName}
                {project.description ? ` · ${project.description}` : ""}
              </p>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

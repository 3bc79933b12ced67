import type { Metadata } from "next";
import Link from "next/link";
import { getPageContext } from "@/server/i18n/request";
import { listProjectsForActor } from "@/server/projects/service";

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("projects:title") };
}

export default async function ProjectsPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { actor, t, formatDate, formatNumber } = await getPageContext();
  const { org } = await searchParams;
  const all = await listProjectsForActor(actor);
  const projects = typeof org === "string" ? all.filter((p) => p.organizationSlug === org) : all;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("projects:title")}</h1>
        <p className="muted">{t("projects:subtitle")}</p>
      </header>
      {projects.length === 0 ? (
        <p>{t("projects:empty")}</p>
      ) : (
        <table className="data">
          <caption className="visually-hidden">{t("projects:title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("projects:columns.name")}</th>
              <th scope="col">{t("projects:columns.organization")}</th>
              <th scope="col">{t("projects:columns.members")}</th>
              <th scope="col">{t("projects:columns.created")}</th>
            </tr>
          </thead>
          <tbody>
            {projects.map((project) => (
              <tr key={project.id}>
                <td>
                  <Link href={`/projects/${project.organizationSlug}/${project.slug}`}>{project.name}</Link>
                </td>
                <td>{project.organizationName}</td>
                <td>{formatNumber(project.memberCount)}</td>
                <td>{formatDate(project.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

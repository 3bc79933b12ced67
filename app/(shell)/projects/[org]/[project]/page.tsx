import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getProject } from "@/server/projects/service";

type Params = Promise<{ org: string; project: string }>;

async function load(params: Params) {
  const ctx = await getPageContext();
  const { org, project } = await params;
  try {
    return { ctx, project: await getProject(ctx.actor, org, project) };
  } catch (error) {
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "FORBIDDEN")) notFound();
    throw error;
  }
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { project } = await load(params);
  return { title: project.name };
}

export default async function ProjectPage({ params }: { params: Params }) {
  const { ctx, project } = await load(params);
  const { t, formatDate } = ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{project.name}</h1>
        <p className="muted">
          {project.organizationName}
          {project.description ? ` · ${project.description}` : ""} ·{" "}
          {t("projects:detail.created", { date: formatDate(project.createdAt) })}
        </p>
      </header>
      <section aria-labelledby="members-title" className="stack">
        <h2 id="members-title">{t("projects:detail.members")}</h2>
        <p className="muted">{t("projects:detail.membersDescription")}</p>
        <table className="data">
          <thead>
            <tr>
              <th scope="col">{t("projects:detail.name")}</th>
              <th scope="col">{t("projects:detail.kind")}</th>
              <th scope="col">{t("projects:detail.role")}</th>
              <th scope="col">{t("projects:detail.scope")}</th>
            </tr>
          </thead>
          <tbody>
            {project.members.map((member) => (
              <tr key={member.membershipId}>
                <td>
                  {member.name}
                  {member.email ? <span className="muted"> · {member.email}</span> : null}
                </td>
                <td>{t(`projects:detail.${member.kind}`)}</td>
                <td>{t(`common:role.${member.role}`)}</td>
                <td>
                  {member.scope === "project"
                    ? t("projects:detail.scopeProject")
                    : t("projects:detail.scopeOrganization")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

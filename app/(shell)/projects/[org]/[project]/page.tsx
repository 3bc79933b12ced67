import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { RunStatusBadge } from "@/components/runs/run-status";
import { RunsList } from "@/components/runs/runs-list";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { listPipelines } from "@/server/pipelines/service";
import { getProject } from "@/server/projects/service";
import { listProjectRuns } from "@/server/runs/service";

const RECENT_RUNS = 10;

/** A section the member may not read is left out, not an error page. */
async function unlessForbidden<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise;
  } catch (error) {
    if (isAppError(error) && error.code === "FORBIDDEN") return null;
    throw error;
  }
}

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
  const { t, formatDate, formatDateTime, formatNumber } = ctx;
  const base = `/projects/${project.organizationSlug}/${project.slug}`;
  const [pipelines, recentRuns] = await Promise.all([
    unlessForbidden(listPipelines(ctx.actor, project.organizationSlug, project.slug)),
    unlessForbidden(listProjectRuns(ctx.actor, project.organizationSlug, project.slug, { limit: RECENT_RUNS })),
  ]);
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
      {pipelines ? (
        <section aria-labelledby="pipelines-title" className="stack">
          <h2 id="pipelines-title">{t("runs:list.pipelines.title")}</h2>
          <p className="muted">{t("runs:list.pipelines.description")}</p>
          {pipelines.length === 0 ? (
            <p className="notice">{t("runs:list.pipelines.empty")}</p>
          ) : (
            <table className="data">
              <caption className="visually-hidden">{t("runs:list.pipelines.title")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("runs:list.pipelines.name")}</th>
                  <th scope="col">{t("runs:list.pipelines.lastRun")}</th>
                  <th scope="col">{t("runs:list.pipelines.runCount")}</th>
                  <th scope="col">{t("runs:list.pipelines.version")}</th>
                </tr>
              </thead>
              <tbody>
                {pipelines.map((pipeline) => (
                  <tr key={pipeline.id}>
                    <td>
                      <Link href={`${base}/pipelines/${pipeline.slug}`}>{pipeline.name}</Link>
                      {pipeline.description ? <div className="muted">{pipeline.description}</div> : null}
                    </td>
                    <td>
                      {pipeline.lastRun ? (
                        <span className="row" style={{ gap: 8 }}>
                          <RunStatusBadge status={pipeline.lastRun.status} />
                          <Link
                            href={`/runs/${pipeline.lastRun.id}`}
                            aria-label={t("runs:list.runLabel", {
                              number: pipeline.lastRun.number,
                              pipeline: pipeline.name,
                            })}
                          >
                            {t("runs:list.runNumber", { number: pipeline.lastRun.number })}
                          </Link>
                          <time dateTime={pipeline.lastRun.createdAt} className="muted">
                            {formatDateTime(pipeline.lastRun.createdAt)}
                          </time>
                        </span>
                      ) : (
                        <span className="muted">{t("runs:list.pipelines.never")}</span>
                      )}
                    </td>
                    <td>{formatNumber(pipeline.runCount)}</td>
                    <td>{t("runs:list.pipeline.version", { version: pipeline.currentVersion })}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
      {recentRuns ? (
        <section aria-labelledby="recent-runs-title" className="stack">
          <h2 id="recent-runs-title">{t("runs:list.recent.title")}</h2>
          <p className="muted">{t("runs:list.recent.description")}</p>
          <RunsList
            scope={{ kind: "project", organizationSlug: project.organizationSlug, projectSlug: project.slug }}
            initialPage={recentRuns}
            limit={RECENT_RUNS}
            variant="recent"
            allRunsHref={`${base}/runs`}
            caption={t("runs:list.recent.title")}
          />
        </section>
      ) : null}
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

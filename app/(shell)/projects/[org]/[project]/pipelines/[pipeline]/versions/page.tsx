import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { cache } from "react";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getPipelineBySlugs, listPipelineVersions } from "@/server/pipelines/service";

type Params = Promise<{ org: string; project: string; pipeline: string }>;

// Metadata and page share one load per request.
const loadVersions = cache(async (org: string, project: string, slug: string) => {
  const ctx = await getPageContext();
  try {
    const pipeline = await getPipelineBySlugs(ctx.actor, org, project, slug);
    return { ctx, pipeline, versions: await listPipelineVersions(ctx.actor, pipeline.id) };
  } catch (error) {
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "FORBIDDEN")) notFound();
    throw error;
  }
});

async function load(params: Params) {
  const { org, project, pipeline } = await params;
  return loadVersions(org, project, pipeline);
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { ctx, pipeline } = await load(params);
  return { title: ctx.t("runs:list.versions.title", { name: pipeline.name }) };
}

/** Every saved version of a pipeline, newest first (the same list as GET /api/v1/pipelines/{id}/versions). */
export default async function PipelineVersionsPage({ params }: { params: Params }) {
  const { ctx, pipeline, versions } = await load(params);
  const { t, formatDateTime } = ctx;
  const base = `/projects/${pipeline.organizationSlug}/${pipeline.projectSlug}/pipelines/${pipeline.slug}`;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("runs:list.versions.title", { name: pipeline.name })}</h1>
        <p className="muted">{t("runs:list.versions.subtitle")}</p>
      </header>
      <p>
        <Link href={base}>{t("runs:list.versions.back", { name: pipeline.name })}</Link>
      </p>
      <table className="data">
        <caption className="visually-hidden">{t("runs:list.versions.title", { name: pipeline.name })}</caption>
        <thead>
          <tr>
            <th scope="col">{t("runs:list.versions.version")}</th>
            <th scope="col">{t("runs:list.versions.message")}</th>
            <th scope="col">{t("runs:list.versions.author")}</th>
            <th scope="col">{t("runs:list.versions.saved")}</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((version) => (
            <tr key={version.id}>
              <td>
                {t("runs:list.pipeline.version", { version: version.version })}
                {version.isCurrent ? <span className="badge success">{t("runs:list.versions.current")}</span> : null}
              </td>
              <td>{version.message || <span className="muted">{t("runs:list.versions.noMessage")}</span>}</td>
              <td>{version.author?.name ?? <span className="muted">{t("runs:list.versions.unknownAuthor")}</span>}</td>
              <td>
                <time dateTime={version.createdAt}>{formatDateTime(version.createdAt)}</time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { cache } from "react";
import { RunsList } from "@/components/runs/runs-list";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { listPipelines } from "@/server/pipelines/service";
import { getProject } from "@/server/projects/service";
import { listProjectRuns } from "@/server/runs/service";

type Params = Promise<{ org: string; project: string }>;

const PAGE_SIZE = 25;

// Metadata and page share one load per request.
const loadRuns = cache(async (org: string, slug: string) => {
  const ctx = await getPageContext();
  try {
    const project = await getProject(ctx.actor, org, slug);
    const [firstPage, pipelines] = await Promise.all([
      listProjectRuns(ctx.actor, org, slug, { limit: PAGE_SIZE }),
      listPipelines(ctx.actor, org, slug),
    ]);
    return { ctx, project, firstPage, pipelines };
  } catch (error) {
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "FORBIDDEN")) notFound();
    throw error;
  }
});

async function load(params: Params) {
  const { org, project } = await params;
  return loadRuns(org, project);
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { ctx, project } = await load(params);
  return { title: `${ctx.t("runs:list.title")} · ${project.name}` };
}

/** Every run of a project, filterable by status, trigger and pipeline. */
export default async function ProjectRunsPage({ params }: { params: Params }) {
  const { ctx, project, firstPage, pipelines } = await load(params);
  const { t } = ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("runs:list.title")}</h1>
        <p className="muted">{t("runs:list.subtitle", { project: project.name })}</p>
      </header>
      <RunsList
        scope={{ kind: "project", organizationSlug: project.organizationSlug, projectSlug: project.slug }}
        initialPage={firstPage}
        limit={PAGE_SIZE}
        pipelines={pipelines.map(({ id, name }) => ({ id, name }))}
        caption={t("runs:list.caption")}
      />
    </div>
  );
}

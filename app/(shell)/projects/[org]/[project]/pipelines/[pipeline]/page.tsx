import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { cache } from "react";
import { RunsList } from "@/components/runs/runs-list";
import { StartRunButton } from "@/components/runs/start-run-dialog";
import { authorize } from "@/server/authz/service";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getPipelineBySlugs } from "@/server/pipelines/service";
import { listPipelineRuns } from "@/server/runs/service";

type Params = Promise<{ org: string; project: string; pipeline: string }>;

const PAGE_SIZE = 25;

// Metadata and page share one load per request.
const loadPipeline = cache(async (org: string, project: string, slug: string) => {
  const ctx = await getPageContext();
  try {
    return { ctx, pipeline: await getPipelineBySlugs(ctx.actor, org, project, slug) };
  } catch (error) {
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "FORBIDDEN")) notFound();
    throw error;
  }
});

async function load(params: Params) {
  const { org, project, pipeline } = await params;
  return loadPipeline(org, project, pipeline);
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { pipeline } = await load(params);
  return { title: pipeline.name };
}

export default async function PipelinePage({ params }: { params: Params }) {
  const { ctx, pipeline } = await load(params);
  const { t, formatDateTime } = ctx;
  const base = `/projects/${pipeline.organizationSlug}/${pipeline.projectSlug}/pipelines/${pipeline.slug}`;
  const [firstPage, runDecision] = await Promise.all([
    listPipelineRuns(ctx.actor, pipeline.id, { limit: PAGE_SIZE }),
    // Whether to offer "Run pipeline" (the route authorizes again when it is pressed).
    authorize(ctx.actor, "pipeline:run", {
      type: "pipeline",
      id: pipeline.id,
      organizationId: pipeline.organizationId,
      projectId: pipeline.projectId,
    }),
  ]);
  const saved = formatDateTime(pipeline.versionCreatedAt);
  return (
    <div className="stack">
      <header className="page-header pipeline-header">
        <div className="stack pipeline-header-text">
          <h1>{pipeline.name}</h1>
          {pipeline.description ? <p>{pipeline.description}</p> : null}
          <p className="muted">
            {t("runs:list.pipeline.version", { version: pipeline.currentVersion })} ·{" "}
            {pipeline.versionAuthor
              ? t("runs:list.pipeline.savedBy", { name: pipeline.versionAuthor.name, date: saved })
              : t("runs:list.pipeline.savedOn", { date: saved })}
            {pipeline.versionMessage ? ` · “${pipeline.versionMessage}”` : ""} ·{" "}
            {t("runs:list.pipeline.stepCount", { count: pipeline.stepCount })} ·{" "}
            <span className="mono">{pipeline.slug}</span>
          </p>
        </div>
        <div className="row pipeline-header-actions">
          <StartRunButton
            pipeline={{
              id: pipeline.id,
              name: pipeline.name,
              currentVersion: pipeline.currentVersion,
              params: pipeline.params,
              manualRuns: pipeline.manualRuns,
            }}
            canRun={runDecision.allow}
          />
          <Link className="button" href={`${base}/edit`}>
            {t("runs:list.pipeline.edit")}
          </Link>
          <Link className="button" href={`${base}/versions`}>
            {t("runs:list.pipeline.versions")}
          </Link>
        </div>
      </header>
      <section aria-labelledby="pipeline-runs-title" className="stack">
        <h2 id="pipeline-runs-title">{t("runs:list.pipeline.runsTitle")}</h2>
        <RunsList
          scope={{ kind: "pipeline", pipelineId: pipeline.id }}
          initialPage={firstPage}
          limit={PAGE_SIZE}
          caption={t("runs:list.pipeline.runsTitle")}
        />
      </section>
    </div>
  );
}

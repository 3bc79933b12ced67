import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { PipelineStudio } from "@/components/pipeline-editor/studio";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getPipelineBySlugs } from "@/server/pipelines/service";

type Params = Promise<{ org: string; project: string; pipeline: string }>;

async function load(params: Params) {
  const ctx = await getPageContext();
  const { org, project, pipeline } = await params;
  try {
    return { ctx, org, project, pipeline: await getPipelineBySlugs(ctx.actor, org, project, pipeline) };
  } catch (error) {
    if (
      isAppError(error) &&
      (error.code === "NOT_FOUND" || error.code === "FORBIDDEN" || error.code === "INVALID_INPUT")
    )
      notFound();
    throw error;
  }
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { ctx, pipeline } = await load(params);
  return { title: ctx.t("pipelines:studio.editTitle", { name: pipeline.name }) };
}

export default async function EditPipelinePage({ params }: { params: Params }) {
  const { org, project, pipeline } = await load(params);
  return <PipelineStudio mode="edit" organizationSlug={org} projectSlug={project} pipeline={pipeline} />;
}

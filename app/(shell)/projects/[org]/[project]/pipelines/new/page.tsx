import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { PipelineStudio } from "@/components/pipeline-editor/studio";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getProject } from "@/server/projects/service";

type Params = Promise<{ org: string; project: string }>;

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("pipelines:studio.newTitle") };
}

export default async function NewPipelinePage({ params }: { params: Params }) {
  const ctx = await getPageContext();
  const { org, project } = await params;
  try {
    // Reading the project: another tenant's is a 404; creating is authorized by the API on save.
    await getProject(ctx.actor, org, project);
  } catch (error) {
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "FORBIDDEN")) notFound();
    throw error;
  }
  return <PipelineStudio mode="create" organizationSlug={org} projectSlug={project} pipeline={null} />;
}

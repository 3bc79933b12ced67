import "server-only";
import type { Actor } from "@/server/auth/schema";
import type { ResourceRef } from "@/server/authz/schema";
import { assertAuthorized } from "@/server/authz/service";
import type { ProjectRef } from "@/server/projects/schema";

export type PipelineAction =
  | "pipeline:read"
  | "pipeline:create"
  | "pipeline:update"
  | "pipeline:delete"
  | "pipeline:run";

export interface PipelineScope {
  id: string;
  organizationId: string;
  projectId: string;
  createdById: string | null;
}

export function pipelineResource(pipeline: PipelineScope): ResourceRef {
  return {
    type: "pipeline",
    id: pipeline.id,
    organizationId: pipeline.organizationId,
    projectId: pipeline.projectId,
    createdBy: pipeline.createdById,
  };
}

/** Another tenant's pipeline answers NOT_FOUND; a member without the permission FORBIDDEN. */
export function assertCanOnPipeline(actor: Actor, action: PipelineAction, pipeline: PipelineScope) {
  return assertAuthorized(actor, action, pipelineResource(pipeline), "The pipeline");
}

export function assertCanCreatePipeline(actor: Actor, project: ProjectRef) {
  return assertAuthorized(
    actor,
    "pipeline:create",
    { type: "pipeline", organizationId: project.organizationId, projectId: project.id },
    "The project",
  );
}

export function assertCanListPipelines(actor: Actor, project: ProjectRef) {
  return assertAuthorized(
    actor,
    "pipeline:read",
    { type: "pipeline", organizationId: project.organizationId, projectId: project.id },
    "The project",
  );
}

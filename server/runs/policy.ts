import "server-only";
import type { Actor } from "@/server/auth/schema";
import type { ResourceRef } from "@/server/authz/schema";
import { assertAuthorized, authorize } from "@/server/authz/service";

export type RunAction = "run:read" | "run:cancel" | "run:retry" | "run:approve" | "pipeline:run";

export interface RunScopeRef {
  id: string;
  organizationId: string;
  projectId: string;
  pipelineId: string;
  /** The author (user id): "no self-approval" guardrails read resource.createdBy. */
  startedById: string | null;
}

export function runResource(run: RunScopeRef, environment?: string | null): ResourceRef {
  return {
    type: "run",
    id: run.id,
    organizationId: run.organizationId,
    projectId: run.projectId,
    createdBy: run.startedById,
    ...(environment ? { environment } : {}),
    labels: { pipeline: run.pipelineId },
  };
}

/** Another tenant's run is NOT_FOUND; a member without the permission gets FORBIDDEN with why. */
export function assertCanOnRun(actor: Actor, action: RunAction, run: RunScopeRef, environment?: string | null) {
  return assertAuthorized(actor, action, runResource(run, environment), "The run");
}

export async function canOnRun(actor: Actor, action: RunAction, run: RunScopeRef): Promise<boolean> {
  return (await authorize(actor, action, runResource(run))).allow;
}

export function pipelineRunResource(pipeline: {
  id: string;
  organizationId: string;
  projectId: string;
  createdById: string | null;
}): ResourceRef {
  return {
    type: "pipeline",
    id: pipeline.id,
    organizationId: pipeline.organizationId,
    projectId: pipeline.projectId,
    createdBy: pipeline.createdById,
  };
}

export function assertCanRunPipeline(
  actor: Actor,
  pipeline: { id: string; organizationId: string; projectId: string; createdById: string | null },
) {
  return assertAuthorized(actor, "pipeline:run", pipelineRunResource(pipeline), "The pipeline");
}

/** Reading the runs of a project (lists): run:read at the project. */
export function assertCanListRuns(actor: Actor, project: { organizationId: string; id: string }) {
  return assertAuthorized(
    actor,
    "run:read",
    { type: "run", organizationId: project.organizationId, projectId: project.id },
    "The project",
  );
}

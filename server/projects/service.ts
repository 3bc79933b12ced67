import "server-only";
import type { Actor } from "@/server/auth/schema";
import { allowedScopes, assertAuthorized, filterAuthorized } from "@/server/authz/service";
import { recordAuditEvent } from "@/server/audit/service";
import { AppError } from "@/server/http/errors";
import {
  findProjectBySlugs,
  findProjectRefById,
  findProjectRefBySlugs,
  listProjectMemberships,
  listProjectsIn,
  updateProjectSettingsById,
} from "./repo";
import {
  type ProjectDetail,
  type ProjectRef,
  type ProjectSettings,
  type ProjectSummary,
  type UpdateProjectSettingsInput,
  updateProjectSettingsInputSchema,
} from "./schema";

type ProjectRow = Awaited<ReturnType<typeof listProjectsIn>>[number];

function toSummary(row: ProjectRow): ProjectSummary {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    organizationId: row.organizationId,
    organizationSlug: row.organization.slug,
    organizationName: row.organization.name,
    memberCount: row._count.memberships,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Projects the actor may read: all of an organization where bound there, else bound projects. */
export async function listProjectsForActor(actor: Actor): Promise<ProjectSummary[]> {
  const { organizationIds, projects } = await allowedScopes(actor, "project:read");
  if (organizationIds.length === 0 && projects.length === 0) return [];
  const rows = await listProjectsIn({ organizationIds, projects });
  const readable = await filterAuthorized(actor, "project:read", rows, (row) => ({
    type: "project",
    id: row.id,
    organizationId: row.organizationId,
    projectId: row.id,
  }));
  return readable.map(toSummary);
}

export async function getProject(actor: Actor, organizationSlug: string, projectSlug: string): Promise<ProjectDetail> {
  const row = await findProjectBySlugs(organizationSlug, projectSlug);
  if (!row) throw AppError.notFound("The project");
  await assertAuthorized(
    actor,
    "project:read",
    { type: "project", id: row.id, organizationId: row.organizationId, projectId: row.id },
    "The project",
  );
  const memberships = await listProjectMemberships(row.id, row.organizationId);
  return {
    ...toSummary(row),
    members: memberships.map((m) => ({
      membershipId: m.id,
      kind: m.userId ? "user" : "team",
      name: m.user?.name ?? m.team?.name ?? "",
      email: m.user?.email,
      role: m.role ?? m.customRole?.slug ?? "",
      scope: m.projectId ? "project" : "organization",
    })),
  };
}

type ProjectRefRow = NonNullable<Awaited<ReturnType<typeof findProjectRefById>>>;

function toRef(row: ProjectRefRow): ProjectRef {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    organizationId: row.organizationId,
    organizationSlug: row.organization.slug,
    maxActiveRuns: row.maxActiveRuns,
    maxRunningSteps: row.maxRunningSteps,
    logRetentionDays: row.logRetentionDays,
  };
}

/**
 * The project at these slugs, or null. No authorization: for modules that authorize the action
 * they are about to take on something inside the project themselves.
 */
export async function findProjectRef(organizationSlug: string, projectSlug: string): Promise<ProjectRef | null> {
  const row = await findProjectRefBySlugs(organizationSlug, projectSlug);
  return row ? toRef(row) : null;
}

/** The project with this id, or null (no authorization; see findProjectRef). */
export async function findProjectRefOfId(projectId: string): Promise<ProjectRef | null> {
  const row = await findProjectRefById(projectId);
  return row ? toRef(row) : null;
}

async function projectForSettings(actor: Actor, organizationSlug: string, projectSlug: string, action: string) {
  const row = await findProjectRefBySlugs(organizationSlug, projectSlug);
  if (!row) throw AppError.notFound("The project");
  await assertAuthorized(
    actor,
    action,
    { type: "project", id: row.id, organizationId: row.organizationId, projectId: row.id },
    "The project",
  );
  return row;
}

export async function getProjectSettings(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
): Promise<ProjectSettings> {
  const row = await projectForSettings(actor, organizationSlug, projectSlug, "project:read");
  return {
    maxActiveRuns: row.maxActiveRuns,
    maxRunningSteps: row.maxRunningSteps,
    logRetentionDays: row.logRetentionDays,
  };
}

/** Changes a project's run caps and log retention (project:update), audited. */
export async function updateProjectSettings(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  raw: UpdateProjectSettingsInput | unknown,
): Promise<ProjectSettings> {
  const parsed = updateProjectSettingsInputSchema.safeParse(raw);
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  const row = await projectForSettings(actor, organizationSlug, projectSlug, "project:update");
  const updated = await updateProjectSettingsById(row.id, parsed.data);
  await recordAuditEvent({
    actor: { type: "user", id: actor.id, label: actor.email },
    organizationId: row.organizationId,
    projectId: row.id,
    action: "projects.settings.update",
    target: { type: "project", id: row.id },
    outcome: "success",
    details: parsed.data,
  });
  return updated;
}

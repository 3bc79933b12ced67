import "server-only";
import { getPrisma, type DbTx } from "@/server/db";

const projectInclude = {
  organization: { select: { slug: true, name: true } },
  _count: { select: { memberships: true } },
} as const;

export async function listProjectsIn(
  filter: { organizationIds: string[]; projects: { organizationId: string; projectId: string }[] },
  tx?: DbTx,
) {
  const db = tx ?? (await getPrisma());
  return db.project.findMany({
    where: {
      OR: [
        { organizationId: { in: filter.organizationIds } },
        // Matched with its organization: a project id alone must never cross a tenant.
        ...filter.projects.map((p) => ({ id: p.projectId, organizationId: p.organizationId })),
      ],
    },
    include: projectInclude,
    orderBy: [{ organization: { name: "asc" } }, { name: "asc" }],
  });
}

export async function findProjectBySlugs(organizationSlug: string, projectSlug: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.project.findFirst({
    where: { slug: projectSlug, organization: { slug: organizationSlug } },
    include: projectInclude,
  });
}

/** Memberships that apply to a project: its own and its organization's. */
export async function listProjectMemberships(projectId: string, organizationId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.membership.findMany({
    where: { organizationId, OR: [{ projectId }, { projectId: null }] },
    include: {
      user: { select: { name: true, email: true } },
      team: { select: { name: true } },
      customRole: { select: { slug: true } },
    },
    orderBy: [{ role: "asc" }, { createdAt: "asc" }],
  });
}

export async function findProjectRefBySlugs(organizationSlug: string, projectSlug: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.project.findFirst({
    where: { slug: projectSlug, organization: { slug: organizationSlug } },
    select: {
      id: true,
      slug: true,
      name: true,
      organizationId: true,
      maxActiveRuns: true,
      maxRunningSteps: true,
      logRetentionDays: true,
      organization: { select: { slug: true } },
    },
  });
}

export async function findProjectRefById(projectId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.project.findUnique({
    where: { id: projectId },
    select: {
      id: true,
      slug: true,
      name: true,
      organizationId: true,
      maxActiveRuns: true,
      maxRunningSteps: true,
      logRetentionDays: true,
      organization: { select: { slug: true } },
    },
  });
}

export async function updateProjectSettingsById(
  projectId: string,
  data: { maxActiveRuns?: number | null; maxRunningSteps?: number | null; logRetentionDays?: number | null },
  tx?: DbTx,
) {
  const db = tx ?? (await getPrisma());
  return db.project.update({
    where: { id: projectId },
    data,
    select: { maxActiveRuns: true, maxRunningSteps: true, logRetentionDays: true },
  });
}

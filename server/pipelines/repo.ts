import "server-only";
import { Prisma } from "@/generated/prisma/client";
import { type DbTx, getPrisma } from "@/server/db";

const pipelineInclude = {
  project: { select: { slug: true, organization: { select: { slug: true } } } },
  runs: {
    orderBy: { number: "desc" },
    take: 1,
    select: { id: true, number: true, status: true, createdAt: true, finishedAt: true },
  },
} as const satisfies Prisma.PipelineInclude;

export type PipelineRow = Prisma.PipelineGetPayload<{ include: typeof pipelineInclude }>;

export async function listPipelinesOfProject(projectId: string, q: string | undefined, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.pipeline.findMany({
    where: {
      projectId,
      ...(q ? { OR: [{ name: { contains: q, mode: "insensitive" } }, { slug: { contains: q } }] } : {}),
    },
    include: pipelineInclude,
    orderBy: { name: "asc" },
  });
}

export async function findPipelineById(id: string, tx?: DbTx): Promise<PipelineRow | null> {
  const db = tx ?? (await getPrisma());
  return db.pipeline.findUnique({ where: { id }, include: pipelineInclude });
}

export async function findPipelineBySlugs(organizationSlug: string, projectSlug: string, slug: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.pipeline.findFirst({
    where: { slug, project: { slug: projectSlug, organization: { slug: organizationSlug } } },
    include: pipelineInclude,
  });
}

export async function findVersion(pipelineId: string, version: number, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.pipelineVersion.findUnique({ where: { pipelineId_version: { pipelineId, version } } });
}

export async function listVersions(pipelineId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  return db.pipelineVersion.findMany({
    where: { pipelineId },
    orderBy: { version: "desc" },
    select: { id: true, version: true, message: true, authorId: true, createdAt: true },
  });
}

export async function findUserNames(ids: readonly string[], tx?: DbTx): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const db = tx ?? (await getPrisma());
  const users = await db.user.findMany({ where: { id: { in: [...new Set(ids)] } }, select: { id: true, name: true } });
  return new Map(users.map((user) => [user.id, user.name]));
}

export interface NewPipeline {
  organizationId: string;
  projectId: string;
  slug: string;
  name: string;
  description: string;
  yaml: string;
  spec: unknown;
  message: string;
  authorId: string;
}

/** Creates the pipeline and its version 1 in one transaction; null when the slug is taken. */
export async function insertPipeline(input: NewPipeline): Promise<PipelineRow | null> {
  const db = await getPrisma();
  try {
    return await db.$transaction(async (tx) => {
      const pipeline = await tx.pipeline.create({
        data: {
          organizationId: input.organizationId,
          projectId: input.projectId,
          slug: input.slug,
          name: input.name,
          description: input.description,
          currentVersion: 1,
          createdById: input.authorId,
        },
      });
      await tx.pipelineVersion.create({
        data: {
          pipelineId: pipeline.id,
          version: 1,
          yaml: input.yaml,
          spec: input.spec as Prisma.InputJsonValue,
          message: input.message,
          authorId: input.authorId,
        },
      });
      return tx.pipeline.findUniqueOrThrow({ where: { id: pipeline.id }, include: pipelineInclude });
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") return null;
    throw error;
  }
}

export type AppendVersionResult =
  | { ok: true; pipeline: PipelineRow; version: number }
  | { ok: false; reason: "not-found" }
  | { ok: false; reason: "conflict"; currentVersion: number };

/**
 * Appends a version and makes it current, if the current version is still `baseVersion`
 * (compare and set on the pipeline row, so two saves from the same base cannot both win).
 */
export async function appendVersion(
  pipelineId: string,
  baseVersion: number,
  input: { yaml: string; spec: unknown; name: string; description: string; message: string; authorId: string },
): Promise<AppendVersionResult> {
  const db = await getPrisma();
  return db.$transaction(async (tx) => {
    const current = await tx.pipeline.findUnique({ where: { id: pipelineId }, select: { currentVersion: true } });
    if (!current) return { ok: false, reason: "not-found" } as const;
    const latest = await tx.pipelineVersion.aggregate({ where: { pipelineId }, _max: { version: true } });
    const next = (latest._max.version ?? 0) + 1;
    const updated = await tx.pipeline.updateMany({
      where: { id: pipelineId, currentVersion: baseVersion },
      data: { currentVersion: next, name: input.name, description: input.description },
    });
    if (updated.count === 0) return { ok: false, reason: "conflict", currentVersion: current.currentVersion } as const;
    await tx.pipelineVersion.create({
      data: {
        pipelineId,
        version: next,
        yaml: input.yaml,
        spec: input.spec as Prisma.InputJsonValue,
        message: input.message,
        authorId: input.authorId,
      },
    });
    const pipeline = await tx.pipeline.findUniqueOrThrow({ where: { id: pipelineId }, include: pipelineInclude });
    return { ok: true, pipeline, version: next } as const;
  });
}

export async function deletePipelineById(id: string): Promise<boolean> {
  const db = await getPrisma();
  const deleted = await db.pipeline.deleteMany({ where: { id } });
  return deleted.count > 0;
}

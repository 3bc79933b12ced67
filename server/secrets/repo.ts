import "server-only";
import { type DbTx, getPrisma } from "@/server/db";

export async function listSecretsOfProject(projectId: string, tx?: DbTx) {
  const db = tx ?? (await getPrisma());
  const rows = await db.projectSecret.findMany({
    where: { projectId },
    orderBy: { name: "asc" },
    select: { name: true, description: true, updatedById: true, createdAt: true, updatedAt: true },
  });
  const ids = [...new Set(rows.flatMap((row) => (row.updatedById ? [row.updatedById] : [])))];
  const users = ids.length
    ? await db.user.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } })
    : [];
  const names = new Map(users.map((user) => [user.id, user.name]));
  return rows.map((row) => ({ ...row, updatedByName: row.updatedById ? (names.get(row.updatedById) ?? "") : null }));
}

export async function upsertSecret(
  input: {
    organizationId: string;
    projectId: string;
    name: string;
    envelope: string;
    description?: string;
    actorId: string;
  },
  tx?: DbTx,
) {
  const db = tx ?? (await getPrisma());
  return db.projectSecret.upsert({
    where: { projectId_name: { projectId: input.projectId, name: input.name } },
    create: {
      organizationId: input.organizationId,
      projectId: input.projectId,
      name: input.name,
      envelope: input.envelope,
      description: input.description ?? "",
      updatedById: input.actorId,
    },
    update: {
      envelope: input.envelope,
      ...(input.description === undefined ? {} : { description: input.description }),
      updatedById: input.actorId,
    },
    select: { name: true, description: true, updatedById: true, createdAt: true, updatedAt: true },
  });
}

export async function deleteSecretByName(projectId: string, name: string, tx?: DbTx): Promise<boolean> {
  const db = tx ?? (await getPrisma());
  return (await db.projectSecret.deleteMany({ where: { projectId, name } })).count > 0;
}

export async function findSecretEnvelopes(projectId: string, names: readonly string[], tx?: DbTx) {
  if (names.length === 0) return [];
  const db = tx ?? (await getPrisma());
  return db.projectSecret.findMany({
    where: { projectId, name: { in: [...names] } },
    select: { id: true, name: true, envelope: true },
  });
}

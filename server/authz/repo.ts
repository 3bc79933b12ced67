import "server-only";
import { getPrisma, type DbTx } from "@/server/db";
import type { MembershipView } from "./schema";

/** A membership as the engine evaluates it: the view plus its id (the binding id in decisions). */
export interface BindingRow extends MembershipView {
  id: string;
}

/** Every membership that applies to the user: direct ones and those of the user's teams. */
export async function listBindingsForUser(userId: string, tx?: DbTx): Promise<BindingRow[]> {
  const db = tx ?? (await getPrisma());
  const rows = await db.membership.findMany({
    where: { OR: [{ userId }, { team: { members: { some: { userId } } } }] },
    select: {
      id: true,
      organizationId: true,
      projectId: true,
      role: true,
      userId: true,
      organization: { select: { slug: true, name: true } },
    },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((row) => ({
    id: row.id,
    organizationId: row.organizationId,
    organizationSlug: row.organization.slug,
    organizationName: row.organization.name,
    projectId: row.projectId,
    role: row.role,
    via: row.userId ? "user" : "team",
  }));
}

/** Ids of the users with any membership in these organizations, directly or through a team. */
export async function listMemberUserIds(organizationIds: readonly string[], tx?: DbTx): Promise<string[]> {
  if (organizationIds.length === 0) return [];
  const db = tx ?? (await getPrisma());
  const ids = [...organizationIds];
  const [direct, viaTeams] = await Promise.all([
    db.membership.findMany({
      where: { organizationId: { in: ids }, userId: { not: null } },
      select: { userId: true },
      distinct: ["userId"],
    }),
    db.teamMember.findMany({
      where: { team: { organizationId: { in: ids } } },
      select: { userId: true },
      distinct: ["userId"],
    }),
  ]);
  return [...new Set([...direct.map((m) => m.userId as string), ...viaTeams.map((m) => m.userId)])];
}

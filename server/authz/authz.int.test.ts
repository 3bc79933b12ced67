import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemoData } from "@/prisma/seed";
import type { Actor } from "@/server/auth/schema";
import { getActorById } from "@/server/auth/service";
import { setDatabase } from "@/server/db";
import { getProject, listProjectsForActor } from "@/server/projects/service";
import { createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";
import { assertAuthorized, authorize, organizationsWhere } from "./service";

describe.each(TEST_DB_KINDS)("authorization on %s", (kind) => {
  let test: TestDatabase;
  const actors: Record<string, Actor> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    setDatabase(test.db);
    await seedDemoData(test.db.prisma, { password: "authz-test-password" });
    for (const user of await test.db.prisma.user.findMany()) {
      const actor = await getActorById(user.id);
      if (actor) actors[user.email.split("@")[0] as string] = actor;
    }
    for (const project of await test.db.prisma.project.findMany({ include: { organization: true } })) {
      ids[project.slug] = project.id;
      ids[project.organization.slug] = project.organizationId;
    }
  });

  afterAll(async () => {
    setDatabase(undefined);
    await test.drop();
  });

  const project = (slug: string, org = "acme") => ({
    type: "project",
    id: ids[slug],
    organizationId: ids[org] as string,
    projectId: ids[slug],
  });

  it("an organization admin may read every project and the audit log of that organization", async () => {
    const admin = actors.admin as Actor;
    expect((await authorize(admin, "project:read", project("payments"))).allow).toBe(true);
    const decision = await authorize(admin, "audit:read", { type: "audit", organizationId: ids.acme as string });
    expect(decision).toMatchObject({ allow: true, role: "admin", scope: "organization" });
    expect(await organizationsWhere(admin, "audit:read")).toEqual([ids.acme]);
  });

  it("a project binding covers only its project; a team binding adds another", async () => {
    const maintainer = actors.maintainer as Actor;
    expect((await authorize(maintainer, "pipeline:update", project("storefront"))).allow).toBe(true);
    expect((await authorize(maintainer, "pipeline:update", project("payments"))).allow).toBe(false);
    const developer = actors.developer as Actor;
    expect((await listProjectsForActor(developer)).map((p) => p.slug).sort()).toEqual(["payments", "storefront"]);
  });

  it("denies by default and says why", async () => {
    const viewer = actors.viewer as Actor;
    expect((await authorize(viewer, "pipeline:read", project("storefront"))).allow).toBe(true);
    const denied = await authorize(viewer, "pipeline:run", project("storefront"));
    expect(denied).toMatchObject({
      allow: false,
      reasonCode: "no_grant",
      reason: "no role or policy in this scope grants pipeline:run",
      isTenantMember: true,
    });
    await expect(assertAuthorized(viewer, "pipeline:run", project("storefront"))).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await organizationsWhere(viewer, "audit:read")).toEqual([]);
  });

  it("refuses a user of another organization as if the resource did not exist", async () => {
    const globex = actors.owner as Actor; // owner@globex...
    expect(globex.email).toMatch(/globex/);
    const decision = await authorize(globex, "project:read", project("storefront"));
    expect(decision).toMatchObject({
      allow: false,
      reasonCode: "not_member",
      reason: "the principal has nothing in this organization",
      isTenantMember: false,
    });
    await expect(assertAuthorized(globex, "project:read", project("storefront"))).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(getProject(globex, "acme", "storefront")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await listProjectsForActor(globex)).map((p) => p.slug)).toEqual(["billing"]);
    // And the reverse: acme's owner-level admin sees nothing of globex.
    await expect(getProject(actors.admin as Actor, "globex", "billing")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a deactivated user has no actor", async () => {
    await test.db.prisma.user.update({ where: { id: (actors.viewer as Actor).id }, data: { isActive: false } });
    expect(await getActorById((actors.viewer as Actor).id)).toBeNull();
  });
});

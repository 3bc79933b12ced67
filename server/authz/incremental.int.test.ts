import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemoData } from "@/prisma/seed";
import type { Actor } from "@/server/auth/schema";
import { getActorById } from "@/server/auth/service";
import { setDatabase } from "@/server/db";
import { createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";
import { decide } from "./engine/decide";
import { buildSnapshot, type Snapshot } from "./engine/snapshot";
import type { AuthzRequest } from "./engine/types";
import { loadRuleSet } from "./repo";
import { getSnapshot, stopAuthzRuntime } from "./runtime";
import { PERMISSIONS } from "./schema";
import {
  createBinding,
  createPolicy,
  createRole,
  deleteBinding,
  deletePolicy,
  deleteRole,
  updatePolicy,
  updateRole,
} from "./service";

// The realistic path of a rule change, on both databases: an admin changes policies, custom
// roles and bindings through the service; the process re-indexes only that organization
// (reusing what did not change) and swaps the snapshot. After every change, the snapshot the
// process decides with must answer exactly as one built from scratch from the database, for
// every seeded user, every permission and resources at every scope, including the questions
// the admin's own next grant check asks (creating a binding with the developer role).

describe.each(TEST_DB_KINDS)("incremental reload equals a full rebuild on %s", (kind) => {
  let test: TestDatabase;
  const actors: Record<string, Actor> = {};
  const ids: Record<string, string> = {};
  let requests: AuthzRequest[] = [];

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    setDatabase(test.db);
    await seedDemoData(test.db.prisma, { password: "incremental-test-password" });
    for (const user of await test.db.prisma.user.findMany()) {
      const actor = await getActorById(user.id);
      if (actor) actors[user.email.split("@")[0] as string] = actor;
    }
    for (const project of await test.db.prisma.project.findMany({ include: { organization: true } })) {
      ids[project.slug] = project.id;
      ids[project.organization.slug] = project.organizationId;
    }
    const acme = ids.acme as string;
    const places = [
      { projectId: null, environment: null },
      { projectId: ids.storefront as string, environment: null },
      { projectId: ids.payments as string, environment: null },
      { projectId: ids.storefront as string, environment: "production" },
      { projectId: ids.payments as string, environment: "staging" },
    ];
    const time = new Date("2025-03-04T10:00:00Z");
    for (const actor of Object.values(actors)) {
      for (const permission of PERMISSIONS) {
        for (const place of places) {
          requests.push({
            principal: { type: "user", id: actor.id },
            action: permission,
            resource: { type: permission.slice(0, permission.indexOf(":")), organizationId: acme, ...place },
            context: { time, mfa: false },
          });
        }
      }
    }
    await getSnapshot();
  });

  afterAll(async () => {
    requests = [];
    await stopAuthzRuntime();
    setDatabase(undefined);
    await test.drop();
  });

  const actor = (name: string) => actors[name] as Actor;

  async function expectSameAsFullRebuild(step: string): Promise<void> {
    const live: Snapshot = await getSnapshot();
    const full = buildSnapshot(await loadRuleSet());
    expect(live.revision, step).toBe(full.revision);
    expect(live.ruleCount, step).toBe(full.ruleCount);
    for (const request of requests) {
      const got = decide(live, request);
      const want = decide(full, request);
      if (got.allow !== want.allow || got.reason !== want.reason) {
        expect({ step, request, got }).toEqual({ step, request, got: want });
      }
      expect(got, step).toEqual(want);
    }
  }

  it("after every policy, custom role and binding change through the service", async () => {
    const admin = actor("admin");
    const viewer = actor("viewer");
    await expectSameAsFullRebuild("seeded");

    const policyInput = {
      name: "readers-run",
      effect: "allow",
      actions: ["pipeline:run"],
      subjects: ["role:viewer"],
    };
    const policy = await createPolicy(admin, "acme", policyInput);
    await expectSameAsFullRebuild("policy created");
    await updatePolicy(admin, "acme", policy.id, { ...policyInput, condition: "request.mfa" });
    await expectSameAsFullRebuild("policy condition changed");
    await updatePolicy(admin, "acme", policy.id, { ...policyInput, scope: { projectId: ids.storefront } });
    await expectSameAsFullRebuild("policy scope changed");
    await updatePolicy(admin, "acme", policy.id, { ...policyInput, effect: "deny", subjects: ["role:developer"] });
    await expectSameAsFullRebuild("policy turned into a deny");
    await deletePolicy(admin, "acme", policy.id);
    await expectSameAsFullRebuild("policy deleted");

    const role = await createRole(admin, "acme", {
      slug: "release-manager",
      name: "Release manager",
      permissions: ["deployment:*", "pipeline:run"],
    });
    await expectSameAsFullRebuild("custom role created");
    const binding = await createBinding(admin, "acme", {
      subjectType: "user",
      subjectId: viewer.id,
      role: role.id,
      scope: { projectId: ids.storefront },
    });
    await expectSameAsFullRebuild("custom role bound");
    await updateRole(admin, "acme", role.id, {
      slug: "release-manager",
      name: "Release manager",
      permissions: ["deployment:approve"],
    });
    await expectSameAsFullRebuild("custom role narrowed");

    // The admin's grant check right after these changes: a developer binding for the viewer.
    const developerBinding = await createBinding(admin, "acme", {
      subjectType: "user",
      subjectId: viewer.id,
      role: "developer",
      scope: { projectId: ids.payments },
    });
    await expectSameAsFullRebuild("developer binding created");
    await deleteBinding(admin, "acme", developerBinding.id);
    await expectSameAsFullRebuild("developer binding deleted");
    await deleteBinding(admin, "acme", binding.id);
    await expectSameAsFullRebuild("custom role binding deleted");
    await deleteRole(admin, "acme", role.id);
    await expectSameAsFullRebuild("custom role deleted");
  });
});

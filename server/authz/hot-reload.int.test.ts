import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemoData } from "@/prisma/seed";
import type { Actor } from "@/server/auth/schema";
import { getActorById } from "@/server/auth/service";
import { setDatabase } from "@/server/db";
import type { AppError } from "@/server/http/errors";
import { createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";
import { getSnapshot, stopAuthzRuntime } from "./runtime";
import type { Decision, ResourceRef } from "./schema";
import {
  authorize,
  createBinding,
  createPolicy,
  createRole,
  deleteBinding,
  deletePolicy,
  deleteRole,
  listBindings,
  listPolicies,
  runPolicyTests,
  updatePolicy,
} from "./service";

// Rule changes reach decisions: at once in the process that made them (through the service),
// and through NOTIFY microstack_authz in every other process (a write that did not go through
// this process's service, as another replica's would). Plus what management refuses, on both
// databases.

const POLL_TIMEOUT_MS = 5_000;

/** Asks until the answer is `allow`, or gives up after POLL_TIMEOUT_MS; returns the last decision. */
async function eventually(ask: () => Promise<Decision>, allow: boolean): Promise<Decision> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  let decision = await ask();
  while (decision.allow !== allow && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    decision = await ask();
  }
  return decision;
}

describe.each(TEST_DB_KINDS)("authorization rule changes on %s", (kind) => {
  let test: TestDatabase;
  const actors: Record<string, Actor> = {};
  const ids: Record<string, string> = {};
  /** A second writer: another connection for PostgreSQL, the same PGlite bypassing the service. */
  let other: { query(sql: string, params: unknown[]): Promise<unknown>; close(): Promise<void> };

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    setDatabase(test.db);
    await seedDemoData(test.db.prisma, { password: "hot-reload-test-password" });
    for (const user of await test.db.prisma.user.findMany()) {
      const actor = await getActorById(user.id);
      if (actor) actors[user.email.split("@")[0] as string] = actor;
    }
    for (const project of await test.db.prisma.project.findMany({ include: { organization: true } })) {
      ids[project.slug] = project.id;
      ids[project.organization.slug] = project.organizationId;
    }
    ids.platform = (await test.db.prisma.team.findFirstOrThrow({ where: { slug: "platform" } })).id;
    ids.globexTeam = (
      await test.db.prisma.team.create({
        data: { organizationId: ids.globex as string, slug: "ops", name: "Globex ops" },
      })
    ).id;
    if (kind === "postgres") {
      const client = new pg.Client({ connectionString: test.url });
      await client.connect();
      other = { query: (sql, params) => client.query(sql, params), close: () => client.end() };
    } else {
      other = {
        query: (sql, params) => test.db.prisma.$executeRawUnsafe(sql, ...params),
        close: async () => {},
      };
    }
  });

  afterAll(async () => {
    await other?.close();
    await stopAuthzRuntime();
    setDatabase(undefined);
    await test.drop();
  });

  const actor = (name: string) => actors[name] as Actor;
  const inProject = (slug: string, type = "pipeline", extra: Partial<ResourceRef> = {}): ResourceRef => ({
    type,
    organizationId: ids.acme as string,
    projectId: ids[slug],
    ...extra,
  });
  /** Waits until this process's snapshot has caught up with every committed rule change. */
  const settled = async () => {
    const [row] = await test.db.query<{ last_value: string }>("SELECT last_value FROM authz_revision_seq");
    const committed = Number(row?.last_value ?? 0);
    const deadline = Date.now() + POLL_TIMEOUT_MS;
    while ((await getSnapshot()).revision < committed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await getSnapshot()).revision).toBeGreaterThanOrEqual(committed);
  };
  const counts = async () => ({
    roles: await test.db.prisma.customRole.count(),
    bindings: await test.db.prisma.membership.count(),
    policies: await test.db.prisma.policy.count(),
  });

  describe("through the service, the next decision in this process sees the change", () => {
    it("a custom role bound to a user grants at once, and stops granting when the binding or role is deleted", async () => {
      const viewer = actor("viewer");
      const rollback = () => authorize(viewer, "deployment:rollback", inProject("storefront", "deployment"));
      expect((await rollback()).allow).toBe(false);

      const role = await createRole(actor("admin"), "acme", {
        slug: "release-manager",
        name: "Release manager",
        permissions: ["deployment:*", "environment:deploy"],
      });
      const binding = await createBinding(actor("admin"), "acme", {
        subjectType: "user",
        subjectId: viewer.id,
        role: role.id,
        scope: { projectId: ids.storefront },
      });
      expect(await rollback()).toMatchObject({
        allow: true,
        role: "release-manager",
        bindingId: binding.id,
        scope: "project",
      });
      expect((await authorize(viewer, "deployment:rollback", inProject("payments", "deployment"))).allow).toBe(false);

      await deleteBinding(actor("admin"), "acme", binding.id);
      expect((await rollback()).allow).toBe(false);

      const again = await createBinding(actor("admin"), "acme", {
        subjectType: "user",
        subjectId: viewer.id,
        role: role.id,
        scope: { projectId: ids.storefront },
      });
      expect((await rollback()).allow).toBe(true);
      // Deleting the role takes its bindings with it, and the grant ends at once.
      await deleteRole(actor("admin"), "acme", role.id);
      expect((await rollback()).allow).toBe(false);
      expect(await test.db.prisma.membership.findUnique({ where: { id: again.id } })).toBeNull();
    });

    it("a deny policy takes effect at once; disabling or deleting it lifts it at once", async () => {
      const developer = actor("developer");
      const run = () => authorize(developer, "pipeline:run", inProject("payments"));
      expect(await run()).toMatchObject({ allow: true, reasonCode: "binding" });

      const input = {
        name: "freeze-payments",
        effect: "deny",
        actions: ["pipeline:run"],
        scope: { projectId: ids.payments },
      };
      const policy = await createPolicy(actor("admin"), "acme", input);
      expect(await run()).toMatchObject({ allow: false, reasonCode: "deny_policy", policyId: policy.id });
      // Storefront is outside the policy's scope.
      expect((await authorize(developer, "pipeline:run", inProject("storefront"))).allow).toBe(true);

      await updatePolicy(actor("admin"), "acme", policy.id, { ...input, enabled: false });
      expect((await run()).allow).toBe(true);
      await updatePolicy(actor("admin"), "acme", policy.id, input);
      expect((await run()).allow).toBe(false);
      await deletePolicy(actor("admin"), "acme", policy.id);
      expect((await run()).allow).toBe(true);
    });

    it("each change advances the revision decisions report", async () => {
      const before = (await getSnapshot()).revision;
      const policy = await createPolicy(actor("admin"), "acme", {
        name: "revision-probe",
        effect: "deny",
        actions: ["secret:delete"],
      });
      const afterCreate = (await getSnapshot()).revision;
      expect(afterCreate).toBeGreaterThan(before);
      const decision = await authorize(actor("admin"), "secret:delete", inProject("storefront", "secret"));
      expect(decision).toMatchObject({ allow: false, policyId: policy.id, revision: afterCreate });

      await deletePolicy(actor("admin"), "acme", policy.id);
      const afterDelete = (await getSnapshot()).revision;
      expect(afterDelete).toBeGreaterThan(afterCreate);
      expect((await authorize(actor("admin"), "secret:delete", inProject("storefront", "secret"))).revision).toBe(
        afterDelete,
      );
    });
  });

  describe("a change written elsewhere arrives through NOTIFY (the multi-replica path)", () => {
    it("a binding inserted and deleted by another writer grants, then revokes, within seconds", async () => {
      const viewer = actor("viewer");
      const run = () => authorize(viewer, "pipeline:run", inProject("storefront"));
      const before = await run();
      expect(before.allow).toBe(false);

      const id = randomUUID();
      await other.query(
        `INSERT INTO memberships (id, organization_id, project_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, 'developer')`,
        [id, ids.acme, ids.storefront, viewer.id],
      );
      const granted = await eventually(run, true);
      expect(granted).toMatchObject({ allow: true, bindingId: id, role: "developer" });
      expect(granted.revision).toBeGreaterThan(before.revision);

      await other.query(`DELETE FROM memberships WHERE id = $1::uuid`, [id]);
      const revoked = await eventually(run, false);
      expect(revoked).toMatchObject({ allow: false, reasonCode: "no_grant" });
      expect(revoked.revision).toBeGreaterThan(granted.revision);
    });

    it("joining or leaving a team elsewhere changes what the user may do", async () => {
      const viewer = actor("viewer");
      // The platform team is a developer in payments.
      const run = () => authorize(viewer, "pipeline:run", inProject("payments"));
      expect((await run()).allow).toBe(false);
      await other.query(`INSERT INTO team_members (team_id, user_id) VALUES ($1::uuid, $2::uuid)`, [
        ids.platform,
        viewer.id,
      ]);
      expect(await eventually(run, true)).toMatchObject({ allow: true, role: "developer", scope: "project" });
      await other.query(`DELETE FROM team_members WHERE team_id = $1::uuid AND user_id = $2::uuid`, [
        ids.platform,
        viewer.id,
      ]);
      expect((await eventually(run, false)).allow).toBe(false);
    });

    it("a guardrail added elsewhere overrides an admin within seconds", async () => {
      const admin = actor("admin");
      const read = () => authorize(admin, "secret:read", inProject("payments", "secret"));
      expect((await read()).allow).toBe(true);
      const id = randomUUID();
      await other.query(
        `INSERT INTO authz_policies (id, organization_id, name, effect, guardrail, actions, updated_at)
         VALUES ($1::uuid, $2::uuid, 'no-secret-reads', 'deny', true, ARRAY['secret:read'], now())`,
        [id, ids.acme],
      );
      expect(await eventually(read, false)).toMatchObject({ allow: false, reasonCode: "guardrail", policyId: id });
      await other.query(`DELETE FROM authz_policies WHERE id = $1::uuid`, [id]);
      expect((await eventually(read, true)).allow).toBe(true);
    });

    // runtime.ts start() clears state.snapshot, subscribes, then runs the full load. A
    // notification that arrives during that load reaches reloadOrganizations() with no snapshot,
    // which returns at once, and drainReloads() has already cleared the pending organization.
    // A change committed after the full load's read snapshot is therefore never applied: a
    // replica that starts (or restarts its runtime) while rules change stays stale until the
    // next change in that organization. PostgreSQL only: the load is held at a table lock so
    // the change lands inside the window every time.
    (kind === "postgres" ? it : it.skip)(
      "a change committed while the process is loading its rules is not lost",
      async () => {
        const viewer = actor("viewer");
        const run = () => authorize(viewer, "pipeline:run", inProject("storefront"));
        expect((await run()).allow).toBe(false);
        await stopAuthzRuntime();

        const locker = new pg.Client({ connectionString: test.url });
        await locker.connect();
        const id = randomUUID();
        try {
          await locker.query("BEGIN");
          await locker.query("LOCK TABLE authz_policies IN ACCESS EXCLUSIVE MODE");
          const loading = getSnapshot();
          // Wait until the full load has taken its read snapshot and is blocked on the lock.
          const deadline = Date.now() + POLL_TIMEOUT_MS;
          for (;;) {
            const [row] = (
              await locker.query<{ waiting: number }>(
                `SELECT count(*)::int AS waiting FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'`,
              )
            ).rows;
            if ((row?.waiting ?? 0) > 0) break;
            if (Date.now() > deadline) throw new Error("the full load never blocked on the lock");
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          await other.query(
            `INSERT INTO memberships (id, organization_id, project_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, 'developer')`,
            [id, ids.acme, ids.storefront, viewer.id],
          );
          // Let the notification arrive while the load is still blocked.
          await new Promise((resolve) => setTimeout(resolve, 200));
          await locker.query("ROLLBACK");
          await loading;
          expect(await eventually(run, true)).toMatchObject({ allow: true, bindingId: id });
        } finally {
          await locker.query("ROLLBACK").catch(() => {});
          await locker.end();
          await other.query(`DELETE FROM memberships WHERE id = $1::uuid`, [id]);
          await settled();
        }
      },
    );
  });

  describe("management refuses bad input and writes nothing", () => {
    const policyInput = (condition: string) => ({
      name: "bad-condition",
      effect: "deny",
      actions: ["pipeline:run"],
      condition,
    });

    it("a malformed condition is refused with INVALID_INPUT naming `condition` with its line and column", async () => {
      await settled();
      const before = await counts();
      const revision = (await getSnapshot()).revision;
      const error = (await createPolicy(
        actor("admin"),
        "acme",
        policyInput('resource.environment == "prod" &&\n  request.mfa =='),
      ).catch((e: unknown) => e)) as AppError;
      expect(error).toMatchObject({ code: "INVALID_INPUT" });
      expect(error.invalidParams).toEqual([
        { name: "condition", reason: expect.stringMatching(/\(line 2, column \d+\)$/) },
      ]);
      expect(error.details).toMatchObject({ line: 2, column: expect.any(Number), conditionCode: "syntax" });

      await expect(
        createBinding(actor("admin"), "acme", {
          subjectType: "user",
          subjectId: actor("viewer").id,
          role: "developer",
          condition: "request.mfa &&",
        }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "condition" }] });
      expect(await counts()).toEqual(before);
      expect((await getSnapshot()).revision).toBe(revision);
    });

    it("an unknown attribute and a non-boolean condition are refused", async () => {
      const before = await counts();
      const unknown = (await createPolicy(actor("admin"), "acme", policyInput('principal.department == "ops"')).catch(
        (e: unknown) => e,
      )) as AppError;
      expect(unknown).toMatchObject({ code: "INVALID_INPUT", details: { conditionCode: "unknown_field" } });
      expect(unknown.invalidParams[0]?.name).toBe("condition");
      expect(unknown.invalidParams[0]?.reason).toMatch(/department/);
      expect(unknown.invalidParams[0]?.reason).toMatch(/\(line 1, column \d+\)$/);

      const notBoolean = (await createPolicy(actor("admin"), "acme", policyInput("principal.email")).catch(
        (e: unknown) => e,
      )) as AppError;
      expect(notBoolean).toMatchObject({ code: "INVALID_INPUT", details: { conditionCode: "not_boolean" } });
      expect(notBoolean.invalidParams[0]).toMatchObject({ name: "condition", reason: expect.stringMatching(/line 1/) });
      expect(await counts()).toEqual(before);
    });

    it("an update with a bad condition leaves the stored policy and its effect unchanged", async () => {
      const developer = actor("developer");
      const input = {
        name: "freeze-storefront",
        effect: "deny",
        actions: ["pipeline:run"],
        scope: { projectId: ids.storefront },
      };
      const policy = await createPolicy(actor("admin"), "acme", input);
      try {
        await expect(
          updatePolicy(actor("admin"), "acme", policy.id, { ...input, condition: "request.nonsense" }),
        ).rejects.toMatchObject({ code: "INVALID_INPUT" });
        const stored = await test.db.prisma.policy.findUniqueOrThrow({ where: { id: policy.id } });
        expect(stored.condition).toBeNull();
        expect((await authorize(developer, "pipeline:run", inProject("storefront"))).allow).toBe(false);
      } finally {
        await deletePolicy(actor("admin"), "acme", policy.id);
      }
    });

    // The zod schema lets a guardrail have a resource scope (it checks only projectId), but the
    // authz_policies_guardrail_check constraint refuses resource_id on guardrails, so the insert
    // fails with a raw database error (a 500) instead of INVALID_INPUT naming the field.
    it("a guardrail scoped to one resource is refused as INVALID_INPUT, not a database error", async () => {
      const before = await counts();
      await expect(
        createPolicy(actor("admin"), "acme", {
          name: "resource-guardrail",
          effect: "deny",
          guardrail: true,
          actions: ["secret:read"],
          scope: { resourceType: "secret", resourceId: "db-password" },
        }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "guardrail" }] });
      expect(await counts()).toEqual(before);
    });
  });

  describe("tenant isolation in management", () => {
    it("acme's admin cannot see or change globex's rules: NOT_FOUND, and nothing is written", async () => {
      const admin = actor("admin");
      const before = await counts();
      const globexPolicy = await test.db.prisma.policy.create({
        data: {
          organizationId: ids.globex as string,
          name: "globex-only",
          effect: "deny",
          actions: ["secret:read"],
        },
      });
      try {
        await expect(listBindings(admin, "globex")).rejects.toMatchObject({ code: "NOT_FOUND" });
        await expect(listPolicies(admin, "globex")).rejects.toMatchObject({ code: "NOT_FOUND" });
        await expect(runPolicyTests(admin, "globex")).rejects.toMatchObject({ code: "NOT_FOUND" });
        await expect(
          createBinding(admin, "globex", { subjectType: "user", subjectId: admin.id, role: "owner" }),
        ).rejects.toMatchObject({ code: "NOT_FOUND" });
        await expect(
          createPolicy(admin, "globex", { name: "take-over", effect: "allow", actions: ["*"] }),
        ).rejects.toMatchObject({ code: "NOT_FOUND" });
        await expect(createRole(admin, "globex", { slug: "x", name: "X", permissions: ["*"] })).rejects.toMatchObject({
          code: "NOT_FOUND",
        });
        // Another organization's policy named under one's own organization does not exist either.
        await expect(deletePolicy(admin, "acme", globexPolicy.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
        expect(await counts()).toEqual({ ...before, policies: before.policies + 1 });
        // And the owner of globex is just as blind to acme.
        await expect(listPolicies(actor("owner"), "acme")).rejects.toMatchObject({ code: "NOT_FOUND" });
      } finally {
        await test.db.prisma.policy.delete({ where: { id: globexPolicy.id } });
      }
    });

    it("a viewer of acme is FORBIDDEN to create bindings, policies or roles", async () => {
      const viewer = actor("viewer");
      const before = await counts();
      await expect(
        createBinding(viewer, "acme", { subjectType: "user", subjectId: viewer.id, role: "admin" }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        createPolicy(viewer, "acme", { name: "let-me-in", effect: "allow", actions: ["*"] }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        createRole(viewer, "acme", { slug: "mine", name: "Mine", permissions: ["*"] }),
      ).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      expect(await counts()).toEqual(before);
      expect((await authorize(viewer, "pipeline:delete", inProject("storefront"))).allow).toBe(false);
    });

    it("acme's admin cannot bind a globex team or scope a binding or policy to a globex project", async () => {
      const admin = actor("admin");
      const before = await counts();
      await expect(
        createBinding(admin, "acme", { subjectType: "team", subjectId: ids.globexTeam, role: "developer" }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "subjectId" }] });
      await expect(
        createBinding(admin, "acme", {
          subjectType: "user",
          subjectId: actor("viewer").id,
          role: "developer",
          scope: { projectId: ids.billing },
        }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "scope.projectId" }] });
      await expect(
        createPolicy(admin, "acme", {
          name: "billing-allow",
          effect: "allow",
          actions: ["*"],
          scope: { projectId: ids.billing },
        }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT", invalidParams: [{ name: "scope.projectId" }] });
      expect(await counts()).toEqual(before);
    });

    it("the database refuses a binding or policy whose project, team or role belongs to another organization", async () => {
      const before = await counts();
      const viewerId = actor("viewer").id;
      await expect(
        test.db.query(
          `INSERT INTO memberships (id, organization_id, project_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, 'admin')`,
          [randomUUID(), ids.acme, ids.billing, viewerId],
        ),
      ).rejects.toThrow(/project .* is not in organization/);
      await expect(
        test.db.query(
          `INSERT INTO memberships (id, organization_id, team_id, role) VALUES ($1::uuid, $2::uuid, $3::uuid, 'admin')`,
          [randomUUID(), ids.acme, ids.globexTeam],
        ),
      ).rejects.toThrow(/team .* is not in organization/);
      await expect(
        test.db.query(
          `INSERT INTO authz_policies (id, organization_id, project_id, name, effect, actions, updated_at)
           VALUES ($1::uuid, $2::uuid, $3::uuid, 'sneaky', 'allow', ARRAY['*'], now())`,
          [randomUUID(), ids.acme, ids.billing],
        ),
      ).rejects.toThrow(/project .* is not in organization/);
      const globexRole = await test.db.prisma.customRole.create({
        data: { organizationId: ids.globex as string, slug: "globex-role", name: "Globex role", permissions: ["*"] },
      });
      try {
        await expect(
          test.db.query(
            `INSERT INTO memberships (id, organization_id, user_id, custom_role_id) VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid)`,
            [randomUUID(), ids.acme, viewerId, globexRole.id],
          ),
        ).rejects.toThrow(/role .* is not in organization/);
        // Moving an existing binding into another organization's project is refused too.
        const viewerBinding = await test.db.prisma.membership.findFirstOrThrow({ where: { userId: viewerId } });
        await expect(
          test.db.query(`UPDATE memberships SET project_id = $1::uuid WHERE id = $2::uuid`, [
            ids.billing,
            viewerBinding.id,
          ]),
        ).rejects.toThrow(/not in organization/);
      } finally {
        await test.db.prisma.customRole.delete({ where: { id: globexRole.id } });
      }
      expect(await counts()).toEqual(before);
    });
  });

  describe("policy tests", () => {
    it("reports each test case of each policy as passed or failed, with the engine's reason", async () => {
      const developer = actor("developer");
      const viewer = actor("viewer");
      const policy = await createPolicy(actor("admin"), "acme", {
        name: "payments-run-freeze",
        effect: "deny",
        actions: ["pipeline:run"],
        scope: { projectId: ids.payments },
        tests: [
          {
            name: "the developer cannot run payments pipelines during the freeze",
            input: {
              principal: { id: developer.id },
              action: "pipeline:run",
              resource: { type: "pipeline", projectId: ids.payments },
            },
            expect: "deny",
          },
          {
            name: "the developer still runs storefront pipelines",
            input: {
              principal: { id: developer.id },
              action: "pipeline:run",
              resource: { type: "pipeline", projectId: ids.storefront },
            },
            expect: "allow",
          },
          {
            name: "the viewer runs storefront pipelines",
            input: {
              principal: { id: viewer.id },
              action: "pipeline:run",
              resource: { type: "pipeline", projectId: ids.storefront },
            },
            expect: "allow",
          },
        ],
      });
      try {
        const results = await runPolicyTests(actor("admin"), "acme");
        const ours = results.filter((result) => result.policyId === policy.id);
        expect(ours).toEqual([
          expect.objectContaining({
            policyName: "payments-run-freeze",
            name: "the developer cannot run payments pipelines during the freeze",
            expect: "deny",
            actual: "deny",
            passed: true,
            reason: "deny policy payments-run-freeze denies pipeline:run",
          }),
          expect.objectContaining({ name: "the developer still runs storefront pipelines", passed: true }),
          expect.objectContaining({
            name: "the viewer runs storefront pipelines",
            expect: "allow",
            actual: "deny",
            passed: false,
            reason: "no role or policy in this scope grants pipeline:run",
          }),
        ]);
        // The demo policies' own test cases all pass against the demo rules.
        const seeded = results.filter((result) => result.policyId !== policy.id);
        expect(seeded.map((result) => result.policyName).sort()).toEqual([
          "no-self-approval",
          "no-self-approval",
          "prod-deploys-need-mfa",
          "prod-deploys-need-mfa",
          "prod-deploys-need-mfa",
        ]);
        expect(seeded.filter((result) => !result.passed)).toEqual([]);
        // Reading policy results needs authz:read, which viewers do not have.
        await expect(runPolicyTests(viewer, "acme")).rejects.toMatchObject({ code: "FORBIDDEN" });
      } finally {
        await deletePolicy(actor("admin"), "acme", policy.id);
      }
    });
  });
});

import { type APIRequestContext, type APIResponse, expect, type Page, test } from "@playwright/test";
import { ADMIN, DEVELOPER, GLOBEX_OWNER, signIn, VIEWER } from "../helpers";

// REST contract of the authorization admin API: roles, bindings, policies, policy tests, the
// native decision API, the live CEL check and the decision log.

const ORG = "/api/v1/organizations/acme";

interface Directory {
  organization: { id: string; slug: string; name: string };
  users: { id: string; name: string; email: string }[];
  teams: { id: string; slug: string; name: string }[];
  projects: { id: string; slug: string; name: string }[];
}

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;

async function directoryOf(request: APIRequestContext): Promise<Directory> {
  const response = await request.get(`${ORG}/directory`);
  expect(response.status()).toBe(200);
  return (await response.json()) as Directory;
}

function userId(directory: Directory, email: string): string {
  const user = directory.users.find((u) => u.email === email);
  if (!user) throw new Error(`no ${email} in the directory`);
  return user.id;
}

function projectId(directory: Directory, slug: string): string {
  const project = directory.projects.find((p) => p.slug === slug);
  if (!project) throw new Error(`no project ${slug}`);
  return project.id;
}

interface Problem {
  detail: string;
  invalidParams?: { name: string; reason: string }[];
}

async function expectProblem(response: APIResponse, status: number, code: string): Promise<Problem> {
  expect(response.status(), `${response.url()}: ${await response.text()}`).toBe(status);
  expect(response.headers()["content-type"]).toContain("application/problem+json");
  const body = (await response.json()) as Problem;
  expect(body).toMatchObject({ status, code });
  return body;
}

test.describe("as an admin", () => {
  let page: Page;
  let directory: Directory;

  test.beforeEach(async ({ page: p }) => {
    page = p;
    await signIn(page, ADMIN);
    directory = await directoryOf(page.request);
  });

  test("the directory names the organization's members, teams and projects", async () => {
    expect(directory.organization.slug).toBe("acme");
    expect(directory.users.map((u) => u.email)).toEqual(expect.arrayContaining([ADMIN, VIEWER, DEVELOPER]));
    expect(directory.users.map((u) => u.email)).not.toContain(GLOBEX_OWNER);
    expect(directory.projects.map((p) => p.slug)).toEqual(expect.arrayContaining(["storefront", "payments"]));
    expect(directory.teams.map((t) => t.slug)).toContain("platform");
  });

  test("roles: built-ins are listed read-only; a custom role is created, updated and deleted", async () => {
    const list = await page.request.get(`${ORG}/roles`);
    expect(list.status()).toBe(200);
    const { items } = await list.json();
    const developer = items.find((r: { slug: string }) => r.slug === "developer");
    expect(developer).toMatchObject({ builtIn: true });
    expect(developer.permissions).toContain("pipeline:run");

    const builtInEdit = await page.request.put(`${ORG}/roles/developer`, {
      data: { slug: "developer-copy", name: "Developer", permissions: ["*"] },
    });
    await expectProblem(builtInEdit, 422, "INVALID_STATE");

    const slug = `release-${unique()}`;
    const created = await page.request.post(`${ORG}/roles`, {
      data: { slug, name: "Release manager", permissions: ["deployment:approve", "run:*"] },
    });
    expect(created.status()).toBe(201);
    const role = await created.json();
    expect(role).toMatchObject({ slug, builtIn: false, permissions: ["deployment:approve", "run:*"] });

    const duplicate = await page.request.post(`${ORG}/roles`, {
      data: { slug, name: "Again", permissions: ["run:read"] },
    });
    await expectProblem(duplicate, 409, "CONFLICT");

    const badPermission = await page.request.post(`${ORG}/roles`, {
      data: { slug: `bad-${unique()}`, name: "Bad", permissions: ["pipeline:fly"] },
    });
    const problem = await expectProblem(badPermission, 400, "INVALID_INPUT");
    expect(problem.invalidParams?.map((p) => p.name)).toContain("body.permissions.0");

    const updated = await page.request.put(`${ORG}/roles/${role.id}`, {
      data: { slug, name: "Release captain", permissions: ["deployment:*"] },
    });
    expect(updated.status()).toBe(200);
    expect(await updated.json()).toMatchObject({ name: "Release captain", permissions: ["deployment:*"] });

    const deleted = await page.request.delete(`${ORG}/roles/${role.id}`);
    expect(deleted.status()).toBe(204);
    expect(await deleted.text()).toBe("");
    const after = await (await page.request.get(`${ORG}/roles`)).json();
    expect(after.items.some((r: { id: string }) => r.id === role.id)).toBe(false);
    expect((await page.request.delete(`${ORG}/roles/${role.id}`)).status()).toBe(404);
  });

  test("bindings: a scoped, conditional binding is created, listed and removed", async () => {
    const created = await page.request.post(`${ORG}/bindings`, {
      data: {
        subjectType: "user",
        subjectId: userId(directory, VIEWER),
        role: "developer",
        scope: { projectId: projectId(directory, "payments"), environment: "staging" },
        condition: "request.time.getHours() >= 0",
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    const binding = await created.json();
    expect(binding).toMatchObject({
      subjectType: "user",
      roleName: "developer",
      scope: { level: "environment", projectSlug: "payments", environment: "staging" },
      condition: "request.time.getHours() >= 0",
    });

    const list = await (await page.request.get(`${ORG}/bindings`)).json();
    expect(list.items.some((b: { id: string }) => b.id === binding.id)).toBe(true);

    const removed = await page.request.delete(`${ORG}/bindings/${binding.id}`);
    expect(removed.status()).toBe(204);
    expect((await page.request.delete(`${ORG}/bindings/${binding.id}`)).status()).toBe(404);
  });

  test("a binding or policy with a bad CEL condition is refused naming condition, line and column", async () => {
    const binding = await page.request.post(`${ORG}/bindings`, {
      data: {
        subjectType: "user",
        subjectId: userId(directory, VIEWER),
        role: "viewer",
        condition: 'resource.environment == "prod" &&\n  principal.nope == "x"',
      },
    });
    const problem = await expectProblem(binding, 400, "INVALID_INPUT");
    const param = problem.invalidParams?.find((p) => p.name === "condition");
    expect(param?.reason).toMatch(/line 2, column 13/);

    const policy = await page.request.post(`${ORG}/policies`, {
      data: {
        name: `bad-${unique()}`,
        effect: "deny",
        actions: ["pipeline:run"],
        condition: "resource.environment ==",
      },
    });
    const policyProblem = await expectProblem(policy, 400, "INVALID_INPUT");
    expect(policyProblem.invalidParams?.find((p) => p.name === "condition")?.reason).toMatch(/line 1, column \d+/);
  });

  test("the live condition check answers ok or the error's line and column", async () => {
    const bad = await page.request.post("/api/v1/authz/conditions/check", {
      data: { source: "request.time.getHours() >= 9 &&" },
    });
    expect(bad.status()).toBe(200);
    expect(await bad.json()).toMatchObject({ ok: false, line: 1, column: 32 });
    const good = await page.request.post("/api/v1/authz/conditions/check", {
      data: { source: 'resource.environment == "prod"' },
    });
    expect(await good.json()).toEqual({ ok: true });
  });

  test("policies: created with test cases, updated, tested and deleted", async () => {
    const name = `weekday-runs-${unique()}`;
    const storefront = projectId(directory, "storefront");
    const developer = userId(directory, DEVELOPER);
    const input = {
      name,
      description: "No storefront pipeline runs in prod on Sundays.",
      effect: "deny",
      actions: ["pipeline:run"],
      resourceTypes: ["pipeline"],
      subjects: ["role:developer"],
      scope: { projectId: storefront, environment: "prod" },
      condition: "request.time.getDayOfWeek() == 0",
      tests: [
        {
          name: "the developer runs a storefront pipeline in staging",
          input: {
            principal: { id: developer },
            action: "pipeline:run",
            resource: { type: "pipeline", projectId: storefront, environment: "staging" },
          },
          expect: "allow",
        },
      ],
    };
    const created = await page.request.post(`${ORG}/policies`, { data: input });
    expect(created.status(), await created.text()).toBe(201);
    const policy = await created.json();
    expect(policy).toMatchObject({
      name,
      effect: "deny",
      guardrail: false,
      scope: { level: "environment", projectSlug: "storefront", environment: "prod" },
    });
    expect(policy.tests).toHaveLength(1);

    const guardrailOnProject = await page.request.put(`${ORG}/policies/${policy.id}`, {
      data: { ...input, guardrail: true },
    });
    const problem = await expectProblem(guardrailOnProject, 400, "INVALID_INPUT");
    expect(problem.invalidParams?.map((p) => p.name)).toContain("body.guardrail");

    const updated = await page.request.put(`${ORG}/policies/${policy.id}`, {
      data: { ...input, enabled: false, description: "Disabled for now." },
    });
    expect(updated.status()).toBe(200);
    expect(await updated.json()).toMatchObject({ enabled: false, description: "Disabled for now." });

    const run = await page.request.post(`${ORG}/policy-tests`);
    expect(run.status()).toBe(200);
    const results = await run.json();
    expect(results.failed).toBe(0);
    expect(results.passed).toBeGreaterThanOrEqual(6); // the seeded policies' five, and this one
    expect(
      results.results.some((r: { policyName: string; passed: boolean }) => r.policyName === name && r.passed),
    ).toBe(true);

    expect((await page.request.delete(`${ORG}/policies/${policy.id}`)).status()).toBe(204);
    const list = await (await page.request.get(`${ORG}/policies`)).json();
    expect(list.items.some((p: { id: string }) => p.id === policy.id)).toBe(false);
  });

  test("the decision API answers with the reason and, on request, the explanation", async () => {
    const body = {
      principal: { type: "user", id: userId(directory, DEVELOPER) },
      action: "pipeline:run",
      resource: {
        type: "pipeline",
        organizationId: directory.organization.id,
        projectId: projectId(directory, "storefront"),
      },
    };
    const allowed = await page.request.post("/api/v1/authz/decisions?explain=true", { data: body });
    expect(allowed.status()).toBe(200);
    const answer = await allowed.json();
    expect(answer.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.decision).toMatchObject({ allow: true, reasonCode: "binding", role: "developer", scope: "project" });
    expect(answer.decision.explanation.evaluated.length).toBeGreaterThan(0);

    const denied = await page.request.post("/api/v1/authz/decisions", {
      data: { ...body, action: "secret:read", resource: { ...body.resource, type: "secret" } },
    });
    const deniedAnswer = await denied.json();
    expect(deniedAnswer.decision).toMatchObject({ allow: false });
    expect(deniedAnswer.decision.explanation).toBeUndefined();

    const invalid = await page.request.post("/api/v1/authz/decisions", { data: { ...body, action: "run" } });
    const problem = await expectProblem(invalid, 400, "INVALID_INPUT");
    expect(problem.invalidParams?.map((p) => p.name)).toContain("body.action");
  });

  test("the decision log lists decisions with filters and a cursor", async () => {
    for (const action of ["pipeline:run", "secret:read"]) {
      const asked = await page.request.post("/api/v1/authz/decisions", {
        data: {
          principal: { type: "user", id: userId(directory, DEVELOPER) },
          action,
          resource: { type: action.split(":")[0], organizationId: directory.organization.id },
        },
      });
      expect(asked.status()).toBe(200);
    }
    // Decisions reach the log in batches, about every second.
    const query = `organizationId=${directory.organization.id}&principalId=${userId(directory, DEVELOPER)}&limit=1`;
    await expect
      .poll(async () => (await (await page.request.get(`/api/v1/decision-log?${query}`)).json()).nextCursor, {
        timeout: 15_000,
      })
      .not.toBeNull();
    const first = await (await page.request.get(`/api/v1/decision-log?${query}`)).json();
    expect(first.items[0].input.principal.id).toBe(userId(directory, DEVELOPER));
    expect(first.nextCursor).not.toBeNull();
    const next = await (await page.request.get(`/api/v1/decision-log?${query}&cursor=${first.nextCursor}`)).json();
    expect(next.items).toHaveLength(1);
    expect(Number(next.items[0].seq)).toBeLessThan(Number(first.items[0].seq));

    const denies = await (await page.request.get("/api/v1/decision-log?effect=deny&limit=20")).json();
    expect(denies.items.every((item: { result: boolean }) => item.result === false)).toBe(true);

    const bad = await page.request.get("/api/v1/decision-log?effect=maybe");
    await expectProblem(bad, 400, "INVALID_INPUT");
  });
});

test.describe("as a viewer", () => {
  test("every mutating route answers 403, and so do the reads", async ({ page, browser }) => {
    // Real ids, created by an admin, so the refusal cannot be a 404 in disguise.
    const admin = await browser.newPage();
    await signIn(admin, ADMIN);
    const directory = await directoryOf(admin.request);
    const role = await (
      await admin.request.post(`${ORG}/roles`, {
        data: { slug: `viewer-target-${unique()}`, name: "Target", permissions: ["run:read"] },
      })
    ).json();
    const policy = await (
      await admin.request.post(`${ORG}/policies`, {
        data: { name: `viewer-target-${unique()}`, effect: "deny", actions: ["secret:read"] },
      })
    ).json();
    const binding = await (
      await admin.request.post(`${ORG}/bindings`, {
        data: { subjectType: "team", subjectId: directory.teams[0]?.id, role: "viewer" },
      })
    ).json();

    await signIn(page, VIEWER);
    const roleBody = { slug: `nope-${unique()}`, name: "Nope", permissions: ["*"] };
    const policyBody = { name: `nope-${unique()}`, effect: "allow", actions: ["*"] };
    const attempts = [
      page.request.post(`${ORG}/roles`, { data: roleBody }),
      page.request.put(`${ORG}/roles/${role.id}`, { data: roleBody }),
      page.request.delete(`${ORG}/roles/${role.id}`),
      page.request.post(`${ORG}/bindings`, {
        data: { subjectType: "user", subjectId: userId(directory, VIEWER), role: "owner" },
      }),
      page.request.delete(`${ORG}/bindings/${binding.id}`),
      page.request.post(`${ORG}/policies`, { data: policyBody }),
      page.request.put(`${ORG}/policies/${policy.id}`, { data: policyBody }),
      page.request.delete(`${ORG}/policies/${policy.id}`),
      page.request.post(`${ORG}/policy-tests`),
      page.request.get(`${ORG}/roles`),
      page.request.get(`${ORG}/bindings`),
      page.request.get(`${ORG}/policies`),
      page.request.get(`${ORG}/directory`),
      page.request.get("/api/v1/decision-log"),
    ];
    for (const response of await Promise.all(attempts)) {
      await expectProblem(response, 403, "FORBIDDEN");
    }

    // Asking about someone else needs authz:query; asking about oneself does not.
    const viewerId = userId(directory, VIEWER);
    const resource = { type: "pipeline", organizationId: directory.organization.id };
    const aboutOther = await page.request.post("/api/v1/authz/decisions", {
      data: { principal: { id: userId(directory, ADMIN) }, action: "pipeline:read", resource },
    });
    await expectProblem(aboutOther, 403, "FORBIDDEN");
    const aboutSelf = await page.request.post("/api/v1/authz/decisions", {
      data: { principal: { id: viewerId }, action: "pipeline:read", resource },
    });
    expect(aboutSelf.status()).toBe(200);
    expect((await aboutSelf.json()).decision.allow).toBe(true);

    // Nothing changed.
    expect((await admin.request.get(`${ORG}/roles`)).ok()).toBe(true);
    expect((await admin.request.delete(`${ORG}/roles/${role.id}`)).status()).toBe(204);
    expect((await admin.request.delete(`${ORG}/policies/${policy.id}`)).status()).toBe(204);
    expect((await admin.request.delete(`${ORG}/bindings/${binding.id}`)).status()).toBe(204);
    await admin.close();
  });
});

test.describe("as another tenant", () => {
  test("a globex owner gets 404 on every acme route", async ({ page, browser }) => {
    const admin = await browser.newPage();
    await signIn(admin, ADMIN);
    const directory = await directoryOf(admin.request);
    const { items: policies } = await (await admin.request.get(`${ORG}/policies`)).json();
    const { items: bindings } = await (await admin.request.get(`${ORG}/bindings`)).json();
    await admin.close();

    await signIn(page, GLOBEX_OWNER);
    const roleBody = { slug: `nope-${unique()}`, name: "Nope", permissions: ["*"] };
    const policyBody = { name: `nope-${unique()}`, effect: "allow", actions: ["*"] };
    const attempts = [
      page.request.get(`${ORG}/roles`),
      page.request.post(`${ORG}/roles`, { data: roleBody }),
      page.request.put(`${ORG}/roles/developer`, { data: roleBody }),
      page.request.get(`${ORG}/bindings`),
      page.request.post(`${ORG}/bindings`, {
        data: { subjectType: "user", subjectId: userId(directory, VIEWER), role: "viewer" },
      }),
      page.request.delete(`${ORG}/bindings/${bindings[0].id}`),
      page.request.get(`${ORG}/policies`),
      page.request.post(`${ORG}/policies`, { data: policyBody }),
      page.request.put(`${ORG}/policies/${policies[0].id}`, { data: policyBody }),
      page.request.delete(`${ORG}/policies/${policies[0].id}`),
      page.request.post(`${ORG}/policy-tests`),
      page.request.get(`${ORG}/directory`),
      page.request.post("/api/v1/authz/decisions", {
        data: {
          principal: { id: userId(directory, ADMIN) },
          action: "pipeline:read",
          resource: { type: "pipeline", organizationId: directory.organization.id },
        },
      }),
    ];
    for (const response of await Promise.all(attempts)) {
      await expectProblem(response, 404, "NOT_FOUND");
    }

    // Their own organization works, and the decision log shows none of acme's decisions.
    expect((await page.request.get("/api/v1/organizations/globex/roles")).status()).toBe(200);
    const log = await (
      await page.request.get(`/api/v1/decision-log?organizationId=${directory.organization.id}`)
    ).json();
    expect(log.items).toEqual([]);
  });
});

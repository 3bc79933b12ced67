import { beforeEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { z } from "zod";
import type { Actor } from "@/server/auth/service";
import { renderMetrics } from "@/server/observability/metrics";
import { getRequestContext } from "@/server/observability/request-context";
import { apiHandler } from "./api-handler";
import { AppError } from "./errors";

// Only the session lookup is replaced; everything else is the real wrapper.
const auth = vi.hoisted(() => ({ getActorFromRequest: vi.fn() }));
vi.mock("@/server/auth/service", () => auth);

const ACTOR: Actor = {
  type: "user",
  id: "u_1",
  email: "ada@example.com",
  name: "Ada",
  preferences: {} as Actor["preferences"],
};

function call(
  handler: ReturnType<typeof apiHandler>,
  url: string,
  init: RequestInit & { params?: Record<string, string> } = {},
): Promise<Response> {
  const { params = {}, ...requestInit } = init;
  return handler(new Request(`http://localhost${url}`, requestInit), { params: Promise.resolve(params) });
}

function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

const listProjects = apiHandler({
  route: "/api/v1/projects",
  query: z.object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    tag: z
      .array(z.string())
      .or(z.string().transform((tag) => [tag]))
      .optional(),
  }),
  handler: async ({ query, actor }) => ({ limit: query.limit, tags: query.tag ?? [], actorId: actor.id }),
});

const createProject = apiHandler({
  route: "/api/v1/projects",
  body: z.object({ name: z.string().trim().min(1).max(50), slug: z.string().regex(/^[a-z-]+$/) }),
  response: z.object({ id: z.string(), name: z.string() }),
  successStatus: 201,
  // The extra field must not reach the client: the response schema strips it.
  handler: async ({ body }) => ({ id: "p_1", name: body.name, passwordHash: "secret" }),
});

describe("apiHandler", () => {
  beforeEach(() => {
    auth.getActorFromRequest.mockReset();
    auth.getActorFromRequest.mockResolvedValue(ACTOR);
  });

  it("answers 401 problem+json when no one is signed in", async () => {
    auth.getActorFromRequest.mockResolvedValue(null);
    const response = await call(listProjects, "/api/v1/projects");
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = await response.json();
    expect(problem).toMatchObject({
      status: 401,
      code: "UNAUTHORIZED",
      requestId: response.headers.get("x-request-id"),
    });
  });

  it("lets anonymous callers through public routes", async () => {
    auth.getActorFromRequest.mockResolvedValue(null);
    const ping = apiHandler({
      route: "/api/v1/ping",
      auth: "public",
      handler: async ({ actor }) => ({ anonymous: actor === null }),
    });
    const response = await call(ping, "/api/v1/ping");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ anonymous: true });
  });

  it("parses the query string, repeated keys as arrays", async () => {
    const response = await call(listProjects, "/api/v1/projects?limit=5&tag=a&tag=b");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ limit: 5, tags: ["a", "b"], actorId: "u_1" });
  });

  it("answers 400 naming each invalid query field", async () => {
    const response = await call(listProjects, "/api/v1/projects?limit=500");
    expect(response.status).toBe(400);
    const problem = await response.json();
    expect(problem.code).toBe("INVALID_INPUT");
    expect(problem.invalidParams).toEqual([{ name: "query.limit", reason: expect.stringMatching(/100/) }]);
  });

  it("answers 400 naming each invalid body field", async () => {
    const response = await call(createProject, "/api/v1/projects", postJson({ name: "", slug: "Not Valid" }));
    expect(response.status).toBe(400);
    const problem = await response.json();
    expect(problem.invalidParams.map((param: { name: string }) => param.name).sort()).toEqual([
      "body.name",
      "body.slug",
    ]);
  });

  it("answers 400 naming body for malformed JSON, a wrong content type or a missing body", async () => {
    for (const init of [
      postJson("{ not json"),
      { method: "POST", headers: { "content-type": "text/plain" }, body: '{"name":"x","slug":"x"}' },
      { method: "POST" },
    ]) {
      const response = await call(createProject, "/api/v1/projects", init);
      expect(response.status).toBe(400);
      const problem = await response.json();
      expect(problem.code).toBe("INVALID_INPUT");
      expect(problem.invalidParams[0].name).toBe("body");
    }
  });

  it("refuses bodies over the size limit", async () => {
    const small = apiHandler({ route: "/x", body: z.unknown(), maxBodyBytes: 16, handler: async () => ({}) });
    const response = await call(small, "/x", postJson({ text: "x".repeat(100) }));
    expect(response.status).toBe(400);
    expect((await response.json()).detail).toMatch(/at most 16 bytes/);
  });

  it("parses route params", async () => {
    const getProject = apiHandler({
      route: "/api/v1/projects/[projectId]",
      params: z.object({ projectId: z.string().regex(/^p_\w+$/) }),
      handler: async ({ params }) => ({ id: params.projectId }),
    });
    expect(await (await call(getProject, "/api/v1/projects/p_7", { params: { projectId: "p_7" } })).json()).toEqual({
      id: "p_7",
    });
    const bad = await call(getProject, "/api/v1/projects/x", { params: { projectId: "x" } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).invalidParams[0].name).toBe("params.projectId");
  });

  it("answers 201 with the body, stripped to the response schema", async () => {
    const response = await call(createProject, "/api/v1/projects", postJson({ name: " Web ", slug: "web" }));
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: "p_1", name: "Web" });
  });

  it("answers 204 with no body", async () => {
    const remove = apiHandler({
      route: "/api/v1/projects/[projectId]",
      successStatus: 204,
      handler: async () => undefined,
    });
    const response = await call(remove, "/api/v1/projects/p_1", { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("maps an AppError to its status and detail", async () => {
    const missing = apiHandler({
      route: "/api/v1/runs/[runId]",
      handler: async () => {
        throw AppError.notFound("Run r_9");
      },
    });
    const response = await call(missing, "/api/v1/runs/r_9");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      code: "NOT_FOUND",
      detail: "Run r_9 was not found",
      title: "Not found",
    });
  });

  it("answers 500 'Something went wrong' for anything unexpected, with the request id, and counts it", async () => {
    const broken = apiHandler({
      route: "/api/v1/broken",
      handler: async () => {
        throw new Error("connection string postgres://admin:pw@db leaked");
      },
    });
    const response = await call(broken, "/api/v1/broken", { headers: { "x-request-id": "req-abc" } });
    expect(response.status).toBe(500);
    expect(response.headers.get("x-request-id")).toBe("req-abc");
    const text = await response.text();
    expect(text).not.toMatch(/postgres|leaked/);
    expect(JSON.parse(text)).toMatchObject({ code: "INTERNAL", detail: "Something went wrong", requestId: "req-abc" });
    expect((await renderMetrics()).body).toMatch(/microstack_unhandled_errors_total\{source="api"\} [1-9]/);
  });

  it("answers 500 and never sends unchecked data when the handler breaks its response contract", async () => {
    const drifted = apiHandler({
      route: "/api/v1/drift",
      response: z.object({ id: z.string() }),
      handler: async () => ({ id: 42 }) as unknown as { id: string },
    });
    const response = await call(drifted, "/api/v1/drift");
    expect(response.status).toBe(500);
  });

  it("echoes a safe incoming request id and replaces an unsafe one", async () => {
    const kept = await call(listProjects, "/api/v1/projects", { headers: { "x-request-id": "lb-123" } });
    expect(kept.headers.get("x-request-id")).toBe("lb-123");
    const replaced = await call(listProjects, "/api/v1/projects", { headers: { "x-request-id": "bad id!" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f]{16}$/);
  });

  it("runs the handler in a request context carrying the route and actor", async () => {
    const spy = apiHandler({ route: "/api/v1/whoami", handler: async () => ({ ...getRequestContext() }) });
    const response = await call(spy, "/api/v1/whoami", { headers: { "x-request-id": "req-ctx" } });
    expect(await response.json()).toEqual({ requestId: "req-ctx", route: "/api/v1/whoami", actorId: "u_1" });
  });

  it("passes a Response from the handler through, with the request id", async () => {
    const download = apiHandler({
      route: "/api/v1/files/[fileId]/content",
      handler: async () => new Response("bytes", { headers: { "content-type": "application/octet-stream" } }),
    });
    const response = await call(download, "/api/v1/files/f_1/content");
    expect(await response.text()).toBe("bytes");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("types the actor as non-null unless the route is public", () => {
    apiHandler({ route: "/a", handler: async ({ actor }) => expectTypeOf(actor).toEqualTypeOf<Actor>() });
    apiHandler({
      route: "/b",
      auth: "public",
      handler: async ({ actor }) => expectTypeOf(actor).toEqualTypeOf<Actor | null>(),
    });
  });
});

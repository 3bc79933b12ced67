import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import packageJson from "@/package.json" with { type: "json" };
import { seedDemoData } from "@/prisma/seed";
import type { Actor } from "@/server/auth/schema";
import { getActorById } from "@/server/auth/service";
import { setDatabase } from "@/server/db";
import { resetEnvCache } from "@/server/env";
import { createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";
import { configureDecisionLog, flushDecisionLog } from "./decision-log";
import { toDecisionDocument } from "./opa";
import { createOpaHandler, matchOpaRoute } from "./opa-http";
import { getSnapshot } from "./runtime";
import type { DecisionLogEntry } from "./schema";
import { createPolicy, parseAuthzRequest, queryDecision, stopAuthz } from "./service";

// Golden tests of the OPA-compatible Data API: every file in opa-golden/ is one request and the
// exact response OPA's REST API reference says it gets (status, content type, body, and its
// encoding: compact or indented, key order). A real HTTP server on a random port, real fetch,
// the seeded demo organization, on PGlite and on PostgreSQL.
//
// Database ids differ per run, so the files name them: {{user:developer}}, {{org:acme}},
// {{project:storefront}}, {{binding:user:maintainer}}, {{binding:team:platform}},
// {{policy:<name>}}, {{revision}} (a number), {{revision-text}}, {{version}}. Volatile values
// are compared by shape: decision_id (a UUID) and the timer_*_ns metrics (non-negative integers).
//
// OPA_GOLDEN_UPDATE=1 rewrites the responses from what the server answers (then `npx biome
// format --write server/authz/opa-golden`, and review the diff against OPA's documentation).

const GOLDEN_DIR = path.join(import.meta.dirname, "opa-golden");
const API_TOKEN = "opa-golden-test-token-0123456789abcdef";
const AUTH_SECRET = "opa-golden-test-auth-secret-0123456789abcdef";
const UPDATE = process.env.OPA_GOLDEN_UPDATE === "1";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface GoldenCase {
  name: string;
  reference: string;
  request: {
    method: string;
    path: string;
    /** [name, value]; a non-string value is sent as its JSON (GET's input). */
    query?: [string, Json][];
    auth: "token" | "bad-token" | "none" | `session:${string}`;
    headers?: Record<string, string>;
    body?: Json;
    rawBody?: string;
    gzip?: boolean;
  };
  response?: {
    status: number;
    headers: Record<string, string>;
    /** compact: Go's json.Encoder; indented: pretty=true and every error (json.MarshalIndent). */
    encoding?: "compact" | "indented";
    body?: Json;
  };
}

function loadCases(): { file: string; golden: GoldenCase }[] {
  return readdirSync(GOLDEN_DIR)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({ file, golden: JSON.parse(readFileSync(path.join(GOLDEN_DIR, file), "utf8")) as GoldenCase }));
}

const HTML_ESCAPES: Record<string, string> = { "<": "\\u003c", ">": "\\u003e", "&": "\\u0026" };

/** What Go's json.Encoder (OPA's writer) prints for a value. */
function goEncode(value: Json, encoding: "compact" | "indented"): string {
  const text = JSON.stringify(value, null, encoding === "indented" ? 2 : undefined);
  return `${text.replace(/[<>&]/g, (c) => HTML_ESCAPES[c] as string)}\n`;
}

function mapStrings(value: Json, fn: (text: string, key: string | undefined) => Json, key?: string): Json {
  if (typeof value === "string") return fn(value, key);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, fn));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn, k)]));
  }
  return value;
}

describe.each(TEST_DB_KINDS)("OPA-compatible Data API on %s", (kind) => {
  let test: TestDatabase;
  let server: Server;
  let baseUrl: string;
  let revision: number;
  /** Placeholder name -> database id. */
  const ids = new Map<string, string>();
  const actors: Record<string, Actor> = {};
  const logged: DecisionLogEntry[] = [];
  const sessions: Record<string, string> = {};

  const substitute = (value: Json): Json =>
    mapStrings(value, (text) => {
      if (text === "{{revision}}") return revision;
      return text.replace(/\{\{([a-z-]+(?::[A-Za-z0-9:-]+)?)\}\}/g, (whole, name: string) => {
        if (name === "revision-text") return String(revision);
        if (name === "version") return packageJson.version;
        if (name === "ns") return whole; // a volatile timer, compared by shape
        const id = ids.get(name);
        if (id === undefined) throw new Error(`unknown placeholder ${whole}`);
        return id;
      });
    });

  /** The inverse, for OPA_GOLDEN_UPDATE. */
  const placeholders = (value: Json): Json => {
    const swapped = mapStrings(value, (text, key) => {
      let out = text;
      for (const [name, id] of ids) out = out.replaceAll(id, `{{${name}}}`);
      if (key === "revision" && out === String(revision)) return "{{revision-text}}";
      if (key === "version" && out === packageJson.version) return "{{version}}";
      return out;
    });
    const numbers = (node: Json, key?: string): Json => {
      if (key === "revision" && node === revision) return "{{revision}}";
      if (Array.isArray(node)) return node.map((item) => numbers(item));
      if (node !== null && typeof node === "object") {
        return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, numbers(v, k)]));
      }
      return node;
    };
    return numbers(swapped);
  };

  /** Volatile values become markers after their shape is checked. */
  const maskVolatile = (value: Json): Json => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    const out: { [key: string]: Json } = {};
    for (const [key, field] of Object.entries(value)) {
      if (key === "decision_id") {
        expect(field).toMatch(UUID);
        out[key] = "{{decision_id}}";
      } else if (key === "metrics" && field !== null && typeof field === "object" && !Array.isArray(field)) {
        out[key] = Object.fromEntries(
          Object.entries(field).map(([name, metric]) => {
            if (!name.startsWith("timer_")) return [name, metric];
            expect(Number.isInteger(metric) && (metric as number) >= 0).toBe(true);
            return [name, "{{ns}}"];
          }),
        );
      } else out[key] = field;
    }
    return out;
  };

  /** Puts the actual volatile values back into the expected body, so encodings compare exactly. */
  const unmask = (expected: Json, actual: Json): Json => {
    if (expected === null || typeof expected !== "object" || Array.isArray(expected)) return expected;
    const actualObject = (actual ?? {}) as { [key: string]: Json };
    const out: { [key: string]: Json } = {};
    for (const [key, field] of Object.entries(expected)) {
      if (key === "decision_id" && field === "{{decision_id}}") out[key] = actualObject[key] ?? field;
      else if (key === "metrics" && field !== null && typeof field === "object" && !Array.isArray(field)) {
        const actualMetrics = (actualObject.metrics ?? {}) as { [key: string]: Json };
        out[key] = Object.fromEntries(
          Object.entries(field).map(([name, metric]) => [
            name,
            metric === "{{ns}}" ? (actualMetrics[name] ?? metric) : metric,
          ]),
        );
      } else out[key] = field;
    }
    return out;
  };

  async function send(request: GoldenCase["request"]): Promise<Response> {
    const url = new URL(request.path, baseUrl);
    for (const [name, value] of request.query ?? []) {
      const resolved = substitute(value);
      url.searchParams.append(name, typeof resolved === "string" ? resolved : JSON.stringify(resolved));
    }
    const headers: Record<string, string> = { ...(request.headers ?? {}) };
    if (request.auth === "token") headers.authorization = `Bearer ${API_TOKEN}`;
    else if (request.auth === "bad-token") headers.authorization = "Bearer not-the-token";
    else if (request.auth.startsWith("session:")) {
      headers.cookie = `next-auth.session-token=${sessions[request.auth.slice("session:".length)]}`;
    }
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (request.rawBody !== undefined) body = substitute(request.rawBody) as string;
    else if (request.body !== undefined) body = JSON.stringify(substitute(request.body));
    if (body !== undefined && request.gzip) body = new Uint8Array(gzipSync(body));
    // A URL-encoded path is sent as written (new URL keeps %22 and %73).
    return fetch(url, { method: request.method, headers, body });
  }

  beforeAll(async () => {
    process.env.AUTH_SECRET = AUTH_SECRET;
    resetEnvCache();
    test = await createTestDatabase(kind);
    setDatabase(test.db);
    await seedDemoData(test.db.prisma, { password: "opa-golden-test-password" });
    const prisma = test.db.prisma;
    for (const user of await prisma.user.findMany()) {
      const [local, domain] = user.email.split("@") as [string, string];
      const key = domain.startsWith("globex.") ? `globex-${local}` : local;
      ids.set(`user:${key}`, user.id);
      const actor = await getActorById(user.id);
      if (actor) actors[key] = actor;
      sessions[key] = await encode({ token: { sub: user.id, email: user.email }, secret: AUTH_SECRET });
    }
    for (const organization of await prisma.organization.findMany())
      ids.set(`org:${organization.slug}`, organization.id);
    for (const project of await prisma.project.findMany()) ids.set(`project:${project.slug}`, project.id);
    for (const membership of await prisma.membership.findMany({ include: { user: true, team: true } })) {
      if (membership.user) ids.set(`binding:user:${membership.user.email.split("@")[0]}`, membership.id);
      if (membership.team) ids.set(`binding:team:${membership.team.slug}`, membership.id);
    }
    // A conditional allow gives explain=notes a near miss to show (the demo seed has none).
    await createPolicy(actors.admin as Actor, "acme", {
      name: "viewers-deploy-staging-with-mfa",
      effect: "allow",
      actions: ["environment:deploy"],
      subjects: ["role:viewer"],
      condition: 'resource.environment == "staging" && request.mfa',
    });
    for (const policy of await prisma.policy.findMany()) ids.set(`policy:${policy.name}`, policy.id);
    revision = (await getSnapshot()).revision;
    configureDecisionLog({
      mode: "all",
      sampleRate: 1,
      flushIntervalMs: 60_000,
      sink: async (entries) => {
        logged.push(...entries);
      },
    });

    const handler = createOpaHandler({ apiToken: API_TOKEN, decisionLogging: true });
    server = createServer((req, res) => {
      if (handler(req, res)) return;
      // Stands in for Next: whatever the OPA handler declines reaches the app.
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("next");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await stopAuthz();
    configureDecisionLog({ mode: "off", sink: null });
    setDatabase(undefined);
    await test?.drop();
  });

  describe("golden request/response pairs", () => {
    const cases = loadCases();
    it("covers the documented behaviour", () => {
      expect(cases.length).toBeGreaterThanOrEqual(50);
    });

    it.each(cases)("$file", async ({ file, golden }) => {
      const response = await send(golden.request);
      const text = await response.text();
      const contentType = response.headers.get("content-type");
      const actual: Json = text === "" ? null : contentType === "application/json" ? JSON.parse(text) : text;

      if (UPDATE && kind === TEST_DB_KINDS[0]) {
        const headers: Record<string, string> = {};
        for (const name of ["content-type", "allow", "www-authenticate", "content-encoding"]) {
          const value = response.headers.get(name);
          if (value !== null) headers[name] = value;
        }
        const updated: GoldenCase = {
          ...golden,
          response: {
            status: response.status,
            headers,
            ...(text === ""
              ? {}
              : {
                  encoding: text.includes("\n ") ? "indented" : "compact",
                  body: placeholders(maskVolatile(actual)),
                }),
          },
        };
        writeFileSync(path.join(GOLDEN_DIR, file), `${JSON.stringify(updated, null, 2)}\n`);
        return;
      }

      const expected = golden.response;
      if (!expected) throw new Error(`${file} has no response: run with OPA_GOLDEN_UPDATE=1 and review it`);
      expect(response.status).toBe(expected.status);
      for (const [name, value] of Object.entries(expected.headers)) expect(response.headers.get(name)).toBe(value);
      if (expected.body === undefined) {
        expect(text).toBe("");
        return;
      }
      const expectedBody = substitute(expected.body);
      expect(maskVolatile(actual)).toEqual(expectedBody);
      // Byte for byte: key order, indentation, escaping and the trailing newline.
      expect(text).toBe(goEncode(unmask(expectedBody, actual), expected.encoding ?? "compact"));
    });
  });

  const input = (user: string, action: string, resource: Record<string, Json>) => ({
    principal: { type: "user", id: ids.get(`user:${user}`) as string },
    action,
    resource: { organizationId: ids.get("org:acme") as string, ...resource },
  });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${baseUrl}${url}`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  it("answers what the native API answers, for every demo user and a spread of actions", async () => {
    const storefront = ids.get("project:storefront") as string;
    const resources: Record<string, Json>[] = [
      { type: "pipeline", projectId: storefront },
      { type: "project", projectId: ids.get("project:payments") as string },
      { type: "environment", projectId: storefront, environment: "prod" },
      { type: "deployment", projectId: storefront, environment: "prod", createdBy: ids.get("user:approver") as string },
      { type: "audit" },
    ];
    const actions = ["pipeline:run", "project:read", "environment:deploy", "deployment:approve", "audit:read"];
    let compared = 0;
    for (const user of Object.keys(actors)) {
      for (const [i, resource] of resources.entries()) {
        const request = input(user, actions[i] as string, resource);
        const native = await queryDecision(null, parseAuthzRequest(request), { trusted: true });
        const opa = await post("/v1/data/microstack/decision", { input: request });
        expect(opa.status).toBe(200);
        const { result } = (await opa.json()) as { result: unknown };
        expect(result).toEqual(toDecisionDocument(native.decision));
        const allow = await post("/v1/data/microstack/allow", { input: request });
        expect(((await allow.json()) as { result: unknown }).result).toBe(native.decision.allow);
        compared++;
      }
    }
    expect(compared).toBe(Object.keys(actors).length * resources.length);
  });

  it("logs each decision under the decision_id it answered, with OPA's field names", async () => {
    await flushDecisionLog();
    logged.length = 0;
    const request = input("developer", "pipeline:run", {
      type: "pipeline",
      projectId: ids.get("project:storefront") as string,
    });
    const response = await post("/v1/data/microstack/allow", { input: request });
    const { decision_id: decisionId } = (await response.json()) as { decision_id: string };
    const webhook = await post("/v0/data/microstack/allow", request);
    expect(await webhook.text()).toBe("true\n");
    await flushDecisionLog();
    const event = logged.find((entry) => entry.decision_id === decisionId);
    expect(event).toMatchObject({
      decision_id: decisionId,
      path: "microstack/allow",
      revision,
      result: true,
      input: { principal: { type: "user", id: ids.get("user:developer") }, action: "pipeline:run" },
      reason_code: "binding",
    });
    expect(new Date(event?.timestamp as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(logged).toHaveLength(2);
  });

  it("leaves GET /, form posts, server actions and other paths to Next", async () => {
    const home = await fetch(`${baseUrl}/`);
    expect(await home.text()).toBe("next");
    const form = await fetch(`${baseUrl}/`, { method: "POST", body: new URLSearchParams({ a: "b" }) });
    expect(await form.text()).toBe("next");
    const action = await fetch(`${baseUrl}/`, {
      method: "POST",
      headers: { "content-type": "application/json", "next-action": "abc123" },
      body: "[]",
    });
    expect(await action.text()).toBe("next");
    for (const other of ["/v1/datasets", "/v2/data/microstack/allow", "/api/v1/authz/decisions", "/v1/policies"]) {
      expect(await (await fetch(`${baseUrl}${other}`)).text()).toBe("next");
    }
  });

  it("labels its requests with bounded route templates", () => {
    const json = { "content-type": "application/json" };
    expect(matchOpaRoute("POST", "/v1/data/microstack/allow?metrics", json)?.template).toBe("/v1/data/[...path]");
    expect(matchOpaRoute("GET", "/v1/data", {})?.template).toBe("/v1/data/[...path]");
    expect(matchOpaRoute("PUT", "/v0/data/a/b/c", {})?.template).toBe("/v0/data/[...path]");
    expect(matchOpaRoute("POST", "/?pretty", json)?.template).toBe("/");
    expect(matchOpaRoute("GET", "/", {})).toBeUndefined();
    expect(matchOpaRoute("POST", "/", { "content-type": "multipart/form-data; boundary=x" })).toBeUndefined();
  });

  it("omits decision_id when decision logging is off", async () => {
    const quiet = createServer((req, res) => {
      createOpaHandler({ apiToken: API_TOKEN, decisionLogging: false })(req, res);
    });
    await new Promise<void>((resolve) => quiet.listen(0, "127.0.0.1", resolve));
    try {
      const port = (quiet.address() as AddressInfo).port;
      const request = input("developer", "pipeline:run", {
        type: "pipeline",
        projectId: ids.get("project:storefront") as string,
      });
      const response = await fetch(`http://127.0.0.1:${port}/v1/data/microstack/allow`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}` },
        body: JSON.stringify({ input: request }),
      });
      expect(await response.text()).toBe('{"result":true}\n');
    } finally {
      await new Promise<void>((resolve) => quiet.close(() => resolve()));
    }
  });

  it("escapes <, > and & as Go's encoder does, and gzips large answers for clients that accept it", async () => {
    const request = input("viewer", "environment:deploy", {
      type: "environment",
      projectId: ids.get("project:storefront") as string,
      environment: "staging",
    });
    const small = await post("/v1/data/microstack/allow", { input: request }, { "accept-encoding": "gzip" });
    expect(small.headers.get("content-encoding")).toBeNull();
    const response = await post(
      "/v1/data?explain=notes&pretty&provenance&metrics",
      { input: request },
      {
        "accept-encoding": "gzip",
      },
    );
    expect(response.headers.get("content-encoding")).toBe("gzip");
    const text = await response.text(); // fetch decompresses
    expect(text.length).toBeGreaterThan(1024);
    expect(text).toContain("\\u0026\\u0026");
    expect(text).not.toContain("&&");
  });

  it("refuses bodies over 1 MiB with OPA's message", async () => {
    const response = await post("/v1/data/microstack/allow", { input: { pad: "x".repeat(1024 * 1024) } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: "invalid_parameter", message: "request body too large" });
  });

  it.skipIf(!existsSync("/usr/bin/curl"))("answers an OPA client's curl exactly as the native API", async () => {
    const request = input("developer", "pipeline:run", {
      type: "pipeline",
      projectId: ids.get("project:storefront") as string,
    });
    const { stdout } = await promisify(execFile)("curl", [
      "-s",
      "-H",
      `Authorization: Bearer ${API_TOKEN}`,
      "-d",
      JSON.stringify({ input: request }),
      `${baseUrl}/v1/data/microstack/allow`,
    ]);
    const native = await queryDecision(null, parseAuthzRequest(request), { trusted: true });
    const answer = JSON.parse(stdout) as { result: boolean; decision_id: string };
    expect(answer.result).toBe(native.decision.allow);
    expect(answer.result).toBe(true);
    expect(answer.decision_id).toMatch(UUID);

    const { stdout: webhook } = await promisify(execFile)("curl", [
      "-s",
      "-H",
      `Authorization: Bearer ${API_TOKEN}`,
      "-H",
      "Content-Type: application/json",
      "-d",
      JSON.stringify(request),
      `${baseUrl}/`,
    ]);
    expect(webhook).toBe("true\n");
  });
});

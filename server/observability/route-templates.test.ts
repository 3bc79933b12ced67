import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRouteMatcher,
  createRouteMatcherFromTemplates,
  type RouteMatcher,
  routeTemplatesFromBuild,
  UNMATCHED_ROUTE,
} from "./route-templates";

const FILES = [
  "layout.tsx",
  "page.tsx",
  "favicon.ico",
  "(dashboard)/audit/page.tsx",
  "(dashboard)/projects/page.tsx",
  "(dashboard)/projects/new/page.tsx",
  "(dashboard)/projects/[projectId]/page.tsx",
  "(dashboard)/projects/[projectId]/runs/[runId]/page.tsx",
  "(dashboard)/projects/[projectId]/_components/header.tsx",
  "(dashboard)/@modal/default.tsx",
  "(dashboard)/@modal/(.)projects/new/page.tsx",
  "_lib/page.tsx",
  "docs/[[...slug]]/page.tsx",
  "files/[...path]/route.ts",
  "files/upload/route.ts",
  "api/auth/[...nextauth]/route.ts",
  "api/v1/projects/route.ts",
  "api/v1/projects/[projectId]/route.ts",
  "api/v1/projects/[projectId]/pipelines/route.ts",
  "api/v1/runs/[runId]/cancel/route.ts",
  "api/v1/runs/active/route.ts",
  "api/v1/[kind]/export/route.ts",
];

let appDir: string;
let root: string;
let matcher: RouteMatcher;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "ms-routes-"));
  appDir = path.join(root, "app");
  for (const file of FILES) {
    const full = path.join(appDir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, "export {};\n");
  }
  mkdirSync(path.join(root, "public", "img"), { recursive: true });
  writeFileSync(path.join(root, "public", "img", "logo.svg"), "<svg/>");
  matcher = createRouteMatcher(appDir, { publicDir: path.join(root, "public") });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("createRouteMatcher", () => {
  it("turns page and route files into templates, without groups, slots or private folders", () => {
    expect(matcher.templates).toEqual(
      expect.arrayContaining([
        "/",
        "/audit",
        "/projects/[projectId]",
        "/api/v1/projects/[projectId]",
        "/api/auth/[...nextauth]",
        "/docs/[[...slug]]",
        "/favicon.ico",
        "/img/logo.svg",
        "/healthz",
        "/readyz",
        "/metrics",
      ]),
    );
    expect(matcher.templates.some((template) => template.includes("(") || template.includes("@"))).toBe(false);
    expect(matcher.templates.some((template) => template.includes("_lib") || template.includes("_components"))).toBe(
      false,
    );
  });

  it("labels paths by their template", () => {
    expect(matcher.match("/")).toBe("/");
    expect(matcher.match("/audit")).toBe("/audit");
    expect(matcher.match("/audit/")).toBe("/audit");
    expect(matcher.match("/projects/p_123")).toBe("/projects/[projectId]");
    expect(matcher.match("/projects/p_1/runs/r_9")).toBe("/projects/[projectId]/runs/[runId]");
    expect(matcher.match("/api/v1/projects/abc?limit=10")).toBe("/api/v1/projects/[projectId]");
    expect(matcher.match("/api/v1/projects/abc/pipelines")).toBe("/api/v1/projects/[projectId]/pipelines");
  });

  it("prefers static segments over dynamic ones, and backtracks when the static branch dead-ends", () => {
    expect(matcher.match("/projects/new")).toBe("/projects/new");
    expect(matcher.match("/api/v1/runs/active")).toBe("/api/v1/runs/active");
    expect(matcher.match("/api/v1/runs/r_1/cancel")).toBe("/api/v1/runs/[runId]/cancel");
    // /api/v1/projects exists, but has no "export" under it: the [kind] branch answers.
    expect(matcher.match("/api/v1/projects/export")).toBe("/api/v1/projects/[projectId]");
    expect(matcher.match("/api/v1/teams/export")).toBe("/api/v1/[kind]/export");
    expect(matcher.match("/files/upload")).toBe("/files/upload");
  });

  it("matches catch-all and optional catch-all segments", () => {
    expect(matcher.match("/api/auth/session")).toBe("/api/auth/[...nextauth]");
    expect(matcher.match("/api/auth/callback/oidc")).toBe("/api/auth/[...nextauth]");
    expect(matcher.match("/files/a/b/c.txt")).toBe("/files/[...path]");
    // [...x] needs at least one segment; [[...x]] also matches none.
    expect(matcher.match("/files")).toBe(UNMATCHED_ROUTE);
    expect(matcher.match("/docs")).toBe("/docs/[[...slug]]");
    expect(matcher.match("/docs/guide/install")).toBe("/docs/[[...slug]]");
  });

  it("folds Next assets, socket.io and process endpoints into fixed labels", () => {
    expect(matcher.match("/_next/static/chunks/app/page-abc123.js")).toBe("/_next/static");
    expect(matcher.match("/_next/image?url=%2Fa.png&w=64")).toBe("/_next/*");
    expect(matcher.match("/socket.io/?EIO=4&transport=polling")).toBe("/socket.io");
    expect(matcher.match("/healthz")).toBe("/healthz");
    expect(matcher.match("/metrics")).toBe("/metrics");
  });

  it("labels anything else unmatched, so probes cannot grow the label set", () => {
    expect(matcher.match("/wp-login.php")).toBe(UNMATCHED_ROUTE);
    expect(matcher.match("/api/v2/projects")).toBe(UNMATCHED_ROUTE);
    expect(matcher.match("/audit/extra/segments")).toBe(UNMATCHED_ROUTE);
    expect(matcher.match("/_lib")).toBe(UNMATCHED_ROUTE);
  });
});

describe("createRouteMatcherFromTemplates", () => {
  it("ranks [x] over [...x] over [[...x]] at the same position", () => {
    const m = createRouteMatcherFromTemplates(["/a/[id]", "/a/[...rest]", "/[[...all]]"]);
    expect(m.match("/a/1")).toBe("/a/[id]");
    expect(m.match("/a/1/2")).toBe("/a/[...rest]");
    expect(m.match("/b/c")).toBe("/[[...all]]");
    expect(m.match("/")).toBe("/[[...all]]");
  });
});

describe("routeTemplatesFromBuild", () => {
  it("reads the templates of a build that shipped without app/", () => {
    const distDir = path.join(root, ".next");
    mkdirSync(distDir, { recursive: true });
    writeFileSync(
      path.join(distDir, "app-path-routes-manifest.json"),
      JSON.stringify({
        "/(dashboard)/projects/[projectId]/page": "/projects/[projectId]",
        "/api/v1/projects/route": "/api/v1/projects",
        "/_not-found/page": "/_not-found",
      }),
    );
    const m = createRouteMatcherFromTemplates(routeTemplatesFromBuild(distDir));
    expect(m.match("/projects/p_1")).toBe("/projects/[projectId]");
    expect(m.match("/api/v1/projects")).toBe("/api/v1/projects");
    expect(m.match("/_not-found")).toBe(UNMATCHED_ROUTE);
  });
});

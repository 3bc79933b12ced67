import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { API_OPERATIONS, buildOpenApiDocument, openApiPath } from "./openapi";

// The OpenAPI document describes what the route files serve: every documented operation has a
// route file exporting its method through operationHandler, and every such route is documented.

const ROOT = path.resolve(import.meta.dirname, "../..");

function routeFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return routeFiles(full);
    return entry === "route.ts" ? [full] : [];
  });
}

describe("the OpenAPI document", () => {
  const document = buildOpenApiDocument() as {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; parameters: { name: string; in: string }[] }>>;
  };

  it("is OpenAPI 3.1 with unique operation ids and every path parameter declared", () => {
    expect(document.openapi).toBe("3.1.0");
    const ids = API_OPERATIONS.map((operation) => operation.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [route, methods] of Object.entries(document.paths)) {
      const placeholders = [...route.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      for (const operation of Object.values(methods)) {
        const declared = operation.parameters.filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort(), `${operation.operationId} path parameters`).toEqual([...placeholders].sort());
      }
    }
  });

  it("matches the route files one to one", () => {
    const served = new Set<string>();
    for (const file of routeFiles(path.join(ROOT, "app/api/v1"))) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(
        /export const (GET|POST|PUT|PATCH|DELETE) = (?:publicO|o)perationHandler\(\s*\w+\.(\w+)/g,
      )) {
        const operation = API_OPERATIONS.find((candidate) => candidate.id === match[2]);
        expect(operation, `${file} serves an undocumented operation ${match[2]}`).toBeDefined();
        const route = `/${path.relative(ROOT, path.dirname(file)).split(path.sep).join("/")}`.replace(/^\/app/, "");
        expect(operation?.route, `${match[2]} is declared for another path`).toBe(route);
        expect(operation?.method).toBe(match[1]);
        served.add(match[2] as string);
      }
    }
    for (const operation of API_OPERATIONS) {
      expect(
        served.has(operation.id),
        `${operation.id} (${operation.method} ${openApiPath(operation.route)}) has no route`,
      ).toBe(true);
    }
  });
});

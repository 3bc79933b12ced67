import { buildOpenApiDocument } from "@/server/http/openapi";

// Public, like most APIs' descriptions: it documents the endpoints, it exposes no data.
export function GET(): Response {
  return Response.json(buildOpenApiDocument(), { headers: { "cache-control": "public, max-age=300" } });
}

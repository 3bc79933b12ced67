import "server-only";
import { z } from "zod";
import { pipelineOperations } from "@/server/pipelines/schema";
import { projectOperations } from "@/server/projects/schema";
import { runOperations } from "@/server/runs/schema";
import { secretOperations } from "@/server/secrets/schema";
import { type Operation, problemSchema } from "./operation";

// The OpenAPI 3.1 document of /api/v1, generated from the operations' zod schemas (the same
// ones that parse requests and check responses). Served at /api/v1/openapi.json and rendered
// at /api-docs.

export const API_OPERATIONS: readonly Operation[] = [
  ...Object.values(pipelineOperations),
  ...Object.values(runOperations),
  ...Object.values(secretOperations),
  ...Object.values(projectOperations),
];

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    target: "draft-2020-12",
  });
  return rest as JsonSchema;
}

/** `/api/v1/runs/[runId]` -> `/api/v1/runs/{runId}` */
export function openApiPath(route: string): string {
  return route.replace(/\[([^\]]+)\]/g, "{$1}");
}

function parametersOf(schema: z.ZodType | undefined, where: "path" | "query"): JsonSchema[] {
  if (!schema) return [];
  const object = jsonSchema(schema, "input");
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

const ERROR_RESPONSES: Record<string, string> = {
  "400": "The input is not valid: `invalidParams` names each field and why",
  "401": "Not signed in",
  "403": "Signed in, but not allowed: `detail` says which rule refused",
  "404": "Not found, or in an organization you do not belong to",
  "409": "Conflicts with the current state (a newer version, a name that is taken)",
  "422": "Not possible in the resource's current state",
};

export function buildOpenApiDocument(): JsonSchema {
  const problem = jsonSchema(problemSchema, "output");
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const operation of API_OPERATIONS) {
    const path = openApiPath(operation.route);
    paths[path] ??= {};
    const success = String(operation.successStatus ?? 200);
    const responses: Record<string, JsonSchema> = {
      [success]:
        success === "204"
          ? { description: "Done" }
          : {
              description: "Success",
              content: {
                "application/json": { schema: operation.response ? jsonSchema(operation.response, "output") : {} },
              },
            },
    };
    for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
      responses[status] = {
        description,
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      };
    }
    (paths[path] as Record<string, JsonSchema>)[operation.method.toLowerCase()] = {
      operationId: operation.id,
      summary: operation.summary,
      ...(operation.description ? { description: operation.description } : {}),
      tags: [operation.tag],
      parameters: [...parametersOf(operation.params, "path"), ...parametersOf(operation.query, "query")],
      ...(operation.auth === "public" ? { security: [] } : {}),
      ...(operation.rawBody
        ? {
            requestBody: {
              required: false,
              description: operation.rawBody,
              content: { "application/json": { schema: {} } },
            },
          }
        : {}),
      ...(operation.body
        ? {
            requestBody: {
              required: !operation.body.safeParse(undefined).success,
              content: { "application/json": { schema: jsonSchema(operation.body, "input") } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Microstack API",
      version: "1",
      description:
        "Pipelines, runs, approvals and project secrets. Every request is authorized: another organization's resources answer 404. Errors are RFC 9457 problems (application/problem+json).",
    },
    servers: [{ url: "/" }],
    security: [{ session: [] }],
    tags: [
      { name: "Pipelines", description: "Pipeline documents and their versions" },
      { name: "Runs", description: "Starting, following and controlling runs" },
      { name: "Approvals", description: "Approving and rejecting approval steps" },
      { name: "Secrets", description: "Project secrets, read by runs as ${{ secrets.NAME }}" },
      { name: "Projects", description: "Run settings of a project" },
    ],
    paths,
    components: {
      schemas: { Problem: problem },
      securitySchemes: {
        session: {
          type: "apiKey",
          in: "cookie",
          name: "next-auth.session-token",
          description: "The session of a signed-in user (`__Secure-next-auth.session-token` over HTTPS).",
        },
      },
    },
  };
}

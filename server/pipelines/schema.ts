import { z } from "zod";
import { defineOperation } from "@/server/http/operation";
import { slugSchema } from "@/server/projects/schema";

// Isomorphic: the studio, the API and the service share these. A pipeline's document is YAML
// text (kept byte for byte, comments included); what it means is checked by pipelines/spec.

/** The largest pipeline document accepted (a 10,000-step pipeline is about 3.5 MB). */
export const MAX_PIPELINE_YAML_BYTES = 8 * 1024 * 1024;

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

export const pipelineYamlSchema = z
  .string()
  .min(1, "is empty")
  .refine((text) => text.length <= MAX_PIPELINE_YAML_BYTES / 3 || utf8Length(text) <= MAX_PIPELINE_YAML_BYTES, {
    message: `is larger than ${MAX_PIPELINE_YAML_BYTES / 1024 / 1024} MiB`,
  });

const messageSchema = z.string().trim().max(2_000);

export const createPipelineInputSchema = z.strictObject({
  // "new" is the studio's page for creating one.
  slug: slugSchema.refine((slug) => slug !== "new", { message: '"new" is reserved' }),
  yaml: pipelineYamlSchema,
  message: messageSchema.optional(),
});
export type CreatePipelineInput = z.infer<typeof createPipelineInputSchema>;

export const savePipelineVersionInputSchema = z.strictObject({
  yaml: pipelineYamlSchema,
  message: messageSchema.optional(),
  /**
   * The version the author opened. Saving over a newer one is refused (409) rather than
   * silently overwriting someone else's change.
   */
  baseVersion: z.number().int().min(1),
});
export type SavePipelineVersionInput = z.infer<typeof savePipelineVersionInputSchema>;

export const restorePipelineVersionInputSchema = z.strictObject({
  baseVersion: z.number().int().min(1),
  message: messageSchema.optional(),
});
export type RestorePipelineVersionInput = z.infer<typeof restorePipelineVersionInputSchema>;

export const validatePipelineInputSchema = z.strictObject({ yaml: pipelineYamlSchema });

export const IMPORT_FORMATS = ["github-actions", "gitlab-ci"] as const;
export const importPipelineInputSchema = z.strictObject({
  text: z
    .string()
    .min(1, "is empty")
    .max(2 * 1024 * 1024),
  format: z.enum(IMPORT_FORMATS).optional(),
  fileName: z.string().trim().max(255).optional(),
  name: z.string().trim().min(1).max(200).optional(),
});
export type ImportPipelineInput = z.infer<typeof importPipelineInputSchema>;

export const pipelineListQuerySchema = z.object({
  q: z.string().trim().max(200).optional(),
});

// ---- DTOs ----

export const diagnosticDtoSchema = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  line: z.number(),
  column: z.number(),
  endLine: z.number(),
  endColumn: z.number(),
  message: z.string(),
  code: z.string(),
  severity: z.enum(["error", "warning", "info"]),
});
export type DiagnosticDto = z.infer<typeof diagnosticDtoSchema>;

export const validationResultSchema = z.object({
  valid: z.boolean(),
  diagnostics: z.array(diagnosticDtoSchema),
  /** Step instances of one run (matrices expanded), when the document could be analysed. */
  instanceCount: z.number().nullable(),
  secrets: z.array(z.string()),
});
export type ValidationResultDto = z.infer<typeof validationResultSchema>;

const runBriefSchema = z.object({
  id: z.string(),
  number: z.number(),
  status: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const userRefSchema = z.object({ id: z.string(), name: z.string() }).nullable();

export const paramDtoSchema = z.object({
  name: z.string(),
  type: z.enum(["string", "integer", "number", "boolean"]),
  description: z.string().nullable(),
  default: z.union([z.string(), z.number(), z.boolean()]).nullable(),
  required: z.boolean(),
  options: z.array(z.union([z.string(), z.number()])).nullable(),
});
export type ParamDto = z.infer<typeof paramDtoSchema>;

export const pipelineSummarySchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  organizationId: z.string(),
  organizationSlug: z.string(),
  projectId: z.string(),
  projectSlug: z.string(),
  currentVersion: z.number(),
  runCount: z.number(),
  lastRun: runBriefSchema.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type PipelineSummary = z.infer<typeof pipelineSummarySchema>;

export const pipelineDetailSchema = pipelineSummarySchema.extend({
  yaml: z.string(),
  versionMessage: z.string(),
  versionAuthor: userRefSchema,
  versionCreatedAt: z.string(),
  params: z.array(paramDtoSchema),
  manualRuns: z.boolean(),
  stepCount: z.number(),
});
export type PipelineDetail = z.infer<typeof pipelineDetailSchema>;

export const pipelineVersionSummarySchema = z.object({
  id: z.string(),
  version: z.number(),
  message: z.string(),
  author: userRefSchema,
  createdAt: z.string(),
  isCurrent: z.boolean(),
});
export type PipelineVersionSummary = z.infer<typeof pipelineVersionSummarySchema>;

export const pipelineVersionDetailSchema = pipelineVersionSummarySchema.extend({ yaml: z.string() });
export type PipelineVersionDetail = z.infer<typeof pipelineVersionDetailSchema>;

export const importResultSchema = z.object({
  format: z.enum(IMPORT_FORMATS),
  yaml: z.string(),
  valid: z.boolean(),
  notes: z.array(
    z.object({
      severity: z.enum(["error", "warning", "info"]),
      code: z.string(),
      path: z.string(),
      line: z.number(),
      column: z.number(),
      message: z.string(),
    }),
  ),
  diagnostics: z.array(diagnosticDtoSchema),
});
export type ImportResultDto = z.infer<typeof importResultSchema>;

// ---- API operations (route handlers and the OpenAPI document are built from these) ----

const projectParams = z.object({ org: slugSchema, project: slugSchema });
const pipelineParams = z.object({ pipelineId: z.uuid() });
const versionParams = z.object({ pipelineId: z.uuid(), version: z.coerce.number().int().min(1) });
const LARGE_BODY = MAX_PIPELINE_YAML_BYTES + 64 * 1024;

export const pipelineOperations = {
  listPipelines: defineOperation({
    id: "listPipelines",
    method: "GET",
    route: "/api/v1/organizations/[org]/projects/[project]/pipelines",
    summary: "List the pipelines of a project",
    tag: "Pipelines",
    params: projectParams,
    query: pipelineListQuerySchema,
    response: z.array(pipelineSummarySchema),
  }),
  createPipeline: defineOperation({
    id: "createPipeline",
    method: "POST",
    route: "/api/v1/organizations/[org]/projects/[project]/pipelines",
    summary: "Create a pipeline from its YAML (version 1)",
    description:
      "The document is validated first; an invalid one is refused with 400, each error named with its line and column (details.diagnostics).",
    tag: "Pipelines",
    params: projectParams,
    body: createPipelineInputSchema,
    response: pipelineDetailSchema,
    successStatus: 201,
    maxBodyBytes: LARGE_BODY,
  }),
  getPipeline: defineOperation({
    id: "getPipeline",
    method: "GET",
    route: "/api/v1/pipelines/[pipelineId]",
    summary: "A pipeline with its current YAML and run parameters",
    tag: "Pipelines",
    params: pipelineParams,
    response: pipelineDetailSchema,
  }),
  savePipelineVersion: defineOperation({
    id: "savePipelineVersion",
    method: "PUT",
    route: "/api/v1/pipelines/[pipelineId]",
    summary: "Save a new version of a pipeline",
    description:
      "baseVersion is the version the author edited; if another version was saved since, 409 with details.currentVersion. An invalid document is refused (400) and the current version stays.",
    tag: "Pipelines",
    params: pipelineParams,
    body: savePipelineVersionInputSchema,
    response: pipelineDetailSchema,
    maxBodyBytes: LARGE_BODY,
  }),
  deletePipeline: defineOperation({
    id: "deletePipeline",
    method: "DELETE",
    route: "/api/v1/pipelines/[pipelineId]",
    summary: "Delete a pipeline with its versions and runs",
    tag: "Pipelines",
    params: pipelineParams,
    successStatus: 204,
  }),
  listPipelineVersions: defineOperation({
    id: "listPipelineVersions",
    method: "GET",
    route: "/api/v1/pipelines/[pipelineId]/versions",
    summary: "Every saved version of a pipeline, newest first",
    tag: "Pipelines",
    params: pipelineParams,
    response: z.array(pipelineVersionSummarySchema),
  }),
  getPipelineVersion: defineOperation({
    id: "getPipelineVersion",
    method: "GET",
    route: "/api/v1/pipelines/[pipelineId]/versions/[version]",
    summary: "One version of a pipeline with its YAML",
    tag: "Pipelines",
    params: versionParams,
    response: pipelineVersionDetailSchema,
  }),
  restorePipelineVersion: defineOperation({
    id: "restorePipelineVersion",
    method: "POST",
    route: "/api/v1/pipelines/[pipelineId]/versions/[version]/restore",
    summary: "Make an old version current again (saved as a new version)",
    tag: "Pipelines",
    params: versionParams,
    body: restorePipelineVersionInputSchema,
    response: pipelineDetailSchema,
  }),
  validatePipeline: defineOperation({
    id: "validatePipeline",
    method: "POST",
    route: "/api/v1/pipelines/validate",
    summary: "Check a pipeline document without saving it",
    description: "Answers 200 with the positioned diagnostics whether or not the document is valid.",
    tag: "Pipelines",
    body: validatePipelineInputSchema,
    response: validationResultSchema,
    maxBodyBytes: LARGE_BODY,
  }),
  importPipeline: defineOperation({
    id: "importPipeline",
    method: "POST",
    route: "/api/v1/pipelines/import",
    summary: "Convert a GitHub Actions workflow or a .gitlab-ci.yml into a pipeline",
    description:
      "Nothing is saved: the answer is the pipeline YAML and notes on everything that could not be carried over.",
    tag: "Pipelines",
    body: importPipelineInputSchema,
    response: importResultSchema,
    maxBodyBytes: 3 * 1024 * 1024,
  }),
  pipelineJsonSchema: defineOperation({
    id: "pipelineJsonSchema",
    method: "GET",
    route: "/api/v1/pipelines/schema",
    summary: "The JSON Schema of the pipeline language, for editors",
    tag: "Pipelines",
  }),
};

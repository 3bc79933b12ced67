import { z } from "zod";
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
  slug: slugSchema,
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

import "server-only";
import type { z } from "zod";
import { importPipeline as convertWorkflow } from "@/pipelines/importers/import-pipeline";
import { pipelineJsonSchema } from "@/pipelines/spec/json-schema";
import { parsePipeline } from "@/pipelines/spec/parse";
import type { Pipeline } from "@/pipelines/spec/schema";
import { recordAuditEvent } from "@/server/audit/service";
import type { Actor } from "@/server/auth/schema";
import { AppError } from "@/server/http/errors";
import type { ProjectRef } from "@/server/projects/schema";
import { findProjectRef } from "@/server/projects/service";
import { assertCanCreatePipeline, assertCanListPipelines, assertCanOnPipeline, type PipelineScope } from "./policy";
import {
  appendVersion,
  deletePipelineById,
  findPipelineById,
  findPipelineBySlugs,
  findUserNames,
  findVersion,
  insertPipeline,
  listPipelinesOfProject,
  listVersions,
  type PipelineRow,
} from "./repo";
import {
  type CreatePipelineInput,
  createPipelineInputSchema,
  type ImportPipelineInput,
  type ImportResultDto,
  importPipelineInputSchema,
  type DiagnosticDto,
  type ParamDto,
  type PipelineDetail,
  type PipelineSummary,
  type PipelineVersionDetail,
  type PipelineVersionSummary,
  pipelineListQuerySchema,
  type RestorePipelineVersionInput,
  restorePipelineVersionInputSchema,
  type SavePipelineVersionInput,
  savePipelineVersionInputSchema,
  type ValidationResultDto,
} from "./schema";

function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  return parsed.data;
}

// ---- The document ----

/** Checks a document as the editor and the API see it: positioned diagnostics, never throws. */
export function validatePipelineText(yaml: string): ValidationResultDto {
  const parsed = parsePipeline(yaml);
  return {
    valid: parsed.pipeline !== null,
    diagnostics: parsed.diagnostics as DiagnosticDto[],
    instanceCount: parsed.analysis?.instanceCount ?? null,
    secrets: parsed.analysis?.secrets ?? [],
  };
}

/**
 * The validated pipeline of a document, or INVALID_INPUT naming each error with its line and
 * column (the diagnostics are in `details` for editors that underline them).
 */
function parseOrThrow(yaml: string, field = "yaml"): Pipeline {
  const parsed = parsePipeline(yaml);
  if (parsed.pipeline !== null) return parsed.pipeline;
  const errors = parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error");
  const first = errors[0];
  throw new AppError(
    "INVALID_INPUT",
    first
      ? `The pipeline is not valid: line ${first.line}, column ${first.column}: ${first.message}` +
          (errors.length > 1 ? ` (and ${errors.length - 1} more)` : "")
      : "The pipeline is not valid",
    {
      invalidParams: errors.slice(0, 100).map((diagnostic) => ({
        name: field,
        reason: `line ${diagnostic.line}, column ${diagnostic.column}: ${diagnostic.message}`,
      })),
      details: { diagnostics: errors.slice(0, 1_000) },
    },
  );
}

function paramsOf(pipeline: Pipeline): ParamDto[] {
  return Object.entries(pipeline.params ?? {}).map(([name, param]) => ({
    name,
    type: param.type,
    description: param.description ?? null,
    default: param.default ?? null,
    required: param.required === true,
    options: param.options ?? null,
  }));
}

/** The JSON Schema of the language, for editors (YAML language servers, the studio). */
export function pipelineLanguageSchema(): Record<string, unknown> {
  return pipelineJsonSchema() as Record<string, unknown>;
}

/**
 * Converts a GitHub Actions workflow or a .gitlab-ci.yml into a pipeline document (not saved),
 * with notes on what could not be carried over and the document's own diagnostics.
 */
export function importWorkflow(raw: ImportPipelineInput | unknown): ImportResultDto {
  const input = parseInput(importPipelineInputSchema, raw);
  const result = convertWorkflow(input.text, {
    ...(input.format ? { format: input.format } : {}),
    ...(input.fileName ? { fileName: input.fileName } : {}),
    ...(input.name ? { name: input.name } : {}),
  });
  if (result.format === null) {
    const note = result.notes[0];
    throw new AppError("INVALID_INPUT", note?.message ?? "The format of this file is not recognised", {
      invalidParams: [{ name: "format", reason: "could not be detected: give github-actions or gitlab-ci" }],
    });
  }
  const diagnostics = result.yaml === "" ? [] : (parsePipeline(result.yaml).diagnostics as DiagnosticDto[]);
  return {
    format: result.format,
    yaml: result.yaml,
    valid: result.yaml !== "" && !diagnostics.some((diagnostic) => diagnostic.severity === "error"),
    notes: result.notes,
    diagnostics,
  };
}

// ---- DTOs ----

function toSummary(row: PipelineRow): PipelineSummary {
  const last = row.runs[0];
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    organizationId: row.organizationId,
    organizationSlug: row.project.organization.slug,
    projectId: row.projectId,
    projectSlug: row.project.slug,
    currentVersion: row.currentVersion,
    runCount: row.runCount,
    lastRun: last
      ? {
          id: last.id,
          number: last.number,
          status: last.status,
          createdAt: last.createdAt.toISOString(),
          finishedAt: last.finishedAt?.toISOString() ?? null,
        }
      : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

async function toDetail(row: PipelineRow): Promise<PipelineDetail> {
  const version = await findVersion(row.id, row.currentVersion);
  if (!version) throw new AppError("INTERNAL", `pipeline ${row.id} has no version ${row.currentVersion}`);
  const spec = version.spec as unknown as Pipeline;
  const names = await findUserNames(version.authorId ? [version.authorId] : []);
  return {
    ...toSummary(row),
    yaml: version.yaml,
    versionMessage: version.message,
    versionAuthor: version.authorId ? { id: version.authorId, name: names.get(version.authorId) ?? "" } : null,
    versionCreatedAt: version.createdAt.toISOString(),
    params: paramsOf(spec),
    manualRuns: spec.triggers?.manual ?? true,
    stepCount: spec.steps.length,
  };
}

function scopeOf(row: PipelineRow): PipelineScope {
  return { id: row.id, organizationId: row.organizationId, projectId: row.projectId, createdById: row.createdById };
}

async function projectOrNotFound(organizationSlug: string, projectSlug: string): Promise<ProjectRef> {
  const project = await findProjectRef(organizationSlug, projectSlug);
  if (!project) throw AppError.notFound("The project");
  return project;
}

/** The pipeline, once the actor may do `action` on it (another tenant's: NOT_FOUND). */
async function pipelineFor(
  actor: Actor,
  pipelineId: string,
  action: Parameters<typeof assertCanOnPipeline>[1],
): Promise<PipelineRow> {
  const row = await findPipelineById(pipelineId);
  if (!row) throw AppError.notFound("The pipeline");
  await assertCanOnPipeline(actor, action, scopeOf(row));
  return row;
}

function audit(
  actor: Actor,
  action: string,
  row: { id: string; organizationId: string; projectId: string },
  details = {},
) {
  return recordAuditEvent({
    actor: { type: "user", id: actor.id, label: actor.email },
    organizationId: row.organizationId,
    projectId: row.projectId,
    action,
    target: { type: "pipeline", id: row.id },
    outcome: "success",
    details,
  });
}

// ---- Use cases ----

export async function listPipelines(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  query: unknown = {},
): Promise<PipelineSummary[]> {
  const { q } = parseInput(pipelineListQuerySchema, query);
  const project = await projectOrNotFound(organizationSlug, projectSlug);
  await assertCanListPipelines(actor, project);
  return (await listPipelinesOfProject(project.id, q)).map(toSummary);
}

export async function getPipeline(actor: Actor, pipelineId: string): Promise<PipelineDetail> {
  return toDetail(await pipelineFor(actor, pipelineId, "pipeline:read"));
}

export async function getPipelineBySlugs(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  slug: string,
): Promise<PipelineDetail> {
  const row = await findPipelineBySlugs(organizationSlug, projectSlug, slug);
  if (!row) throw AppError.notFound("The pipeline");
  await assertCanOnPipeline(actor, "pipeline:read", scopeOf(row));
  return toDetail(row);
}

export async function createPipeline(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  raw: CreatePipelineInput | unknown,
): Promise<PipelineDetail> {
  const input = parseInput(createPipelineInputSchema, raw);
  const project = await projectOrNotFound(organizationSlug, projectSlug);
  await assertCanCreatePipeline(actor, project);
  const spec = parseOrThrow(input.yaml);
  const row = await insertPipeline({
    organizationId: project.organizationId,
    projectId: project.id,
    slug: input.slug,
    name: spec.name,
    description: spec.description ?? "",
    yaml: input.yaml,
    spec,
    message: input.message ?? "",
    authorId: actor.id,
  });
  if (!row) {
    throw new AppError("CONFLICT", `A pipeline named "${input.slug}" already exists in this project`, {
      invalidParams: [{ name: "slug", reason: "is taken in this project" }],
    });
  }
  await audit(actor, "pipelines.pipeline.create", row, { slug: row.slug, version: 1 });
  return toDetail(row);
}

/**
 * Saves a new version. An invalid document is refused and the current version stays; a save
 * based on an older version than the current one is refused with CONFLICT.
 */
export async function savePipelineVersion(
  actor: Actor,
  pipelineId: string,
  raw: SavePipelineVersionInput | unknown,
): Promise<PipelineDetail> {
  const input = parseInput(savePipelineVersionInputSchema, raw);
  const row = await pipelineFor(actor, pipelineId, "pipeline:update");
  const spec = parseOrThrow(input.yaml);
  return appendAndAudit(actor, row, input.baseVersion, {
    yaml: input.yaml,
    spec,
    message: input.message ?? "",
    auditAction: "pipelines.pipeline.update",
  });
}

async function appendAndAudit(
  actor: Actor,
  row: PipelineRow,
  baseVersion: number,
  input: { yaml: string; spec: Pipeline; message: string; auditAction: string; restoredFrom?: number },
): Promise<PipelineDetail> {
  const result = await appendVersion(row.id, baseVersion, {
    yaml: input.yaml,
    spec: input.spec,
    name: input.spec.name,
    description: input.spec.description ?? "",
    message: input.message,
    authorId: actor.id,
  });
  if (!result.ok && result.reason === "not-found") throw AppError.notFound("The pipeline");
  if (!result.ok) {
    throw new AppError(
      "CONFLICT",
      `The pipeline changed since you opened it: version ${result.currentVersion} is current, you edited version ${baseVersion}`,
      { details: { currentVersion: result.currentVersion, baseVersion } },
    );
  }
  await audit(actor, input.auditAction, result.pipeline, {
    version: result.version,
    ...(input.restoredFrom === undefined ? {} : { restoredFrom: input.restoredFrom }),
  });
  return toDetail(result.pipeline);
}

export async function listPipelineVersions(actor: Actor, pipelineId: string): Promise<PipelineVersionSummary[]> {
  const row = await pipelineFor(actor, pipelineId, "pipeline:read");
  const versions = await listVersions(row.id);
  const names = await findUserNames(versions.flatMap((version) => (version.authorId ? [version.authorId] : [])));
  return versions.map((version) => ({
    id: version.id,
    version: version.version,
    message: version.message,
    author: version.authorId ? { id: version.authorId, name: names.get(version.authorId) ?? "" } : null,
    createdAt: version.createdAt.toISOString(),
    isCurrent: version.version === row.currentVersion,
  }));
}

export async function getPipelineVersion(
  actor: Actor,
  pipelineId: string,
  versionNumber: number,
): Promise<PipelineVersionDetail> {
  const row = await pipelineFor(actor, pipelineId, "pipeline:read");
  const version = await findVersion(row.id, versionNumber);
  if (!version) throw AppError.notFound(`Version ${versionNumber} of the pipeline`);
  const names = await findUserNames(version.authorId ? [version.authorId] : []);
  return {
    id: version.id,
    version: version.version,
    message: version.message,
    author: version.authorId ? { id: version.authorId, name: names.get(version.authorId) ?? "" } : null,
    createdAt: version.createdAt.toISOString(),
    isCurrent: version.version === row.currentVersion,
    yaml: version.yaml,
  };
}

/** Makes an old version current again, as a new version (history is never rewritten). */
export async function restorePipelineVersion(
  actor: Actor,
  pipelineId: string,
  versionNumber: number,
  raw: RestorePipelineVersionInput | unknown,
): Promise<PipelineDetail> {
  const input = parseInput(restorePipelineVersionInputSchema, raw);
  const row = await pipelineFor(actor, pipelineId, "pipeline:update");
  const version = await findVersion(row.id, versionNumber);
  if (!version) throw AppError.notFound(`Version ${versionNumber} of the pipeline`);
  // Re-validated: step kinds or rules may have changed since that version was saved.
  const spec = parseOrThrow(version.yaml);
  return appendAndAudit(actor, row, input.baseVersion, {
    yaml: version.yaml,
    spec,
    message: input.message || `Restore version ${versionNumber}`,
    auditAction: "pipelines.pipeline.restore",
    restoredFrom: versionNumber,
  });
}

export async function deletePipeline(actor: Actor, pipelineId: string): Promise<void> {
  const row = await pipelineFor(actor, pipelineId, "pipeline:delete");
  if (!(await deletePipelineById(row.id))) throw AppError.notFound("The pipeline");
  await audit(actor, "pipelines.pipeline.delete", row, { slug: row.slug });
}

// ---- For the runs module ----

export interface RunnablePipeline extends PipelineScope {
  slug: string;
  name: string;
  versionId: string;
  version: number;
  spec: Pipeline;
}

/**
 * A version of a pipeline as runs start it (the current one by default). No authorization:
 * the runs module authorizes `pipeline:run` with the scope returned here.
 */
export async function findRunnablePipeline(pipelineId: string, version?: number): Promise<RunnablePipeline | null> {
  const row = await findPipelineById(pipelineId);
  if (!row) return null;
  const found = await findVersion(row.id, version ?? row.currentVersion);
  if (!found) return null;
  return {
    ...scopeOf(row),
    slug: row.slug,
    name: row.name,
    versionId: found.id,
    version: found.version,
    spec: found.spec as unknown as Pipeline,
  };
}

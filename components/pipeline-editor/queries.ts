import { queryOptions } from "@tanstack/react-query";
import { apiFetch } from "@/components/ui/api-fetch";
import type {
  ImportResultDto,
  PipelineDetail,
  PipelineVersionDetail,
  PipelineVersionSummary,
} from "@/server/pipelines/schema";

// The studio's calls to /api/v1 (the server validates and authorizes each one).

export function loadPipeline(pipelineId: string): Promise<PipelineDetail> {
  return apiFetch<PipelineDetail>(`/api/v1/pipelines/${pipelineId}`);
}

export function createPipelineRequest(
  org: string,
  project: string,
  body: { slug: string; yaml: string; message?: string },
): Promise<PipelineDetail> {
  return apiFetch<PipelineDetail>(
    `/api/v1/organizations/${encodeURIComponent(org)}/projects/${encodeURIComponent(project)}/pipelines`,
    {
      method: "POST",
      json: { slug: body.slug.trim(), yaml: body.yaml, ...(body.message ? { message: body.message } : {}) },
    },
  );
}

export function savePipelineRequest(
  pipelineId: string,
  body: { yaml: string; message?: string; baseVersion: number },
): Promise<PipelineDetail> {
  return apiFetch<PipelineDetail>(`/api/v1/pipelines/${pipelineId}`, {
    method: "PUT",
    json: { yaml: body.yaml, baseVersion: body.baseVersion, ...(body.message ? { message: body.message } : {}) },
  });
}

export function versionsQuery(pipelineId: string) {
  return queryOptions({
    queryKey: ["pipelines", pipelineId, "versions"],
    queryFn: ({ signal }) => apiFetch<PipelineVersionSummary[]>(`/api/v1/pipelines/${pipelineId}/versions`, { signal }),
  });
}

export function versionQuery(pipelineId: string, version: number) {
  return queryOptions({
    queryKey: ["pipelines", pipelineId, "versions", version],
    queryFn: ({ signal }) =>
      apiFetch<PipelineVersionDetail>(`/api/v1/pipelines/${pipelineId}/versions/${version}`, { signal }),
    staleTime: Number.POSITIVE_INFINITY,
  });
}

export function restoreVersionRequest(
  pipelineId: string,
  version: number,
  baseVersion: number,
): Promise<PipelineDetail> {
  return apiFetch<PipelineDetail>(`/api/v1/pipelines/${pipelineId}/versions/${version}/restore`, {
    method: "POST",
    json: { baseVersion },
  });
}

export function importRequest(body: { text: string; format?: string; fileName?: string }): Promise<ImportResultDto> {
  return apiFetch<ImportResultDto>("/api/v1/pipelines/import", { method: "POST", json: body });
}

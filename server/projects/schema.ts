import { z } from "zod";
import { defineOperation } from "@/server/http/operation";

export const slugSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "must be lowercase letters, digits and dashes");

export interface ProjectSummary {
  id: string;
  slug: string;
  name: string;
  description: string;
  organizationId: string;
  organizationSlug: string;
  organizationName: string;
  memberCount: number;
  createdAt: string;
}

export interface ProjectMember {
  membershipId: string;
  kind: "user" | "team";
  name: string;
  email?: string;
  role: string;
  scope: "organization" | "project";
}

export interface ProjectDetail extends ProjectSummary {
  members: ProjectMember[];
}

/** What other modules need of a project: where it is and its caps (no authorization applied). */
export interface ProjectRef {
  id: string;
  slug: string;
  name: string;
  organizationId: string;
  organizationSlug: string;
  /** Runs active at once; null: no cap. */
  maxActiveRuns: number | null;
  /** Steps of one run running at once; null: no cap. */
  maxRunningSteps: number | null;
  /** Days logs are kept after a run; null: the server default. */
  logRetentionDays: number | null;
}

// ---- Run settings of a project ----

const cap = (max: number) => z.number().int().min(1).max(max).nullable();

export const projectSettingsSchema = z.object({
  /** Runs active at once (running or waiting); later runs queue. null: no cap. */
  maxActiveRuns: cap(10_000),
  /** Steps of one run running at once, on top of each pipeline's own cap. null: no cap. */
  maxRunningSteps: cap(10_000),
  /** Days step logs are kept after a run finishes. null: the server default. */
  logRetentionDays: cap(3_650),
});
export type ProjectSettings = z.infer<typeof projectSettingsSchema>;

export const updateProjectSettingsInputSchema = projectSettingsSchema
  .partial()
  .strict()
  .refine((value) => Object.keys(value).length > 0, { message: "names no setting to change" });
export type UpdateProjectSettingsInput = z.infer<typeof updateProjectSettingsInputSchema>;

const projectParams = z.object({ org: slugSchema, project: slugSchema });

export const projectOperations = {
  getProjectSettings: defineOperation({
    id: "getProjectSettings",
    method: "GET",
    route: "/api/v1/organizations/[org]/projects/[project]/settings",
    summary: "A project's run settings: concurrency caps and log retention",
    tag: "Projects",
    params: projectParams,
    response: projectSettingsSchema,
  }),
  updateProjectSettings: defineOperation({
    id: "updateProjectSettings",
    method: "PATCH",
    route: "/api/v1/organizations/[org]/projects/[project]/settings",
    summary: "Change a project's run settings (null removes a cap)",
    tag: "Projects",
    params: projectParams,
    body: updateProjectSettingsInputSchema,
    response: projectSettingsSchema,
  }),
};

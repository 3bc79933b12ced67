import { z } from "zod";

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

import { z } from "zod";

export const ROLES = ["owner", "admin", "maintainer", "developer", "approver", "viewer"] as const;
export type RoleName = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES);

/** `resource:verb`, e.g. `project:read`, `audit:read`; `*` and `resource:*` are wildcards. */
export type Permission = string;

export interface Principal {
  type: "user";
  id: string;
}

/**
 * What a decision is about. Every resource belongs to one organization; project-level
 * resources also name their project.
 */
export interface ResourceRef {
  type: string;
  id?: string;
  organizationId: string;
  projectId?: string | null;
}

export interface Decision {
  allow: boolean;
  /** Plain words: which binding allowed it, or why nothing did. */
  reason: string;
  bindingId?: string;
  role?: RoleName;
  scope?: "organization" | "project";
  /** False when the principal has no binding at all in the resource's organization. */
  isTenantMember: boolean;
}

export interface MembershipView {
  organizationId: string;
  organizationSlug: string;
  organizationName: string;
  projectId: string | null;
  role: RoleName;
  via: "user" | "team";
}

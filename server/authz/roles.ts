import "server-only";
import type { Permission, RoleName } from "./schema";

// Built-in roles. The authorization-engine issue adds custom roles, conditions and policies on
// top; these stay the defaults it ships with.
export const ROLE_PERMISSIONS: Record<RoleName, readonly Permission[]> = {
  owner: ["*"],
  admin: [
    "organization:*",
    "project:*",
    "member:*",
    "team:*",
    "audit:read",
    "pipeline:*",
    "run:*",
    "environment:*",
    "deployment:*",
    "secret:*",
  ],
  maintainer: [
    "organization:read",
    "project:read",
    "project:update",
    "member:read",
    "pipeline:*",
    "run:*",
    "environment:read",
    "environment:deploy",
    "deployment:read",
    "secret:read",
  ],
  developer: [
    "organization:read",
    "project:read",
    "member:read",
    "pipeline:read",
    "pipeline:create",
    "pipeline:update",
    "pipeline:run",
    "run:read",
    "run:cancel",
    "environment:read",
    "deployment:read",
  ],
  approver: [
    "organization:read",
    "project:read",
    "member:read",
    "pipeline:read",
    "run:read",
    "environment:read",
    "deployment:read",
    "deployment:approve",
  ],
  viewer: ["organization:read", "project:read", "pipeline:read", "run:read", "environment:read", "deployment:read"],
};

export function permissionMatches(granted: Permission, wanted: Permission): boolean {
  if (granted === "*" || granted === wanted) return true;
  if (granted.endsWith(":*")) return wanted.startsWith(granted.slice(0, -1));
  return false;
}

export function roleAllows(role: RoleName, action: Permission): boolean {
  return ROLE_PERMISSIONS[role].some((granted) => permissionMatches(granted, action));
}

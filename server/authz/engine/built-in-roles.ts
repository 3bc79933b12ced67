import { BUILT_IN_ROLE_PERMISSIONS, ROLES } from "../schema";
import type { RoleDef } from "./types";

/** The built-in roles as engine rules: shared by every organization, id = name. */
export const BUILT_IN_ROLES: readonly RoleDef[] = ROLES.map((name) => ({
  id: name,
  name,
  organizationId: null,
  permissions: BUILT_IN_ROLE_PERMISSIONS[name],
}));

import "server-only";
import { notFound } from "next/navigation";
import type { Actor } from "@/server/auth/schema";
import type { OrganizationDirectory } from "@/server/authz/schema";
import { getOrganizationDirectory, organizationsWhere } from "@/server/authz/service";
import { isAppError } from "@/server/http/errors";
import { getPageContext, type PageContext } from "@/server/i18n/request";

export type AccessPage<T> =
  | { ctx: PageContext; forbidden: false; directory: OrganizationDirectory; canManage: boolean; data: T }
  | { ctx: PageContext; forbidden: true };

/**
 * Loads an access page through the authz services, which authorize (authz:read) on their own:
 * a member without the permission gets the forbidden state, another tenant's or an unknown
 * organization a 404.
 */
export async function loadAccessPage<T>(org: string, load: (actor: Actor) => Promise<T>): Promise<AccessPage<T>> {
  const ctx = await getPageContext();
  try {
    const [directory, data, manageable] = await Promise.all([
      getOrganizationDirectory(ctx.actor, org),
      load(ctx.actor),
      organizationsWhere(ctx.actor, "authz:manage"),
    ]);
    return { ctx, forbidden: false, directory, data, canManage: manageable.includes(directory.organization.id) };
  } catch (error) {
    if (isAppError(error) && error.code === "FORBIDDEN") return { ctx, forbidden: true };
    if (isAppError(error) && error.code === "NOT_FOUND") notFound();
    throw error;
  }
}

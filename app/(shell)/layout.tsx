import type { ReactNode } from "react";
import { AppShell } from "@/components/layout/app-shell";
import { requireActor } from "@/server/auth/session";
import { listMemberships, organizationsWhere } from "@/server/authz/service";
import { listProjectsForActor } from "@/server/projects/service";

export default async function ShellLayout({ children }: { children: ReactNode }) {
  const actor = await requireActor();
  const [projects, auditOrgs, authzOrgs, memberships] = await Promise.all([
    listProjectsForActor(actor),
    organizationsWhere(actor, "audit:read"),
    organizationsWhere(actor, "authz:read"),
    listMemberships(actor),
  ]);
  // Navigation only: every access page and route authorizes again.
  const accessOrganizations = new Map<string, { slug: string; name: string }>();
  for (const m of memberships) {
    if (authzOrgs.includes(m.organizationId)) {
      accessOrganizations.set(m.organizationId, { slug: m.organizationSlug, name: m.organizationName });
    }
  }
  return (
    <AppShell
      user={{ name: actor.name, email: actor.email, preferences: actor.preferences }}
      projects={projects.map(({ id, name, slug, organizationSlug, organizationName }) => ({
        id,
        name,
        slug,
        organizationSlug,
        organizationName,
      }))}
      canReadAudit={auditOrgs.length > 0}
      accessOrganizations={[...accessOrganizations.values()]}
    >
      {children}
    </AppShell>
  );
}

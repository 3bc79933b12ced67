import type { ReactNode } from "react";
import { AppShell } from "@/components/layout/app-shell";
import { requireActor } from "@/server/auth/session";
import { organizationsWhere } from "@/server/authz/service";
import { listProjectsForActor } from "@/server/projects/service";

export default async function ShellLayout({ children }: { children: ReactNode }) {
  const actor = await requireActor();
  const [projects, auditOrgs] = await Promise.all([
    listProjectsForActor(actor),
    organizationsWhere(actor, "audit:read"),
  ]);
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
    >
      {children}
    </AppShell>
  );
}

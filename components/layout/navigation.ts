// The shell's sections: one source for the sidebar, the palette, the `g` shortcuts and the
// breadcrumbs.
export interface NavSection {
  key: "home" | "projects" | "approvals" | "audit" | "access" | "settings";
  href: string;
  /** The letter after `g` that jumps here. */
  shortcut: string;
}

export const NAV_SECTIONS: NavSection[] = [
  { key: "home", href: "/", shortcut: "h" },
  { key: "projects", href: "/projects", shortcut: "p" },
  // `i` for inbox: what waits for the user (approvals, manual steps).
  { key: "approvals", href: "/approvals", shortcut: "i" },
  { key: "audit", href: "/audit", shortcut: "a" },
  { key: "access", href: "/access", shortcut: "c" },
  { key: "settings", href: "/settings", shortcut: "s" },
];

export function isActive(section: NavSection, pathname: string): boolean {
  return section.href === "/" ? pathname === "/" : pathname === section.href || pathname.startsWith(`${section.href}/`);
}

export interface ShellProject {
  id: string;
  name: string;
  slug: string;
  organizationSlug: string;
  organizationName: string;
}

/** An organization whose access rules (roles, bindings, policies) the user may read. */
export interface ShellOrganization {
  slug: string;
  name: string;
}

/** The sections this user sees: audit and access only with the permission to read them. */
export function visibleSections(options: { canReadAudit: boolean; accessOrganizations: readonly ShellOrganization[] }) {
  return NAV_SECTIONS.filter(
    (section) =>
      (section.key !== "audit" || options.canReadAudit) &&
      (section.key !== "access" || options.accessOrganizations.length > 0),
  );
}

/** The pages of an organization's access control, in tab order. */
export const ACCESS_PAGES = ["roles", "bindings", "policies", "playground", "decision-log"] as const;
export type AccessPage = (typeof ACCESS_PAGES)[number];

export function accessHref(organizationSlug: string, page: AccessPage): string {
  return `/access/${organizationSlug}/${page}`;
}

export function projectHref(project: Pick<ShellProject, "organizationSlug" | "slug">): string {
  return `/projects/${project.organizationSlug}/${project.slug}`;
}

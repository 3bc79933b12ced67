// The shell's sections: one source for the sidebar, the palette, the `g` shortcuts and the
// breadcrumbs.
export interface NavSection {
  key: "home" | "projects" | "audit" | "settings";
  href: string;
  /** The letter after `g` that jumps here. */
  shortcut: string;
}

export const NAV_SECTIONS: NavSection[] = [
  { key: "home", href: "/", shortcut: "h" },
  { key: "projects", href: "/projects", shortcut: "p" },
  { key: "audit", href: "/audit", shortcut: "a" },
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

export function projectHref(project: Pick<ShellProject, "organizationSlug" | "slug">): string {
  return `/projects/${project.organizationSlug}/${project.slug}`;
}

"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTranslation } from "react-i18next";
import { NAV_SECTIONS, type ShellProject } from "./navigation";

interface Crumb {
  label: string;
  href: string;
}

/** Derived from the path: section, then organization / project where the path names them. */
export function Breadcrumbs({ projects }: { projects: ShellProject[] }) {
  const { t } = useTranslation("shell");
  const pathname = usePathname();
  const crumbs: Crumb[] = [{ label: t("nav.home"), href: "/" }];
  const segments = pathname.split("/").filter(Boolean);
  const section = NAV_SECTIONS.find((s) => s.href !== "/" && s.href === `/${segments[0] ?? ""}`);
  if (section) crumbs.push({ label: t(`nav.${section.key}`), href: section.href });
  if (section?.key === "projects" && segments.length >= 3) {
    const [, orgSlug, projectSlug] = segments;
    const project = projects.find((p) => p.organizationSlug === orgSlug && p.slug === projectSlug);
    if (project) {
      const base = `/projects/${orgSlug}/${projectSlug}`;
      crumbs.push({ label: project.organizationName, href: `/projects?org=${project.organizationSlug}` });
      crumbs.push({ label: project.name, href: base });
      // The shell knows pipelines by slug only; the page's own heading names them.
      const [, , , area, pipelineSlug, sub] = segments;
      if (area === "runs") crumbs.push({ label: t("runs:list.title"), href: `${base}/runs` });
      // `pipelines/new` is the creation page (a static route), not a pipeline.
      if (area === "pipelines" && pipelineSlug && pipelineSlug !== "new") {
        crumbs.push({ label: pipelineSlug, href: `${base}/pipelines/${pipelineSlug}` });
        if (sub === "versions") {
          crumbs.push({ label: t("runs:list.pipeline.versions"), href: `${base}/pipelines/${pipelineSlug}/versions` });
        }
      }
    }
  }
  return (
    <nav aria-label={t("breadcrumbs")} className="breadcrumbs">
      <ol>
        {crumbs.map((crumb, index) => (
          <li key={crumb.href}>
            {index === crumbs.length - 1 ? (
              <span aria-current="page">{crumb.label}</span>
            ) : (
              <Link href={crumb.href}>{crumb.label}</Link>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

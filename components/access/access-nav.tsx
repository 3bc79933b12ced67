"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTranslation } from "react-i18next";
import { ACCESS_PAGES, accessHref } from "@/components/layout/navigation";
import "./access.css";

/** The organization's access pages as tabs (links: each page is its own URL). */
export function AccessNav({ org }: { org: string }) {
  const { t } = useTranslation("access");
  const pathname = usePathname();
  return (
    <nav aria-label={t("nav.label")}>
      <ul className="access-tabs">
        {ACCESS_PAGES.map((page) => {
          const href = accessHref(org, page);
          return (
            <li key={page}>
              <Link href={href} aria-current={pathname === href ? "page" : undefined}>
                {t(`nav.${page}`)}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

import type { Metadata } from "next";
import { Playground } from "@/components/access/playground";
import { getPageContext } from "@/server/i18n/request";
import { loadAccessPage } from "../../_lib/load";

type Params = Promise<{ org: string }>;

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("access:playground.title") };
}

export default async function PlaygroundPage({ params }: { params: Params }) {
  const { org } = await params;
  const page = await loadAccessPage(org, async () => null);
  const { t } = page.ctx;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("access:playground.title")}</h1>
        <p className="muted">{t("access:playground.subtitle")}</p>
      </header>
      {page.forbidden ? (
        <p className="notice">{t("access:forbidden")}</p>
      ) : (
        <Playground org={org} initialDirectory={page.directory} />
      )}
    </div>
  );
}

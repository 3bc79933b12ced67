import type { ReactNode } from "react";
import { AccessNav } from "@/components/access/access-nav";

export default async function AccessLayout({
  children,
  params,
}: {
  children: ReactNode;
  params: Promise<{ org: string }>;
}) {
  const { org } = await params;
  return (
    <div className="stack">
      <AccessNav org={org} />
      {children}
    </div>
  );
}

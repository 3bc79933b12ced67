import { redirect } from "next/navigation";

export default async function AccessOrganizationPage({ params }: { params: Promise<{ org: string }> }) {
  const { org } = await params;
  redirect(`/access/${encodeURIComponent(org)}/roles`);
}

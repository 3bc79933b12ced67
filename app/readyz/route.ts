import { checkReadiness } from "@/server/observability/health";

export const dynamic = "force-dynamic";

export async function GET() {
  // The reason (host names, driver errors) goes to the log by the readiness monitor, not here.
  const { ready, checks } = await checkReadiness();
  return Response.json(
    { status: ready ? "ready" : "not_ready", ready, checks },
    { status: ready ? 200 : 503, headers: { "cache-control": "no-store" } },
  );
}

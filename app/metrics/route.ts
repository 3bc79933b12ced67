import { renderMetrics } from "@/server/observability/metrics";
import { metricsAccessAllowed } from "@/server/observability/metrics-access";

export const dynamic = "force-dynamic";

export async function GET(request: Request) {
  if (!metricsAccessAllowed(request.headers.get("authorization"))) {
    return new Response("Unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
  }
  const { contentType, body } = await renderMetrics();
  return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
}

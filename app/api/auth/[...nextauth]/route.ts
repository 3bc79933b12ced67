import NextAuth from "next-auth";
import { getAuthOptions } from "@/server/auth/options";
import { contextFromHeaders, runWithRequestContext } from "@/server/observability/request-context";

// next-auth reads its options per request so a secret generated at first start is seen. The
// request context is re-entered from headers so sign-in/out audit events carry the request id
// and client IP.
function handler(request: Request, context: { params: Promise<{ nextauth: string[] }> }) {
  return runWithRequestContext({ ...contextFromHeaders(request.headers), route: "/api/auth/[...nextauth]" }, () =>
    NextAuth(getAuthOptions())(request, context),
  );
}

export { handler as GET, handler as POST };

import NextAuth from "next-auth";
import { getAuthOptions } from "@/server/auth/options";

// next-auth reads its options per request so a secret generated at first start is seen.
function handler(request: Request, context: { params: Promise<{ nextauth: string[] }> }) {
  return NextAuth(getAuthOptions())(request, context);
}

export { handler as GET, handler as POST };

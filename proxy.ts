import { type NextRequest, NextResponse } from "next/server";

// Sends anonymous page requests to sign-in. Only a cookie presence check: every page, route
// handler and action verifies the session itself (a proxy is never the security boundary).
// API routes answer 401 problem+json from their own handler instead of redirecting.
const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

export function proxy(request: NextRequest) {
  const hasSession = SESSION_COOKIES.some((name) => request.cookies.has(name) || request.cookies.has(`${name}.0`));
  if (hasSession) return NextResponse.next();
  const url = request.nextUrl.clone();
  const callback = `${request.nextUrl.pathname}${request.nextUrl.search}`;
  url.pathname = "/sign-in";
  url.search = callback === "/" ? "" : `?callbackUrl=${encodeURIComponent(callback)}`;
  return NextResponse.redirect(url);
}

export const config = {
  matcher: ["/((?!api/|_next/|sign-in|healthz|readyz|metrics|favicon\\.ico|robots\\.txt|socket\\.io).*)"],
};

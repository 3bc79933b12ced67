/**
 * Where to go after signing in: the callback from the query string, only if it stays on this
 * origin (anything else is open-redirect bait: `//evil`, `/\\evil`, `https://evil`, tabs...).
 */
export function safeCallback(url: string | undefined, origin: string): string {
  if (!url) return "/";
  try {
    const target = new URL(url, origin);
    if (target.origin !== origin) return "/";
    // "/.//evil" normalizes to the path "//evil", which a browser reads as another host.
    return `${target.pathname.replace(/^\/+/, "/")}${target.search}${target.hash}`;
  } catch {
    return "/";
  }
}

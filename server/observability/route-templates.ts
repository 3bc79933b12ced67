import "server-only";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** The label of every request no template matches (probes, typos, removed pages). */
export const UNMATCHED_ROUTE = "unmatched";

/** Endpoints the process serves itself, wherever the lead mounts them (main.ts or app/). */
export const PROCESS_ROUTES = ["/healthz", "/readyz", "/metrics"] as const;

export interface RouteMatcher {
  /** The route template of a pathname (a query string is ignored), or "unmatched". */
  match(pathname: string): string;
  /** Every template the matcher knows, sorted. */
  readonly templates: readonly string[];
}

const ROUTE_FILE = /^(page|route)\.(tsx|ts|jsx|js|mdx)$/;
// Metadata files Next serves at a fixed URL in the folder they sit in.
const METADATA_FILES: Record<string, string> = {
  "favicon.ico": "favicon.ico",
  "robots.txt": "robots.txt",
  "robots.ts": "robots.txt",
  "robots.js": "robots.txt",
  "sitemap.xml": "sitemap.xml",
  "sitemap.ts": "sitemap.xml",
  "sitemap.js": "sitemap.xml",
  "manifest.json": "manifest.json",
  "manifest.webmanifest": "manifest.webmanifest",
  "manifest.ts": "manifest.webmanifest",
  "manifest.js": "manifest.webmanifest",
};

/** What a folder name contributes to the URL: a segment, nothing (group), or a cut (skip). */
function folderSegment(name: string): string | null | "skip" {
  // Private folders, parallel-route slots and intercepting routes never own a URL of their own
  // (slots and interceptions render at a URL some other folder already defines).
  if (name.startsWith("_") || name.startsWith("@") || name.startsWith("(.")) return "skip";
  if (name.startsWith("(") && name.endsWith(")")) return null;
  // %5F is how Next spells a literal leading underscore in a URL segment.
  if (name.startsWith("%5F") || name.startsWith("%5f")) return `_${name.slice(3)}`;
  return name;
}

function toTemplate(segments: string[]): string {
  return `/${segments.join("/")}`;
}

function scanAppDir(dir: string, segments: string[], out: Set<string>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      const segment = folderSegment(entry.name);
      if (segment === "skip") continue;
      scanAppDir(path.join(dir, entry.name), segment === null ? segments : [...segments, segment], out);
    } else if (entry.isFile()) {
      if (ROUTE_FILE.test(entry.name)) out.add(toTemplate(segments));
      const metadataUrl = METADATA_FILES[entry.name];
      if (metadataUrl) out.add(toTemplate([...segments, metadataUrl]));
    }
  }
}

/** Route templates of an app/ directory: /api/v1/projects/[projectId], /, ... */
export function routeTemplatesFromAppDir(appDir: string): string[] {
  const out = new Set<string>();
  scanAppDir(appDir, [], out);
  return [...out];
}

/**
 * Route templates from a build's app-path-routes-manifest.json, for deployments that ship
 * .next/ without the app/ sources.
 */
export function routeTemplatesFromBuild(distDir: string): string[] {
  const file = path.join(distDir, "app-path-routes-manifest.json");
  const manifest = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  return Object.values(manifest).filter((template) => !template.startsWith("/_"));
}

/** Every file under public/ is served at its own path; bounded by what is on disk. */
export function routeTemplatesFromPublicDir(publicDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, segments: string[]): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name), [...segments, entry.name]);
      else if (entry.isFile()) out.push(toTemplate([...segments, entry.name]));
    }
  };
  walk(publicDir, []);
  return out;
}

interface TrieNode {
  staticChildren: Map<string, TrieNode>;
  dynamicChild?: TrieNode;
  /** Template ending here. */
  template?: string;
  /** [...x] ending here: one or more further segments. */
  catchAll?: string;
  /** [[...x]] ending here: zero or more further segments. */
  optionalCatchAll?: string;
}

function newNode(): TrieNode {
  return { staticChildren: new Map() };
}

function insert(root: TrieNode, template: string): void {
  let node = root;
  for (const segment of splitPath(template)) {
    if (segment.startsWith("[[...") && segment.endsWith("]]")) {
      node.optionalCatchAll ??= template;
      return;
    }
    if (segment.startsWith("[...") && segment.endsWith("]")) {
      node.catchAll ??= template;
      return;
    }
    if (segment.startsWith("[") && segment.endsWith("]")) {
      node.dynamicChild ??= newNode();
      node = node.dynamicChild;
      continue;
    }
    let child = node.staticChildren.get(segment);
    if (!child) {
      child = newNode();
      node.staticChildren.set(segment, child);
    }
    node = child;
  }
  node.template ??= template;
}

function splitPath(pathname: string): string[] {
  return pathname.split("/").filter((segment) => segment !== "");
}

/**
 * Next's precedence, segment by segment: a static segment beats [x], which beats [...x], which
 * beats [[...x]]; a branch that dead-ends falls back to the next kind (so /a/b can match
 * /[x]/b when /a exists without a b under it).
 */
function lookup(node: TrieNode, segments: string[], index: number): string | undefined {
  if (index === segments.length) return node.template ?? node.optionalCatchAll;
  const segment = segments[index] as string;
  const staticChild = node.staticChildren.get(segment);
  if (staticChild) {
    const found = lookup(staticChild, segments, index + 1);
    if (found) return found;
  }
  if (node.dynamicChild) {
    const found = lookup(node.dynamicChild, segments, index + 1);
    if (found) return found;
  }
  return node.catchAll ?? node.optionalCatchAll;
}

// Next and socket.io answer anything under these prefixes; one label each keeps them bounded.
const PREFIX_TEMPLATES = ["/_next/static", "/_next/*", "/__nextjs*", "/socket.io"];

function prefixTemplate(pathname: string): string | undefined {
  if (pathname.startsWith("/_next/static/")) return "/_next/static";
  if (pathname.startsWith("/_next/")) return "/_next/*";
  if (pathname.startsWith("/__nextjs")) return "/__nextjs*";
  if (pathname === "/socket.io" || pathname.startsWith("/socket.io/")) return "/socket.io";
  return undefined;
}

/** A matcher over the given templates plus the process endpoints and the fixed prefixes. */
export function createRouteMatcherFromTemplates(templates: Iterable<string>): RouteMatcher {
  const all = new Set<string>([...templates, ...PROCESS_ROUTES]);
  const root = newNode();
  for (const template of all) insert(root, template);
  const sorted = [...all, ...PREFIX_TEMPLATES].sort();

  return {
    templates: sorted,
    match(rawPath: string): string {
      const end = rawPath.search(/[?#]/);
      const pathname = end === -1 ? rawPath : rawPath.slice(0, end);
      return prefixTemplate(pathname) ?? lookup(root, splitPath(pathname), 0) ?? UNMATCHED_ROUTE;
    },
  };
}

/**
 * Scans app/ once (at startup) for page and route files and builds the matcher that labels
 * requests in logs and metrics. Labels are templates, never raw paths, so the series count is
 * bounded by the code, not by the traffic.
 */
export function createRouteMatcher(appDir: string, options: { publicDir?: string } = {}): RouteMatcher {
  const templates = routeTemplatesFromAppDir(appDir);
  if (options.publicDir && existsSync(options.publicDir)) {
    templates.push(...routeTemplatesFromPublicDir(options.publicDir));
  }
  return createRouteMatcherFromTemplates(templates);
}

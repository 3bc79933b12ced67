/** @type {import('next').NextConfig} */
const nextConfig = {
  // Another build directory lets two builds (two checkouts' worth of work) coexist.
  distDir: process.env.MICROSTACK_NEXT_DIST_DIR || ".next",
  reactStrictMode: true,
  poweredByHeader: false,
  // Loaded from node_modules at run time, never bundled: WASM/native payloads and packages that
  // must be one instance per process (the custom server shares them with Next's route handlers).
  serverExternalPackages: [
    "@electric-sql/pglite",
    "pglite-prisma-adapter",
    "@prisma/adapter-pg",
    "pg",
    "pg-boss",
    "@node-rs/argon2",
    "pino",
    "prom-client",
    "@opentelemetry/api",
    "@opentelemetry/sdk-node",
    "@opentelemetry/sdk-trace-base",
    "@opentelemetry/instrumentation-http",
    "@opentelemetry/exporter-trace-otlp-http",
    "@prisma/instrumentation",
    "socket.io",
  ],
  // `npm run typecheck` (tsc --noEmit over the whole repo, tests included) runs in CI before the
  // build; checking again inside `next build` only costs time.
  typescript: { ignoreBuildErrors: true },
  // `npm run dev` is often opened as 127.0.0.1 as well as localhost; Next 16 blocks dev assets
  // (hot reload) for origins it was not told about, which leaves the page without JavaScript.
  allowedDevOrigins: ["127.0.0.1", "localhost", "[::1]"],
  typedRoutes: false,
  devIndicators: false,
};

export default nextConfig;

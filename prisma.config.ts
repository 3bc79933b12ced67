import { defineConfig } from "prisma/config";

// Prisma 7 reads the datasource URL from here, not from schema.prisma. The app itself never
// uses this file: server/db.ts builds the client on a driver adapter (PGlite or pg) and
// server/migrations applies prisma/migrations offline.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});

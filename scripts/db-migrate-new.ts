// npm run db:migrate:new -- <name>
// Writes prisma/migrations/<timestamp>_<name>/migration.sql from the difference between the
// migrations folder and prisma/schema.prisma, offline: what `prisma migrate dev --create-only`
// would write (see server/migrations/diff.ts). Review the SQL, add what Prisma cannot express
// (CHECK constraints, triggers) at the end with a comment, then apply it with the app's migrator.
import path from "node:path";
import { createMigration } from "../server/migrations/diff";

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  if (args.length !== 1 || args[0] === "--help" || args[0] === "-h") {
    console.error("Usage: npm run db:migrate:new -- <name>   (e.g. add_pipelines)");
    return args[0] === "--help" || args[0] === "-h" ? 0 : 1;
  }
  const migration = await createMigration(args[0] as string);
  if (!migration) {
    console.log("No schema changes: prisma/schema.prisma matches prisma/migrations.");
    return 0;
  }
  console.log(`Wrote ${path.relative(process.cwd(), migration.file)}:\n`);
  console.log(migration.sql);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`db:migrate:new failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);

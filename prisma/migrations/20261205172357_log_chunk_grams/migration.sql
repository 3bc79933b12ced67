-- AlterTable
ALTER TABLE "run_log_chunks" ADD COLUMN     "grams" BYTEA;

-- A signature (at most 4 KB of random-looking bits, which do not compress) stays in the row
-- beside the chunk's other small columns: a search tests a few of its bits per chunk without a
-- TOAST lookup.
ALTER TABLE "run_log_chunks" ALTER COLUMN "grams" SET STORAGE MAIN;

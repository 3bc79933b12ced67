import pg from "pg";
import { TEST_PG_ADMIN_URL } from "./db";

// Fails the run at once, with the reason, when the PostgreSQL the integration tests need is down.
export default async function setup(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query("select 1");
  } catch (error) {
    throw new Error(
      `PostgreSQL for integration tests is not reachable at ${TEST_PG_ADMIN_URL}: ${(error as Error).message}. ` +
        "Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set TEST_PG_ADMIN_URL.",
    );
  } finally {
    await client.end().catch(() => {});
  }
}

import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmptyPostgresDatabase } from "../db";
import {
  assertBuilt,
  freePort,
  type RunningProcess,
  runNode,
  signInOverHttp,
  signOutOverHttp,
  TcpRelay,
  waitFor,
} from "./harness";

const PASSWORD = "lifecycle-demo-password";
const ADMIN = "admin@demo.microstack.dev";

describe("start-up failures", () => {
  it("exits non-zero with one line naming the host and the cause when PostgreSQL is unreachable", async () => {
    const port = await freePort(); // nothing listens there
    const proc = runNode("server/main.ts", {
      NODE_ENV: "production",
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/microstack`,
      AUTH_SECRET: "x".repeat(32),
      MICROSTACK_MASTER_KEY: `k1:${randomBytes(32).toString("base64")}`,
      MICROSTACK_DATA_DIR: `/tmp/ms-unreachable-${randomBytes(4).toString("hex")}`,
    });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    const errors = proc.stderr.filter((line) => line.trim() !== "");
    expect(errors).toEqual([
      `microstack: Cannot reach the database (PostgreSQL at 127.0.0.1:${port}/microstack): ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });

  it("refuses to start on PostgreSQL in production without a shared AUTH_SECRET", async () => {
    const proc = runNode("server/main.ts", {
      NODE_ENV: "production",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres",
      AUTH_SECRET: "",
      NEXTAUTH_SECRET: "",
      MICROSTACK_DATA_DIR: `/tmp/ms-nosecret-${randomBytes(4).toString("hex")}`,
    });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr.join("\n")).toContain("AUTH_SECRET is required in production with DATABASE_URL");
  });

  it("names the variable when the environment is invalid", async () => {
    const proc = runNode("server/main.ts", { PORT: "not-a-port", MICROSTACK_DATA_DIR: "/tmp/ms-badenv" });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr.join("\n")).toMatch(/PORT: .*number/i);
    expect(proc.stderr.join("\n")).not.toMatch(/^\s+at /m); // a message for a person, not a stack
  });
});

describe("a running server on PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof createEmptyPostgresDatabase>>;
  let relay: TcpRelay;
  let server: RunningProcess;
  let baseUrl: string;

  beforeAll(async () => {
    assertBuilt();
    database = await createEmptyPostgresDatabase();
    relay = new TcpRelay(5432);
    const relayPort = await relay.start();
    const url = new URL(database.url);
    url.port = String(relayPort);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    server = runNode("server/main.ts", {
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      NEXTAUTH_URL: baseUrl,
      DATABASE_URL: url.toString(),
      AUTH_SECRET: randomBytes(32).toString("base64url"),
      MICROSTACK_MASTER_KEY: `k1:${randomBytes(32).toString("base64")}`,
      MICROSTACK_DATA_DIR: `/tmp/ms-lifecycle-${randomBytes(4).toString("hex")}`,
      MICROSTACK_DEMO_PASSWORD: PASSWORD,
      MICROSTACK_SEED: "demo", // production on PostgreSQL seeds nothing unless asked
    });
    await waitFor("the server to start", () =>
      server.stdout.some((line) => line.startsWith("Microstack is running at")) ? true : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    await relay?.stop();
    await database?.drop();
  });

  it("prints the demo logins at first start", () => {
    const out = server.stdout.join("\n");
    expect(out).toContain("Demo data created. Sign in with any of these users:");
    expect(out).toContain(`${ADMIN}  (admin, organization acme)`);
    expect(out).toContain(`password: ${PASSWORD}`);
  });

  it("writes [AUDIT] lines for sign-in and sign-out, with request id and client IP", async () => {
    const cookie = await signInOverHttp(baseUrl, ADMIN, PASSWORD);
    const session = await (await fetch(`${baseUrl}/api/auth/session`, { headers: { cookie } })).json();
    expect(session.user.email).toBe(ADMIN);
    await signOutOverHttp(baseUrl, cookie);
    const audit = await waitFor("audit lines", () => {
      const events = server.stdout
        .filter((line) => line.startsWith("[AUDIT] "))
        .map((line) => JSON.parse(line.slice("[AUDIT] ".length)));
      return events.some((e) => e.action === "auth.sign_out") ? events : undefined;
    });
    const signIn = audit.find((e) => e.action === "auth.sign_in" && e.outcome === "success");
    const signOut = audit.find((e) => e.action === "auth.sign_out");
    expect(signIn).toMatchObject({ actor: { type: "user", label: ADMIN }, outcome: "success" });
    expect(signIn.requestId).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(signIn.clientIp).toBe("127.0.0.1");
    expect(signIn.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(signOut).toMatchObject({ actor: { label: ADMIN }, outcome: "success" });
  });

  it("audits a failed sign-in without revealing whether the email exists", async () => {
    await expect(signInOverHttp(baseUrl, ADMIN, "wrong")).rejects.toThrow(/sign-in failed/);
    await expect(signInOverHttp(baseUrl, "nobody@example.com", "wrong")).rejects.toThrow(/sign-in failed/);
    const failures = await waitFor("failure lines", () => {
      const events = server.stdout
        .filter((line) => line.startsWith("[AUDIT] "))
        .map((line) => JSON.parse(line.slice(8)))
        .filter((e) => e.action === "auth.sign_in" && e.outcome === "failure");
      return events.length >= 2 ? events : undefined;
    });
    expect(failures.map((e) => e.details.reason).sort()).toEqual(["bad_password", "unknown_user"]);
  });

  it("labels request metrics by route template, not raw path", async () => {
    await (await fetch(`${baseUrl}/projects/acme/storefront`, { redirect: "manual" })).arrayBuffer();
    await (await fetch(`${baseUrl}/api/v1/audit-events?limit=nope`)).arrayBuffer();
    // Observed when each response closes, which can be a moment after the client has it.
    const metrics = await waitFor("both requests in /metrics", async () => {
      const text = await (await fetch(`${baseUrl}/metrics`)).text();
      return text.includes('route="/api/v1/audit-events"') && text.includes('route="/projects/[org]/[project]"')
        ? text
        : undefined;
    });
    expect(metrics).toMatch(/microstack_requests_code_total\{[^}]*route="\/projects\/\[org\]\/\[project\]"/);
    expect(metrics).toMatch(/microstack_requests_duration_ms_bucket\{[^}]*route="\/api\/v1\/audit-events"/);
    expect(metrics).not.toContain('route="/projects/acme/storefront"');
    expect(metrics).toContain("process_cpu_user_seconds_total");
  });

  it("answers 503 on /readyz while the database is down and recovers by itself", async () => {
    expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
    await relay.cut();
    const down = await waitFor("readyz to report the outage", async () => {
      const response = await fetch(`${baseUrl}/readyz`);
      return response.status === 503 ? response.json() : undefined;
    });
    expect(down).toMatchObject({ status: "not_ready", checks: { database: "down" } });
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    await relay.restore();
    await waitFor(
      "readyz to recover",
      async () => ((await fetch(`${baseUrl}/readyz`)).status === 200 ? true : undefined),
      30_000,
    );
  });

  it("finishes the requests in flight and exits cleanly within 10 s of SIGTERM", async () => {
    const cookie = await signInOverHttp(baseUrl, ADMIN, PASSWORD);
    let signalAt = Number.POSITIVE_INFINITY;
    const answered: { status: number; endedAt: number }[] = [];
    // Eight clients request pages back to back until the server stops answering.
    const clients = Array.from({ length: 8 }, async (_, i) => {
      for (;;) {
        try {
          const response = await fetch(`${baseUrl}/${i % 2 ? "projects" : ""}`, { headers: { cookie } });
          await response.arrayBuffer();
          answered.push({ status: response.status, endedAt: Date.now() });
        } catch {
          return; // refused or closed after shutdown began: expected for new requests
        }
      }
    });
    await waitFor("traffic", () => (answered.length >= 16 ? true : undefined));
    signalAt = Date.now();
    server.child.kill("SIGTERM");
    await Promise.all(clients);
    const { code, atMs } = await server.exited;
    expect(answered.filter((a) => a.status !== 200)).toEqual([]);
    // Requests in flight at the signal were answered, not cut.
    expect(answered.some((a) => a.endedAt > signalAt)).toBe(true);
    expect(code).toBe(0);
    expect(atMs - signalAt).toBeLessThan(10_000);
  });

  it("audit:verify accepts the chain, then finds an edited row", async () => {
    const verify = () => runNode("scripts/audit-verify.ts", { DATABASE_URL: database.url });
    const ok = verify();
    expect((await ok.exited).code).toBe(0);
    expect(ok.stdout.join("\n")).toMatch(/Audit chain OK: \d+ events/);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query("select seq from audit_events order by seq limit 1 offset 1");
    // An attacker with database access, bypassing the append-only trigger.
    await client.query("alter table audit_events disable trigger user");
    await client.query(`update audit_events set details = '{"forged":true}' where seq = $1`, [rows[0].seq]);
    await client.end();

    const broken = verify();
    expect((await broken.exited).code).toBe(1);
    expect(broken.stdout.join("\n") + broken.stderr.join("\n")).toContain(`seq ${rows[0].seq}`);
  });
});

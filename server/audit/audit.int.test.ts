import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { runAuditVerify } from "@/scripts/audit-verify";
import { setDatabase } from "@/server/db";
import { isAppError } from "@/server/http/errors";
import { createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";
import type { AuditEventDto, AuditEventInput } from "./schema";
import { GENESIS_HASH, listAuditEvents, recordAuditEvent, verifyAuditChain } from "./service";

const ORG_A = randomUUID();
const ORG_B = randomUUID();
const PROJECT_A = randomUUID();

function event(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    actor: { type: "user", id: "user-1", label: "Ada <ada@example.com>" },
    organizationId: ORG_A,
    action: "auth.sign_in",
    outcome: "success",
    details: {},
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(TEST_DB_KINDS)("audit log on %s", (kind) => {
  let testDb: TestDatabase;
  let stdout: MockInstance<typeof process.stdout.write>;

  // The append-only triggers are switched off only here and in the tamper tests, standing in
  // for someone with direct database access.
  async function asAttacker(sql: string, params: unknown[] = []): Promise<void> {
    await testDb.db.transaction(async (tx) => {
      await tx.exec("ALTER TABLE audit_events DISABLE TRIGGER USER");
      await tx.query(sql, params);
      await tx.exec("ALTER TABLE audit_events ENABLE TRIGGER USER");
    });
  }

  async function recordMany(count: number, overrides: (index: number) => Partial<AuditEventInput> = () => ({})) {
    const events: AuditEventDto[] = [];
    for (let index = 0; index < count; index++) events.push(await recordAuditEvent(event(overrides(index))));
    return events;
  }

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    setDatabase(testDb.db);
  });

  afterAll(async () => {
    setDatabase(undefined);
    await testDb?.drop();
  });

  beforeEach(async () => {
    await asAttacker("DELETE FROM audit_events");
    stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  });

  afterEach(() => {
    stdout.mockRestore();
  });

  it("links every event to the one before it and verifies the chain", async () => {
    const events = await recordMany(5, (index) => ({
      action: index % 2 === 0 ? "auth.sign_in" : "projects.secret.update",
      organizationId: index === 4 ? undefined : ORG_A,
      target: { type: "project", id: `p-${index}` },
      details: { zeta: index, alpha: { nested: [1, "two", null, { b: true, a: 0.1 }] }, note: "naïve ✓ \u2028" },
    }));

    expect(events[0]?.prevHash).toBe(GENESIS_HASH);
    for (let index = 1; index < events.length; index++) {
      expect(events[index]?.prevHash).toBe(events[index - 1]?.hash);
    }
    expect(events[4]).toMatchObject({
      actor: { type: "user", id: "user-1", label: "Ada <ada@example.com>" },
      organizationId: null,
      target: { type: "project", id: "p-4" },
      outcome: "success",
    });
    expect(events[4]?.seq).toMatch(/^\d+$/);
    expect(new Date(events[4]?.occurredAt ?? "").toISOString()).toBe(events[4]?.occurredAt);

    await expect(verifyAuditChain({ batchSize: 2 })).resolves.toEqual({ ok: true, count: 5 });

    const lines: string[] = [];
    await expect(runAuditVerify({ out: (line) => lines.push(line), err: (line) => lines.push(line) })).resolves.toBe(0);
    expect(lines).toEqual(["Audit chain OK: 5 events"]);
  });

  it("verifies an empty log", async () => {
    await expect(verifyAuditChain()).resolves.toEqual({ ok: true, count: 0 });
  });

  it("detects an event whose details were edited, at that event", async () => {
    const events = await recordMany(4);
    const edited = events[1] as AuditEventDto;
    await asAttacker(`UPDATE audit_events SET details = '{"role":"admin"}' WHERE seq = $1`, [edited.seq]);

    await expect(verifyAuditChain()).resolves.toEqual({
      ok: false,
      count: 2,
      brokenAt: { seq: edited.seq, reason: "hash_mismatch", occurredAt: edited.occurredAt, action: edited.action },
    });

    const errors: string[] = [];
    await expect(runAuditVerify({ out: () => {}, err: (line) => errors.push(line) })).resolves.toBe(1);
    expect(errors[0]).toContain(`seq ${edited.seq}`);
    expect(errors[0]).toContain(edited.action);
    expect(errors[0]).toContain("hash_mismatch");
  });

  it("detects an edit that also recomputed the row's own hash, at the next event", async () => {
    const events = await recordMany(3);
    await asAttacker(`UPDATE audit_events SET hash = repeat('a', 64) WHERE seq = $1`, [events[1]?.seq]);
    const result = await verifyAuditChain();
    expect(result).toMatchObject({ ok: false, brokenAt: { seq: events[1]?.seq, reason: "hash_mismatch" } });

    await asAttacker(`UPDATE audit_events SET prev_hash = repeat('b', 64) WHERE seq = $1`, [events[2]?.seq]);
    await asAttacker(`UPDATE audit_events SET hash = $2 WHERE seq = $1`, [events[1]?.seq, events[1]?.hash]);
    expect(await verifyAuditChain()).toMatchObject({
      ok: false,
      brokenAt: { seq: events[2]?.seq, reason: "prev_hash_mismatch" },
    });
  });

  it("detects a deleted event in the middle of the chain", async () => {
    const events = await recordMany(5);
    await asAttacker("DELETE FROM audit_events WHERE seq = $1", [events[2]?.seq]);

    expect(await verifyAuditChain()).toMatchObject({
      ok: false,
      count: 3,
      brokenAt: { seq: events[3]?.seq, reason: "gap" },
    });
  });

  it("detects deleted first events", async () => {
    const events = await recordMany(3);
    await asAttacker("DELETE FROM audit_events WHERE seq = $1", [events[0]?.seq]);
    expect(await verifyAuditChain()).toMatchObject({ ok: false, brokenAt: { seq: events[1]?.seq } });
  });

  it("accepts seq gaps left by rolled-back transactions", async () => {
    await recordMany(2);
    await testDb.db.query("SELECT nextval(pg_get_serial_sequence('audit_events', 'seq'))");
    await testDb.db.query("SELECT nextval(pg_get_serial_sequence('audit_events', 'seq'))");
    await recordMany(2);
    await expect(verifyAuditChain()).resolves.toEqual({ ok: true, count: 4 });
  });

  it("keeps one valid chain under 20 concurrent appends", async () => {
    const recorded = await Promise.all(
      Array.from({ length: 20 }, (_, index) => recordAuditEvent(event({ action: "runs.trigger", details: { index } }))),
    );
    expect(new Set(recorded.map((item) => item.hash)).size).toBe(20);
    expect(new Set(recorded.map((item) => item.prevHash)).size).toBe(20);
    await expect(verifyAuditChain({ batchSize: 7 })).resolves.toEqual({ ok: true, count: 20 });
  });

  it("prints exactly one [AUDIT] line per stored event, and none for rejected input", async () => {
    const dto = await recordAuditEvent(
      event({
        details: { multi: "line\none" },
        traceId: "0AF7651916CD43DD8448EB211C80319C",
        organizationId: ORG_A.toUpperCase(),
      }),
    );
    expect(dto.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(dto.organizationId).toBe(ORG_A);

    const lines = stdout.mock.calls.map(([chunk]) => String(chunk));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.startsWith("[AUDIT] ")).toBe(true);
    expect(lines[0]?.endsWith("\n")).toBe(true);
    expect(lines[0]?.trimEnd().includes("\n")).toBe(false);
    expect(JSON.parse(lines[0]?.slice("[AUDIT] ".length) ?? "")).toEqual(dto);

    const rejected = await recordAuditEvent(event({ action: "Sign In" })).catch((error: unknown) => error);
    expect(isAppError(rejected) && rejected.code).toBe("INVALID_INPUT");
    const badOrg = await recordAuditEvent(event({ organizationId: "not-a-uuid" })).catch((error: unknown) => error);
    expect(isAppError(badOrg) && badOrg.invalidParams[0]?.name).toBe("organizationId");
    expect(stdout).toHaveBeenCalledTimes(1);

    // A failed sign-in with an unknown e-mail: no user id, an over-long label is cut, not refused.
    const unknownUser = await recordAuditEvent(
      event({ actor: { type: "user", label: `${"x".repeat(400)}@example.com` }, outcome: "failure" }),
    );
    expect(unknownUser.actor).toEqual({ type: "user", id: null, label: "x".repeat(320) });
    await expect(verifyAuditChain()).resolves.toEqual({ ok: true, count: 2 });
  });

  it("filters, paginates by seq and keeps other organizations out of scope", async () => {
    const early = await recordMany(2, () => ({ action: "auth.sign_in", actor: { type: "user", id: "user-1" } }));
    await sleep(5);
    const middle = [
      await recordAuditEvent(
        event({ action: "auth.sign_out", outcome: "failure", actor: { type: "user", id: "user-2" } }),
      ),
      await recordAuditEvent(event({ action: "authz.decide", outcome: "denied", projectId: PROJECT_A })),
      await recordAuditEvent(event({ action: "auth.mfa_verify" })),
      await recordAuditEvent(event({ action: "auth.mfaxverify.sub" })),
    ];
    await sleep(5);
    const late = await recordMany(3, (index) => ({ action: "pipelines.update", details: { index } }));
    const otherOrg = await recordAuditEvent(event({ organizationId: ORG_B, action: "auth.sign_in" }));
    const system = await recordAuditEvent(
      event({ organizationId: undefined, actor: { type: "system" }, action: "jobs.cleanup" }),
    );

    const scopeA = { organizationIds: [ORG_A] };
    const seqs = (page: { items: AuditEventDto[] }) => page.items.map((item) => item.seq);
    const inOrgA = [...early, ...middle, ...late].map((item) => item.seq).reverse();

    expect(seqs(await listAuditEvents(scopeA, {}))).toEqual(inOrgA);
    expect(seqs(await listAuditEvents({ ...scopeA, includeSystem: true }, {}))).toEqual([system.seq, ...inOrgA]);
    expect(seqs(await listAuditEvents({ organizationIds: [ORG_A, ORG_B] }, {}))).toEqual([otherOrg.seq, ...inOrgA]);
    expect(await listAuditEvents(scopeA, { organizationId: ORG_B })).toEqual({ items: [], nextCursor: null });
    expect(await listAuditEvents({ organizationIds: [] }, {})).toEqual({ items: [], nextCursor: null });

    const byAction = seqs(await listAuditEvents(scopeA, { action: "auth" }));
    expect(byAction).toEqual([middle[3], middle[2], middle[0], ...[...early].reverse()].map((item) => item?.seq));
    // "_" is literal, not LIKE's any-character: auth.mfaxverify.sub stays out.
    expect(seqs(await listAuditEvents(scopeA, { action: "auth.mfa_verify" }))).toEqual([middle[2]?.seq]);
    expect(seqs(await listAuditEvents(scopeA, { action: "authz." }))).toEqual([middle[1]?.seq]);
    expect(seqs(await listAuditEvents(scopeA, { actorId: "user-2" }))).toEqual([middle[0]?.seq]);
    expect(seqs(await listAuditEvents(scopeA, { outcome: "denied" }))).toEqual([middle[1]?.seq]);
    expect(seqs(await listAuditEvents(scopeA, { projectId: PROJECT_A, organizationId: ORG_A }))).toEqual([
      middle[1]?.seq,
    ]);
    expect(seqs(await listAuditEvents(scopeA, { from: middle[0]?.occurredAt, to: late[0]?.occurredAt }))).toEqual(
      middle.map((item) => item.seq).reverse(),
    );

    // Query strings: everything arrives as text, empty means unset.
    const walked: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listAuditEvents(scopeA, { limit: "4", cursor: cursor ?? "", action: "" });
      expect(page.items.length).toBeLessThanOrEqual(4);
      walked.push(...seqs(page));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(walked).toEqual(inOrgA);
    expect(pages).toBe(3);

    for (const bad of [
      { limit: "0" },
      { limit: "201" },
      { cursor: "abc" },
      { cursor: "9999999999999999999" },
      { from: "not a date" },
      { action: "Auth" },
    ]) {
      const error = await listAuditEvents(scopeA, bad).catch((caught: unknown) => caught);
      expect(isAppError(error) && error.code).toBe("INVALID_INPUT");
    }
  });
});

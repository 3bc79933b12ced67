import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, TEST_DB_KINDS, type TestDatabase } from "@/test/db";

// What the hand-written part of the first migration promises, on both databases.
describe.each(TEST_DB_KINDS)("database constraints on %s", (kind) => {
  let test: TestDatabase;
  let orgId: string;

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    const [org] = await test.db.query<{ id: string }>(
      `insert into organizations (id, slug, name, updated_at) values (gen_random_uuid(), 'o', 'O', now()) returning id`,
    );
    orgId = (org as { id: string }).id;
    await test.db.exec(`insert into audit_events (occurred_at, actor_type, action, outcome, prev_hash, hash, id)
      values (now(), 'system', 'test.one', 'success', repeat('0', 64), repeat('a', 64), gen_random_uuid())`);
  });
  afterAll(() => test.drop());

  it("refuses to change, delete or truncate audit events", async () => {
    await expect(test.db.exec("update audit_events set action = 'test.two'")).rejects.toThrow(/append-only/);
    await expect(test.db.exec("delete from audit_events")).rejects.toThrow(/append-only/);
    await expect(test.db.exec("truncate audit_events")).rejects.toThrow(/append-only/);
    expect(await test.db.query("select action from audit_events")).toEqual([{ action: "test.one" }]);
  });

  it("refuses a membership with neither or both of a user and a team", async () => {
    await expect(
      test.db.query(`insert into memberships (id, organization_id, role) values (gen_random_uuid(), $1, 'viewer')`, [
        orgId,
      ]),
    ).rejects.toThrow(/memberships_user_or_team_check/);
  });

  it("refuses a mixed-case email", async () => {
    await expect(
      test.db.exec(
        `insert into users (id, email, name, updated_at) values (gen_random_uuid(), 'Ada@Example.com', 'Ada', now())`,
      ),
    ).rejects.toThrow(/users_email_lowercase_check/);
  });
});

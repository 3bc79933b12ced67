import { describe, expect, it } from "vitest";
import { CONDITION_VARIABLES } from "./attributes";
import { FLAT_ATTRIBUTES, prepareConditionInput } from "./environment";

// A prepared input answers the variables of a condition by name (context.ts), so it must carry
// exactly the variables the environment declares for requests: the records, `action` and one
// flat field per declared attribute, each the value of that attribute.

describe("a prepared condition input", () => {
  const input = {
    principal: {
      id: "u1",
      type: "user",
      email: "u1@example.com",
      roles: ["developer"],
      teams: ["t1"],
      mfa: true,
      attributes: { department: "ops" },
    },
    resource: {
      type: "pipeline",
      id: "pl1",
      organizationId: "o1",
      projectId: "p1",
      environment: "prod",
      createdBy: "u2",
      labels: { tier: "gold" },
    },
    action: "pipeline:run",
    request: { time: new Date("2025-03-04T10:00:00Z"), ip: "10.0.0.1", mfa: false, userAgent: "cli" },
  };

  it("carries every declared variable and flat attribute, and nothing else", () => {
    const prepared = prepareConditionInput(input) as unknown as Record<string, unknown>;
    const expected = [...Object.keys(CONDITION_VARIABLES), ...FLAT_ATTRIBUTES.keys()].sort();
    expect(Object.keys(prepared).sort()).toEqual(expected);
    for (const [name, { record, field }] of FLAT_ATTRIBUTES) {
      const value = (input as unknown as Record<string, Record<string, unknown>>)[record]?.[field];
      expect(prepared[name], name).toBe(value);
    }
    expect(prepared.action).toBe("pipeline:run");
  });
});

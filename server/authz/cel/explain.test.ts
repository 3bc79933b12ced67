import { describe, expect, it } from "vitest";
import type { ConditionInput } from "./attributes";
import { compileCondition, getConditionCacheStats } from "./compile";
import { explainCondition } from "./explain";

const vars: ConditionInput = {
  principal: {
    id: "u-alice",
    type: "user",
    email: "alice@example.com",
    roles: ["developer"],
    teams: ["payments"],
    mfa: false,
    attributes: {},
  },
  resource: {
    type: "deployment",
    id: "dep-1",
    organizationId: "org-1",
    projectId: "prj-1",
    environment: "prod",
    createdBy: "u-alice",
    labels: { team: "payments" },
  },
  action: "deployment:approve",
  request: { time: new Date("2025-03-04T08:30:00Z"), ip: "10.1.2.3", mfa: false, userAgent: "cli" },
};

function explain(source: string) {
  return explainCondition(compileCondition(source), vars);
}

describe("explainCondition names the clauses that made a condition fail", () => {
  it("names every false clause of a top-level && chain with its position", () => {
    const explanation = explain(
      'resource.environment == "prod" &&\n  request.time.getHours() >= 9 &&\n  principal.mfa',
    );
    expect(explanation.result).toEqual({ ok: true, value: false });
    expect(explanation.failing).toEqual([
      {
        expression: "request.time.getHours() >= 9",
        line: 2,
        column: 3,
        value: false,
        message: "request.time.getHours() >= 9 evaluated to false",
      },
      { expression: "principal.mfa", line: 3, column: 3, value: false, message: "principal.mfa evaluated to false" },
    ]);
  });

  it("has nothing to say about a condition that holds", () => {
    expect(explain('resource.environment == "prod"').failing).toEqual([]);
  });

  it("names all alternatives of a false ||", () => {
    const messages = explain('"admin" in principal.roles || (principal.mfa && request.mfa)').failing.map(
      (clause) => clause.message,
    );
    expect(messages).toEqual([
      '"admin" in principal.roles evaluated to false',
      "principal.mfa evaluated to false",
      "request.mfa evaluated to false",
    ]);
  });

  it("names the clause a negation turned false", () => {
    const explanation = explain('!(resource.createdBy == principal.id) && resource.environment == "prod"');
    expect(explanation.failing.map((clause) => clause.message)).toEqual([
      "resource.createdBy == principal.id evaluated to true",
    ]);
  });

  it("blames the false clause, not a failing one, when false && error is false", () => {
    const explanation = explain('principal.mfa && resource.labels.tier == "gold"');
    expect(explanation.result).toEqual({ ok: true, value: false });
    expect(explanation.failing.map((clause) => clause.expression)).toEqual(["principal.mfa"]);
  });

  it("names the failing clause when the condition errors", () => {
    const explanation = explain('resource.labels.tier == "gold" || request.mfa');
    expect(explanation.result).toEqual({ ok: false, error: "No such key: tier" });
    expect(explanation.failing).toEqual([
      expect.objectContaining({
        expression: 'resource.labels.tier == "gold"',
        value: null,
        error: "No such key: tier",
      }),
    ]);
  });

  it("keeps comprehensions and calls as one clause", () => {
    const explanation = explain('principal.roles.exists(r, r == "admin" || r == "owner") && principal.mfa');
    expect(explanation.failing.map((clause) => clause.expression)).toEqual([
      'principal.roles.exists(r, r == "admin" || r == "owner")',
      "principal.mfa",
    ]);
  });

  it("does not disturb the decision cache's counters", () => {
    const compiled = compileCondition('resource.environment == "staging" && request.mfa');
    const before = getConditionCacheStats();
    explainCondition(compiled, vars);
    expect(getConditionCacheStats()).toEqual(before);
  });
});

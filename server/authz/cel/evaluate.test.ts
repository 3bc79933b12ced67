import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConditionInput } from "./attributes";
import { compileCondition } from "./compile";
import { ConditionInputError, prepareConditionInput } from "./environment";
import { evaluateCondition } from "./evaluate";

function input(overrides: {
  principal?: Partial<ConditionInput["principal"]>;
  resource?: Partial<ConditionInput["resource"]>;
  action?: string;
  request?: Partial<ConditionInput["request"]>;
}): ConditionInput {
  return {
    principal: {
      id: "u-alice",
      type: "user",
      email: "alice@example.com",
      roles: ["developer"],
      teams: ["payments"],
      mfa: true,
      attributes: { department: "engineering" },
      ...overrides.principal,
    },
    resource: {
      type: "deployment",
      id: "dep-1",
      organizationId: "org-1",
      projectId: "prj-1",
      environment: "prod",
      createdBy: "u-bob",
      labels: { team: "payments" },
      ...overrides.resource,
    },
    action: overrides.action ?? "deployment:approve",
    request: {
      time: new Date("2025-03-04T10:15:00Z"),
      ip: "10.1.2.3",
      mfa: true,
      userAgent: "microstack-cli/1.0",
      ...overrides.request,
    },
  };
}

const BUSINESS_HOURS = 'resource.environment == "prod" && request.time.getHours() >= 9 && principal.mfa';
const NO_SELF_APPROVAL = "resource.createdBy != principal.id";

describe("evaluateCondition on the issue's examples", () => {
  const businessHours = compileCondition(BUSINESS_HOURS);

  it("allows a prod request in business hours with MFA", () => {
    expect(evaluateCondition(businessHours, input({}))).toEqual({ ok: true, value: true });
  });

  it.each([
    ["before 9 UTC", input({ request: { time: new Date("2025-03-04T08:59:59Z") } })],
    ["without MFA", input({ principal: { mfa: false } })],
    ["outside prod", input({ resource: { environment: "staging" } })],
  ])("is false %s", (_, vars) => {
    expect(evaluateCondition(businessHours, vars)).toEqual({ ok: true, value: false });
  });

  it("lets no one approve their own deployment", () => {
    const noSelfApproval = compileCondition(NO_SELF_APPROVAL);
    expect(evaluateCondition(noSelfApproval, input({}))).toEqual({ ok: true, value: true });
    expect(evaluateCondition(noSelfApproval, input({ resource: { createdBy: "u-alice" } }))).toEqual({
      ok: true,
      value: false,
    });
  });

  it("gives the same answers on input prepared once per request", () => {
    const vars = input({});
    const prepared = prepareConditionInput(vars);
    for (const source of [BUSINESS_HOURS, NO_SELF_APPROVAL, '"developer" in principal.roles', "request.mfa"]) {
      const compiled = compileCondition(source);
      expect(evaluateCondition(compiled, prepared)).toEqual(evaluateCondition(compiled, vars));
    }
  });

  it("binds each condition's own literals although they share a template", () => {
    const prod = compileCondition('resource.environment == "prod"');
    const dev = compileCondition('resource.environment == "dev"');
    expect(prod.template).toBe(dev.template);
    expect(evaluateCondition(prod, input({}))).toEqual({ ok: true, value: true });
    expect(evaluateCondition(dev, input({}))).toEqual({ ok: true, value: false });
  });

  it("does not keep the request's attributes after evaluating", () => {
    const compiled = compileCondition(NO_SELF_APPROVAL);
    evaluateCondition(compiled, input({}));
    expect(compiled.context.input).toBeUndefined();
  });
});

describe("evaluateCondition turns runtime errors into ok:false (the engine denies and logs)", () => {
  it("reports a missing map key", () => {
    const result = evaluateCondition(compileCondition('resource.labels.tier == "gold"'), input({}));
    expect(result).toEqual({ ok: false, error: "No such key: tier" });
  });

  it("reports a missing attribute instead of defaulting it", () => {
    const vars = input({});
    const { createdBy: _, ...resource } = vars.resource;
    const result = evaluateCondition(compileCondition(NO_SELF_APPROVAL), { ...vars, resource } as ConditionInput);
    expect(result).toEqual({ ok: false, error: "Missing attribute: resource.createdBy" });
  });

  it("reports integer overflow", () => {
    const result = evaluateCondition(
      compileCondition("size(principal.roles) * 9223372036854775807 > 0"),
      input({ principal: { roles: ["a", "b"] } }),
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain("overflow");
  });

  it("refuses attribute collections larger than the cost estimate assumes", () => {
    const roles = Array.from({ length: 101 }, (_, index) => `role-${index}`);
    const compiled = compileCondition('principal.roles.exists(r, r.startsWith("admin"))');
    const result = evaluateCondition(compiled, input({ principal: { roles } }));
    expect(result).toEqual({ ok: false, error: "principal.roles has more than 100 items" });
    expect(() => prepareConditionInput(input({ principal: { roles } }))).toThrow(ConditionInputError);
  });

  it("reports a wrongly typed attribute", () => {
    const vars = { ...input({}), request: { ...input({}).request, mfa: "yes" } } as unknown as ConditionInput;
    const result = evaluateCondition(compileCondition("request.mfa"), vars);
    expect(result.ok).toBe(false);
  });
});

describe("evaluateCondition never throws", () => {
  const conditions = [
    BUSINESS_HOURS,
    NO_SELF_APPROVAL,
    '"admin" in principal.roles || principal.teams.exists(t, t.startsWith("ops"))',
    'has(resource.labels.team) && resource.labels.team in principal.teams && principal.attributes["level"] == "2"',
    'action == "deployment:approve" && request.ip.startsWith("10.") && size(request.userAgent) < 200',
    'request.time - duration("1h") < timestamp("2025-01-01T00:00:00Z") || principal.email.endsWith("@example.com")',
    'resource.projectId in ["a", "b"] ? request.mfa : principal.type == "service"',
    "principal.roles.filter(r, r.contains(resource.organizationId)).size() > 0",
  ].map((source) => compileCondition(source));

  const anyValue = fc.oneof(
    fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }),
    fc.date({ noInvalidDate: false }),
  );
  const looseRecord = (keys: string[]) =>
    fc.oneof(anyValue, fc.record(Object.fromEntries(keys.map((key) => [key, anyValue])), { requiredKeys: [] }));

  it("on random, ill-typed input", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyValue,
          fc.record({
            principal: looseRecord(["id", "type", "email", "roles", "teams", "mfa", "attributes"]),
            resource: looseRecord(["type", "id", "organizationId", "projectId", "environment", "createdBy", "labels"]),
            action: anyValue,
            request: looseRecord(["time", "ip", "mfa", "userAgent"]),
          }),
        ),
        fc.nat({ max: conditions.length - 1 }),
        (vars, index) => {
          const compiled = conditions[index];
          if (!compiled) return;
          const result = evaluateCondition(compiled, vars as ConditionInput);
          expect(typeof result.ok).toBe("boolean");
          if (result.ok) expect(typeof result.value).toBe("boolean");
          else expect(typeof result.error).toBe("string");
        },
      ),
      { numRuns: 3_000 },
    );
  });
});

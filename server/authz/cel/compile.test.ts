import { describe, expect, it } from "vitest";
import {
  ConditionError,
  compileCondition,
  createConditionCompiler,
  MAX_CONDITION_COST,
  MAX_CONDITION_SOURCE_LENGTH,
} from "./compile";

function compileError(source: string): ConditionError {
  try {
    compileCondition(source);
  } catch (error) {
    if (error instanceof ConditionError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be refused`);
}

describe("compileCondition refuses bad conditions at save time with a position", () => {
  it("reports a syntax error at the line and column of the unexpected token", () => {
    const error = compileError('principal.mfa &&\n  (resource.environment == "prod"');
    expect(error.toJSON()).toEqual({ code: "syntax", message: "Expected RPAREN, got EOF", line: 2, column: 34 });
  });

  it("reports an unknown variable where it is used", () => {
    const error = compileError('resource.environment == "prod" && user.mfa');
    expect(error).toMatchObject({ code: "unknown_variable", line: 1, column: 35 });
    expect(error.message).toContain("Unknown variable: user");
  });

  it("reports an unknown field of a declared attribute at the field", () => {
    const error = compileError('principal.mfa &&\nresource.owner == "u1"');
    expect(error).toMatchObject({ code: "unknown_field", message: "Unknown field: owner", line: 2, column: 10 });
  });

  it("reports a type error", () => {
    const error = compileError("principal.mfa + 1 > 0");
    expect(error).toMatchObject({ code: "type", line: 1, column: 1 });
    expect(error.message).toBe("no such overload: bool + int");
  });

  it("refuses a condition that is not boolean", () => {
    const error = compileError('resource.labels["team"]');
    expect(error).toMatchObject({ code: "not_boolean", line: 1, column: 1 });
    expect(error.message).toContain("type string");
  });

  it("refuses an expression whose estimated cost is above the bound", () => {
    const error = compileError("principal.roles.exists(r, principal.teams.exists(t, t == r))");
    expect(error.code).toBe("too_costly");
    expect(error.message).toContain(`exceeds ${MAX_CONDITION_COST}`);
    expect(error).toMatchObject({ line: 1, column: 1 });
  });

  it("refuses sources above the length limit before parsing", () => {
    const source = `principal.mfa${" && principal.mfa".repeat(MAX_CONDITION_SOURCE_LENGTH / 16)}`;
    expect(compileError(source).code).toBe("too_costly");
  });

  it("refuses the parameter names the templates use, so a rule cannot read another's literals", () => {
    expect(compileError("__b0")).toMatchObject({ code: "unknown_variable", line: 1, column: 1 });
  });

  it.each([
    ['principal.email.matches(".*@example\\\\.com")', 17, "RE2"],
    ['request.time.getHours("Europe/Berlin") >= 9', 14, "time zone"],
    ["request.time.getDayOfYear() == 1", 14, "daylight-saving"],
    ["size(principal.roles) / 2 > 1", 23, "/ operator"],
    ["-size(principal.roles) < 0", 1, "unary minus"],
    ["principal.email.lowerAscii() == principal.email", 17, "non-ASCII"],
    ['principal.email.indexOf("@") > 0', 17, "code points"],
    ["size(principal.roles) > 1u", 25, "unsigned"],
    ["cel.bind(x, principal.mfa, x)", 5, "bind"],
    ["type(principal.mfa) == bool", 1, "type()"],
    ['int(principal.attributes["level"]) >= 3', 1, "BigInt"],
    ['double(principal.attributes["score"]) > 1.5', 1, "Number()"],
    ['string(1.5) == "1.5"', 1, "JavaScript way"],
    ['request.time > timestamp(principal.attributes["since"])', 16, "string literal"],
    ["size(principal.roles) < 2.5", 1, "int with a double"],
    ['(request.time - timestamp("2025-01-01T00:00:00Z")).getMilliseconds() > 0', 2, "disagree"],
  ])("refuses %s outside the supported subset, at column %i", (source, column, reason) => {
    const error = compileError(source);
    expect(error).toMatchObject({ code: "unsupported", line: 1, column });
    expect(error.message).toContain(reason);
  });

  it.each([
    ['request.time > timestamp("2024-02-30T00:00:00Z")', "no such date"],
    ['request.time > timestamp("Mon, 01 Jan 2024 00:00:00 GMT")', "RFC 3339"],
    ['request.time > timestamp("2024-01-01T00:00:00.0001Z")', "millisecond"],
    ['request.time > request.time - duration("100000000000000h")', "out of range"],
    ['request.time > request.time - duration("1d")', "duration such as"],
  ])("refuses the literal in %s, which CEL would reject, at save time", (source, reason) => {
    const error = compileError(source);
    expect(error.code).toBe("invalid_literal");
    expect(error.message).toContain(reason);
  });
});

describe("compileCondition accepts the issue's examples", () => {
  it("compiles the business-hours-in-prod-with-MFA condition", () => {
    const compiled = compileCondition(
      'resource.environment == "prod" && request.time.getHours() >= 9 && principal.mfa',
    );
    expect(compiled.template.key).toBe(
      "(((__resource_environment == __s0) && (__request_time.getHours() >= __i0)) && __principal_mfa)",
    );
    expect(compiled.params).toEqual({ __s0: "prod", __i0: 9n });
    expect(compiled.cost).toBeLessThan(20);
  });

  it("compiles the no-self-approval condition, which has no literal at all", () => {
    const compiled = compileCondition("resource.createdBy != principal.id");
    expect(compiled.template.key).toBe("(__resource_createdBy != __principal_id)");
    expect(compiled.params).toEqual({});
  });

  it("returns the same compiled condition for the same source", () => {
    expect(compileCondition("principal.mfa")).toBe(compileCondition("principal.mfa"));
  });
});

describe("templates: literals become parameters", () => {
  it("compiles 1,000 conditions that differ only in literals to a handful of templates", () => {
    const compiler = createConditionCompiler();
    const environments = ["prod", "staging", "dev", "qa", "eu-prod"];
    for (let index = 0; index < 1_000; index++) {
      const env = environments[index % environments.length];
      const sources = [
        `resource.environment == "${env}-${index}" && request.time.getHours() >= ${index % 24} && principal.mfa`,
        `resource.labels["team"] == 'team-${index}' || "${env}" in principal.roles`,
        `resource.projectId in ["p-${index}", "p-${index + 1}"${index % 3 === 0 ? `, "p-${index + 2}"` : ""}]`,
        `size(principal.teams) > ${index} && request.time > timestamp("2024-01-${String((index % 28) + 1).padStart(2, "0")}T00:00:00Z")`,
      ];
      const source = sources[index % sources.length] ?? "";
      compiler.compile(source);
    }
    const stats = compiler.stats();
    expect(stats.sources.misses).toBe(1_000);
    expect(stats.templates.size).toBe(4);
    expect(stats.templates.misses).toBe(4);
    expect(stats.templates.hits).toBe(996);
    expect(stats.fallbacks).toBe(0);
  });

  it("shares one template between different literal values and spellings", () => {
    const compiler = createConditionCompiler();
    const prod = compiler.compile('resource.environment == "prod"');
    const dev = compiler.compile("(resource.environment) == 'dev'");
    expect(dev.template).toBe(prod.template);
    expect(prod.params).toEqual({ __s0: "prod" });
    expect(dev.params).toEqual({ __s0: "dev" });
  });

  it("keeps literals whose type differs in different templates", () => {
    const compiler = createConditionCompiler();
    const int = compiler.compile("principal.mfa == (1 < 2)");
    const double = compiler.compile("principal.mfa == (1.5 < 2.5)");
    expect(int.template).not.toBe(double.template);
  });

  it("keeps index literals inline so field lookups stay checked", () => {
    expect(compileCondition('principal.attributes["dept"] == "eng"').template.key).toBe(
      '(__principal_attributes["dept"] == __s0)',
    );
    // On a declared record the checker takes the field's type from the literal key.
    expect(compileCondition('principal["email"] == "a@b.c"').template.key).toBe('(principal["email"] == __s0)');
    expect(() => compileCondition('principal["email"] == 1')).toThrow(ConditionError);
  });

  it("reads declared attributes through flat variables but keeps records where has() needs them", () => {
    const compiled = compileCondition("has(principal.email) && has(resource.labels.team)");
    expect(compiled.template.key).toBe("(has(principal.email) && has(__resource_labels.team))");
    expect(compiled.template.inputs.map((input) => input.name).sort()).toEqual(["__resource_labels", "principal"]);
  });

  it("folds timestamp() and duration() of a literal into parameters, refusing bad literals at save time", () => {
    const compiled = compileCondition('request.time - duration("1h") > timestamp("2025-01-01T00:00:00Z")');
    expect(compiled.template.key).toBe("((__request_time - __u0) > __t0)");
    expect(compiled.params.__t0).toEqual(new Date("2025-01-01T00:00:00Z"));
    expect(() => compileCondition('request.time > timestamp("yesterday")')).toThrow(
      expect.objectContaining({ code: "invalid_literal", line: 1, column: 16 }),
    );
  });

  it("evicts the least recently used template at capacity and counts it", () => {
    const compiler = createConditionCompiler({ templateCapacity: 2 });
    compiler.compile("principal.mfa");
    compiler.compile("request.mfa");
    compiler.compile("principal.mfa && request.mfa");
    const stats = compiler.stats();
    expect(stats.templates).toMatchObject({ size: 2, capacity: 2, evictions: 1 });
  });
});

import "server-only";
import type { ASTNode } from "@marcbachmann/cel-js";
import { declaredFieldType, isAttributeRecord, isConditionVariable } from "./attributes";
import { ConditionError, toLineColumn } from "./condition-error";
import {
  conditionEnvironment,
  flatAttributeName,
  MAX_PARAMS_PER_KIND,
  PARAM_PREFIX,
  type ParamKind,
  paramName,
} from "./environment";

// Normalizes a parsed condition into a TEMPLATE: canonical source text in which the literals are
// parameters. `resource.environment == "prod"` and `resource.environment == 'dev'` both become
// `(__resource_environment == __s0)` and differ only in the value bound to __s0, so thousands of
// rules share a few compiled, type-checked programs. The same walk enforces the supported subset
// (SUPPORTED.md), because it is the one place that sees every node of every condition.
//
// Why the types still hold: a parameter is a variable declared with exactly the literal's type
// (environment.ts), so the template type-checks iff the source does. The one place where
// cel-js's checker looks at a literal's VALUE is an index on a declared type (`principal["id"]`
// resolves the field type from the string), so index literals stay inline.
//
// Two more rewrites for evaluation speed, both type-preserving:
//   - `principal.mfa` reads the flat variable `__principal_mfa` (see flatAttributeName);
//   - `timestamp("...")` and `duration("...")` on a literal are evaluated here, once, by cel-js
//     itself, and bound as a timestamp / duration parameter: parsing them costs about 1 us per
//     evaluation otherwise, and a bad literal is refused at save time instead of denying forever.

const MAX_INT = 9_223_372_036_854_775_807n;
const MIN_INT_MAGNITUDE = 9_223_372_036_854_775_808n;

/** Functions (no receiver) a condition may call, with their accepted argument counts. */
const SUPPORTED_FUNCTIONS: Readonly<Record<string, readonly number[]>> = {
  size: [1],
  has: [1],
  double: [1],
  string: [1],
  timestamp: [1],
  duration: [1],
};

const REFUSED_FUNCTIONS: Readonly<Record<string, string>> = {
  int: 'int() is not supported: cel-js converts doubles without the int64 range check and strings with JavaScript\'s BigInt ("" is 0, "0b101" is 5), where CEL errors',
  uint: "uint() is not supported: no attribute is unsigned",
  bool: "bool() is not supported: compare the string instead",
};

/** The timestamp getters conditions may call (UTC only; see SUPPORTED.md). */
export const TIME_GETTERS = [
  "getFullYear",
  "getMonth",
  "getDate",
  "getDayOfMonth",
  "getDayOfWeek",
  "getHours",
  "getMinutes",
  "getSeconds",
  "getMilliseconds",
] as const;

/** Methods (with a receiver) a condition may call, with their accepted argument counts. */
const SUPPORTED_METHODS: Readonly<Record<string, readonly number[]>> = {
  size: [0],
  startsWith: [1],
  endsWith: [1],
  contains: [1],
  exists: [2],
  all: [2],
  exists_one: [2],
  filter: [2],
  map: [2, 3],
  ...Object.fromEntries(TIME_GETTERS.map((name) => [name, [0]])),
};

// Refused with the reason, because each one is a trap in the request path, not a missing feature.
const REFUSED_METHODS: Readonly<Record<string, string>> = {
  matches:
    "matches() is not supported: cel-js runs it on JavaScript's backtracking RegExp, so one pattern can stall a request (CEL specifies linear-time RE2); use startsWith, endsWith or contains",
  lowerAscii: "lowerAscii() is not supported: cel-js lower-cases non-ASCII letters too, unlike CEL",
  upperAscii: "upperAscii() is not supported: cel-js upper-cases non-ASCII letters too, unlike CEL",
  indexOf: "indexOf() is not supported: cel-js counts UTF-16 code units where CEL counts code points",
  lastIndexOf: "lastIndexOf() is not supported: cel-js counts UTF-16 code units where CEL counts code points",
  substring: "substring() is not supported: cel-js counts UTF-16 code units where CEL counts code points",
  getDayOfYear:
    "getDayOfYear() is not supported: cel-js computes it in the server's local time zone, one day off after a daylight-saving change unless TZ=UTC",
};

const TIMEZONE_REFUSAL =
  "time zone arguments are not supported: cel-js formats the date through toLocaleString on every call (about 0.25 ms), far above the request-path budget; request.time is UTC";

export interface ConditionTemplateSource {
  /** Canonical source with parameters; the cache key and the text the template compiles from. */
  key: string;
  /** Parameter name to literal value, bound at evaluation. */
  params: Record<string, unknown>;
  /** Context variables read from the request: flat attributes and whole records. */
  inputs: TemplateInput[];
}

/** One context variable filled from the request at evaluation: `vars[record][field]` or `vars[record]`. */
export interface TemplateInput {
  name: string;
  record: string;
  field?: string;
}

const FOLDED_CALLS: Readonly<Record<string, ParamKind>> = { timestamp: "t", duration: "u" };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|[+-](\d{2}):(\d{2}))$/;
const GO_DURATION = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/;
const MAX_DURATION_SECONDS = 315_576_000_000n; // CEL's range: +-10,000 years

/** Why a timestamp literal is not one CEL accepts, or undefined. cel-js itself uses `new Date()`. */
function timestampLiteralProblem(literal: string): string | undefined {
  const match = RFC3339.exec(literal);
  if (!match) return "expected an RFC 3339 timestamp such as 2025-01-31T09:00:00Z";
  const [, year, month, day, hour, minute, second, fraction = "", offsetHours = "0", offsetMinutes = "0"] = match;
  const y = Number(year);
  const m = Number(month);
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (y < 1 || m < 1 || m > 12 || Number(day) < 1 || Number(day) > daysInMonth) return "no such date";
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return "no such time";
  if (Number(offsetHours) > 23 || Number(offsetMinutes) > 59) return "no such time zone offset";
  if (/[1-9]/.test(fraction.slice(3))) return "cel-js timestamps have millisecond precision";
  return undefined;
}

function durationLiteralProblem(literal: string): string | undefined {
  if (!GO_DURATION.test(literal)) return 'expected a duration such as "90m", "1h30m" or "-2h"';
  return undefined;
}

type ScalarKind = "s" | "i" | "d" | "b";

function scalarKind(value: unknown): ScalarKind | undefined {
  switch (typeof value) {
    case "string":
      return "s";
    case "bigint":
      return "i";
    case "number":
      return "d";
    case "boolean":
      return "b";
    default:
      return undefined;
  }
}

/** A literal the template may turn into a parameter: `"x"`, `1`, `2.5`, `true`, or `-1`, `-2.5`. */
function literalValue(node: ASTNode): { value: unknown } | undefined {
  if (node.op === "value") return scalarKind(node.args) ? { value: node.args } : undefined;
  if (node.op === "-_" && node.args.op === "value") {
    const inner = node.args.args;
    if (typeof inner === "bigint") return { value: -inner };
    if (typeof inner === "number") return { value: -inner };
  }
  return undefined;
}

/** Renders a string literal that cel-js parses back to the same value. */
function celString(value: string): string {
  let out = '"';
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    const char = value[index];
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

function celDouble(value: number): string {
  // A double must keep a fraction or exponent or it would parse back as an int.
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

function inlineLiteral(value: unknown): string {
  switch (typeof value) {
    case "string":
      return celString(value);
    case "bigint":
      return value < 0n ? `-${-value}` : String(value);
    case "number":
      return value < 0 ? `-${celDouble(-value)}` : celDouble(value);
    case "boolean":
      return String(value);
    default:
      return "null";
  }
}

class TemplateBuilder {
  readonly params: Record<string, unknown> = {};
  readonly inputs = new Map<string, TemplateInput>();
  private readonly counts: Record<ParamKind, number> = {
    s: 0,
    i: 0,
    d: 0,
    b: 0,
    ls: 0,
    li: 0,
    ld: 0,
    lb: 0,
    t: 0,
    u: 0,
  };

  constructor(private readonly source: string) {}

  fail(code: "unsupported" | "unknown_variable", message: string, node: ASTNode, offset = node.pos): never {
    throw new ConditionError(code, message, toLineColumn(this.source, offset));
  }

  /** Where `token` appears after `from`: cel-js keeps no position for method names and operators. */
  private find(token: string, from: number, fallback: number): number {
    const index = this.source.indexOf(token, from);
    return index < 0 ? fallback : index;
  }

  private param(kind: ParamKind, value: unknown): string | undefined {
    const index = this.counts[kind];
    if (index >= MAX_PARAMS_PER_KIND) return undefined;
    this.counts[kind] = index + 1;
    const name = paramName(kind, index);
    this.params[name] = value;
    return name;
  }

  private checkIntRange(value: unknown, node: ASTNode): void {
    if (typeof value !== "bigint") return;
    if (value > MAX_INT || value < -MIN_INT_MAGNITUDE)
      this.fail("unsupported", `integer literal out of range: ${value}`, node);
  }

  private literal(node: ASTNode, value: unknown): string {
    this.checkIntRange(value, node);
    const kind = scalarKind(value);
    return (kind && this.param(kind, value)) ?? inlineLiteral(value);
  }

  private list(node: ASTNode & { op: "list" }): string {
    const values: unknown[] = [];
    let kind: ScalarKind | undefined;
    for (const element of node.args) {
      const literal = literalValue(element);
      const elementKind = literal && scalarKind(literal.value);
      if (!literal || !elementKind || (kind && kind !== elementKind)) {
        kind = undefined;
        break;
      }
      this.checkIntRange(literal.value, element);
      kind = elementKind;
      values.push(literal.value);
    }
    // A homogeneous list of literals is ONE parameter, so `x in ["a", "b"]` and
    // `x in ["a", "b", "c"]` share a template whatever the length.
    if (kind) {
      const name = this.param(`l${kind}`, values);
      if (name) return name;
    }
    return `[${node.args.map((element) => this.render(element)).join(", ")}]`;
  }

  /** `timestamp("2025-01-01T00:00:00Z")` evaluated now, as a parameter of the result's type. */
  private folded(node: ASTNode, name: string, literal: string): string | undefined {
    const kind = FOLDED_CALLS[name];
    if (!kind) return undefined;
    const invalid = (reason: string): never => {
      throw new ConditionError(
        "invalid_literal",
        `${name}(${celString(literal)}): ${reason}`,
        toLineColumn(this.source, node.pos),
      );
    };
    const problem = name === "timestamp" ? timestampLiteralProblem(literal) : durationLiteralProblem(literal);
    if (problem) invalid(problem);
    let value: unknown;
    try {
      value = conditionEnvironment.evaluate(`${name}(${celString(literal)})`);
    } catch (error) {
      invalid((error as { summary?: string }).summary ?? String(error));
    }
    if (kind === "u") {
      const { seconds, nanos } = value as { seconds: bigint; nanos: number };
      if (seconds > MAX_DURATION_SECONDS || seconds < -MAX_DURATION_SECONDS) invalid("out of range (+-10,000 years)");
      // Timestamp arithmetic in cel-js drops everything below a millisecond.
      if (nanos % 1_000_000 !== 0) invalid("cel-js timestamps have millisecond precision");
    }
    return this.param(kind, value);
  }

  private call(node: ASTNode & { op: "call" }): string {
    const [name, args] = node.args;
    const refusal = Object.hasOwn(REFUSED_FUNCTIONS, name) ? REFUSED_FUNCTIONS[name] : undefined;
    if (refusal) this.fail("unsupported", refusal, node);
    const arities = Object.hasOwn(SUPPORTED_FUNCTIONS, name) ? SUPPORTED_FUNCTIONS[name] : undefined;
    if (!arities?.includes(args.length)) {
      this.fail("unsupported", `${name}() with ${args.length} argument(s) is not supported`, node);
    }
    const [first] = args;
    if (name in FOLDED_CALLS) {
      // Only literals: cel-js parses strings more leniently than CEL (any `new Date()` format,
      // out-of-range days rolled over), so a literal is validated strictly here, once.
      if (first?.op !== "value" || typeof first.args !== "string") {
        this.fail("unsupported", `${name}() takes a string literal`, node);
      }
      const folded = this.folded(node, name, first.args);
      if (folded) return folded;
    }
    if (name === "has" && first?.op === "." && this.isRecord(first.args[0])) {
      // has() needs a field selection to test, so `has(principal.email)` keeps the record.
      return `has(${this.render(first.args[0])}.${first.args[1]})`;
    }
    return `${name}(${args.map((arg) => this.render(arg)).join(", ")})`;
  }

  private isRecord(node: ASTNode): boolean {
    return node.op === "id" && isAttributeRecord(node.args);
  }

  private method(node: ASTNode & { op: "rcall" }): string {
    const [name, receiver, args] = node.args;
    const at = () => this.find(name, receiver.end, node.pos);
    const refusal = Object.hasOwn(REFUSED_METHODS, name) ? REFUSED_METHODS[name] : undefined;
    if (refusal) this.fail("unsupported", refusal, node, at());
    if ((TIME_GETTERS as readonly string[]).includes(name) && args.length === 1) {
      this.fail("unsupported", TIMEZONE_REFUSAL, node, at());
    }
    const arities = Object.hasOwn(SUPPORTED_METHODS, name) ? SUPPORTED_METHODS[name] : undefined;
    if (!arities?.includes(args.length)) {
      this.fail("unsupported", `.${name}() with ${args.length} argument(s) is not supported`, node, at());
    }
    return `${this.render(receiver)}.${name}(${args.map((arg) => this.render(arg)).join(", ")})`;
  }

  render(node: ASTNode): string {
    switch (node.op) {
      case "value":
        if (node.args instanceof Uint8Array) this.fail("unsupported", "bytes literals are not supported", node);
        if (node.args !== null && typeof node.args === "object") {
          this.fail("unsupported", "unsigned integer literals are not supported", node);
        }
        return this.literal(node, node.args);
      case "id":
        if (node.args.startsWith(PARAM_PREFIX)) this.fail("unknown_variable", `Unknown variable: ${node.args}`, node);
        if (isConditionVariable(node.args)) this.inputs.set(node.args, { name: node.args, record: node.args });
        return node.args;
      case ".": {
        const [target, field] = node.args;
        if (target.op === "id" && declaredFieldType(target.args, field) !== undefined) {
          const name = flatAttributeName(target.args, field);
          this.inputs.set(name, { name, record: target.args, field });
          return name;
        }
        return `${this.render(target)}.${field}`;
      }
      case "[]": {
        const [target, index] = node.args;
        const literal = literalValue(index);
        if (literal) this.checkIntRange(literal.value, index);
        return `${this.render(target)}[${literal ? inlineLiteral(literal.value) : this.render(index)}]`;
      }
      case "call":
        return this.call(node);
      case "rcall":
        return this.method(node);
      case "list":
        return this.list(node);
      case "map":
        return `{${node.args.map(([key, value]) => `${this.render(key)}: ${this.render(value)}`).join(", ")}}`;
      case "?:":
        return `(${this.render(node.args[0])} ? ${this.render(node.args[1])} : ${this.render(node.args[2])})`;
      case "!_":
        return `(!${this.render(node.args)})`;
      case "-_": {
        // cel-js checks int64 overflow for + - * but not for negation, so only literals may be negated.
        const literal = literalValue(node);
        if (!literal) this.fail("unsupported", "unary minus is only supported on numeric literals", node);
        return this.literal(node, literal.value);
      }
      case "/":
      case "%":
        // cel-js returns 2^63 for MIN_INT / -1 instead of an overflow error; no condition needs them.
        return this.fail(
          "unsupported",
          `the ${node.op} operator is not supported`,
          node,
          this.find(node.op, node.args[0].end, node.pos),
        );
      case "&&":
      case "||":
      case "==":
      case "!=":
      case "<":
      case "<=":
      case ">":
      case ">=":
      case "in":
      case "+":
      case "-":
      case "*":
        return `(${this.render(node.args[0])} ${node.op} ${this.render(node.args[1])})`;
      default:
        return this.fail("unsupported", `${node.op} is not supported`, node);
    }
  }
}

/**
 * Turns a parsed condition into its template, or throws ConditionError for a construct outside
 * the supported subset. Pure function of the tree: same source shape, same key.
 */
export function buildConditionTemplate(source: string, ast: ASTNode): ConditionTemplateSource {
  const builder = new TemplateBuilder(source);
  const key = builder.render(ast);
  return { key, params: builder.params, inputs: [...builder.inputs.values()] };
}

function children(node: ASTNode): ASTNode[] {
  switch (node.op) {
    case "value":
    case "id":
      return [];
    case ".":
    case ".?":
      return [node.args[0]];
    case "call":
      return node.args[1];
    case "rcall":
      return [node.args[1], ...node.args[2]];
    case "map":
      return node.args.flat();
    case "!_":
    case "-_":
      return [node.args];
    default:
      return node.args;
  }
}

/**
 * Refusals that depend on types, run on the author's tree after cel-js has type-checked it
 * (cel-js leaves `checkedType` on every node). Conditions that share a template share its types,
 * so checking the first condition of a template covers the rest.
 */
export function assertTypedSubset(source: string, node: ASTNode): void {
  if (node.op === "call") {
    const [name, [argument]] = node.args;
    const type = (argument as { checkedType?: { name?: string } } | undefined)?.checkedType?.name;
    // Both found by the differential test or by reading cel-js against the spec: JavaScript's
    // Number() accepts "0x10" and "0b1", and `${double}` formats 123456789.125 where CEL
    // (Go's strconv 'g') writes 1.23456789125e+08.
    if (name === "double" && type !== "int" && type !== "double") {
      throw new ConditionError(
        "unsupported",
        `double() of ${type} is not supported: cel-js parses strings with JavaScript's Number() ("0x10" is 16), where CEL errors`,
        toLineColumn(source, node.pos),
      );
    }
    if (name === "string" && type === "double") {
      throw new ConditionError(
        "unsupported",
        "string() of a double is not supported: cel-js formats it the JavaScript way, not CEL's",
        toLineColumn(source, node.pos),
      );
    }
  }
  if (node.op === "rcall" && node.args[0] === "getMilliseconds") {
    const receiverType = (node.args[1] as { checkedType?: { name?: string } }).checkedType?.name;
    if (receiverType === "google.protobuf.Duration") {
      // Found by the differential test: cel-js answers the whole duration in milliseconds
      // (-1500 for -1.5s), @bufbuild/cel the millisecond component (-500).
      throw new ConditionError(
        "unsupported",
        "getMilliseconds() on a duration is not supported: implementations disagree (total or component); compare durations instead",
        toLineColumn(source, node.pos),
      );
    }
  }
  if (node.op === "<" || node.op === "<=" || node.op === ">" || node.op === ">=") {
    const [left, right] = node.args.map((arg) => (arg as { checkedType?: { name?: string } }).checkedType?.name);
    if ((left === "int" && right === "double") || (left === "double" && right === "int")) {
      // Found by the differential test: cel-js compares bigint and number exactly, cel-go (and
      // @bufbuild/cel) through doubles, so 9223372036854775807 < 9223372036854775808.0 differs.
      throw new ConditionError(
        "unsupported",
        "comparing an int with a double is not supported: convert with double() so both sides have one type",
        toLineColumn(source, node.pos),
      );
    }
  }
  for (const child of children(node)) assertTypedSubset(source, child);
}

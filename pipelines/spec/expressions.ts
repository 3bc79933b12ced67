// CEL in pipelines: `if` conditions, gate conditions, webhook filters and ${{ }} interpolations.
// Expressions are parsed and type-checked with cel-js against what the expression can really
// see at run time (typed params, the declared env, the outcome and outputs of upstream steps
// only, the step's matrix), so a typo fails in the editor instead of at 3 a.m. in a run.
// The status functions are declared here for checking; the engine binds their run-time meaning.
import { type ASTNode, Environment, ParseError, type TypeCheckResult } from "@marcbachmann/cel-js";
import { didYouMean } from "./diagnostics";
import type { Param } from "./schema";

export const STATUS_FUNCTIONS = ["always", "success", "failure", "cancelled"] as const;
export const STEP_OUTCOMES = ["success", "failure", "cancelled", "skipped"] as const;

const CEL_PARAM_TYPES: Record<Param["type"], string> = {
  string: "string",
  integer: "int",
  number: "double",
  boolean: "bool",
};

export type ExpressionContext = "condition" | "gate" | "interpolation" | "webhook";

/** What `steps.<id>` resolves to from where the expression is. */
export type StepReference =
  | { kind: "ok"; outputs: readonly string[] | null }
  | { kind: "self" }
  | { kind: "not-upstream" }
  | { kind: "unavailable" }
  | { kind: "unknown" };

export interface ExpressionScope {
  context: ExpressionContext;
  /** Id of the step the expression belongs to, for messages. */
  stepId?: string;
  resolveStep(id: string): StepReference;
  /** All step ids, for suggestions. */
  stepIds(): Iterable<string>;
  params: ReadonlyMap<string, Param["type"]>;
  /** Declared env names visible here. */
  env: ReadonlySet<string>;
  /** Keys of the step's matrix; null when the step has none. */
  matrixKeys: readonly string[] | null;
  /** Declared gate metrics (gate context only). */
  metrics?: readonly string[];
}

export interface ExpressionIssue {
  start: number;
  end: number;
  message: string;
  code: "cel-syntax" | "cel-type" | "cel-reference" | "secret-reference" | "invalid-interpolation";
  severity: "error" | "warning";
}

export interface ExpressionCheck {
  issues: ExpressionIssue[];
  /** Whether the expression calls always(), success(), failure() or cancelled(). */
  usesStatusFunction: boolean;
  /** Ids of the steps the expression reads. */
  stepRefs: string[];
}

const TIMESTAMP = "google.protobuf.Timestamp";
const DURATION = "google.protobuf.Duration";

function statusFunction(name: string) {
  return () => {
    throw new Error(`${name}() is evaluated by the pipeline engine`);
  };
}

/** Per-environment caches are bounded: a long editing session must not grow them forever. */
const MAX_CACHED_EXPRESSIONS = 20_000;

class BoundedCache<V> {
  readonly #entries = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(key: string): V | undefined {
    return this.#entries.get(key);
  }
  set(key: string, value: V): void {
    if (this.#entries.size >= this.limit) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }
}

interface CompiledEnvironment {
  env: Environment;
  parsed: BoundedCache<ReturnType<Environment["parse"]> | ParseError>;
  checked: BoundedCache<TypeCheckResult>;
}

function compiled(env: Environment): CompiledEnvironment {
  return { env, parsed: new BoundedCache(MAX_CACHED_EXPRESSIONS), checked: new BoundedCache(MAX_CACHED_EXPRESSIONS) };
}

const ENVIRONMENT_CACHE_SIZE = 64;
const environmentCache = new Map<string, ExpressionEnvironments>();

/**
 * The environments for a set of params, shared across validations: the editor validates the
 * same pipeline on every keystroke, and its params rarely change, so both the cel-js
 * environment and the parsed, type-checked expressions are reused.
 */
export function expressionEnvironmentsFor(params: ReadonlyMap<string, Param["type"] | string>): ExpressionEnvironments {
  const key = JSON.stringify([...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  let environments = environmentCache.get(key);
  if (environments === undefined) {
    environments = new ExpressionEnvironments(params);
    if (environmentCache.size >= ENVIRONMENT_CACHE_SIZE) {
      const oldest = environmentCache.keys().next();
      if (!oldest.done) environmentCache.delete(oldest.value);
    }
    environmentCache.set(key, environments);
  }
  return environments;
}

/**
 * The CEL environments of one pipeline (params are typed per pipeline). Build once per
 * validation; parse and type-check results are cached by source, since pipelines repeat
 * the same expressions (`always()`, `steps.build.outcome == "success"`) many times.
 */
export class ExpressionEnvironments {
  readonly #byContext: Record<ExpressionContext, CompiledEnvironment>;

  constructor(params: ReadonlyMap<string, Param["type"] | string>) {
    const fields: Record<string, string> = {};
    for (const [name, type] of params) fields[name] = CEL_PARAM_TYPES[type as Param["type"]] ?? "dyn";
    const base = new Environment({ homogeneousAggregateLiterals: false })
      .registerType("StepState", { fields: { outcome: "string", outputs: "map<string, string>" } })
      .registerType("Params", { fields })
      .registerVariable("params", "Params", { description: "Run parameters, typed as declared." })
      .registerVariable("env", "map<string, string>", { description: "Pipeline and step env." })
      .registerVariable("steps", "map<string, StepState>", { description: "Upstream steps: outcome, outputs." })
      .registerVariable("matrix", "map<string, dyn>", { description: "This instance's matrix values." })
      .registerVariable("metrics", "map<string, double>", { description: "Gate metrics, last sample." })
      .registerVariable("now", TIMESTAMP)
      .registerVariable("started", TIMESTAMP, { description: "When the gate started waiting." })
      .registerVariable("elapsed", DURATION, { description: "now - started." });
    for (const name of STATUS_FUNCTIONS) base.registerFunction(`${name}(): bool`, statusFunction(name));
    const webhook = new Environment({ homogeneousAggregateLiterals: false })
      .registerVariable("payload", "map<string, dyn>", { description: "The webhook's JSON body." })
      .registerVariable("headers", "map<string, string>", { description: "Request headers, lower-case." });
    const shared = compiled(base);
    this.#byContext = { condition: shared, gate: shared, interpolation: shared, webhook: compiled(webhook) };
  }

  check(source: string, scope: ExpressionScope, options: { expectBool: boolean }): ExpressionCheck {
    const target = this.#byContext[scope.context];
    let parsed = target.parsed.get(source);
    if (parsed === undefined) {
      try {
        parsed = target.env.parse(source);
      } catch (error) {
        if (!(error instanceof ParseError)) throw error;
        parsed = error;
      }
      target.parsed.set(source, parsed);
    }
    if (parsed instanceof ParseError) {
      const range = parsed.range ?? { start: 0, end: source.length };
      return {
        issues: [
          {
            start: range.start,
            end: Math.max(range.end, range.start + 1),
            message: `CEL syntax error: ${lowerFirst(parsed.summary ?? parsed.message)}`,
            code: "cel-syntax",
            severity: "error",
          },
        ],
        usesStatusFunction: false,
        stepRefs: [],
      };
    }

    const walker = new ReferenceWalker(scope);
    walker.visit(parsed.ast);
    const issues = walker.issues;
    if (!issues.some((issue) => issue.severity === "error")) {
      let result = target.checked.get(source);
      if (result === undefined) {
        result = parsed.check();
        target.checked.set(source, result);
      }
      if (!result.valid) {
        const error = result.error;
        const range = error?.range ?? { start: 0, end: source.length };
        issues.push({
          start: range.start,
          end: Math.max(range.end, range.start + 1),
          message: celTypeMessage(error?.summary ?? error?.message ?? "type error"),
          code: "cel-type",
          severity: "error",
        });
      } else if (options.expectBool && result.type !== "bool" && result.type !== "dyn") {
        issues.push({
          start: 0,
          end: source.length,
          message: `a condition must be true or false, this expression is ${article(result.type ?? "unknown")}`,
          code: "cel-type",
          severity: "error",
        });
      }
    }
    return { issues, usesStatusFunction: walker.usesStatusFunction, stepRefs: [...walker.stepRefs] };
  }
}

function lowerFirst(text: string): string {
  return text.length > 0 ? (text[0] as string).toLowerCase() + text.slice(1) : text;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function celTypeMessage(summary: string): string {
  const overload = /^no such overload: (.+)$/i.exec(summary);
  if (overload) return `these types do not go together: ${overload[1]}`;
  return lowerFirst(summary);
}

type Segment = { name: string | null; node: ASTNode };

function childNodes(node: ASTNode): ASTNode[] {
  const out: ASTNode[] = [];
  const push = (value: unknown) => {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const item of value) push(item);
    } else if ("op" in value) {
      out.push(value as ASTNode);
    }
  };
  push(node.args);
  return out;
}

function isAccess(node: ASTNode): boolean {
  return node.op === "." || node.op === ".?" || node.op === "[]" || node.op === "[?]";
}

/** `steps.build.outputs["x"]` -> root `steps`, segments build, outputs, x (null when computed). */
function accessChain(node: ASTNode): { root: ASTNode; segments: Segment[]; computed: ASTNode[] } {
  const segments: Segment[] = [];
  const computed: ASTNode[] = [];
  let current: ASTNode = node;
  while (isAccess(current)) {
    if (current.op === "." || current.op === ".?") {
      const [object, name] = current.args as [ASTNode, string];
      segments.push({ name, node: current });
      current = object;
    } else {
      const [object, key] = current.args as [ASTNode, ASTNode];
      const isLiteral = key.op === "value" && typeof key.args === "string";
      segments.push({ name: isLiteral ? (key.args as string) : null, node: current });
      if (!isLiteral) computed.push(key);
      current = object;
    }
  }
  segments.reverse();
  return { root: current, segments, computed };
}

class ReferenceWalker {
  readonly issues: ExpressionIssue[] = [];
  readonly stepRefs = new Set<string>();
  usesStatusFunction = false;

  constructor(private readonly scope: ExpressionScope) {}

  visit(node: ASTNode): void {
    if (isAccess(node)) {
      const chain = accessChain(node);
      if (chain.root.op === "id") this.checkChain(chain.root.args as string, chain.root, chain.segments);
      else this.visit(chain.root);
      for (const key of chain.computed) this.visit(key);
      return;
    }
    if (node.op === "id") {
      this.checkBareIdentifier(node.args as string, node);
      return;
    }
    if (node.op === "call") {
      const [name, args] = node.args as [string, ASTNode[]];
      if ((STATUS_FUNCTIONS as readonly string[]).includes(name) && args.length === 0) {
        this.usesStatusFunction = true;
        if (this.scope.context !== "condition") {
          this.error(node, `${name}() is only meaningful in a step's if condition`, "cel-reference");
        }
      }
    }
    if (node.op === "==" || node.op === "!=") this.checkOutcomeComparison(node);
    for (const child of childNodes(node)) this.visit(child);
  }

  private error(
    node: ASTNode,
    message: string,
    code: ExpressionIssue["code"],
    severity: "error" | "warning" = "error",
  ) {
    this.issues.push({
      start: node.range.start,
      end: Math.max(node.range.end, node.range.start + 1),
      message,
      code,
      severity,
    });
  }

  private checkBareIdentifier(name: string, node: ASTNode): void {
    if (name === "secrets") {
      this.error(
        node,
        this.scope.context === "interpolation"
          ? `a secret is referenced on its own: \${{ secrets.NAME }}`
          : "secrets cannot be used in conditions: pass them to steps through env",
        "secret-reference",
      );
    } else if (this.scope.context === "webhook") {
      return;
    } else if (name === "matrix" && this.scope.matrixKeys === null) {
      this.error(node, "matrix is only available in steps that have a matrix", "cel-reference");
    } else if ((name === "metrics" || name === "started" || name === "elapsed") && this.scope.context !== "gate") {
      this.error(node, `${name} is only available in gate conditions`, "cel-reference");
    }
  }

  private checkChain(root: string, rootNode: ASTNode, segments: Segment[]): void {
    const first = segments[0];
    if (first === undefined) return;
    const context = this.scope.context;
    if (context === "webhook") return;
    switch (root) {
      case "steps":
        this.checkStepChain(segments);
        return;
      case "params": {
        if (first.name === null || this.scope.params.has(first.name)) return;
        const declared = [...this.scope.params.keys()];
        this.error(
          first.node,
          declared.length === 0
            ? `params.${first.name} is not declared: this pipeline has no params`
            : `unknown param "${first.name}"${didYouMean(first.name, declared)}`,
          "cel-reference",
        );
        return;
      }
      case "env": {
        if (first.name === null || this.scope.env.has(first.name)) return;
        this.error(
          first.node,
          `env.${first.name} is not set by this pipeline or step${didYouMean(first.name, this.scope.env)}`,
          "cel-reference",
        );
        return;
      }
      case "matrix": {
        if (this.scope.matrixKeys === null) {
          this.error(rootNode, "matrix is only available in steps that have a matrix", "cel-reference");
        } else if (first.name !== null && !this.scope.matrixKeys.includes(first.name)) {
          this.error(
            first.node,
            `"${first.name}" is not a key of this step's matrix${didYouMean(first.name, this.scope.matrixKeys)}`,
            "cel-reference",
          );
        }
        return;
      }
      case "metrics": {
        if (context !== "gate") {
          this.checkBareIdentifier("metrics", rootNode);
        } else if (first.name !== null && !(this.scope.metrics ?? []).includes(first.name)) {
          this.error(
            first.node,
            `metric "${first.name}" is not declared under gate.metrics${didYouMean(first.name, this.scope.metrics ?? [])}`,
            "cel-reference",
          );
        }
        return;
      }
      case "secrets":
        this.checkBareIdentifier("secrets", rootNode);
        return;
      default:
        this.checkBareIdentifier(root, rootNode);
        return;
    }
  }

  private checkStepChain(segments: Segment[]): void {
    const [stepSegment, field, output] = segments;
    if (stepSegment === undefined || stepSegment.name === null) return;
    const id = stepSegment.name;
    const reference = this.scope.resolveStep(id);
    const here = this.scope.stepId === undefined ? "this step" : `step "${this.scope.stepId}"`;
    if (reference.kind === "unknown") {
      const ids = [...this.scope.stepIds()];
      const dashed = ids.find((candidate) => candidate.startsWith(`${id}-`));
      const hint =
        dashed === undefined ? didYouMean(id, ids) : `; ids with "-" need brackets in CEL: steps["${dashed}"]`;
      this.error(stepSegment.node, `unknown step "${id}"${hint}`, "cel-reference");
      return;
    }
    if (reference.kind === "unavailable") {
      this.error(stepSegment.node, "step outcomes and outputs are not available here", "cel-reference");
      return;
    }
    if (reference.kind === "self") {
      this.error(stepSegment.node, `${here} cannot read its own outcome or outputs`, "cel-reference");
      return;
    }
    if (reference.kind === "not-upstream") {
      this.error(
        stepSegment.node,
        `${here} does not need "${id}" (directly or transitively), so it cannot read its outcome or outputs: add it to needs`,
        "cel-reference",
      );
      return;
    }
    this.stepRefs.add(id);
    if (field === undefined || field.name === null) return;
    if (field.name !== "outcome" && field.name !== "outputs") {
      this.error(
        field.node,
        `steps.${id} has outcome and outputs, not "${field.name}"${didYouMean(field.name, ["outcome", "outputs"])}`,
        "cel-reference",
      );
      return;
    }
    if (field.name !== "outputs" || output === undefined || output.name === null || reference.outputs === null) return;
    if (reference.outputs.includes(output.name)) return;
    this.error(
      output.node,
      reference.outputs.length === 0
        ? `step "${id}" declares no outputs`
        : `step "${id}" has no output "${output.name}"${didYouMean(output.name, reference.outputs)}`,
      "cel-reference",
    );
  }

  private checkOutcomeComparison(node: ASTNode): void {
    const [left, right] = node.args as [ASTNode, ASTNode];
    for (const [access, literal] of [
      [left, right],
      [right, left],
    ] as const) {
      if (!isAccess(access) || literal.op !== "value" || typeof literal.args !== "string") continue;
      const chain = accessChain(access);
      if (chain.root.op !== "id" || chain.root.args !== "steps") continue;
      if (chain.segments.length !== 2 || chain.segments[1]?.name !== "outcome") continue;
      const value = literal.args;
      if (!(STEP_OUTCOMES as readonly string[]).includes(value)) {
        this.error(
          literal,
          `an outcome is one of ${STEP_OUTCOMES.join(", ")}, never "${value}"${didYouMean(value, STEP_OUTCOMES)}`,
          "cel-reference",
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ${{ }} interpolations in strings.

export interface Interpolation {
  /** Offsets in the string: `${{` starts at start, `}}` ends at end. */
  start: number;
  end: number;
  /** The expression between the braces, not trimmed, and where it starts. */
  expression: string;
  expressionStart: number;
}

export interface InterpolationScan {
  interpolations: Interpolation[];
  /** Offset of a `${{` that has no closing `}}`. */
  unterminatedAt: number | null;
}

export function scanInterpolations(text: string): InterpolationScan {
  const interpolations: Interpolation[] = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf("${{", from);
    if (start === -1) return { interpolations, unterminatedAt: null };
    const close = text.indexOf("}}", start + 3);
    if (close === -1) return { interpolations, unterminatedAt: start };
    interpolations.push({
      start,
      end: close + 2,
      expression: text.slice(start + 3, close),
      expressionStart: start + 3,
    });
    from = close + 2;
  }
}

const SECRET_REF = /^\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;
const SECRET_LIKE = /^\s*secrets\s*(?:\.\s*(\S*?))?\s*$/;
const MENTIONS_SECRETS = /(^|[^A-Za-z0-9_."'])secrets\b/;

/** The secret's name when `expression` is exactly `secrets.NAME`. */
export function secretName(expression: string): string | undefined {
  return SECRET_REF.exec(expression)?.[1];
}

/** Whether the whole string is one `${{ secrets.NAME }}` reference. */
export function isSecretReference(text: string): boolean {
  const scan = scanInterpolations(text.trim());
  const only = scan.interpolations[0];
  return (
    scan.unterminatedAt === null &&
    scan.interpolations.length === 1 &&
    only !== undefined &&
    only.start === 0 &&
    only.end === text.trim().length &&
    secretName(only.expression) !== undefined
  );
}

/** Whether the whole string is one `${{ }}` interpolation (its type is known at run time only). */
export function isWholeInterpolation(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const trimmed = value.trim();
  const scan = scanInterpolations(trimmed);
  const only = scan.interpolations[0];
  return scan.interpolations.length === 1 && only?.start === 0 && only.end === trimmed.length;
}

export interface InterpolationCheck {
  issues: ExpressionIssue[];
  secrets: string[];
  stepRefs: string[];
}

/**
 * Checks every ${{ }} in a string. `secrets.NAME` must stand alone (so the engine can resolve
 * and mask it without evaluating CEL over secret values); anything else is CEL in the scope.
 * With `allowSecrets: false` (webhook params) secrets are refused.
 */
export function checkInterpolations(
  environments: ExpressionEnvironments,
  text: string,
  scope: ExpressionScope,
  options: { allowSecrets: boolean } = { allowSecrets: true },
): InterpolationCheck {
  const result: InterpolationCheck = { issues: [], secrets: [], stepRefs: [] };
  const scan = scanInterpolations(text);
  for (const interpolation of scan.interpolations) {
    const { expression, expressionStart } = interpolation;
    const secret = secretName(expression);
    if (secret !== undefined) {
      if (options.allowSecrets) result.secrets.push(secret);
      else {
        result.issues.push({
          start: interpolation.start,
          end: interpolation.end,
          message: "secrets are not available here",
          code: "secret-reference",
          severity: "error",
        });
      }
      continue;
    }
    const secretLike = SECRET_LIKE.exec(expression);
    if (secretLike !== null || MENTIONS_SECRETS.test(expression)) {
      const name = secretLike?.[1];
      result.issues.push({
        start: interpolation.start,
        end: interpolation.end,
        message:
          name !== undefined && name !== ""
            ? `"${name}" is not a valid secret name: use letters, digits and "_", starting with a letter or "_"`
            : `a secret is referenced on its own: \${{ secrets.NAME }}`,
        code: "secret-reference",
        severity: "error",
      });
      continue;
    }
    if (expression.trim() === "") {
      result.issues.push({
        start: interpolation.start,
        end: interpolation.end,
        message: `empty \${{ }}: put an expression between the braces`,
        code: "invalid-interpolation",
        severity: "error",
      });
      continue;
    }
    const checked = environments.check(expression, scope, { expectBool: false });
    for (const issue of checked.issues) {
      result.issues.push({ ...issue, start: issue.start + expressionStart, end: issue.end + expressionStart });
    }
    result.stepRefs.push(...checked.stepRefs);
  }
  if (scan.unterminatedAt !== null) {
    result.issues.push({
      start: scan.unterminatedAt,
      end: Math.min(text.length, scan.unterminatedAt + 3),
      message: `unterminated \${{: close it with }}`,
      code: "invalid-interpolation",
      severity: "error",
    });
  }
  return result;
}

/**
 * `if: ${{ expr }}` is accepted as `if: expr` (people coming from GitHub Actions write it);
 * returns the expression and its offset in the original string.
 */
export function unwrapCondition(source: string): { expression: string; offset: number } {
  const trimmedStart = source.length - source.trimStart().length;
  const trimmed = source.trim();
  const scan = scanInterpolations(trimmed);
  const only = scan.interpolations[0];
  if (scan.interpolations.length === 1 && only?.start === 0 && only.end === trimmed.length) {
    return { expression: only.expression, offset: trimmedStart + only.expressionStart };
  }
  return { expression: source, offset: 0 };
}

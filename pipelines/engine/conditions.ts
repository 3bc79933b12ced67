// CEL at run time: `if` conditions, gate conditions and ${{ }} templates, evaluated with the
// values of one run. The declarations are the ones spec/expressions.ts type-checks against (a
// test keeps them in step); what differs is that always()/success()/failure()/cancelled() mean
// something here. cel-js calls function handlers synchronously and without the evaluation
// context, so the status values of the condition being evaluated sit in a module slot for the
// duration of that one synchronous call.
import { type ASTNode, Environment, type ParseResult } from "@marcbachmann/cel-js";
import { Duration } from "@marcbachmann/cel-js/evaluator";
import { STATUS_FUNCTIONS, scanInterpolations, secretName, unwrapCondition } from "../spec/expressions";
import type { Param } from "../spec/schema";

const CEL_PARAM_TYPES: Record<Param["type"], string> = {
  string: "string",
  integer: "int",
  number: "double",
  boolean: "bool",
};

/** `steps.ID` in CEL: registered with a constructor so map values type-check as StepState. */
export class StepValue {
  constructor(
    readonly outcome: string,
    readonly outputs: Readonly<Record<string, string>>,
  ) {}
}

export interface StatusValues {
  readonly success: boolean;
  readonly failure: boolean;
  readonly cancelled: boolean;
}

let activeStatus: StatusValues | null = null;

function statusHandler(name: (typeof STATUS_FUNCTIONS)[number]): () => boolean {
  return () => {
    if (name === "always") return true;
    if (activeStatus === null) throw new Error(`${name}() is only meaningful in a step's if condition`);
    return activeStatus[name];
  };
}

function createEnvironment(params: ReadonlyMap<string, Param>): Environment {
  const fields: Record<string, string> = {};
  for (const [name, param] of params) fields[name] = CEL_PARAM_TYPES[param.type];
  const env = new Environment({ homogeneousAggregateLiterals: false })
    .registerType("StepState", { ctor: StepValue, fields: { outcome: "string", outputs: "map<string, string>" } })
    .registerType("Params", { fields })
    .registerVariable("params", "Params")
    .registerVariable("env", "map<string, string>")
    .registerVariable("steps", "map<string, StepState>")
    .registerVariable("matrix", "map<string, dyn>")
    .registerVariable("metrics", "map<string, double>")
    .registerVariable("now", "google.protobuf.Timestamp")
    .registerVariable("started", "google.protobuf.Timestamp")
    .registerVariable("elapsed", "google.protobuf.Duration");
  for (const name of STATUS_FUNCTIONS) env.registerFunction(`${name}(): bool`, statusHandler(name));
  return env;
}

export interface CompiledExpression {
  readonly source: string;
  readonly program: ParseResult | null;
  /** Why it does not parse (validation would have said so); evaluating it fails the step. */
  readonly error: string | null;
  /** `steps.ID` it reads; "all" when it indexes steps with a computed key. */
  readonly stepRefs: readonly string[] | "all";
  readonly readsEnv: boolean;
  readonly usesStatus: boolean;
}

export interface CompiledCondition {
  /** `if: true` / `if: false`. */
  readonly constant: boolean | null;
  readonly expression: CompiledExpression | null;
  /** Without a status function, `success() &&` is implied (DAG steps; never handlers). */
  readonly impliedSuccess: boolean;
}

export interface ConditionCompiler {
  readonly environment: Environment;
  condition(source: string | boolean, options: { implicitSuccess: boolean }): CompiledCondition;
  expression(source: string): CompiledExpression;
}

const MAX_CACHED = 50_000;

export function createConditionCompiler(params: ReadonlyMap<string, Param>): ConditionCompiler {
  const environment = createEnvironment(params);
  const cache = new Map<string, CompiledExpression>();
  const expression = (source: string): CompiledExpression => {
    let compiled = cache.get(source);
    if (compiled === undefined) {
      compiled = compileExpression(environment, source);
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(source, compiled);
    }
    return compiled;
  };
  return {
    environment,
    expression,
    condition(source, { implicitSuccess }) {
      if (typeof source === "boolean") return { constant: source, expression: null, impliedSuccess: implicitSuccess };
      const compiled = expression(unwrapCondition(source).expression);
      return { constant: null, expression: compiled, impliedSuccess: implicitSuccess && !compiled.usesStatus };
    },
  };
}

function compileExpression(environment: Environment, source: string): CompiledExpression {
  let program: ParseResult;
  try {
    program = environment.parse(source);
  } catch (error) {
    return {
      source,
      program: null,
      error: (error as Error).message,
      stepRefs: [],
      readsEnv: false,
      usesStatus: false,
    };
  }
  const facts = { refs: new Set<string>(), all: false, env: false, status: false };
  visit(program.ast, facts);
  return {
    source,
    program,
    error: null,
    stepRefs: facts.all ? "all" : [...facts.refs],
    readsEnv: facts.env,
    usesStatus: facts.status,
  };
}

type Facts = { refs: Set<string>; all: boolean; env: boolean; status: boolean };

function isAccess(node: ASTNode): boolean {
  return node.op === "." || node.op === ".?" || node.op === "[]" || node.op === "[?]";
}

function childNodes(node: ASTNode): ASTNode[] {
  const out: ASTNode[] = [];
  const push = (value: unknown) => {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) for (const item of value) push(item);
    else if ("op" in value) out.push(value as ASTNode);
  };
  push(node.args);
  return out;
}

function visit(node: ASTNode, facts: Facts): void {
  if (isAccess(node)) {
    let current: ASTNode = node;
    let first: string | null = null;
    const computed: ASTNode[] = [];
    while (isAccess(current)) {
      if (current.op === "." || current.op === ".?") {
        const [object, name] = current.args as [ASTNode, string];
        first = name;
        current = object;
      } else {
        const [object, key] = current.args as [ASTNode, ASTNode];
        const literal = key.op === "value" && typeof key.args === "string" ? key.args : null;
        if (literal === null) computed.push(key);
        first = literal;
        current = object;
      }
    }
    if (current.op === "id") {
      if (current.args === "steps") {
        if (first === null) facts.all = true;
        else facts.refs.add(first);
      } else if (current.args === "env") {
        facts.env = true;
      }
    } else {
      visit(current, facts);
    }
    for (const key of computed) visit(key, facts);
    return;
  }
  if (node.op === "id") {
    if (node.args === "steps") facts.all = true;
    if (node.args === "env") facts.env = true;
    return;
  }
  if (node.op === "call") {
    const [name, args] = node.args as [string, ASTNode[]];
    if ((STATUS_FUNCTIONS as readonly string[]).includes(name) && args.length === 0) facts.status = true;
  }
  for (const child of childNodes(node)) visit(child, facts);
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

/** What an expression can see; built by the machine for one instance at one moment. */
export interface EvaluationScope {
  readonly params: Readonly<Record<string, unknown>>;
  readonly matrix: Readonly<Record<string, unknown>> | null;
  readonly now: number;
  /** The pipeline's and the step's env, rendered; called only when the expression reads env. */
  env(): Readonly<Record<string, string>>;
  /** An upstream step's outcome and outputs; undefined when it cannot be read from here. */
  step(stepId: string): StepValue | undefined;
  /** Every step id readable from here, for expressions that index steps dynamically. */
  upstream(): readonly string[];
  readonly status: StatusValues | null;
  readonly gate?: { readonly metrics: Readonly<Record<string, number>>; readonly startedAt: number };
}

export type Evaluation = { ok: true; value: unknown } | { ok: false; error: string };

export function evaluate(expression: CompiledExpression, scope: EvaluationScope): Evaluation {
  if (expression.program === null) return { ok: false, error: expression.error ?? "invalid expression" };
  const steps: Record<string, StepValue> = {};
  const refs = expression.stepRefs === "all" ? scope.upstream() : expression.stepRefs;
  for (const id of refs) {
    const value = scope.step(id);
    if (value !== undefined) steps[id] = value;
  }
  const context: Record<string, unknown> = {
    params: scope.params,
    steps,
    matrix: scope.matrix ?? {},
    now: new Date(scope.now),
    env: expression.readsEnv ? scope.env() : {},
  };
  if (scope.gate !== undefined) {
    context.metrics = scope.gate.metrics;
    context.started = new Date(scope.gate.startedAt);
    context.elapsed = Duration.fromMilliseconds(Math.max(0, scope.now - scope.gate.startedAt));
  }
  const previous = activeStatus;
  activeStatus = scope.status;
  try {
    return { ok: true, value: expression.program(context) };
  } catch (error) {
    return { ok: false, error: firstLine((error as Error).message) };
  } finally {
    activeStatus = previous;
  }
}

function firstLine(text: string): string {
  const newline = text.indexOf("\n");
  return newline === -1 ? text : text.slice(0, newline);
}

/** Runs the step (true), skips it (false), or fails it when the condition cannot be evaluated. */
export function evaluateCondition(
  condition: CompiledCondition | null,
  scope: EvaluationScope,
  impliedSuccessWithoutCondition: boolean,
): { ok: true; value: boolean; implied: boolean } | { ok: false; error: string } {
  const status = scope.status;
  if (condition === null) {
    const value = !impliedSuccessWithoutCondition || status === null || status.success;
    return { ok: true, value, implied: !value };
  }
  if (condition.impliedSuccess && status !== null && !status.success) return { ok: true, value: false, implied: true };
  if (condition.constant !== null) return { ok: true, value: condition.constant, implied: false };
  const result = evaluate(condition.expression as CompiledExpression, scope);
  if (!result.ok) return result;
  if (typeof result.value !== "boolean") return { ok: false, error: "the condition is not true or false" };
  return { ok: true, value: result.value, implied: false };
}

// ---------------------------------------------------------------------------------------------
// Values between JSON and CEL.

export function toCelParams(
  declared: ReadonlyMap<string, Param>,
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const type = declared.get(name)?.type;
    if (type === "integer" && typeof value === "number" && Number.isInteger(value)) out[name] = BigInt(value);
    else out[name] = value;
  }
  return out;
}

/** Matrix values: whole numbers are CEL ints, so `matrix.node == 20` and `matrix.node + 1` work. */
export function toCelMatrix(matrix: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(matrix)) {
    out[key] = typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : value;
  }
  return out;
}

/** A CEL value as plain JSON (`with` inputs that are a whole ${{ }}). */
export function toPlain(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Duration) return value.toString();
  if (value instanceof Uint8Array) return Array.from(value);
  if (value instanceof StepValue) return { outcome: value.outcome, outputs: value.outputs };
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  if (value !== null && typeof value === "object") {
    if (typeof (value as { hasValue?: unknown }).hasValue === "function") {
      const optional = value as { hasValue(): boolean; value(): unknown };
      return optional.hasValue() ? toPlain(optional.value()) : null;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}

/** A CEL value as the text a template puts in its place. */
export function toText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  const plain = toPlain(value);
  return typeof plain === "object" && plain !== null ? JSON.stringify(plain) : String(plain);
}

export type Rendered<T> = { ok: true; value: T; secrets: string[] } | { ok: false; error: string };

/**
 * Renders every ${{ }} in a string. `${{ secrets.NAME }}` is left as written (the executor
 * resolves and masks it) and its name collected.
 */
export function renderTemplate(compiler: ConditionCompiler, text: string, scope: EvaluationScope): Rendered<string> {
  if (!text.includes("${{")) return { ok: true, value: text, secrets: [] };
  const { interpolations } = scanInterpolations(text);
  let out = "";
  let from = 0;
  const secrets: string[] = [];
  for (const interpolation of interpolations) {
    out += text.slice(from, interpolation.start);
    from = interpolation.end;
    const secret = secretName(interpolation.expression);
    if (secret !== undefined) {
      secrets.push(secret);
      out += text.slice(interpolation.start, interpolation.end);
      continue;
    }
    const result = evaluate(compiler.expression(interpolation.expression), scope);
    if (!result.ok) return { ok: false, error: `\${{${interpolation.expression}}}: ${result.error}` };
    out += toText(result.value);
  }
  out += text.slice(from);
  return { ok: true, value: out, secrets };
}

/** Renders a `with` value: a string that is one whole ${{ }} keeps the expression's type. */
export function renderValue(compiler: ConditionCompiler, value: unknown, scope: EvaluationScope): Rendered<unknown> {
  if (typeof value === "string") {
    const trimmed = value.trim();
    const { interpolations, unterminatedAt } = scanInterpolations(trimmed);
    const only = interpolations[0];
    if (
      unterminatedAt === null &&
      interpolations.length === 1 &&
      only !== undefined &&
      only.start === 0 &&
      only.end === trimmed.length &&
      secretName(only.expression) === undefined
    ) {
      const result = evaluate(compiler.expression(only.expression), scope);
      if (!result.ok) return { ok: false, error: `\${{${only.expression}}}: ${result.error}` };
      return { ok: true, value: toPlain(result.value), secrets: [] };
    }
    return renderTemplate(compiler, value, scope);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    const secrets: string[] = [];
    for (const item of value) {
      const rendered = renderValue(compiler, item, scope);
      if (!rendered.ok) return rendered;
      out.push(rendered.value);
      secrets.push(...rendered.secrets);
    }
    return { ok: true, value: out, secrets };
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    const secrets: string[] = [];
    for (const [key, item] of Object.entries(value)) {
      const rendered = renderValue(compiler, item, scope);
      if (!rendered.ok) return rendered;
      out[key] = rendered.value;
      secrets.push(...rendered.secrets);
    }
    return { ok: true, value: out, secrets };
  }
  return { ok: true, value, secrets: [] };
}

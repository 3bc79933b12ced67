import "server-only";
import { ParseError, type ParseResult, TypeError as CelTypeError } from "@marcbachmann/cel-js";
import { ConditionError, toLineColumn } from "./condition-error";
import { estimateConditionCost, MAX_CONDITION_COST } from "./cost";
import { ConditionContext } from "./context";
import { conditionEnvironment } from "./environment";
import { LruCache, type LruStats } from "./lru";
import { CONDITION_VARIABLES } from "./attributes";
import { assertTypedSubset, buildConditionTemplate, type TemplateInput } from "./template";

// Compilation happens when a rule is saved or a policy snapshot is (re)loaded, never per request.
// Two caches, both bounded LRUs:
//   sources:   exact source text -> CompiledCondition (the same rule text compiles once);
//   templates: normalized template (literals as parameters, see template.ts) -> the parsed and
//              type-checked cel-js program shared by every condition of that shape.
// A source-cache hit costs a Map lookup. A source miss that hits a template costs a parse and a
// tree walk (no type check: the template was checked, and parameters keep the literal types).
// Measured (bench/authz-cel.ts) that is NOT faster than cel-js's own parse + check, whose checker
// is cheap; templates pay off in memory (about 0.6 KiB per compiled condition against about
// 4 KiB per checked program) and in evaluation (folded literals, flat attribute reads).

export { ConditionError } from "./condition-error";
export type { ConditionErrorCode } from "./condition-error";
export { MAX_CONDITION_COST } from "./cost";

/** Longer sources are refused before parsing; real conditions are a line or three. */
export const MAX_CONDITION_SOURCE_LENGTH = 4_096;

const VARIABLE_HINT = "a condition can use principal, resource, action and request";

export interface ConditionTemplate {
  /** The normalized source the program was compiled from. */
  readonly key: string;
  /** The type-checked cel-js program; checked programs skip re-checking on every call. */
  readonly program: ParseResult;
  /** The request attributes the template reads (flat fields and whole records). */
  readonly inputs: readonly TemplateInput[];
}

export type { TemplateInput } from "./template";

export interface CompiledCondition {
  /** The text the author wrote; explanations and decision logs quote it. */
  readonly source: string;
  /** Estimated worst-case evaluation steps (cost.ts), at most MAX_CONDITION_COST. */
  readonly cost: number;
  readonly template: ConditionTemplate;
  /** The literal values bound to the template's parameters. */
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * Evaluation context reused across calls (context.ts): parameters are fixed, the request's
   * input is attached for one synchronous evaluation and detached after it, so a decision
   * allocates no context object.
   */
  readonly context: ConditionContext;
}

export interface ConditionCacheStats {
  templates: LruStats;
  sources: LruStats;
  /** Conditions whose template did not compile and that got a program of their own. */
  fallbacks: number;
}

export interface ConditionCompiler {
  compile(source: string): CompiledCondition;
  stats(): ConditionCacheStats;
  clear(): void;
}

export interface ConditionCompilerOptions {
  templateCapacity?: number;
  sourceCapacity?: number;
}

function positionOf(source: string, error: unknown): { line: number; column: number } {
  const range = (error as { range?: { start?: unknown } }).range;
  return toLineColumn(source, typeof range?.start === "number" ? range.start : 0);
}

function summaryOf(error: unknown): string {
  if (error instanceof ParseError || error instanceof CelTypeError) return error.summary;
  return error instanceof Error ? error.message : String(error);
}

/** Maps a cel-js parse or type error to the position in the author's source. */
function toConditionError(source: string, error: unknown): ConditionError {
  const position = positionOf(source, error);
  const summary = summaryOf(error);
  if (error instanceof CelTypeError) {
    if (error.code === "unknown_variable")
      return new ConditionError("unknown_variable", `${summary} (${VARIABLE_HINT})`, position);
    if (error.code === "no_such_key") {
      return new ConditionError("unknown_field", summary.replace(/^No such key: /, "Unknown field: "), position);
    }
    return new ConditionError("type", summary, position);
  }
  if (error instanceof ParseError && error.code === "limit_exceeded") {
    return new ConditionError("too_costly", `The condition is too large: ${summary}`, position);
  }
  if (error instanceof ParseError) return new ConditionError("syntax", summary, position);
  // A plain Error from inside cel-js's checker (e.g. an ambiguous overload on an empty list's
  // placeholder element type): still a refusal at save time, never a crash.
  return new ConditionError("type", `The condition could not be type-checked: ${summary}`, position);
}

function parse(source: string): ParseResult {
  try {
    return conditionEnvironment.parse(source);
  } catch (error) {
    throw toConditionError(source, error);
  }
}

/** Type-checks a parsed program in place (cel-js caches the checked types on the tree). */
function checkBoolean(source: string, program: ParseResult): void {
  const result = program.check();
  if (!result.valid) throw toConditionError(source, result.error);
  if (result.type !== "bool") {
    throw new ConditionError(
      "not_boolean",
      `A condition must evaluate to bool, but this expression has type ${result.type}`,
      toLineColumn(source, program.ast.start),
    );
  }
}

function compileTemplate(key: string, inputs: readonly TemplateInput[]): ConditionTemplate | undefined {
  try {
    const program = conditionEnvironment.parse(key);
    const result = program.check();
    return result.valid && result.type === "bool" ? { key, program, inputs } : undefined;
  } catch {
    return undefined;
  }
}

/** The fallback runs the author's tree, which reads the whole records. */
const RECORD_INPUTS: readonly TemplateInput[] = Object.keys(CONDITION_VARIABLES).map((name) => ({
  name,
  record: name,
}));

export function createConditionCompiler(options: ConditionCompilerOptions = {}): ConditionCompiler {
  const templates = new LruCache<string, ConditionTemplate>(options.templateCapacity ?? 1_000);
  const sources = new LruCache<string, CompiledCondition>(options.sourceCapacity ?? 20_000);
  let fallbacks = 0;

  function compileUncached(source: string): CompiledCondition {
    if (source.length > MAX_CONDITION_SOURCE_LENGTH) {
      throw new ConditionError(
        "too_costly",
        `The condition is longer than ${MAX_CONDITION_SOURCE_LENGTH} characters`,
        toLineColumn(source, MAX_CONDITION_SOURCE_LENGTH),
      );
    }
    const parsed = parse(source);
    const { key, params, inputs } = buildConditionTemplate(source, parsed.ast);

    const cost = estimateConditionCost(parsed.ast);
    if (cost > MAX_CONDITION_COST) {
      throw new ConditionError(
        "too_costly",
        `The condition is too expensive: estimated cost ${cost} exceeds ${MAX_CONDITION_COST} ` +
          "(every comprehension or `in` over an attribute list counts up to 100 elements, and nesting multiplies)",
        toLineColumn(source, parsed.ast.start),
      );
    }

    let template = templates.get(key);
    let boundParams: Readonly<Record<string, unknown>> = params;
    if (!template) {
      // Check the author's own tree first: its errors carry positions in the author's text.
      checkBoolean(source, parsed);
      assertTypedSubset(source, parsed.ast);
      template = compileTemplate(key, inputs);
      if (template) {
        templates.set(key, template);
      } else {
        // Not expected (parameters keep the literal types), but a rule must never fail to load
        // because of normalization: run the checked original, unshared.
        fallbacks++;
        template = { key: source, program: parsed, inputs: RECORD_INPUTS };
        boundParams = {};
      }
    }

    return { source, cost, template, params: boundParams, context: new ConditionContext(boundParams) };
  }

  return {
    compile(source: string): CompiledCondition {
      if (typeof source !== "string") {
        throw new ConditionError("syntax", "A condition must be a string", { line: 1, column: 1 });
      }
      const cached = sources.get(source);
      if (cached) return cached;
      const compiled = compileUncached(source);
      sources.set(source, compiled);
      return compiled;
    },
    stats: () => ({ templates: templates.stats(), sources: sources.stats(), fallbacks }),
    clear() {
      templates.clear();
      sources.clear();
    },
  };
}

const defaultCompiler = createConditionCompiler();

/**
 * Parses, checks against the declared attributes (attributes.ts) and bounds a condition, or
 * throws ConditionError with the 1-based line and column. Call it when a rule is saved and when
 * a policy snapshot loads; the result is shared and immutable from the caller's point of view.
 */
export function compileCondition(source: string): CompiledCondition {
  return defaultCompiler.compile(source);
}

export function getConditionCacheStats(): ConditionCacheStats {
  return defaultCompiler.stats();
}

import "server-only";
import { type ASTNode, serialize } from "@marcbachmann/cel-js";
import { type CompiledCondition, createConditionCompiler } from "./compile";
import { toLineColumn } from "./condition-error";
import { conditionEnvironment, type ConditionVars } from "./environment";
import { type ConditionResult, evaluateCondition } from "./evaluate";

// "Near miss" explanations: for a condition that did not hold, which clauses of its top-level
// && / || / ! structure made it fail. Runs only when a caller asks for an explanation (the
// playground, `explain=notes`), so it may re-parse and compile the clauses; the decision path
// never calls it.

export interface ConditionClause {
  /** The clause as CEL text (normalized spacing), e.g. `request.time.getHours() >= 9`. */
  expression: string;
  /** Position of the clause in the condition's source, 1-based. */
  line: number;
  column: number;
  /** What the clause evaluated to; null when it failed with an error. */
  value: boolean | null;
  error?: string;
  /** One line for people: `request.time.getHours() >= 9 evaluated to false`. */
  message: string;
}

export interface ConditionExplanation {
  result: ConditionResult;
  /** The clauses that made the condition false (or failed); empty when it holds. */
  failing: ConditionClause[];
}

// Clause programs get their own small cache so explanations never skew the decision cache's
// hit ratio or evict rules' templates.
const clauseCompiler = createConditionCompiler({ templateCapacity: 256, sourceCapacity: 2_048 });

type Outcome = { value: boolean } | { error: string };

interface Evaluated {
  node: ASTNode;
  outcome: Outcome;
  children: Evaluated[];
}

function isBoolean(outcome: Outcome, expected: boolean): boolean {
  return "value" in outcome && outcome.value === expected;
}

function evaluateLeaf(node: ASTNode, vars: ConditionVars): Outcome {
  try {
    const result = evaluateCondition(clauseCompiler.compile(serialize(node)), vars);
    return result.ok ? { value: result.value } : { error: result.error };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

// Combines children with CEL's commutative semantics: false && error is false, true || error is
// true, otherwise an error wins. This is why clauses are evaluated one by one rather than by
// slicing compound text: it also keeps every clause explainable even after an error elsewhere.
function evaluateTree(node: ASTNode, vars: ConditionVars): Evaluated {
  if (node.op === "&&" || node.op === "||") {
    const children = node.args.map((child) => evaluateTree(child, vars));
    // The value that decides the operator on its own: false for &&, true for ||.
    const dominant = node.op === "||";
    let outcome: Outcome = { value: !dominant };
    if (children.some((child) => isBoolean(child.outcome, dominant))) outcome = { value: dominant };
    else {
      const failed = children.find((child) => "error" in child.outcome);
      if (failed) outcome = failed.outcome;
    }
    return { node, outcome, children };
  }
  if (node.op === "!_") {
    const child = evaluateTree(node.args, vars);
    const outcome = "value" in child.outcome ? { value: !child.outcome.value } : child.outcome;
    return { node, outcome, children: [child] };
  }
  return { node, outcome: evaluateLeaf(node, vars), children: [] };
}

function clause(source: string, evaluated: Evaluated): ConditionClause {
  const expression = serialize(evaluated.node);
  const { line, column } = toLineColumn(source, evaluated.node.start);
  const { outcome } = evaluated;
  if ("error" in outcome) {
    return {
      expression,
      line,
      column,
      value: null,
      error: outcome.error,
      message: `${expression} failed: ${outcome.error}`,
    };
  }
  return { expression, line, column, value: outcome.value, message: `${expression} evaluated to ${outcome.value}` };
}

/** Collects the clauses responsible for `evaluated` having its (unwanted) outcome. */
function collect(source: string, evaluated: Evaluated, out: ConditionClause[]): void {
  const { node, outcome, children } = evaluated;
  if (children.length === 0) {
    out.push(clause(source, evaluated));
    return;
  }
  if (node.op === "!_") {
    const [child] = children;
    if (child) collect(source, child, out);
    return;
  }
  // For && / ||: the children that produced the node's outcome. A false && blames its false
  // children; a false || blames all of them (all were false); a true one (under a !) the true
  // ones; an error blames the failing children.
  for (const child of children) {
    const sameOutcome =
      "error" in outcome ? "error" in child.outcome : isBoolean(child.outcome, (outcome as { value: boolean }).value);
    if (sameOutcome) collect(source, child, out);
  }
}

/**
 * Explains why a condition did not hold: the failing sub-expressions of its top-level
 * && / || / ! structure, each with its position and value. A condition that holds has no
 * failing clauses. Deeper structure (inside comparisons, calls, comprehensions) is one clause.
 */
export function explainCondition(compiled: CompiledCondition, vars: ConditionVars): ConditionExplanation {
  const result = evaluateCondition(compiled, vars);
  if (result.ok && result.value) return { result, failing: [] };

  let ast: ASTNode;
  try {
    ast = conditionEnvironment.parse(compiled.source).ast;
  } catch {
    return { result, failing: [] };
  }
  const failing: ConditionClause[] = [];
  collect(compiled.source, evaluateTree(ast, vars), failing);
  return { result, failing };
}

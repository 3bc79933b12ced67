import "server-only";
import type { ASTNode } from "@marcbachmann/cel-js";
import {
  CONDITION_VARIABLES,
  declaredFieldType,
  isConditionVariable,
  MAX_ATTRIBUTE_COLLECTION_SIZE,
} from "./attributes";

// Save-time cost estimate, in "steps": roughly one step per AST node the evaluator visits.
// cel-js has no step counter and cannot be interrupted, so this bound IS the runtime budget:
// an accepted condition can do at most MAX_CONDITION_COST steps, because
//   - every node counts 1, plus a weight for calls that do more work (below);
//   - && || ?: count BOTH branches (worst case, no short-circuit credit);
//   - a comprehension (exists, all, exists_one, map, filter) counts its body once per element
//     of its range, and `x in list` / list equality count one step per element;
//   - a collection's size is its literal length, or MAX_ATTRIBUTE_COLLECTION_SIZE for attribute
//     values, which environment.ts enforces on every input (so the assumption holds at runtime);
//   - nesting multiplies: a comprehension inside a comprehension costs 100 x 100 x body.
// One step costs 5-30 ns in cel-js on this kind of machine, so the bound is tens of microseconds
// in the worst case; the three-clause condition costs 13.

export const MAX_CONDITION_COST = 1_000;

const COMPREHENSIONS = new Set(["exists", "all", "exists_one", "map", "filter"]);

// Extra steps for calls that do more than one step of work.
const CALL_WEIGHTS: Readonly<Record<string, number>> = {
  // Parse a string: about 1 us each in cel-js. Calls on a literal are folded at compile time
  // (template.ts), so only timestamp(<attribute>) pays this at evaluation.
  timestamp: 50,
  duration: 50,
  size: 2, // strings are measured in code points, one by one
};

/** The declared type of `principal.x` / `resource.x` / `request.x`, when the node is one. */
function declaredType(node: ASTNode): string | undefined {
  if (node.op === "id") return isConditionVariable(node.args) ? CONDITION_VARIABLES[node.args] : undefined;
  if (node.op === "." && node.args[0].op === "id") return declaredFieldType(node.args[0].args, node.args[1]);
  return undefined;
}

/** An upper bound on the number of elements of a collection-valued node. */
function collectionBound(node: ASTNode): number {
  switch (node.op) {
    case "list":
    case "map":
      return node.args.length;
    case "+":
      return collectionBound(node.args[0]) + collectionBound(node.args[1]);
    case "?:":
      return Math.max(collectionBound(node.args[1]), collectionBound(node.args[2]));
    case "rcall":
      if (node.args[0] === "map" || node.args[0] === "filter") return collectionBound(node.args[1]);
      return MAX_ATTRIBUTE_COLLECTION_SIZE;
    default:
      return MAX_ATTRIBUTE_COLLECTION_SIZE;
  }
}

function isMap(node: ASTNode): boolean {
  return node.op === "map" || declaredType(node)?.startsWith("map<") === true;
}

function sum(nodes: readonly ASTNode[]): number {
  let total = 0;
  for (const node of nodes) total += estimateConditionCost(node);
  return total;
}

/** Worst-case evaluation steps of a parsed condition (see the model above). */
export function estimateConditionCost(node: ASTNode): number {
  switch (node.op) {
    case "value":
    case "id":
      return 1;
    case ".":
      return 1 + estimateConditionCost(node.args[0]);
    case "[]":
      return 1 + sum(node.args);
    case "list":
      return 1 + sum(node.args);
    case "map":
      return 1 + node.args.reduce((total, [key, value]) => total + sum([key, value]), 0);
    case "call": {
      const [name, args] = node.args;
      const [first] = args;
      // timestamp("...") / duration("...") on a literal are folded into a parameter at compile time.
      if ((name === "timestamp" || name === "duration") && first?.op === "value") return 1;
      return 1 + (CALL_WEIGHTS[name] ?? 0) + sum(args);
    }
    case "rcall": {
      const [name, receiver, args] = node.args;
      const receiverCost = estimateConditionCost(receiver);
      if (COMPREHENSIONS.has(name)) {
        // args[0] is the iteration variable; the rest run once per element.
        const body = sum(args.slice(1)) + 2;
        return 1 + receiverCost + collectionBound(receiver) * body;
      }
      return 1 + (CALL_WEIGHTS[name] ?? 0) + receiverCost + sum(args);
    }
    case "in": {
      const [needle, haystack] = node.args;
      const scan = isMap(haystack) ? 1 : collectionBound(haystack);
      return 1 + scan + estimateConditionCost(needle) + estimateConditionCost(haystack);
    }
    case "==":
    case "!=": {
      const [left, right] = node.args;
      // List and map equality compare element by element.
      const isAggregate = left.op === "list" || right.op === "list" || left.op === "map" || right.op === "map";
      const aggregate =
        isAggregate || declaredType(left)?.startsWith("list<") || declaredType(left)?.startsWith("map<");
      return 1 + (aggregate ? Math.min(collectionBound(left), collectionBound(right)) : 0) + sum(node.args);
    }
    case "+": {
      const [left, right] = node.args;
      // List concatenation copies both sides.
      const isList = left.op === "list" || right.op === "list" || declaredType(left)?.startsWith("list<") === true;
      return 1 + (isList ? collectionBound(node) : 0) + sum(node.args);
    }
    case "?:":
      return 1 + sum(node.args);
    case "!_":
    case "-_":
      return 1 + estimateConditionCost(node.args);
    default: {
      // Other binary operators, && and ||: both operands, worst case.
      const operands: unknown[] = Array.isArray(node.args) ? node.args : [];
      return 1 + sum(operands.filter((arg): arg is ASTNode => typeof arg === "object" && arg !== null));
    }
  }
}

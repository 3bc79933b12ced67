// Matrix expansion: axes multiplied out, then exclude, then include, with GitHub Actions'
// semantics so people's expectations carry over. Instance ids are derived from the values, not
// from positions, so adding an axis value never renames the instances that already existed
// (their runs, logs and re-runs keep pointing at the same ids).
import type { Matrix, MatrixValue } from "../spec/schema";
import { PIPELINE_LIMITS } from "../spec/schema";

export type MatrixCombination = Readonly<Record<string, MatrixValue>>;

export type MatrixExpansion =
  | { ok: true; combinations: MatrixCombination[] }
  | { ok: false; reason: "product-too-large"; product: number }
  | { ok: false; reason: "too-many-instances"; count: number };

export interface MatrixLimits {
  maxMatrixProduct: number;
  maxMatrixInstances: number;
}

/** The cartesian product size of the axes (0 when there are no axes: include entries only). */
export function matrixProduct(matrix: Matrix): number {
  const axes = Object.values(matrix.axes ?? {});
  if (axes.length === 0) return 0;
  let product = 1;
  for (const values of axes) product *= values.length;
  return product;
}

/** Every key a combination can carry: the axes and the keys include entries add. */
export function matrixKeys(matrix: Matrix): string[] {
  const keys = new Set(Object.keys(matrix.axes ?? {}));
  for (const entry of matrix.include ?? []) for (const key of Object.keys(entry)) keys.add(key);
  return [...keys];
}

function matches(combination: MatrixCombination, entry: MatrixCombination, keys: Iterable<string>): boolean {
  for (const key of keys) {
    if (key in entry && combination[key] !== entry[key]) return false;
  }
  return true;
}

/**
 * The combinations of a matrix, in GitHub's order (the first axis varies slowest).
 * - exclude removes every combination that has all of an entry's key/values;
 * - each include entry is merged into every original combination whose axis values it does
 *   not contradict (values added by earlier includes may be overwritten); when it fits none,
 *   it becomes a combination of its own.
 * Identical combinations (duplicate axis values) are kept once.
 */
export function expandMatrix(matrix: Matrix, limits: MatrixLimits = PIPELINE_LIMITS): MatrixExpansion {
  const axes = Object.entries(matrix.axes ?? {});
  const axisKeys = axes.map(([key]) => key);
  const product = matrixProduct(matrix);
  if (product > limits.maxMatrixProduct) return { ok: false, reason: "product-too-large", product };

  let base: Record<string, MatrixValue>[] = axes.length === 0 ? [] : [{}];
  for (const [key, values] of axes) {
    const next: Record<string, MatrixValue>[] = [];
    for (const combination of base) {
      for (const value of values) next.push({ ...combination, [key]: value });
    }
    base = next;
  }

  const excludes = matrix.exclude ?? [];
  if (excludes.length > 0) {
    base = base.filter((combination) =>
      excludes.every((entry) => {
        const keys = Object.keys(entry);
        return keys.length === 0 || !keys.every((key) => combination[key] === entry[key]);
      }),
    );
  }

  const extra: Record<string, MatrixValue>[] = [];
  for (const entry of matrix.include ?? []) {
    let merged = false;
    for (const combination of base) {
      if (!matches(combination, entry, axisKeys)) continue;
      Object.assign(combination, entry);
      merged = true;
    }
    if (!merged) extra.push({ ...entry });
  }

  const seen = new Set<string>();
  const combinations: MatrixCombination[] = [];
  for (const combination of [...base, ...extra]) {
    const key = combinationKey(combination);
    if (seen.has(key)) continue;
    seen.add(key);
    combinations.push(combination);
  }
  if (combinations.length > limits.maxMatrixInstances) {
    return { ok: false, reason: "too-many-instances", count: combinations.length };
  }
  return { ok: true, combinations };
}

const SAFE_VALUE = /^[A-Za-z0-9_./:@+-]+$/;
const LOOKS_TYPED = /^(?:-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|true|false|null)$/i;

function formatValue(value: MatrixValue): string {
  if (typeof value === "string" && SAFE_VALUE.test(value) && !LOOKS_TYPED.test(value)) return value;
  return JSON.stringify(value);
}

function combinationKey(combination: MatrixCombination): string {
  return Object.keys(combination)
    .sort()
    .map((key) => `${key}=${formatValue(combination[key] as MatrixValue)}`)
    .join(",");
}

/**
 * `test[node=20,os=linux]`: the step id and the combination, keys sorted, so the id depends on
 * the values only. Strings that would read as numbers or booleans are quoted (`v="1"` vs `v=1`).
 */
export function matrixInstanceId(stepId: string, combination: MatrixCombination): string {
  return `${stepId}[${combinationKey(combination)}]`;
}

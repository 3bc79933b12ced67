// Validation of a pipeline document given as plain data (what YAML or JSON parses to): the
// zod schema first, then the rules a schema cannot express (ids, the DAG, CEL scopes, matrix
// sizes, schedules, references). Issues carry paths, not positions: parse.ts anchors them in
// the YAML text, and an API client posting JSON gets the paths.
//
// A schema error does not stop the semantic checks: steps that fail the schema still take part
// in the graph with whatever id and needs they have, so one typo does not hide a cycle.
import { z } from "zod";
import { buildDag, createAncestry, type Dag, findCycles, topologicalOrder } from "../graph/dag";
import { expandMatrix, matrixKeys } from "../graph/matrix";
import { checkCron, checkTimeZone } from "./cron";
import { didYouMean, formatPath, type Issue } from "./diagnostics";
import {
  checkInterpolations,
  type ExpressionEnvironments,
  expressionEnvironmentsFor,
  type ExpressionIssue,
  type ExpressionScope,
  isSecretReference,
  isWholeInterpolation,
  type StepReference,
  unwrapCondition,
} from "./expressions";
import {
  ConcurrencySchema,
  DurationSchema,
  EnvSchema,
  KIND_OUTPUTS,
  PIPELINE_LIMITS,
  type Param,
  ParamSchema,
  type Pipeline,
  PipelineSchema,
  parseDuration,
  refList,
  STEP_KIND_KEYS,
  StageSchema,
  type Step,
  StepIdSchema,
  type StepKindKey,
  type StepKindRegistry,
  StepSchema,
  stepKindOf,
  stepKinds,
  TriggersSchema,
} from "./schema";

export interface ValidateOptions {
  /** Step kinds `uses:` may name; the process-wide registry by default. */
  registry?: StepKindRegistry;
}

export interface StepAnalysis {
  /** The condition calls a status function; otherwise success() is implied. */
  usesStatusFunction: boolean;
  /** Instances the step expands to (1 without a matrix). */
  instances: number;
}

export interface PipelineAnalysis {
  /** The graph of `steps` (handlers are outside it). */
  dag: Dag;
  /** Step ids in topological order, document order among equals. */
  order: string[];
  steps: Record<string, StepAnalysis>;
  /** Secret names referenced anywhere, resolved at run time and never stored in the run record. */
  secrets: string[];
  /** Step instances of one run with every step running, matrices expanded. */
  instanceCount: number;
}

export interface ValidationResult {
  /** The typed pipeline when it has no errors (warnings allowed), otherwise null. */
  pipeline: Pipeline | null;
  issues: Issue[];
  analysis: PipelineAnalysis | null;
}

type Path = (string | number)[];

type Section = "steps" | "handlers";

interface StepEntry {
  section: Section;
  index: number;
  /** The step as the schema typed it; for a step that failed the schema, its salvaged parts. */
  step: Step;
  /** Failed the schema: only id and needs are trusted. */
  partial: boolean;
  raw: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current = data;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === "number") current = current[segment];
    else if (isRecord(current) && typeof segment === "string") current = current[segment];
    else return undefined;
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// zod issues in plain words.

function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else return current;
  }
}

function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = root;
  for (const segment of path) {
    if (current === undefined) return undefined;
    current = childSchema(unwrapSchema(current), segment);
  }
  return current === undefined ? undefined : unwrapSchema(current);
}

function childSchema(schema: z.ZodType, segment: PropertyKey): z.ZodType | undefined {
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as readonly z.ZodType[]) {
      const child = childSchema(unwrapSchema(option), segment);
      if (child !== undefined) return child;
    }
    return undefined;
  }
  if (typeof segment === "number") return schema instanceof z.ZodArray ? (schema.element as z.ZodType) : undefined;
  if (schema instanceof z.ZodObject) return (schema.shape as Record<string, z.ZodType>)[String(segment)];
  if (schema instanceof z.ZodRecord) return schema.valueType as z.ZodType;
  return undefined;
}

function objectKeys(schema: z.ZodType | undefined): string[] {
  if (schema === undefined) return [];
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as readonly z.ZodType[]) {
      const keys = objectKeys(unwrapSchema(option));
      if (keys.length > 0) return keys;
    }
  }
  return [];
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
  null: "null",
};

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return String(value);
  return typeof value;
}

/** "step build", "the pipeline", "retry": what the object at `path` is, for messages. */
function noun(path: readonly (string | number)[], data: unknown): string {
  if (path.length === 0) return "the pipeline";
  const last = path[path.length - 1];
  if (path.length === 2 && (path[0] === "steps" || path[0] === "handlers") && typeof last === "number") {
    const id = valueAt(data, [...path, "id"]);
    const what = path[0] === "steps" ? "step" : "handler";
    return typeof id === "string" ? `${what} "${id}"` : `${what} #${last + 1}`;
  }
  if (typeof last === "number") return `${formatPath(path)}`;
  return `"${last}"`;
}

function fieldName(path: readonly (string | number)[]): string {
  const last = path[path.length - 1];
  return typeof last === "string" ? `"${last}"` : `item ${formatPath(path)}`;
}

interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  keys?: string[];
  values?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  errors?: ZodIssueLike[][];
  issues?: ZodIssueLike[];
}

function toPath(path: readonly PropertyKey[]): Path {
  return path.map((segment) => (typeof segment === "number" ? segment : String(segment)));
}

function isTypeMismatch(issues: readonly ZodIssueLike[]): boolean {
  return issues.every(
    (issue) => issue.path.length === 0 && (issue.code === "invalid_type" || issue.code === "invalid_value"),
  );
}

interface TranslateContext {
  data: unknown;
  root: z.ZodType;
  /** How many leading path segments lead to `root` in `data`. */
  rootPrefix: number;
  code: "invalid-type" | "invalid-input";
  /** Drop issues on whole-interpolation strings (their type is known at run time only). */
  allowInterpolations: boolean;
}

function translateIssue(issue: ZodIssueLike, prefix: Path, context: TranslateContext, out: Issue[]): void {
  const relative = toPath(issue.path);
  const path = [...prefix, ...relative];
  const value = valueAt(context.data, path);
  if (context.allowInterpolations && isWholeInterpolation(value) && issue.code !== "unrecognized_keys") return;
  // A wrong type is invalid-type; a right type with a wrong value (pattern, range, enum) is
  // invalid-value; anything in a step kind's inputs is invalid-input.
  const code = context.code;
  const valueCode = code === "invalid-input" ? code : "invalid-value";
  switch (issue.code) {
    case "unrecognized_keys": {
      const valid = objectKeys(schemaAt(context.root, path.slice(context.rootPrefix)));
      for (const key of issue.keys ?? []) {
        const suggestion = didYouMean(key, valid);
        const hint =
          suggestion !== ""
            ? suggestion
            : valid.length > 0 && valid.length <= 16
              ? `; expected one of: ${valid.join(", ")}`
              : "";
        out.push({
          path: [...path, key],
          message: `unknown key "${key}" in ${noun(path, context.data)}${hint}`,
          code: "unknown-key",
          severity: "error",
          target: { kind: "key" },
        });
      }
      return;
    }
    case "invalid_type": {
      if (value === undefined) {
        const parent = path.slice(0, -1);
        out.push({
          path: parent,
          message: `${noun(parent, context.data)} is missing the required ${fieldName(path)}`,
          code: "missing-field",
          severity: "error",
          target: { kind: "key" },
        });
        return;
      }
      const expected = TYPE_NAMES[issue.expected ?? ""] ?? issue.expected ?? "something else";
      out.push({
        path,
        message: `${fieldName(path)} must be ${expected}, not ${describeValue(value)}`,
        code,
        severity: "error",
      });
      return;
    }
    case "invalid_value": {
      const values = (issue.values ?? []).map((item) => JSON.stringify(item));
      const suggestion = typeof value === "string" ? didYouMean(value, (issue.values ?? []).map(String)) : "";
      out.push({
        path,
        message:
          values.length === 1
            ? `${fieldName(path)} must be ${values[0]}, not ${describeValue(value)}`
            : `${fieldName(path)} must be one of ${values.join(", ")}, not ${describeValue(value)}${suggestion}`,
        code,
        severity: "error",
      });
      return;
    }
    case "too_small":
    case "too_big": {
      const bound = Number(issue.code === "too_small" ? issue.minimum : issue.maximum);
      const small = issue.code === "too_small";
      let message: string;
      if (issue.origin === "array") {
        message = small
          ? `${fieldName(path)} needs at least ${bound} item${bound === 1 ? "" : "s"}`
          : `${fieldName(path)} may have at most ${bound} items`;
      } else if (issue.origin === "string") {
        message = small
          ? bound <= 1
            ? `${fieldName(path)} must not be empty`
            : `${fieldName(path)} needs at least ${bound} characters`
          : `${fieldName(path)} may be at most ${bound} characters long`;
      } else {
        message = `${fieldName(path)} must be ${small ? "at least" : "at most"} ${bound}`;
      }
      out.push({ path, message, code: valueCode, severity: "error" });
      return;
    }
    case "invalid_key": {
      for (const inner of issue.issues ?? []) {
        out.push({ path, message: inner.message, code: valueCode, severity: "error", target: { kind: "key" } });
      }
      return;
    }
    case "invalid_union": {
      const branches = issue.errors ?? [];
      const fitting = branches.filter((branch) => !isTypeMismatch(branch));
      if (fitting.length >= 1) {
        for (const inner of fitting[0] ?? []) translateIssue(inner, path, context, out);
        return;
      }
      const expected = [
        ...new Set(
          branches.flatMap((branch) =>
            branch.map((inner) =>
              inner.code === "invalid_value"
                ? (inner.values ?? []).map((item) => JSON.stringify(item)).join(" or ")
                : (TYPE_NAMES[inner.expected ?? ""] ?? inner.expected ?? "?"),
            ),
          ),
        ),
      ];
      out.push({
        path,
        message: `${fieldName(path)} must be ${expected.join(" or ")}, not ${describeValue(value)}`,
        code,
        severity: "error",
      });
      return;
    }
    default:
      out.push({ path, message: issue.message, code: valueCode, severity: "error" });
  }
}

/** zod issues as pipeline issues, one per unknown key, in plain words. */
function translateZodIssues(issues: readonly z.core.$ZodIssue[], prefix: Path, context: TranslateContext): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) translateIssue(issue as unknown as ZodIssueLike, prefix, context, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Salvage: the parts of a document that fail the schema still give ids and needs.

function safe<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/**
 * A step that fails the schema: drop the keys that carry errors and try again, so the rest of
 * the step is still checked. When its id or needs are broken, or dropping a key would change its
 * kind, only its id and needs take part (partial).
 */
function salvageStep(raw: unknown): { step: Step; partial: boolean } | undefined {
  const parsed = StepSchema.safeParse(raw);
  if (parsed.success) return { step: parsed.data, partial: false };
  if (!isRecord(raw)) return undefined;
  const id = safe(StepIdSchema, raw.id);
  if (id === undefined) return undefined;
  const broken = new Set<string>();
  for (const issue of parsed.error.issues) {
    const [first] = issue.path;
    if (first !== undefined) broken.add(String(first));
    else if (issue.code === "unrecognized_keys") for (const key of issue.keys) broken.add(key);
  }
  const trusted = !broken.has("needs") && !STEP_KIND_KEYS.some((key) => broken.has(key));
  if (trusted) {
    const retry = StepSchema.safeParse(Object.fromEntries(Object.entries(raw).filter(([key]) => !broken.has(key))));
    if (retry.success) return { step: retry.data, partial: false };
  }
  const needs = safe(z.union([StepIdSchema, z.array(z.unknown())]), raw.needs);
  const needList = (typeof needs === "string" ? [needs] : (needs ?? [])).filter(
    (need): need is string => typeof need === "string",
  );
  return { step: { id, needs: needList } as Step, partial: true };
}

function salvagePipeline(data: Record<string, unknown>): Pipeline {
  const params: Record<string, Param> = {};
  if (isRecord(data.params)) {
    for (const [name, spec] of Object.entries(data.params)) {
      // A param with a broken declaration still exists: conditions that read it are not wrong.
      params[name] = safe(ParamSchema, spec) ?? ({ type: "unknown" } as unknown as Param);
    }
  }
  return {
    name: typeof data.name === "string" ? data.name : "",
    params,
    triggers: safe(TriggersSchema, data.triggers),
    env: safe(EnvSchema, data.env),
    concurrency: safe(ConcurrencySchema, data.concurrency),
    timeout: safe(DurationSchema, data.timeout),
    stages: Array.isArray(data.stages)
      ? data.stages.map((stage) => safe(StageSchema, stage)).filter((stage) => stage !== undefined)
      : undefined,
    steps: [],
    handlers: [],
    "on-failure": safe(z.union([StepIdSchema, z.array(StepIdSchema)]), data["on-failure"]),
    finally: safe(z.union([StepIdSchema, z.array(StepIdSchema)]), data.finally),
  } as Pipeline;
}

function stepEntries(section: Section, raw: unknown, valid: Step[] | undefined): StepEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: StepEntry[] = [];
  raw.forEach((item, index) => {
    const typed = valid?.[index];
    if (typed !== undefined && isRecord(item)) {
      entries.push({ section, index, step: typed, partial: false, raw: item });
      return;
    }
    const salvaged = salvageStep(item);
    if (salvaged === undefined || !isRecord(item)) return;
    entries.push({ section, index, step: salvaged.step, partial: salvaged.partial, raw: item });
  });
  return entries;
}

// ---------------------------------------------------------------------------------------------

const KIND_ONLY_FIELDS: Readonly<Record<string, StepKindKey>> = {
  image: "run",
  shell: "run",
  "working-directory": "run",
  outputs: "run",
  with: "uses",
};

const NOT_FOR_HUMAN_STEPS = ["retry", "matrix"] as const;

/** Keys of a step whose strings are ids, CEL or structure, never ${{ }} templates. */
const NON_TEMPLATE_KEYS = new Set([
  "id",
  "needs",
  "if",
  "stage",
  "uses",
  "rollback",
  "on-failure",
  "matrix",
  "outputs",
]);

class Validator {
  readonly issues: Issue[] = [];
  readonly secrets = new Set<string>();
  readonly environments: ExpressionEnvironments;
  readonly params: ReadonlyMap<string, Param["type"]>;
  readonly pipelineEnv: ReadonlySet<string>;
  readonly analysisSteps: Record<string, StepAnalysis> = {};
  instanceCount = 0;

  constructor(
    readonly data: Record<string, unknown>,
    readonly pipeline: Pipeline,
    readonly registry: StepKindRegistry,
  ) {
    this.params = new Map(Object.entries(pipeline.params ?? {}).map(([name, param]) => [name, param.type]));
    this.pipelineEnv = new Set(Object.keys(pipeline.env ?? {}));
    this.environments = expressionEnvironmentsFor(this.params);
  }

  issue(path: Path, message: string, code: Issue["code"], options: Partial<Pick<Issue, "severity" | "target">> = {}) {
    this.issues.push({ path, message, code, severity: options.severity ?? "error", target: options.target });
  }

  expressionIssues(path: Path, offset: number, issues: readonly ExpressionIssue[]) {
    for (const issue of issues) {
      this.issue(path, issue.message, issue.code, {
        severity: issue.severity,
        target: { kind: "range", start: issue.start + offset, end: issue.end + offset },
      });
    }
  }

  run(mainEntries: StepEntry[], handlerEntries: StepEntry[]): PipelineAnalysis {
    const all = [...mainEntries, ...handlerEntries];
    if (all.length > PIPELINE_LIMITS.maxSteps) {
      this.issue(
        ["steps"],
        `a pipeline may have at most ${PIPELINE_LIMITS.maxSteps} steps and handlers, this one has ${all.length}`,
        "too-many-steps",
      );
    }

    // Ids: one namespace for steps and handlers (steps.<id> and instance ids use it).
    const firstById = new Map<string, StepEntry>();
    for (const entry of all) {
      const first = firstById.get(entry.step.id);
      if (first === undefined) {
        firstById.set(entry.step.id, entry);
        continue;
      }
      this.issue(
        [entry.section, entry.index, "id"],
        `duplicate step id "${entry.step.id}": ${formatPath([first.section, first.index])} already uses it`,
        "duplicate-id",
      );
    }
    const handlerIds = new Set(handlerEntries.map((entry) => entry.step.id));
    const mainIds = new Set(mainEntries.map((entry) => entry.step.id));

    // The graph of steps.
    const { dag, unknownNeeds } = buildDag(
      mainEntries.map((entry) => ({ id: entry.step.id, needs: refList(entry.step.needs) })),
    );
    for (const unknown of unknownNeeds) {
      const entry = mainEntries[unknown.node] as StepEntry;
      const path = this.refPath(entry, "needs", unknown.needIndex);
      const message = handlerIds.has(unknown.need)
        ? `"${unknown.need}" is a handler: handlers run outside the graph and cannot be needed`
        : `step "${entry.step.id}" needs "${unknown.need}", which is not a step${didYouMean(
            unknown.need,
            [...mainIds].filter((id) => id !== entry.step.id),
          )}`;
      this.issue(path, message, "unknown-need");
    }
    for (const entry of mainEntries) {
      const needs = refList(entry.step.needs);
      const seen = new Set<string>();
      needs.forEach((need, j) => {
        if (seen.has(need)) {
          this.issue(this.refPath(entry, "needs", j), `"${need}" is listed twice in needs`, "duplicate-need", {
            severity: "warning",
          });
        }
        seen.add(need);
      });
    }
    for (const cycle of findCycles(dag)) {
      const ids = cycle.map((node) => dag.ids[node] as string);
      const first = mainEntries[cycle[0] as number] as StepEntry;
      const next = ids[1 % ids.length] as string;
      const needIndex = refList(first.step.needs).indexOf(next);
      const description = [...ids, ids[0]].map((id) => `"${id}"`).join(" → ");
      this.issue(
        this.refPath(first, "needs", needIndex),
        ids.length === 1
          ? `step "${ids[0]}" needs itself`
          : `cycle: ${description} (each needs the next); remove one of these needs`,
        "cycle",
      );
    }
    const { order, rank } = topologicalOrder(dag);
    const isAncestor = createAncestry(dag, rank);

    this.checkStages(all);
    this.checkHandlerRefs(mainEntries, handlerEntries);

    const outputsOf = (entry: StepEntry): readonly string[] | null => {
      if (entry.partial) return null;
      const kind = stepKindOf(entry.step);
      if (kind === undefined) return null;
      if (kind === "run") return entry.step.outputs ?? [];
      if (kind === "uses") {
        const definition = this.registry.get(entry.step.uses ?? "");
        return definition === undefined ? null : (definition.outputs ?? []);
      }
      return KIND_OUTPUTS[kind];
    };

    for (const entry of all) {
      const nodeIndex = entry.section === "steps" ? dag.index.get(entry.step.id) : undefined;
      const isOwnNode = nodeIndex !== undefined && mainEntries[nodeIndex] === entry;
      const resolveStep = (id: string): StepReference => {
        const target = firstById.get(id);
        if (target === undefined) return { kind: "unknown" };
        if (target === entry) return { kind: "self" };
        if (entry.section === "handlers") {
          return target.section === "steps" ? { kind: "ok", outputs: outputsOf(target) } : { kind: "not-upstream" };
        }
        const targetNode = dag.index.get(id);
        if (target.section === "handlers" || targetNode === undefined || !isOwnNode) return { kind: "not-upstream" };
        return isAncestor(targetNode, nodeIndex)
          ? { kind: "ok", outputs: outputsOf(target) }
          : { kind: "not-upstream" };
      };
      this.checkStep(
        entry,
        resolveStep,
        () => firstById.keys(),
        (from) => {
          const target = firstById.get(from);
          if (target === undefined || target.section !== "steps") return undefined;
          const targetNode = dag.index.get(from);
          if (entry.section === "handlers") return target;
          if (targetNode === undefined || !isOwnNode || !isAncestor(targetNode, nodeIndex)) return null;
          return target;
        },
      );
    }

    if (this.instanceCount > PIPELINE_LIMITS.maxRunInstances) {
      this.issue(
        ["steps"],
        `a run of this pipeline has ${this.instanceCount} step instances; the limit is ${PIPELINE_LIMITS.maxRunInstances}`,
        "matrix-too-large",
      );
    }

    this.checkParams();
    this.checkTriggers();
    this.checkTopLevelEnv();

    return {
      dag,
      order: order.map((node) => dag.ids[node] as string),
      steps: this.analysisSteps,
      secrets: [...this.secrets].sort(),
      instanceCount: this.instanceCount,
    };
  }

  refPath(entry: StepEntry, key: string, index: number): Path {
    const value = entry.raw[key];
    if (Array.isArray(value) && index >= 0) return [entry.section, entry.index, key, index];
    return [entry.section, entry.index, key];
  }

  checkStages(all: readonly StepEntry[]) {
    const stages = this.pipeline.stages ?? [];
    const ids = new Set<string>();
    stages.forEach((stage, index) => {
      if (ids.has(stage.id)) this.issue(["stages", index, "id"], `duplicate stage id "${stage.id}"`, "duplicate-id");
      ids.add(stage.id);
    });
    for (const entry of all) {
      const stage = entry.step.stage;
      if (stage === undefined || ids.has(stage)) continue;
      this.issue(
        [entry.section, entry.index, "stage"],
        stages.length === 0
          ? `stage "${stage}" is not declared: this pipeline has no stages list`
          : `unknown stage "${stage}"${didYouMean(stage, ids)}`,
        "unknown-stage",
      );
    }
  }

  checkHandlerRefs(mainEntries: readonly StepEntry[], handlerEntries: readonly StepEntry[]) {
    const handlerIds = new Set(handlerEntries.map((entry) => entry.step.id));
    const mainIds = new Set(mainEntries.map((entry) => entry.step.id));
    const used = new Set<string>();
    const check = (path: Path, ref: string, what: string) => {
      used.add(ref);
      if (handlerIds.has(ref)) return;
      const message = mainIds.has(ref)
        ? `"${ref}" is a step of the graph; ${what} names a handler (declare it under handlers)`
        : `${what} names "${ref}", which is not a handler${didYouMean(ref, handlerIds)}`;
      this.issue(path, message, "unknown-handler");
    };
    const checkList = (path: Path, raw: unknown, value: string | readonly string[] | undefined, what: string) => {
      for (const [index, ref] of refList(value).entries())
        check(Array.isArray(raw) ? [...path, index] : path, ref, what);
    };
    checkList(["on-failure"], this.data["on-failure"], this.pipeline["on-failure"], "on-failure");
    checkList(["finally"], this.data.finally, this.pipeline.finally, "finally");
    for (const entry of [...mainEntries, ...handlerEntries]) {
      if (entry.partial) continue;
      const base: Path = [entry.section, entry.index];
      checkList([...base, "on-failure"], entry.raw["on-failure"], entry.step["on-failure"], "on-failure");
      if (entry.step.rollback !== undefined) check([...base, "rollback"], entry.step.rollback, "rollback");
      if (entry.section === "handlers" && entry.step.needs !== undefined) {
        this.issue(
          [...base, "needs"],
          "handlers run outside the graph: needs is not allowed here",
          "field-not-allowed",
          {
            target: { kind: "key" },
          },
        );
      }
    }
    for (const entry of handlerEntries) {
      if (!used.has(entry.step.id)) {
        this.issue(
          ["handlers", entry.index, "id"],
          `handler "${entry.step.id}" is never used: reference it from on-failure, rollback or finally`,
          "unused-handler",
          { severity: "warning" },
        );
      }
    }
  }

  checkStep(
    entry: StepEntry,
    resolveStep: (id: string) => StepReference,
    stepIds: () => Iterable<string>,
    fetchable: (from: string) => StepEntry | null | undefined,
  ) {
    const { step } = entry;
    const base: Path = [entry.section, entry.index];
    const analysis: StepAnalysis = { usesStatusFunction: false, instances: 1 };
    this.analysisSteps[step.id] ??= analysis;
    if (entry.partial) {
      this.instanceCount += 1;
      return;
    }

    const kinds = STEP_KIND_KEYS.filter((key) => step[key] !== undefined);
    const kind = kinds.length === 1 ? kinds[0] : undefined;
    if (kinds.length === 0) {
      this.issue(
        [...base, "id"],
        `step "${step.id}" does nothing: give it one of ${STEP_KIND_KEYS.join(", ")}`,
        "missing-kind",
      );
    } else if (kinds.length > 1) {
      this.issue(
        [...base, kinds[1] as string],
        `step "${step.id}" has both ${kinds[0]} and ${kinds[1]}: a step is one kind; split it into two steps`,
        "multiple-kinds",
        { target: { kind: "key" } },
      );
    }
    if (kind !== undefined) {
      for (const [field, required] of Object.entries(KIND_ONLY_FIELDS)) {
        if (entry.raw[field] !== undefined && required !== kind) {
          this.issue(
            [...base, field],
            `${field} belongs to ${required} steps, and "${step.id}" is ${kindArticle(kind)} step`,
            "field-not-allowed",
            {
              target: { kind: "key" },
            },
          );
        }
      }
      if (kind === "approval" || kind === "gate" || kind === "manual") {
        for (const field of NOT_FOR_HUMAN_STEPS) {
          if (entry.raw[field] !== undefined) {
            this.issue([...base, field], `${field} is not available on ${kind} steps`, "field-not-allowed", {
              target: { kind: "key" },
            });
          }
        }
      }
    }

    const scope: ExpressionScope = {
      context: "condition",
      stepId: step.id,
      resolveStep,
      stepIds,
      params: this.params,
      env: new Set([...this.pipelineEnv, ...Object.keys(step.env ?? {})]),
      matrixKeys: step.matrix === undefined ? null : matrixKeys(step.matrix),
    };

    if (kind === "uses") this.checkUses(entry, base);
    if (kind === "approval") this.checkApproval(entry, base);
    if (kind === "gate" && step.gate !== undefined) {
      const gate = step.gate;
      const { expression, offset } = unwrapCondition(gate.condition);
      const result = this.environments.check(
        expression,
        { ...scope, context: "gate", metrics: Object.keys(gate.metrics ?? {}) },
        { expectBool: true },
      );
      this.expressionIssues([...base, "gate", "condition"], offset, result.issues);
      const interval = gate.interval === undefined ? null : parseDuration(gate.interval);
      const timeout = gate.timeout === undefined ? null : parseDuration(gate.timeout);
      if (interval !== null && timeout !== null && interval > timeout) {
        this.issue(
          [...base, "gate", "interval"],
          "the interval is longer than the timeout: the condition would be checked once",
          "invalid-value",
          {
            severity: "warning",
          },
        );
      }
    }

    if (step.if !== undefined && typeof step.if === "string") {
      const { expression, offset } = unwrapCondition(step.if);
      const result = this.environments.check(expression, scope, { expectBool: true });
      analysis.usesStatusFunction = result.usesStatusFunction;
      this.expressionIssues([...base, "if"], offset, result.issues);
    }

    if (step.matrix !== undefined) analysis.instances = this.checkMatrix(entry, base);
    if (entry.section === "steps") this.instanceCount += analysis.instances;

    this.checkArtifacts(entry, base, fetchable);

    const outputs = new Set<string>();
    (step.outputs ?? []).forEach((name, index) => {
      if (outputs.has(name))
        this.issue([...base, "outputs", index], `output "${name}" is listed twice`, "duplicate-id", {
          severity: "warning",
        });
      outputs.add(name);
    });

    // ${{ }} in every template string of the step.
    const templateScope: ExpressionScope = { ...scope, context: "interpolation" };
    for (const [key, value] of Object.entries(entry.raw)) {
      if (NON_TEMPLATE_KEYS.has(key)) continue;
      if (key === "gate") {
        if (isRecord(value)) {
          for (const [gateKey, gateValue] of Object.entries(value)) {
            if (gateKey !== "condition") this.checkTemplates([...base, key, gateKey], gateValue, templateScope);
          }
        }
        continue;
      }
      if (key === "artifacts") {
        if (isRecord(value)) this.checkTemplates([...base, key, "save"], value.save, templateScope);
        continue;
      }
      this.checkTemplates([...base, key], value, templateScope);
    }
  }

  checkTemplates(path: Path, value: unknown, scope: ExpressionScope, options = { allowSecrets: true }) {
    if (typeof value === "string") {
      if (!value.includes("${{")) return;
      const result = checkInterpolations(this.environments, value, scope, options);
      for (const name of result.secrets) this.secrets.add(name);
      this.expressionIssues(path, 0, result.issues);
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) this.checkTemplates([...path, index], item, scope, options);
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) this.checkTemplates([...path, key], item, scope, options);
    }
  }

  checkUses(entry: StepEntry, base: Path) {
    const name = entry.step.uses ?? "";
    const definition = this.registry.get(name);
    if (definition === undefined) {
      const known = this.registry.names();
      const suggestion = didYouMean(name, known);
      this.issue(
        [...base, "uses"],
        `unknown step kind "${name}"${suggestion !== "" ? suggestion : `; known kinds: ${known.join(", ")}`}`,
        "unknown-step-kind",
      );
      return;
    }
    const inputs = entry.step.with ?? {};
    const result = definition.inputs.safeParse(inputs);
    if (result.success) return;
    if (entry.step.with === undefined) {
      const missing = result.error.issues
        .filter((issue) => issue.code === "invalid_type" && issue.path.length === 1)
        .map((issue) => `"${String(issue.path[0])}"`);
      this.issue(
        [...base, "uses"],
        `step kind "${definition.name}" requires the input${missing.length === 1 ? "" : "s"} ${missing.join(", ")}: add them under with:`,
        "invalid-input",
      );
      return;
    }
    const prefix: Path = [...base, "with"];
    this.issues.push(
      ...translateZodIssues(result.error.issues, prefix, {
        data: this.data,
        root: definition.inputs,
        rootPrefix: prefix.length,
        code: "invalid-input",
        allowInterpolations: true,
      }),
    );
  }

  checkApproval(entry: StepEntry, base: Path) {
    const approval = entry.step.approval;
    if (approval === undefined) return;
    const { users = [], teams = [], roles = [] } = approval.approvers;
    if (users.length + teams.length + roles.length === 0) {
      this.issue(
        [...base, "approval", "approvers"],
        "list at least one user, team or role who may approve",
        "invalid-value",
      );
      return;
    }
    const min = approval["min-approvals"] ?? 1;
    if (teams.length === 0 && roles.length === 0 && min > new Set(users).size) {
      this.issue(
        [...base, "approval", "min-approvals"],
        `${min} approvals are required but only ${new Set(users).size} user${users.length === 1 ? " is" : "s are"} listed`,
        "invalid-value",
      );
    }
  }

  checkMatrix(entry: StepEntry, base: Path): number {
    const matrix = entry.step.matrix;
    if (matrix === undefined) return 1;
    const path: Path = [...base, "matrix"];
    const axes = matrix.axes ?? {};
    const axisKeys = Object.keys(axes);
    if (axisKeys.length === 0 && (matrix.include ?? []).length === 0) {
      this.issue(path, "the matrix has neither axes nor include entries", "invalid-matrix");
      return 0;
    }
    for (const [axis, values] of Object.entries(axes)) {
      const seen = new Set<string>();
      values.forEach((value, index) => {
        const key = JSON.stringify(value);
        if (seen.has(key)) {
          this.issue([...path, "axes", axis, index], `${key} is listed twice in axis "${axis}"`, "invalid-matrix", {
            severity: "warning",
          });
        }
        seen.add(key);
      });
    }
    (matrix.exclude ?? []).forEach((exclusion, index) => {
      for (const key of Object.keys(exclusion)) {
        if (!axisKeys.includes(key)) {
          this.issue(
            [...path, "exclude", index, key],
            `exclude names "${key}", which is not an axis${didYouMean(key, axisKeys)}`,
            "invalid-matrix",
            {
              target: { kind: "key" },
            },
          );
        }
      }
    });
    const expansion = expandMatrix(matrix);
    if (!expansion.ok) {
      const message =
        expansion.reason === "product-too-large"
          ? `the axes multiply to ${expansion.product} combinations; the limit is ${PIPELINE_LIMITS.maxMatrixProduct} before exclude`
          : `the matrix expands to ${expansion.count} instances; the limit is ${PIPELINE_LIMITS.maxMatrixInstances} per step`;
      this.issue(path, message, "matrix-too-large", { target: { kind: "key" } });
      // Reported here; counting it in the run's total as well would say the same thing twice.
      return 1;
    }
    if (expansion.combinations.length === 0) {
      this.issue(path, "exclude removes every combination: the step would never run", "invalid-matrix", {
        target: { kind: "key" },
      });
    }
    return expansion.combinations.length;
  }

  checkArtifacts(entry: StepEntry, base: Path, fetchable: (from: string) => StepEntry | null | undefined) {
    const artifacts = entry.step.artifacts;
    if (artifacts === undefined) return;
    const names = new Set<string>();
    (artifacts.save ?? []).forEach((artifact, index) => {
      if (names.has(artifact.name)) {
        this.issue(
          [...base, "artifacts", "save", index, "name"],
          `artifact "${artifact.name}" is saved twice by this step`,
          "invalid-artifact",
        );
      }
      names.add(artifact.name);
    });
    (artifacts.fetch ?? []).forEach((fetch, index) => {
      const path: Path = [...base, "artifacts", "fetch", index];
      const source = fetchable(fetch.from);
      if (source === undefined) {
        this.issue([...path, "from"], `"${fetch.from}" is not a step`, "invalid-artifact");
        return;
      }
      if (source === null) {
        this.issue(
          [...path, "from"],
          `step "${entry.step.id}" does not need "${fetch.from}" (directly or transitively), so its artifacts may not exist yet: add it to needs`,
          "invalid-artifact",
        );
        return;
      }
      if (fetch.name === undefined || source.partial) return;
      const saved = (source.step.artifacts?.save ?? []).map((artifact) => artifact.name);
      if (!saved.includes(fetch.name)) {
        this.issue(
          [...path, "name"],
          saved.length === 0
            ? `step "${fetch.from}" saves no artifacts`
            : `step "${fetch.from}" saves no artifact "${fetch.name}"${didYouMean(fetch.name, saved)}`,
          "invalid-artifact",
        );
      }
    });
  }

  checkParams() {
    for (const [name, param] of Object.entries(this.pipeline.params ?? {})) {
      if (!PARAM_TYPES.includes(param.type)) continue;
      const path: Path = ["params", name];
      const fits = (value: unknown) => paramValueFits(param.type, value);
      if (param.options !== undefined) {
        if (param.type === "boolean") {
          this.issue([...path, "options"], "a boolean param cannot have options", "invalid-param", {
            target: { kind: "key" },
          });
        } else {
          param.options.forEach((option, index) => {
            if (!fits(option))
              this.issue(
                [...path, "options", index],
                `option ${JSON.stringify(option)} is not ${article(param.type)}`,
                "invalid-param",
              );
          });
        }
      }
      if (param.default !== undefined) {
        if (!fits(param.default)) {
          this.issue(
            [...path, "default"],
            `the default ${JSON.stringify(param.default)} is not ${article(param.type)}`,
            "invalid-param",
          );
        } else if (param.options !== undefined && !param.options.some((option) => option === param.default)) {
          this.issue(
            [...path, "default"],
            `the default ${JSON.stringify(param.default)} is not one of the options`,
            "invalid-param",
          );
        }
      }
    }
  }

  checkParamValues(path: Path, values: Readonly<Record<string, unknown>> | undefined, allowTemplates: boolean) {
    const declared = this.pipeline.params ?? {};
    for (const [name, value] of Object.entries(values ?? {})) {
      const param = declared[name];
      if (param === undefined) {
        this.issue(
          [...path, name],
          `unknown param "${name}"${didYouMean(name, Object.keys(declared))}`,
          "invalid-param",
          {
            target: { kind: "key" },
          },
        );
        continue;
      }
      if ((allowTemplates && isWholeInterpolation(value)) || !PARAM_TYPES.includes(param.type)) continue;
      if (!paramValueFits(param.type, value)) {
        this.issue(
          [...path, name],
          `param "${name}" is ${article(param.type)}, not ${describeValue(value)}`,
          "invalid-param",
        );
      } else if (param.options !== undefined && !param.options.some((option) => option === value)) {
        this.issue(
          [...path, name],
          `${JSON.stringify(value)} is not an option of param "${name}": ${param.options.map((option) => JSON.stringify(option)).join(", ")}`,
          "invalid-param",
        );
      }
    }
  }

  checkTriggers() {
    const triggers = this.pipeline.triggers;
    if (triggers === undefined) return;
    const requiredParams = Object.entries(this.pipeline.params ?? {})
      .filter(([, param]) => param.required === true && param.default === undefined)
      .map(([name]) => name);
    (triggers.schedule ?? []).forEach((schedule, index) => {
      const path: Path = ["triggers", "schedule", index];
      for (const issue of checkCron(schedule.cron)) {
        this.issue([...path, "cron"], issue.message, "invalid-cron", {
          target: { kind: "range", start: issue.start, end: issue.end },
        });
      }
      if (schedule.timezone !== undefined) {
        const problem = checkTimeZone(schedule.timezone);
        if (problem !== null) this.issue([...path, "timezone"], problem, "invalid-timezone");
      }
      this.checkParamValues([...path, "params"], schedule.params, false);
      for (const [name, value] of Object.entries(schedule.params ?? {})) {
        if (typeof value === "string" && value.includes("${{")) {
          this.issue(
            [...path, "params", name],
            `schedules supply fixed values: \${{ }} is not available here`,
            "invalid-interpolation",
          );
        }
      }
      const missing = requiredParams.filter((name) => schedule.params?.[name] === undefined);
      if (missing.length > 0) {
        this.issue(
          path,
          `the schedule does not supply the required param${missing.length === 1 ? "" : "s"} ${missing.join(", ")}`,
          "invalid-param",
          {
            target: { kind: "key" },
          },
        );
      }
    });
    const ids = new Set<string>();
    (triggers.webhook ?? []).forEach((webhook, index) => {
      const path: Path = ["triggers", "webhook", index];
      if (ids.has(webhook.id)) this.issue([...path, "id"], `duplicate webhook id "${webhook.id}"`, "duplicate-id");
      ids.add(webhook.id);
      if (!isSecretReference(webhook.secret)) {
        this.issue(
          [...path, "secret"],
          `the webhook secret must be a reference such as \${{ secrets.DEPLOY_HOOK }}, never the secret itself`,
          "secret-reference",
        );
      } else {
        this.checkTemplates([...path, "secret"], webhook.secret, this.webhookScope());
      }
      if (webhook.if !== undefined) {
        const { expression, offset } = unwrapCondition(webhook.if);
        const result = this.environments.check(expression, this.webhookScope(), { expectBool: true });
        this.expressionIssues([...path, "if"], offset, result.issues);
      }
      this.checkParamValues([...path, "params"], webhook.params, true);
      for (const [name, value] of Object.entries(webhook.params ?? {})) {
        this.checkTemplates([...path, "params", name], value, this.webhookScope(), { allowSecrets: false });
      }
    });
  }

  webhookScope(): ExpressionScope {
    return {
      context: "webhook",
      resolveStep: () => ({ kind: "unavailable" }),
      stepIds: () => [],
      params: this.params,
      env: new Set(),
      matrixKeys: null,
    };
  }

  checkTopLevelEnv() {
    const scope: ExpressionScope = {
      context: "interpolation",
      resolveStep: () => ({ kind: "unavailable" }),
      stepIds: () => [],
      params: this.params,
      env: new Set(),
      matrixKeys: null,
    };
    this.checkTemplates(["env"], this.data.env, scope);
  }
}

function kindArticle(kind: StepKindKey): string {
  return kind === "approval" ? "an approval" : `a ${kind}`;
}

const PARAM_TYPES: readonly string[] = ["string", "integer", "number", "boolean"];

function article(type: string): string {
  return type === "integer" ? "an integer" : `a ${type}`;
}

function paramValueFits(type: Param["type"], value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
  }
}

/**
 * Validates a pipeline given as plain data. Never throws on bad input: every problem is an
 * issue with a path.
 */
export function validatePipeline(data: unknown, options: ValidateOptions = {}): ValidationResult {
  const registry = options.registry ?? stepKinds;
  if (!isRecord(data)) {
    return {
      pipeline: null,
      issues: [
        {
          path: [],
          message: `a pipeline is a mapping (name:, steps:, ...), not ${describeValue(data)}`,
          code: "not-a-mapping",
          severity: "error",
        },
      ],
      analysis: null,
    };
  }
  const parsed = PipelineSchema.safeParse(data);
  const issues: Issue[] = parsed.success
    ? []
    : translateZodIssues(parsed.error.issues, [], {
        data,
        root: PipelineSchema,
        rootPrefix: 0,
        code: "invalid-type",
        allowInterpolations: false,
      });
  const pipeline = parsed.success ? parsed.data : salvagePipeline(data);
  const mainEntries = stepEntries("steps", data.steps, parsed.success ? parsed.data.steps : undefined);
  const handlerEntries = stepEntries("handlers", data.handlers, parsed.success ? parsed.data.handlers : undefined);

  const validator = new Validator(data, pipeline, registry);
  const analysis = validator.run(mainEntries, handlerEntries);
  issues.push(...validator.issues);
  const hasError = issues.some((issue) => issue.severity === "error");
  return { pipeline: hasError || !parsed.success ? null : parsed.data, issues, analysis };
}

// .gitlab-ci.yml -> Microstack pipeline, with GitLab's semantics: anchors, aliases and merge
// keys resolved by the YAML loader, `!reference` tags and `extends` (deep-merged maps, replaced
// lists, multi-level) here, `default:` and the legacy top-level defaults applied unless
// `inherit:` says otherwise, stages turned into needs (a job without needs: waits for every job
// of the earlier stages, as GitLab does), rules and when: into conditions, manual, delayed and
// approval steps, parallel into matrices, artifacts into saves and fetches (dependencies and
// needs:artifacts decide, as in GitLab), dotenv reports into outputs. Every keyword is mapped
// or reported with its position.
import { ENV_NAME_PATTERN, type Matrix, type MatrixValue, NAME_PATTERN } from "../spec/schema";
import { expandMatrix } from "../graph/matrix";
import {
  ancestorsOf,
  APPROVER_ROLE_NOTE,
  approvalStep,
  finishImport,
  formatDuration,
  IdAllocator,
  relinkNeeds,
  sanitizeName,
} from "./emit";
import { celMember } from "./github-expressions";
import { translateGitLabExpression } from "./gitlab-expressions";
import { assembleGitLabScript, shellQuote } from "./shell-script";
import {
  describeValue,
  entry,
  type LoadedSource,
  loadSource,
  NoteList,
  scalarText,
  type SourceMap,
  type SourceScalar,
  type SourceValue,
  stringList,
} from "./source";
import type { ImportOptions, ImportResult } from "./types";

const GLOBAL_KEYWORDS = new Set([
  "default",
  "include",
  "stages",
  "variables",
  "workflow",
  "image",
  "services",
  "cache",
  "before_script",
  "after_script",
  "types",
  "spec",
]);
const LEGACY_DEFAULTS = ["image", "services", "cache", "before_script", "after_script"] as const;
const DEFAULT_KEYS = new Set([
  "after_script",
  "artifacts",
  "before_script",
  "cache",
  "hooks",
  "id_tokens",
  "image",
  "interruptible",
  "retry",
  "services",
  "tags",
  "timeout",
]);
const JOB_KEYWORDS = new Set([
  "after_script",
  "allow_failure",
  "artifacts",
  "before_script",
  "cache",
  "coverage",
  "dast_configuration",
  "dependencies",
  "environment",
  "extends",
  "hooks",
  "identity",
  "id_tokens",
  "image",
  "inherit",
  "interruptible",
  "manual_confirmation",
  "needs",
  "only",
  "except",
  "pages",
  "parallel",
  "release",
  "resource_group",
  "retry",
  "rules",
  "run",
  "script",
  "secrets",
  "services",
  "stage",
  "start_in",
  "tags",
  "timeout",
  "trigger",
  "variables",
  "when",
]);

/** GitLab's predefined variables the importer can provide (the rest describe a Git event). */
const PROVIDED_VARIABLES = new Set([
  "CI",
  "CI_PROJECT_DIR",
  "CI_JOB_NAME",
  "CI_JOB_STAGE",
  "CI_NODE_INDEX",
  "CI_NODE_TOTAL",
  "CI_COMMIT_SHA",
  "CI_COMMIT_SHORT_SHA",
]);
/** Variables every shell has; not worth a note. */
const SHELL_VARIABLES = new Set([
  "HOME",
  "PATH",
  "PWD",
  "OLDPWD",
  "USER",
  "SHELL",
  "HOSTNAME",
  "IFS",
  "LANG",
  "TERM",
  "TMPDIR",
  "UID",
  "RANDOM",
  "SECONDS",
  "LINENO",
  "BASH_SOURCE",
  "MICROSTACK_OUTPUT",
]);

type When = "on_success" | "manual" | "always" | "on_failure" | "delayed" | "never";
const WHENS: readonly When[] = ["on_success", "manual", "always", "on_failure", "delayed", "never"];

interface Variable {
  name: string;
  /** The value after expansion of variables defined in the file; null when it reads others. */
  resolved: string | number | boolean | null;
  raw: string;
  node: SourceValue;
  expand: boolean;
}

interface Job {
  name: string;
  /** The job after extends, default and inherit. */
  config: SourceMap;
  /** Where the job is written. */
  node: SourceMap;
  stepId: string;
  stage: string;
  stageIndex: number;
  trigger: boolean;
  mode: When;
  condition: string | null;
  conditionUsesStatus: boolean;
  allowFailure: boolean;
  /** Non-blocking: later stages do not wait for it (manual jobs with allow_failure: true). */
  nonBlocking: boolean;
  explicitNeeds: { job: string; artifacts: boolean; node: SourceValue }[] | null;
  needs: string[];
  variables: Map<string, Variable>;
  ruleVariables: SourceValue | undefined;
  ruleNeeds: SourceValue | undefined;
  artifactName: string | null;
  dotenv: string[];
  /** Variables the job's script writes to its dotenv report: the step's outputs. */
  dotenvNames: string[];
  /** The artifacts it saves. */
  save: Record<string, unknown> | null;
  /** Comment lines for the step in the generated YAML. */
  comments: string[];
  checkoutKey: string | null;
}

/** `1h 30m`, `3 hours`, `90 minutes`, `1 day`, `3600` (seconds): seconds, or null. */
export function parseGitLabDuration(text: string): number | null {
  const trimmed = text.trim().toLowerCase();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const units: Record<string, number> = {
    s: 1,
    sec: 1,
    secs: 1,
    second: 1,
    seconds: 1,
    m: 60,
    min: 60,
    mins: 60,
    minute: 60,
    minutes: 60,
    h: 3600,
    hr: 3600,
    hrs: 3600,
    hour: 3600,
    hours: 3600,
    d: 86400,
    day: 86400,
    days: 86400,
    w: 604800,
    wk: 604800,
    wks: 604800,
    week: 604800,
    weeks: 604800,
    mo: 2592000,
    mos: 2592000,
    month: 2592000,
    months: 2592000,
    y: 31536000,
    yr: 31536000,
    yrs: 31536000,
    year: 31536000,
    years: 31536000,
  };
  let total = 0;
  let matched = "";
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)\s*(?:and\s*)?,?\s*/g)) {
    const size = units[match[2] ?? ""];
    if (size === undefined) return null;
    total += Number(match[1]) * size;
    matched += match[0];
  }
  if (matched.replace(/\s/g, "") !== trimmed.replace(/\s/g, "") || total <= 0) return null;
  return total;
}

/** A script keyword as lines: a string, or a list with lists nested in it (from !reference). */
function flattenScript(node: SourceValue | undefined): string[] {
  const out: string[] = [];
  const walk = (value: SourceValue | undefined, depth: number) => {
    if (value === undefined) return;
    if (value.kind === "scalar") {
      if (value.value !== null) out.push(String(value.value));
    } else if (value.kind === "seq" && depth < 10) {
      for (const item of value.items) walk(item, depth + 1);
    }
  };
  walk(node, 0);
  return out;
}

/** Expands $VAR, ${VAR} and $$ in a value with the given variables; null if one is unknown. */
function expandVariables(text: string, lookup: (name: string) => string | null): { value: string; unknown: string[] } {
  const unknown: string[] = [];
  const value = text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced?: string, bare?: string) => {
      if (match === "$$") return "$";
      const name = (braced ?? bare) as string;
      const found = lookup(name);
      if (found === null) {
        unknown.push(name);
        return match;
      }
      return found;
    },
  );
  return { value, unknown };
}

/** A GitLab value for the inside of a double-quoted shell word: $VAR expands, nothing else. */
function gitlabShellWord(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/`/g, "\\`")
    .replace(/\$\$/g, "\\$")
    .replace(/\$(?![A-Za-z_{])/g, "\\$")
    .replace(/\$\{(?![A-Za-z_][A-Za-z0-9_]*\})/g, "\\${");
}

class GitLabImporter {
  readonly ids = new IdAllocator();
  readonly stageIds = new IdAllocator();
  readonly jobs = new Map<string, Job>();
  readonly order: Job[] = [];
  readonly params = new Map<string, Record<string, unknown>>();
  readonly pipelineEnv: Record<string, string | number | boolean> = {};
  readonly globalVariables = new Map<string, Variable>();
  /** Global variables only a shell can expand (they read predefined or outside variables). */
  readonly globalExports: Variable[] = [];
  readonly steps: Record<string, unknown>[] = [];
  readonly stepComments = new Map<string, string[]>();
  readonly checkouts = new Map<string, { id: string; inputs: Record<string, unknown> }>();
  readonly templates = new Map<string, SourceMap>();
  readonly resolving = new Set<string>();
  readonly resolved = new Map<string, SourceMap>();
  readonly unknownVariables = new Map<string, { node: SourceValue }>();
  readonly predefinedVariables = new Map<string, { node: SourceValue }>();
  stages: string[] = [];
  stageNodes = new Map<string, SourceValue>();
  defaults: SourceMap | null = null;

  constructor(
    readonly root: SourceMap,
    readonly header: SourceMap | null,
    readonly notes: NoteList,
    readonly options: ImportOptions,
    readonly source: LoadedSource,
  ) {}

  run(): ImportResult {
    const { root, notes } = this;
    this.resolveReferences(root, 0);
    if (this.header !== null) this.specInputs();
    this.includes();
    this.workflow();
    this.readStages();
    this.readGlobalVariables();
    // GitLab's runners set CI=true for every job; tools (npm, jest, ...) behave by it.
    if (this.pipelineEnv.CI === undefined) this.pipelineEnv.CI = "true";
    this.readDefaults();

    const jobEntries: [string, SourceMap][] = [];
    for (const [key, value] of root.entries) {
      if (GLOBAL_KEYWORDS.has(key) && key !== "spec") continue;
      if (key === "spec") {
        notes.add(
          "warning",
          "spec-header",
          value,
          "spec: belongs in a header document above ---; it was ignored here.",
          { target: "key" },
        );
        continue;
      }
      if (key.startsWith(".")) {
        if (value.kind === "map") this.templates.set(key, value);
        continue;
      }
      if (value.kind !== "map") {
        notes.add(
          "warning",
          "unknown-key",
          value,
          `"${key}" is neither a GitLab keyword nor a job (a job is a mapping); it was ignored.`,
          { target: "key" },
        );
        continue;
      }
      jobEntries.push([key, value]);
    }
    for (const [name, node] of jobEntries) this.readJob(name, node);
    this.buildGraph();
    this.emitSteps();
    this.reportVariables();
    this.reportMissingImages();

    if (this.steps.length === 0) {
      this.steps.push({ id: this.ids.allocate("placeholder"), uses: "noop" });
      notes.addAtStart(
        "error",
        "no-steps",
        "No job of the file could be imported; the pipeline has one placeholder noop step. Add steps in the editor.",
      );
    }
    const pipeline: Record<string, unknown> = { version: 1, name: this.pipelineName() };
    if (this.params.size > 0) pipeline.params = Object.fromEntries(this.params);
    if (Object.keys(this.pipelineEnv).length > 0) pipeline.env = this.pipelineEnv;
    const usedStages = this.stages.filter((stage) =>
      this.order.some((job) => job.stage === stage && !job.trigger && job.mode !== "never"),
    );
    if (usedStages.length > 0) {
      pipeline.stages = usedStages.map((stage) => {
        const id = this.stageId(stage);
        return id === stage ? { id } : { id, name: stage };
      });
    }
    pipeline.steps = this.steps;
    const header = [
      `Imported from GitLab CI/CD${this.options.fileName === undefined ? "" : ` (${this.options.fileName})`}.`,
      "Review the import notes: they list what was not carried over and where.",
    ];
    return finishImport({ header, pipeline, stepComments: this.stepComments }, notes);
  }

  pipelineName(): string {
    const fromOptions = this.options.name?.trim();
    if (fromOptions) return fromOptions.slice(0, 200);
    const fromWorkflow = scalarText(entry(entry(this.root, "workflow"), "name"))?.trim();
    if (fromWorkflow && !fromWorkflow.includes("$")) return fromWorkflow.slice(0, 200);
    const file = this.options.fileName
      ?.replace(/^.*[\\/]/, "")
      .replace(/\.ya?ml$/i, "")
      .replace(/^\.+/, "");
    return file !== undefined && file !== "" && file !== "gitlab-ci" ? file : "imported-gitlab-pipeline";
  }

  stageIdCache = new Map<string, string>();
  stageId(stage: string): string {
    let id = this.stageIdCache.get(stage);
    if (id === undefined) {
      id = this.stageIds.allocate(stage.replace(/^\./, ""), "stage");
      this.stageIdCache.set(stage, id);
    }
    return id;
  }

  // -------------------------------------------------------------------------------------------
  // !reference, includes, workflow, stages, variables, defaults.

  /** Replaces `!reference [.job, key, ...]` with the value it names (nested up to 10 levels). */
  resolveReferences(node: SourceValue, depth: number): SourceValue {
    if (node.kind === "seq" && node.tag === "!reference") {
      const path = node.items.map((item) => scalarText(item) ?? "");
      let target: SourceValue | undefined = this.root;
      for (const segment of path) target = entry(target, segment);
      if (target === undefined || path.length === 0) {
        this.notes.add(
          "error",
          "unknown-reference",
          node,
          `!reference [${path.join(", ")}] names nothing in this file (it may come from an include); it was dropped.`,
        );
        return { kind: "seq", items: [], path: node.path, range: node.range };
      }
      if (depth >= 10) {
        this.notes.add(
          "error",
          "unknown-reference",
          node,
          "!reference tags nest more than 10 levels deep; this one was dropped.",
        );
        return { kind: "seq", items: [], path: node.path, range: node.range };
      }
      return this.resolveReferences(target, depth + 1);
    }
    if (node.kind === "seq") {
      node.items = node.items.map((item) => this.resolveReferences(item, depth));
    } else if (node.kind === "map") {
      for (const [key, value] of node.entries) {
        const resolved = this.resolveReferences(value, depth);
        if (resolved !== value) {
          const copy = { ...resolved, keyRange: value.keyRange } as SourceValue;
          node.entries.set(key, copy);
        }
      }
    }
    return node;
  }

  specInputs(): void {
    const inputs = entry(entry(this.header, "spec"), "inputs");
    for (const [name, spec] of inputs?.kind === "map" ? inputs.entries : []) {
      const type = scalarText(entry(spec, "type")) ?? "string";
      const param: Record<string, unknown> = {
        type: type === "boolean" ? "boolean" : type === "number" ? "number" : "string",
      };
      if (type === "array")
        this.notes.add(
          "warning",
          "input-type",
          spec,
          `Input "${name}" is an array; it became a string param (JSON text).`,
          { target: "key" },
        );
      const description = scalarText(entry(spec, "description"));
      if (description !== undefined) param.description = description;
      const options = stringList(entry(spec, "options")).map((option) => option.value as string | number);
      if (options.length > 0 && param.type !== "boolean") param.options = options;
      const defaultNode = entry(spec, "default");
      if (defaultNode?.kind === "scalar" && defaultNode.value !== null) param.default = defaultNode.value;
      else param.required = true;
      const regex = entry(spec, "regex");
      if (regex !== undefined)
        this.notes.add("info", "input-regex", regex, `The regex check of input "${name}" is not carried over.`, {
          target: "key",
        });
      const paramName = NAME_PATTERN.test(name) ? name : sanitizeName(name, "input");
      this.params.set(paramName, param);
    }
    if (this.params.size > 0) {
      this.notes.add(
        "info",
        "spec-inputs",
        entry(this.header, "spec") ?? this.header ?? this.root,
        `The spec: inputs became params; $[[ inputs.NAME ]] in the file became \${{ params.NAME }}.`,
        { target: "key" },
      );
    }
  }

  includes(): void {
    const include = entry(this.root, "include");
    if (include === undefined) return;
    const items = include.kind === "seq" ? include.items : [include];
    for (const item of items) {
      const what =
        item.kind === "scalar"
          ? String(item.value)
          : ["local", "project", "remote", "template", "component"]
              .filter((key) => entry(item, key) !== undefined)
              .map(
                (key) =>
                  `${key}: ${describeValue(entry(item, key))}${key === "project" && entry(item, "file") !== undefined ? ` ${describeValue(entry(item, "file"))}` : ""}`,
              )
              .join(", ") || describeValue(item);
      this.notes.add(
        "error",
        "include-not-fetched",
        item,
        `include ${what} was not fetched: the importer reads this file only. Paste the included jobs and templates into the file (inline it) and import again.`,
      );
    }
  }

  workflow(): void {
    const workflow = entry(this.root, "workflow");
    if (workflow === undefined) return;
    for (const [key, value] of workflow.kind === "map" ? workflow.entries : []) {
      if (key === "rules") {
        this.notes.add(
          "warning",
          "workflow-rules",
          value,
          "workflow:rules decide whether GitLab creates a pipeline for a push, merge request, tag or schedule; Microstack starts runs by hand, on a schedule or from a webhook, so they were not carried over. Their variables: are not set either.",
          { target: "key" },
        );
      } else if (key === "name") {
        this.notes.add(
          "info",
          "workflow-name",
          value,
          "workflow:name is used as the pipeline's name only when it has no variables.",
          { target: "key" },
        );
      } else {
        this.notes.add("info", "workflow-option", value, `workflow:${key} is not carried over.`, { target: "key" });
      }
    }
  }

  readStages(): void {
    const node = entry(this.root, "stages") ?? entry(this.root, "types");
    if (entry(this.root, "types") !== undefined) {
      this.notes.add(
        "info",
        "types",
        entry(this.root, "types") as SourceValue,
        "types: is the old name of stages:; it was read as stages.",
        { target: "key" },
      );
    }
    const declared =
      node === undefined ? ["build", "test", "deploy"] : stringList(node).map((item) => String(item.value));
    for (const item of stringList(node)) this.stageNodes.set(String(item.value), item);
    this.stages = [".pre", ...declared.filter((stage) => stage !== ".pre" && stage !== ".post"), ".post"];
  }

  readGlobalVariables(): void {
    const node = entry(this.root, "variables");
    if (node === undefined) return;
    const raw = this.variableMap(node, "global");
    // Prefilled variables (with a description) are what GitLab asks for when a pipeline is run by
    // hand: typed params here, passed to every step through the pipeline env.
    for (const variable of raw.values()) {
      const spec = variable.node;
      const description = spec.kind === "map" ? scalarText(entry(spec, "description")) : undefined;
      const options =
        spec.kind === "map" ? stringList(entry(spec, "options")).map((option) => String(option.value)) : [];
      if (description === undefined && options.length === 0) continue;
      const param: Record<string, unknown> = { type: "string" };
      if (description !== undefined) param.description = description.slice(0, 2000);
      if (options.length > 0) param.options = options;
      if (options.length === 0 || options.includes(variable.raw)) param.default = variable.raw;
      const name = NAME_PATTERN.test(variable.name) ? variable.name : sanitizeName(variable.name, "param");
      this.params.set(name, param);
      this.notes.add(
        "info",
        "prefilled-variable",
        spec,
        `${variable.name} is a prefilled variable (description/options); it became the param "${name}", and the pipeline env passes it to the scripts.`,
        { target: "key" },
      );
    }
    const lookup = (name: string): string | null => {
      const found = raw.get(name);
      if (found === undefined || this.params.has(name)) return null;
      return found.expand ? null : found.raw;
    };
    this.resolveVariables(raw, lookup);
    for (const variable of raw.values()) {
      this.globalVariables.set(variable.name, variable);
      if (this.params.has(variable.name)) {
        this.pipelineEnv[variable.name] = `\${{ ${celMember("params", variable.name)} }}`;
      } else if (variable.resolved !== null) {
        this.pipelineEnv[variable.name] = variable.resolved;
      } else {
        this.globalExports.push(variable);
      }
    }
    if (this.globalExports.length > 0) {
      this.notes.add(
        "info",
        "variable-exports",
        node,
        `Variables that read variables the file does not define (${this.globalExports.map((variable) => variable.name).join(", ")}) are computed by the shell at the top of every job's script, as GitLab expands them.`,
        { target: "key" },
      );
    }
  }

  /** Expands variables that read other variables of the file (repeatedly, as GitLab does). */
  resolveVariables(variables: Map<string, Variable>, outer: (name: string) => string | null): void {
    const done = new Map<string, string | null>();
    const resolve = (name: string, stack: Set<string>): string | null => {
      if (done.has(name)) return done.get(name) ?? null;
      const variable = variables.get(name);
      if (variable === undefined) return outer(name);
      if (this.params.has(name)) return null;
      if (!variable.expand || typeof variable.resolved !== "string") {
        done.set(name, String(variable.resolved ?? variable.raw));
        return String(variable.resolved ?? variable.raw);
      }
      if (stack.has(name)) return null;
      stack.add(name);
      const expanded = expandVariables(variable.raw, (other) => resolve(other, stack));
      stack.delete(name);
      const value = expanded.unknown.length === 0 ? expanded.value : null;
      done.set(name, value);
      return value;
    };
    for (const variable of variables.values()) {
      if (!variable.expand || typeof variable.resolved !== "string") continue;
      const value = resolve(variable.name, new Set());
      variable.resolved = value;
    }
  }

  variableMap(node: SourceValue, level: "global" | "job"): Map<string, Variable> {
    const out = new Map<string, Variable>();
    if (node.kind !== "map") {
      this.notes.add("warning", "variables", node, "variables: must be a mapping; it was ignored.", { target: "key" });
      return out;
    }
    for (const [name, spec] of node.entries) {
      if (!ENV_NAME_PATTERN.test(name)) {
        this.notes.add(
          "warning",
          "variable-name",
          spec,
          `"${name}" is not a valid variable name for Microstack's env; it was dropped.`,
          { target: "key" },
        );
        continue;
      }
      let value: SourceValue | undefined = spec;
      let expand = true;
      if (spec.kind === "map") {
        value = entry(spec, "value");
        const expandNode = entry(spec, "expand");
        if (expandNode?.kind === "scalar" && expandNode.value === false) expand = false;
        for (const [key, child] of spec.entries) {
          if (key === "value" || key === "expand") continue;
          if ((key === "description" || key === "options") && level === "global") continue;
          this.notes.add("info", "variable-option", child, `variables.${name}.${key} is not carried over.`, {
            target: "key",
          });
        }
      }
      if (value !== undefined && value.kind !== "scalar") {
        this.notes.add("warning", "variable-value", value, `${name} is not a string; it was dropped.`);
        continue;
      }
      const plain = value === undefined || value.kind !== "scalar" ? "" : value.value;
      const text = plain === null ? "" : String(plain);
      const inputs = this.inputReferences(text);
      out.set(name, {
        name,
        resolved: typeof plain === "string" ? (inputs ?? text) : (plain ?? ""),
        raw: inputs ?? text,
        node: spec,
        expand,
      });
    }
    return out;
  }

  /** `$[[ inputs.x ]]` -> `${{ params.x }}`; null when the text has none. */
  inputReferences(text: string): string | null {
    if (!text.includes("$[[")) return null;
    return text.replace(
      /\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*(?:\|[^\]]*)?\]\]/g,
      (_, name: string) => `\${{ ${celMember("params", name)} }}`,
    );
  }

  readDefaults(): void {
    const defaults = entry(this.root, "default");
    const map: SourceMap = { kind: "map", entries: new Map(), path: ["default"], range: defaults?.range ?? [0, 0] };
    if (defaults?.kind === "map") {
      for (const [key, value] of defaults.entries) {
        if (DEFAULT_KEYS.has(key)) map.entries.set(key, value);
        else
          this.notes.add(
            "warning",
            "unknown-key",
            value,
            `default:${key} is not a keyword GitLab applies to jobs; it was ignored.`,
            { target: "key" },
          );
      }
    }
    for (const key of LEGACY_DEFAULTS) {
      const value = entry(this.root, key);
      if (value === undefined) continue;
      this.notes.add(
        "info",
        "legacy-default",
        value,
        `Top-level ${key}: is GitLab's old form of default:${key}; it was applied as a default.`,
        { target: "key" },
      );
      if (!map.entries.has(key)) map.entries.set(key, value);
    }
    this.defaults = map.entries.size > 0 ? map : null;
  }

  // -------------------------------------------------------------------------------------------
  // extends.

  /** Deep merge as GitLab's extends does: maps merge key by key, everything else is replaced. */
  merge(base: SourceMap, override: SourceMap): SourceMap {
    const out: SourceMap = { ...override, entries: new Map(base.entries) };
    for (const [key, value] of override.entries) {
      const previous = out.entries.get(key);
      out.entries.set(key, previous?.kind === "map" && value.kind === "map" ? this.merge(previous, value) : value);
    }
    return out;
  }

  resolveExtends(name: string, node: SourceMap, depth: number, jobName: string): SourceMap {
    const cached = this.resolved.get(name);
    if (cached !== undefined) return cached;
    const extendsNode = entry(node, "extends");
    const parents = stringList(extendsNode);
    let result: SourceMap = { ...node, entries: new Map() };
    if (parents.length > 0) {
      if (depth >= 11) {
        this.notes.add(
          "error",
          "extends-depth",
          extendsNode as SourceValue,
          `extends nests more than 11 levels deep from "${jobName}"; the deeper levels were ignored.`,
        );
      } else {
        this.resolving.add(name);
        for (const parentNode of parents) {
          const parent = String(parentNode.value);
          const target =
            this.templates.get(parent) ??
            (entry(this.root, parent)?.kind === "map" ? (entry(this.root, parent) as SourceMap) : undefined);
          if (target === undefined) {
            this.notes.add(
              "error",
              "unknown-extends",
              parentNode,
              `"${name}" extends "${parent}", which is not in this file${entry(this.root, "include") === undefined ? "" : " (it probably comes from an include)"}; what it defines is missing from "${jobName}".`,
            );
            continue;
          }
          if (this.resolving.has(parent)) {
            this.notes.add(
              "error",
              "extends-cycle",
              parentNode,
              `extends "${parent}" from "${name}" is circular; it was ignored.`,
            );
            continue;
          }
          result = this.merge(result, this.resolveExtends(parent, target, depth + 1, jobName));
        }
        this.resolving.delete(name);
      }
    }
    const own: SourceMap = { ...node, entries: new Map([...node.entries].filter(([key]) => key !== "extends")) };
    result = this.merge(result, own);
    this.resolved.set(name, result);
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // One job.

  readJob(name: string, node: SourceMap): void {
    const { notes } = this;
    let config = this.resolveExtends(name, node, 0, name);
    config = this.applyDefaults(config);
    for (const [key, value] of config.entries) {
      if (!JOB_KEYWORDS.has(key)) {
        notes.add("warning", "unknown-key", value, `"${key}" is not a GitLab job keyword; it was ignored.`, {
          target: "key",
        });
      }
    }
    const stageNode = entry(config, "stage");
    let stage = scalarText(stageNode) ?? "test";
    if (stage.includes("$[[")) {
      // The stage must be known before a run starts: the input's default decides it.
      const resolved = stage.replace(/\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*(?:\|[^\]]*)?\]\]/g, (_, input: string) => {
        const param = this.params.get(input) ?? this.params.get(sanitizeName(input, "input"));
        return param?.default === undefined ? "" : String(param.default);
      });
      notes.add(
        "info",
        "input-stage",
        stageNode as SourceValue,
        `stage: ${stage} uses an input; the input's default "${resolved}" decides the stage here.`,
      );
      stage = resolved === "" ? "test" : resolved;
    }
    if (!this.stages.includes(stage)) {
      notes.add(
        "error",
        "unknown-stage",
        stageNode ?? node,
        `Stage "${stage}" of "${name}" is not in stages:; the job was put in a stage of its own after the declared ones.`,
      );
      this.stages.splice(this.stages.length - 1, 0, stage);
    }
    if (stage === "") stage = "test";
    const job: Job = {
      name,
      config,
      node,
      stepId: this.ids.allocate(name),
      stage,
      stageIndex: this.stages.indexOf(stage),
      trigger: config.entries.has("trigger"),
      mode: "on_success",
      condition: null,
      conditionUsesStatus: false,
      allowFailure: false,
      nonBlocking: false,
      explicitNeeds: null,
      needs: [],
      variables: new Map(),
      ruleVariables: undefined,
      ruleNeeds: undefined,
      artifactName: null,
      dotenv: [],
      dotenvNames: [],
      save: null,
      comments: [],
      checkoutKey: null,
    };
    this.readVariables(job);
    this.readWhen(job);
    this.readExplicitNeeds(job);
    this.jobs.set(name, job);
    this.order.push(job);
  }

  applyDefaults(config: SourceMap): SourceMap {
    if (this.defaults === null) return config;
    const inherit = entry(config, "inherit");
    const setting = entry(inherit, "default");
    let allowed: (key: string) => boolean = () => true;
    if (setting?.kind === "scalar" && setting.value === false) allowed = () => false;
    else if (setting?.kind === "seq") {
      const keys = new Set(stringList(setting).map((item) => String(item.value)));
      allowed = (key) => keys.has(key);
    }
    const out: SourceMap = { ...config, entries: new Map(config.entries) };
    for (const [key, value] of this.defaults.entries) {
      if (!out.entries.has(key) && allowed(key)) out.entries.set(key, value);
    }
    return out;
  }

  readVariables(job: Job): void {
    const inherit = entry(entry(job.config, "inherit"), "variables");
    let inherited = (_name: string) => true;
    if (inherit?.kind === "scalar" && inherit.value === false) inherited = () => false;
    else if (inherit?.kind === "seq") {
      const names = new Set(stringList(inherit).map((item) => String(item.value)));
      inherited = (name) => names.has(name);
    }
    const own = entry(job.config, "variables");
    const variables = own === undefined ? new Map<string, Variable>() : this.variableMap(own, "job");
    const outer = (name: string): string | null => {
      const global = this.globalVariables.get(name);
      if (global === undefined || !inherited(name) || this.params.has(name)) return null;
      return global.resolved === null ? null : String(global.resolved);
    };
    this.resolveVariables(variables, outer);
    job.variables = variables;
    const notInherited = [...this.globalVariables.keys()].filter((name) => !inherited(name));
    if (notInherited.length > 0 && inherit !== undefined) {
      this.notes.add(
        "warning",
        "inherit-variables",
        inherit,
        `"${job.name}" does not inherit ${notInherited.join(", ")}; Microstack passes the pipeline's env to every step, so they were set to "" for this job.`,
      );
      for (const name of notInherited) {
        if (!variables.has(name)) {
          variables.set(name, { name, resolved: "", raw: "", node: inherit, expand: false });
        }
      }
    }
  }

  /** when:, rules:, only/except: whether the job runs, how, and on which condition. */
  readWhen(job: Job): void {
    const { config } = job;
    const { notes } = this;
    const whenNode = entry(config, "when");
    const rules = entry(config, "rules");
    const allowFailureNode = entry(config, "allow_failure");
    let allowFailureExplicit: boolean | null = null;
    if (allowFailureNode?.kind === "scalar" && typeof allowFailureNode.value === "boolean")
      allowFailureExplicit = allowFailureNode.value;
    else if (allowFailureNode?.kind === "map") {
      notes.add(
        "warning",
        "allow-failure-exit-codes",
        allowFailureNode,
        `allow_failure: exit_codes ${describeValue(entry(allowFailureNode, "exit_codes"))} cannot be expressed: Microstack's continue-on-error covers every exit code. It was left off, so any failure of "${job.name}" fails the run.`,
        { target: "key" },
      );
    }
    let mode: When = "on_success";
    let fromRules = false;
    if (rules !== undefined) {
      fromRules = true;
      const evaluated = this.evaluateRules(job, rules);
      mode = evaluated.mode;
      job.condition = evaluated.condition;
      if (evaluated.allowFailure !== null && allowFailureExplicit === null)
        allowFailureExplicit = evaluated.allowFailure;
      if (whenNode !== undefined) {
        notes.add(
          "warning",
          "when-with-rules",
          whenNode,
          "when: next to rules: is not allowed by GitLab; the rules decided.",
          { target: "key" },
        );
      }
    } else if (whenNode !== undefined) {
      const text = scalarText(whenNode) as When | undefined;
      if (text === undefined || !WHENS.includes(text)) {
        notes.add(
          "warning",
          "when",
          whenNode,
          `when: ${describeValue(whenNode)} is not a GitLab value; on_success applies.`,
        );
      } else {
        mode = text;
      }
    }
    for (const key of ["only", "except"] as const) {
      const value = entry(config, key);
      if (value === undefined) continue;
      notes.add(
        "warning",
        key,
        value,
        `${key}: ${describeValue(value, 80)} selects pipelines by branch, tag or source, which Microstack runs do not have; it was not carried over and "${job.name}" runs in every run. Use rules with variables, or a param, to keep it conditional.`,
        { target: "key" },
      );
    }
    if (mode === "never") {
      notes.add(
        "info",
        "job-never",
        (fromRules ? rules : whenNode) ?? job.node,
        `"${job.name}" never runs (${fromRules ? "no rule adds it" : "when: never"}); it was not imported.`,
        { target: "key" },
      );
    }
    if (mode === "always") {
      job.condition = job.condition === null ? "always()" : `always() && (${job.condition})`;
      job.conditionUsesStatus = true;
    } else if (mode === "on_failure") {
      job.condition = job.condition === null ? "failure()" : `failure() && (${job.condition})`;
      job.conditionUsesStatus = true;
    }
    job.mode = mode;
    // Manual jobs outside rules are allowed to fail by default, and then do not block the
    // stages after them; manual jobs added by rules block.
    const manualDefault = mode === "manual" && !fromRules;
    job.allowFailure = allowFailureExplicit ?? manualDefault;
    job.nonBlocking = mode === "manual" && job.allowFailure;
  }

  evaluateRules(job: Job, rules: SourceValue): { mode: When; condition: string | null; allowFailure: boolean | null } {
    const { notes } = this;
    // `- !reference [.rules, rules]` puts a list inside the list; GitLab flattens it.
    const flatten = (value: SourceValue, depth: number): SourceValue[] =>
      value.kind === "seq" && depth < 10
        ? value.items.flatMap((item) => (item.kind === "seq" ? flatten(item, depth + 1) : [item]))
        : [value];
    const items = rules.kind === "seq" ? flatten(rules, 0) : [];
    type Condition = { kind: "true" } | { kind: "cel"; text: string };
    const earlier: Condition[] = [];
    const selected: { condition: string | null; when: When; rule: SourceValue }[] = [];
    let reachedTrue = false;
    for (const rule of items) {
      if (reachedTrue) {
        notes.add(
          "info",
          "rule-unreachable",
          rule,
          `This rule of "${job.name}" is never reached: an earlier rule always matches in Microstack.`,
        );
        continue;
      }
      if (rule.kind !== "map") continue;
      for (const [key, value] of rule.entries) {
        if (
          ![
            "if",
            "changes",
            "exists",
            "when",
            "allow_failure",
            "variables",
            "needs",
            "start_in",
            "interruptible",
          ].includes(key)
        ) {
          notes.add("warning", "unknown-key", value, `rules:${key} is not a GitLab rule keyword; it was ignored.`, {
            target: "key",
          });
        }
      }
      let condition: Condition = { kind: "true" };
      const ifNode = entry(rule, "if");
      if (ifNode !== undefined) {
        const text = scalarText(ifNode) ?? "";
        const translated = translateGitLabExpression(text, { variable: (name) => this.celVariable(job, name) });
        if (translated.ok) condition = { kind: "cel", text: translated.cel };
        else {
          job.comments.push(`GitLab rule "if: ${text}" was assumed to match (see the import notes).`);
          notes.add(
            "warning",
            "rule-not-evaluated",
            ifNode,
            `The rule "if: ${text}" of "${job.name}" cannot be evaluated in Microstack (${translated.reason}); it is assumed to match.`,
          );
        }
      }
      const changes = entry(rule, "changes");
      if (changes !== undefined) {
        notes.add(
          "info",
          "rule-changes",
          changes,
          `rules:changes of "${job.name}" is treated as true, as GitLab does for pipelines that are not started by a push (manual, scheduled, API).`,
          { target: "key" },
        );
      }
      const exists = entry(rule, "exists");
      if (exists !== undefined) {
        notes.add(
          "warning",
          "rule-exists",
          exists,
          `rules:exists ${describeValue(exists, 60)} of "${job.name}" is not evaluated; it is assumed to match.`,
          { target: "key" },
        );
      }
      const whenText = (scalarText(entry(rule, "when")) ?? "on_success") as When;
      const when = WHENS.includes(whenText) ? whenText : "on_success";
      if (when !== "never") {
        const parts = [...earlier.filter((c) => c.kind === "cel").map((c) => `!(${(c as { text: string }).text})`)];
        if (condition.kind === "cel") parts.push(parts.length > 0 ? `(${condition.text})` : condition.text);
        selected.push({ condition: parts.length === 0 ? null : parts.join(" && "), when, rule });
      }
      earlier.push(condition);
      if (condition.kind === "true") reachedTrue = true;
    }
    if (selected.length === 0) return { mode: "never", condition: null, allowFailure: null };
    const first = selected[0] as (typeof selected)[number];
    const others = selected.filter((candidate) => candidate.when !== first.when);
    if (others.length > 0) {
      notes.add(
        "warning",
        "rules-mixed-when",
        others[0]?.rule ?? rules,
        `The rules of "${job.name}" add it as ${first.when} in one case and as ${others[0]?.when} in another; a Microstack step is one or the other, so it is ${first.when} (the first rule that adds it).`,
      );
    }
    const same = selected.filter((candidate) => candidate.when === first.when);
    const conditions = same.map((candidate) => candidate.condition);
    const condition = conditions.some((candidate) => candidate === null)
      ? null
      : conditions.length === 1
        ? (conditions[0] as string)
        : conditions.map((candidate) => `(${candidate})`).join(" || ");
    const allowFailureNode = entry(first.rule, "allow_failure");
    const allowFailure =
      allowFailureNode?.kind === "scalar" && typeof allowFailureNode.value === "boolean"
        ? allowFailureNode.value
        : null;
    const ruleVariables = entry(first.rule, "variables");
    if (ruleVariables !== undefined) {
      job.ruleVariables = ruleVariables;
      for (const variable of this.variableMap(ruleVariables, "job").values())
        job.variables.set(variable.name, variable);
      this.resolveVariables(job.variables, (name) => {
        const global = this.globalVariables.get(name);
        return global?.resolved === null || global === undefined ? null : String(global.resolved);
      });
      if (selected.length > 1) {
        notes.add(
          "info",
          "rule-variables",
          ruleVariables,
          `The variables of this rule apply to every run of "${job.name}".`,
          { target: "key" },
        );
      }
    }
    const ruleNeeds = entry(first.rule, "needs");
    if (ruleNeeds !== undefined) job.ruleNeeds = ruleNeeds;
    const startIn = entry(first.rule, "start_in");
    if (startIn !== undefined) job.config.entries.set("start_in", startIn);
    return { mode: first.when, condition, allowFailure };
  }

  /** How a variable reads in a CEL condition of this job. */
  celVariable(job: Job, name: string): string | null {
    if (this.params.has(name) && !job.variables.has(name)) return celMember("params", name);
    // Only variables with a fixed value are in env (the others are computed by the script).
    const own = job.variables.get(name);
    if (own !== undefined) return own.resolved === null ? null : celMember("env", name);
    if (this.pipelineEnv[name] !== undefined) return celMember("env", name);
    return null;
  }

  readExplicitNeeds(job: Job): void {
    const node = job.ruleNeeds ?? entry(job.config, "needs");
    if (node === undefined) return;
    const list: { job: string; artifacts: boolean; node: SourceValue }[] = [];
    for (const item of node.kind === "seq" ? node.items : [node]) {
      if (item.kind === "scalar") {
        if (item.value !== null) list.push({ job: String(item.value), artifacts: true, node: item });
        continue;
      }
      if (item.kind !== "map") continue;
      const name = scalarText(entry(item, "job"));
      if (entry(item, "pipeline") !== undefined || entry(item, "project") !== undefined) {
        this.notes.add(
          "warning",
          "cross-pipeline-need",
          item,
          `"${job.name}" needs ${describeValue(item, 80)} from another pipeline or project; Microstack cannot wait for it or fetch its artifacts, so the need was dropped.`,
        );
        continue;
      }
      if (name === undefined) continue;
      const artifacts = entry(item, "artifacts");
      const optional = entry(item, "optional");
      const parallel = entry(item, "parallel");
      if (parallel !== undefined) {
        this.notes.add(
          "info",
          "need-parallel",
          parallel,
          `"${job.name}" waits for every instance of "${name}", not only the listed matrix combinations.`,
          { target: "key" },
        );
      }
      list.push({
        job: name,
        artifacts: !(artifacts?.kind === "scalar" && artifacts.value === false),
        node:
          optional?.kind === "scalar" && optional.value === true ? { ...item, path: [...item.path, "optional"] } : item,
      });
    }
    job.explicitNeeds = list;
  }

  // -------------------------------------------------------------------------------------------
  // The graph.

  buildGraph(): void {
    const included = this.order.filter((job) => job.mode !== "never");
    const byName = new Map(included.map((job) => [job.name, job]));
    const needs = new Map<string, string[]>();
    // Explicit needs first.
    for (const job of included) {
      if (job.explicitNeeds === null) continue;
      const list: string[] = [];
      for (const need of job.explicitNeeds) {
        const target = byName.get(need.job);
        const optional = need.node.path[need.node.path.length - 1] === "optional";
        if (target === undefined) {
          const known = this.jobs.get(need.job);
          if (optional) {
            this.notes.add(
              "info",
              "optional-need",
              need.node,
              `"${need.job}" is an optional need that does not run here; it was dropped.`,
            );
          } else {
            this.notes.add(
              "error",
              "unknown-need",
              need.node,
              known === undefined
                ? `"${job.name}" needs "${need.job}", which is not a job of this file (an include?); the need was dropped.`
                : `"${job.name}" needs "${need.job}", which never runs (when: never or rules); the need was dropped.`,
            );
          }
          continue;
        }
        if (target.stageIndex > job.stageIndex) {
          this.notes.add(
            "error",
            "need-later-stage",
            need.node,
            `"${job.name}" needs "${need.job}", which is in a later stage; GitLab rejects this ("not defined in current or prior stages"). The need was dropped.`,
          );
          continue;
        }
        if (!list.includes(target.stepId)) list.push(target.stepId);
      }
      needs.set(job.stepId, list);
    }
    // Stage order for the rest: every job of the earlier stages, minus those already upstream
    // of another (the stage just before, in the common case).
    const byStage = [...included].sort((a, b) => a.stageIndex - b.stageIndex);
    const ancestors = new Map<string, Set<string>>();
    const ancestorsOfJob = (stepId: string): Set<string> => {
      const cached = ancestors.get(stepId);
      if (cached !== undefined) return cached;
      const out = new Set<string>();
      for (const need of needs.get(stepId) ?? []) {
        out.add(need);
        for (const ancestor of ancestorsOfJob(need)) out.add(ancestor);
      }
      ancestors.set(stepId, out);
      return out;
    };
    for (const job of byStage) {
      if (job.explicitNeeds !== null) continue;
      const earlier = byStage.filter((other) => other.stageIndex < job.stageIndex && !other.nonBlocking);
      const candidates = earlier.map((other) => other.stepId);
      const reduced = candidates.filter(
        (candidate) => !candidates.some((other) => other !== candidate && ancestorsOfJob(other).has(candidate)),
      );
      needs.set(job.stepId, reduced);
    }
    this.breakCycles(needs, included);
    const skipped = new Set(included.filter((job) => job.trigger).map((job) => job.stepId));
    const relinked = relinkNeeds(needs, skipped);
    for (const job of included) job.needs = relinked.get(job.stepId) ?? [];
  }

  breakCycles(needs: Map<string, string[]>, jobs: readonly Job[]): void {
    const state = new Map<string, "visiting" | "done">();
    const visit = (id: string) => {
      state.set(id, "visiting");
      const list = needs.get(id) ?? [];
      for (const need of [...list]) {
        if (state.get(need) === "visiting") {
          list.splice(list.indexOf(need), 1);
          const job = jobs.find((candidate) => candidate.stepId === id);
          this.notes.add(
            "error",
            "needs-cycle",
            entry(job?.config, "needs") ?? job?.node ?? this.root,
            `The needs of "${job?.name}" form a cycle through "${need}"; this need was dropped.`,
          );
        } else if (state.get(need) === undefined) {
          visit(need);
        }
      }
      state.set(id, "done");
    };
    for (const id of needs.keys()) if (state.get(id) === undefined) visit(id);
  }

  // -------------------------------------------------------------------------------------------
  // Steps.

  emitSteps(): void {
    const included = this.order.filter((job) => job.mode !== "never");
    for (const job of included) {
      if (job.trigger) {
        this.triggerJob(job);
        continue;
      }
      job.artifactName = this.readArtifacts(job) === null ? null : job.artifactName;
    }
    this.prepareCheckouts(included.filter((job) => !job.trigger));
    const stepNeeds = new Map<string, string[]>();
    for (const job of included) stepNeeds.set(job.stepId, job.needs);
    for (const job of included) {
      if (job.trigger) continue;
      this.emitJob(job, stepNeeds);
    }
    this.addCheckoutSteps(
      included.filter((job) => !job.trigger),
      stepNeeds,
    );
  }

  triggerJob(job: Job): void {
    const trigger = entry(job.config, "trigger") as SourceValue;
    const include = entry(trigger, "include");
    const project =
      scalarText(entry(trigger, "project")) ?? (trigger.kind === "scalar" ? scalarText(trigger) : undefined);
    const files =
      include === undefined
        ? []
        : (include.kind === "seq" ? include.items : [include]).map(
            (item) => scalarText(item) ?? scalarText(entry(item, "local")) ?? describeValue(item),
          );
    const dependents = this.order.filter(
      (other) => other.needs.includes(job.stepId) || other.explicitNeeds?.some((need) => need.job === job.name),
    );
    this.notes.add(
      "error",
      "trigger-not-imported",
      trigger,
      `"${job.name}" starts ${
        files.length > 0
          ? `a child pipeline from ${files.join(", ")}`
          : project !== undefined
            ? `a pipeline in project ${project}`
            : "another pipeline"
      }; it was not imported. Import ${files.length > 0 ? "that file" : "that project's .gitlab-ci.yml"} as its own pipeline${
        dependents.length > 0 ? `; the jobs after it now wait for what it waited for` : ""
      }.`,
      { target: "key" },
    );
  }

  readArtifacts(job: Job): Record<string, unknown> | null {
    const artifacts = entry(job.config, "artifacts");
    if (artifacts === undefined || artifacts.kind !== "map") return null;
    const { notes } = this;
    const paths = stringList(entry(artifacts, "paths")).map((item) => String(item.value));
    for (const [key, value] of artifacts.entries) {
      switch (key) {
        case "paths":
        case "expire_in":
          break;
        case "reports": {
          for (const [report, files] of value.kind === "map" ? value.entries : []) {
            if (report === "dotenv") {
              job.dotenv = stringList(files).map((item) => String(item.value));
              job.dotenvNames = this.dotenvNames(job, files);
              continue;
            }
            notes.add(
              "info",
              "artifact-report",
              files,
              `The ${report} report is not shown by Microstack${paths.length === 0 ? "" : ""}; add its files to artifacts paths to keep them.`,
              { target: "key" },
            );
          }
          break;
        }
        case "when": {
          const when = scalarText(value);
          if (when !== "on_success") {
            notes.add(
              "info",
              "artifact-when",
              value,
              `artifacts:when ${when}: Microstack saves artifacts when the step ends; whether they are kept after a failure depends on the executor.`,
              { target: "key" },
            );
          }
          break;
        }
        case "name":
          notes.add(
            "info",
            "artifact-name",
            value,
            `The archive name ${describeValue(value)} is not used; the artifact is called "${sanitizeName(job.stepId, "artifact")}".`,
            { target: "key" },
          );
          break;
        case "exclude":
          notes.add(
            "warning",
            "artifact-exclude",
            value,
            `artifacts:exclude ${describeValue(value, 60)} is not supported; those files are saved too.`,
            { target: "key" },
          );
          break;
        case "untracked":
          notes.add(
            "warning",
            "artifact-untracked",
            value,
            "artifacts:untracked (every file Git does not track) is not supported; list the paths.",
            { target: "key" },
          );
          break;
        default:
          notes.add("info", "artifact-option", value, `artifacts:${key} is not carried over.`, { target: "key" });
      }
    }
    if (paths.length === 0) return null;
    job.artifactName = sanitizeName(job.stepId, "artifact");
    const save: Record<string, unknown> = { name: job.artifactName, paths };
    const expire = entry(artifacts, "expire_in");
    const expireText = scalarText(expire);
    if (expireText !== undefined && expire !== undefined) {
      const seconds = /^never$/i.test(expireText.trim()) ? null : parseGitLabDuration(expireText);
      if (seconds === null) {
        notes.add(
          "info",
          "artifact-expiry",
          expire,
          `expire_in ${expireText}: ${/never/i.test(expireText) ? "Microstack's default retention applies" : "not a duration; the default retention applies"}.`,
        );
      } else {
        save["expire-in"] = formatDuration(seconds);
      }
    }
    job.save = save;
    return save;
  }

  /** The names a job's script writes to its dotenv files (`echo "URL=$x" >> deploy.env`). */
  dotenvNames(job: Job, node: SourceValue): string[] {
    const text = [
      ...flattenScript(entry(job.config, "before_script")),
      ...flattenScript(entry(job.config, "script")),
    ].join("\n");
    const names: string[] = [];
    for (const file of job.dotenv) {
      const escaped = file.replace(/^\.\//, "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const redirect = new RegExp(`>>?\\s*["']?(?:\\./)?${escaped}["']?`);
      for (const line of text.split("\n")) {
        if (!redirect.test(line)) continue;
        const before = line.slice(0, line.search(redirect));
        for (const match of before.matchAll(/(?:^|[\s"'])([A-Za-z_][A-Za-z0-9_]*)=/g)) {
          const name = match[1] as string;
          if (!names.includes(name)) names.push(name);
        }
      }
    }
    if (names.length === 0) {
      this.notes.add(
        "warning",
        "dotenv",
        node,
        `The dotenv report ${job.dotenv.join(", ")} of "${job.name}" passes variables to later jobs; the importer could not see which (no "NAME=value >> file" line), so none are passed. Declare them under outputs: and read them as \${{ steps.${job.stepId}.outputs.NAME }}.`,
        { target: "key" },
      );
    } else {
      this.notes.add(
        "info",
        "dotenv",
        node,
        `The dotenv report of "${job.name}" became the step's outputs ${names.join(", ")}; the jobs that fetch its artifacts get them in env, as in GitLab.`,
        { target: "key" },
      );
    }
    return names;
  }

  /** Checkout configurations: GitLab clones the repository into every job (GIT_STRATEGY). */
  prepareCheckouts(jobs: readonly Job[]): void {
    const value = (job: Job, name: string): string | undefined => {
      const own = job.variables.get(name);
      const global = this.globalVariables.get(name);
      const found = own ?? global;
      return found === undefined ? undefined : String(found.resolved ?? found.raw);
    };
    for (const job of jobs) {
      const strategy = value(job, "GIT_STRATEGY");
      if (strategy === "none" || strategy === "empty") continue;
      const inputs: Record<string, unknown> = {};
      const depth = value(job, "GIT_DEPTH");
      if (depth !== undefined && /^\d+$/.test(depth)) inputs.depth = Number(depth);
      const submodules = value(job, "GIT_SUBMODULE_STRATEGY");
      if (submodules === "normal" || submodules === "recursive") inputs.submodules = true;
      const key = JSON.stringify(inputs);
      job.checkoutKey = key;
      if (!this.checkouts.has(key)) this.checkouts.set(key, { id: "", inputs });
    }
    for (const checkout of this.checkouts.values()) {
      checkout.id = this.ids.allocate(
        this.checkouts.size === 1
          ? "checkout"
          : `checkout-${
              Object.entries(checkout.inputs)
                .map(([k, v]) => `${k}-${v}`)
                .join("-") || "default"
            }`,
      );
    }
    if (this.checkouts.size > 0) {
      this.notes.addAtStart(
        "info",
        "implicit-checkout",
        "GitLab clones the repository into every job; the pipeline starts with a checkout step that the first jobs need (jobs with GIT_STRATEGY: none do not).",
      );
    }
  }

  addCheckoutSteps(jobs: readonly Job[], stepNeeds: Map<string, string[]>): void {
    if (this.checkouts.size === 0) return;
    const ancestors = ancestorsOf(stepNeeds);
    const jobByStep = new Map(jobs.map((job) => [job.stepId, job]));
    const created: Record<string, unknown>[] = [];
    for (const checkout of this.checkouts.values()) {
      const step: Record<string, unknown> = { id: checkout.id, name: "Check out the repository" };
      const firstStage = this.stages.find((stage) => jobs.some((job) => job.stage === stage));
      if (firstStage !== undefined) step.stage = this.stageId(firstStage);
      step.uses = "checkout";
      if (Object.keys(checkout.inputs).length > 0) step.with = checkout.inputs;
      created.push(step);
    }
    for (const job of jobs) {
      if (job.checkoutKey === null) continue;
      const checkout = this.checkouts.get(job.checkoutKey);
      if (checkout === undefined) continue;
      const upstream = ancestors.get(job.stepId) ?? new Set();
      const covered = [...upstream].some((ancestor) => jobByStep.get(ancestor)?.checkoutKey === job.checkoutKey);
      if (covered) continue;
      // The step is the job's, or the first of its gate steps (manual/approval/delay).
      const gate = this.steps.find((step) => step.id === (this.gateOf.get(job.stepId) ?? job.stepId));
      const target = gate ?? this.steps.find((step) => step.id === job.stepId);
      if (target === undefined) continue;
      target.needs = [checkout.id, ...((target.needs as string[] | undefined) ?? [])];
    }
    this.steps.unshift(...created);
  }

  /** Job step id -> the manual, approval or delay step in front of it. */
  readonly gateOf = new Map<string, string>();

  /** The job's own variables a condition reads: a gate step in front of the job needs them too. */
  conditionEnv(job: Job): Record<string, string | number | boolean> | undefined {
    if (job.condition === null) return undefined;
    const env: Record<string, string | number | boolean> = {};
    for (const match of job.condition.matchAll(/\benv(?:\.([A-Za-z_][A-Za-z0-9_]*)|\["([A-Za-z_][A-Za-z0-9_]*)"\])/g)) {
      const name = (match[1] ?? match[2]) as string;
      const variable = job.variables.get(name);
      if (variable !== undefined && variable.resolved !== null) env[name] = variable.resolved;
    }
    return Object.keys(env).length > 0 ? env : undefined;
  }

  emitJob(job: Job, stepNeeds: Map<string, string[]>): void {
    const { notes } = this;
    const { config } = job;
    const step: Record<string, unknown> = { id: job.stepId };
    if (job.name !== job.stepId) step.name = job.name.slice(0, 200);
    step.stage = this.stageId(job.stage);
    const comments: string[] = [...job.comments];
    for (const key of ["only", "except"] as const) {
      const value = entry(config, key);
      if (value !== undefined) comments.push(`GitLab ${key}: ${describeValue(value, 80)} was not carried over.`);
    }

    // Gates in front of the job: manual start, environment approval, delay.
    const environment = entry(config, "environment");
    const envInfo = environment === undefined ? null : this.environment(job, environment);
    let gateId: string | null = null;
    const baseNeeds = [...job.needs];
    if (envInfo?.approval === true) {
      gateId = this.ids.allocate(`approve-${job.stepId}`);
      const manualNote =
        job.mode === "manual" ? " It also replaces the job's when: manual (one person's go covers both)." : "";
      const confirmation = this.confirmation(job);
      this.steps.push(
        approvalStep({
          id: gateId,
          name: `Approve ${job.name}${envInfo.name === null ? "" : ` (${envInfo.name})`}`.slice(0, 200),
          environment: envInfo.name,
          message: confirmation ?? `Run "${job.name}"${envInfo.name === null ? "" : ` and deploy to ${envInfo.name}`}?`,
          needs: baseNeeds,
          condition: job.condition,
          ...(this.conditionEnv(job) === undefined ? {} : { env: this.conditionEnv(job) }),
          stage: this.stageId(job.stage),
        }),
      );
      notes.add(
        "info",
        "environment-approval",
        environment as SourceValue,
        `environment ${envInfo.name ?? describeValue(environment)} became the approval step "${gateId}" before "${job.stepId}": GitLab's protected environments and deployment approvals are configured in the project's settings.${manualNote} ${APPROVER_ROLE_NOTE}`,
        { target: "key" },
      );
    } else if (job.mode === "manual") {
      gateId = this.ids.allocate(`start-${job.stepId}`);
      const confirmation = this.confirmation(job);
      const manual: Record<string, unknown> = { message: confirmation ?? `Start "${job.name}".` };
      const gate: Record<string, unknown> = {
        id: gateId,
        name: `Start ${job.name}`.slice(0, 200),
        stage: this.stageId(job.stage),
      };
      if (baseNeeds.length > 0) gate.needs = baseNeeds;
      if (job.condition !== null) gate.if = job.condition;
      gate.manual = manual;
      this.steps.push(gate);
      notes.add(
        "info",
        "manual-job",
        entry(config, "when") ?? entry(config, "rules") ?? job.node,
        job.nonBlocking
          ? `"${job.name}" is manual: the manual step "${gateId}" starts it. As in GitLab (allow_failure: true is the default for manual jobs) later stages do not wait for it, but the run stays open until someone starts or skips it.`
          : `"${job.name}" is manual: the manual step "${gateId}" starts it, and the stages after it wait (allow_failure: false).`,
        { target: "key" },
      );
    } else if (job.mode === "delayed") {
      const startIn = entry(config, "start_in");
      const seconds = parseGitLabDuration(scalarText(startIn) ?? "");
      if (seconds === null) {
        notes.add(
          "warning",
          "start-in",
          startIn ?? job.node,
          `when: delayed needs a start_in duration; "${job.name}" starts without delay.`,
          { target: "key" },
        );
      } else {
        gateId = this.ids.allocate(`wait-${job.stepId}`);
        const wait: Record<string, unknown> = {
          id: gateId,
          name: `Wait before ${job.name}`.slice(0, 200),
          stage: this.stageId(job.stage),
        };
        if (baseNeeds.length > 0) wait.needs = baseNeeds;
        if (job.condition !== null) wait.if = job.condition;
        const gateEnv = this.conditionEnv(job);
        if (gateEnv !== undefined) wait.env = gateEnv;
        wait.uses = "sleep";
        wait.with = { duration: formatDuration(seconds) };
        this.steps.push(wait);
        notes.add(
          "info",
          "delayed-job",
          startIn as SourceValue,
          `when: delayed became the sleep step "${gateId}" (${formatDuration(seconds)}) before "${job.stepId}"; it cannot be started early or cancelled from the UI.`,
          { target: "key" },
        );
      }
    }
    if (gateId !== null) {
      this.gateOf.set(job.stepId, gateId);
      stepNeeds.set(gateId, baseNeeds);
    }
    const allNeeds = gateId === null ? baseNeeds : [gateId, ...baseNeeds];
    if (allNeeds.length > 0) step.needs = allNeeds;
    stepNeeds.set(job.stepId, allNeeds);
    if (job.condition !== null) {
      step.if =
        gateId !== null && job.conditionUsesStatus
          ? `(${job.condition}) && ${celMember("steps", gateId)}.outcome == "success"`
          : job.condition;
    }

    // Matrix (parallel).
    const parallel = entry(config, "parallel");
    const matrixEnv: Record<string, string> = {};
    if (parallel !== undefined) {
      const matrix = this.parallel(parallel, matrixEnv);
      if (matrix !== null) step.matrix = matrix;
    }

    // Image.
    const image = entry(config, "image");
    if (image !== undefined) {
      const imageName = this.image(job, image);
      if (imageName !== undefined) step.image = imageName;
    }

    // Env: job variables (the pipeline env carries the global ones), matrix values, provided
    // predefined variables, dotenv outputs of the jobs it fetches from.
    const env: Record<string, string | number | boolean> = {};
    const exports: string[] = [];
    for (const exported of this.globalExports) {
      if (!job.variables.has(exported.name)) exports.push(`export ${exported.name}="${gitlabShellWord(exported.raw)}"`);
    }
    const jobExports: string[] = [];
    for (const variable of job.variables.values()) {
      if (variable.resolved !== null) env[variable.name] = variable.resolved;
      else {
        exports.push(`export ${variable.name}="${gitlabShellWord(variable.raw)}"`);
        jobExports.push(variable.name);
      }
    }
    if (jobExports.length > 0) {
      notes.add(
        "info",
        "variable-exports",
        entry(config, "variables") ?? job.node,
        `Variables of "${job.name}" that read variables the file does not define (${jobExports.join(", ")}) are computed by the shell at the top of its script, as GitLab expands them.`,
        { target: "key" },
      );
    }
    Object.assign(env, matrixEnv);
    const fetch = this.fetches(job, stepNeeds, env);

    // Script.
    const scriptText = this.jobScript(job, exports, env);
    if (Object.keys(env).length > 0) step.env = env;
    const timeout = this.timeout(job);
    if (timeout !== undefined) step.timeout = timeout;
    const retry = this.retry(job);
    if (retry !== undefined) step.retry = retry;
    if (job.allowFailure) step["continue-on-error"] = true;
    if (job.dotenv.length > 0 && job.dotenvNames.length > 0) step.outputs = job.dotenvNames;
    const artifacts: Record<string, unknown> = {};
    if (job.save !== null) artifacts.save = [job.save];
    if (fetch.length > 0) artifacts.fetch = fetch;
    if (Object.keys(artifacts).length > 0) step.artifacts = artifacts;
    step.run = scriptText;

    this.keywordNotes(job);
    if (comments.length > 0) this.stepComments.set(job.stepId, comments);
    this.steps.push(step);
  }

  /** A message with the file's variables expanded (GitLab expands them in manual_confirmation). */
  confirmation(job: Job): string | undefined {
    const text = scalarText(entry(job.config, "manual_confirmation"));
    if (text === undefined) return undefined;
    return expandVariables(text, (name) => {
      const variable = job.variables.get(name) ?? this.globalVariables.get(name);
      return variable?.resolved === null || variable === undefined ? null : String(variable.resolved);
    }).value;
  }

  environment(job: Job, node: SourceValue): { approval: boolean; name: string | null } {
    const nameNode = node.kind === "map" ? entry(node, "name") : node;
    const raw = scalarText(nameNode) ?? "";
    const action = scalarText(entry(node, "action")) ?? "start";
    const lookup = (name: string) => {
      const variable = job.variables.get(name) ?? this.globalVariables.get(name);
      return variable?.resolved === null || variable === undefined ? null : String(variable.resolved);
    };
    const expanded = expandVariables(raw, lookup);
    let name: string | null = expanded.value;
    if (expanded.unknown.length > 0) {
      const fixed = raw.split("$")[0]?.replace(/[/-]+$/, "") ?? "";
      name = fixed === "" ? null : fixed;
      this.notes.add(
        "warning",
        "dynamic-environment",
        nameNode ?? node,
        `The environment name "${raw}" reads ${expanded.unknown.map((unknown) => `$${unknown}`).join(", ")}, known only to GitLab (one environment per branch, review apps); ${name === null ? "the approval has no environment" : `the approval names "${name}"`}.`,
      );
    }
    for (const [key, value] of node.kind === "map" ? node.entries : []) {
      if (key === "name" || key === "action") continue;
      const messages: Record<string, string> = {
        url: `The environment URL ${describeValue(value)} is not shown by Microstack.`,
        on_stop: `on_stop: "${scalarText(value)}" runs when GitLab stops the environment; Microstack has no environment lifecycle, so that job is an ordinary step here (start it by hand when needed).`,
        auto_stop_in: `auto_stop_in ${describeValue(value)}: environments are not stopped automatically.`,
        deployment_tier: "deployment_tier is not carried over.",
        kubernetes: "The Kubernetes settings of the environment are not carried over.",
      };
      this.notes.add(
        key === "on_stop" ? "warning" : "info",
        `environment-${key.replace(/_/g, "-")}`,
        value,
        messages[key] ?? `environment:${key} is not carried over.`,
        { target: "key" },
      );
    }
    if (action !== "start") {
      this.notes.add(
        "info",
        "environment-action",
        entry(node, "action") ?? node,
        `environment action: ${action}: "${job.name}" ${action === "stop" ? "stops" : "uses"} the environment without deploying to it, so no approval step was added.`,
        { target: "key" },
      );
      return { approval: false, name };
    }
    return { approval: true, name };
  }

  parallel(node: SourceValue, env: Record<string, string>): Matrix | null {
    if (node.kind === "scalar") {
      const count = Number(node.value);
      if (!Number.isInteger(count) || count < 1) {
        this.notes.add(
          "warning",
          "parallel",
          node,
          `parallel: ${describeValue(node)} is not a count; the job runs once.`,
        );
        return null;
      }
      env.CI_NODE_INDEX = `\${{ matrix.CI_NODE_INDEX }}`;
      env.CI_NODE_TOTAL = String(count);
      this.notes.add(
        "info",
        "parallel",
        node,
        `parallel: ${count} became a matrix over CI_NODE_INDEX (1 to ${count}); CI_NODE_INDEX and CI_NODE_TOTAL are set as in GitLab.`,
        { target: "key" },
      );
      return { axes: { CI_NODE_INDEX: Array.from({ length: count }, (_, index) => index + 1) } };
    }
    const entries = entry(node, "matrix");
    if (entries?.kind !== "seq") {
      this.notes.add("warning", "parallel", node, "parallel must be a count or matrix: a list; it was ignored.", {
        target: "key",
      });
      return null;
    }
    const products: Record<string, MatrixValue[]>[] = [];
    for (const item of entries.items) {
      if (item.kind !== "map") continue;
      const product: Record<string, MatrixValue[]> = {};
      for (const [key, value] of item.entries) {
        if (!ENV_NAME_PATTERN.test(key) || !NAME_PATTERN.test(key)) {
          this.notes.add(
            "warning",
            "matrix-key",
            value,
            `The matrix variable "${key}" is not a valid name; it was dropped.`,
            { target: "key" },
          );
          continue;
        }
        const values = (value.kind === "seq" ? value.items : [value])
          .filter((child): child is SourceScalar => child.kind === "scalar" && child.value !== null)
          .map((child) => child.value as MatrixValue);
        if (values.length > 0) product[key] = values;
      }
      if (Object.keys(product).length > 0) products.push(product);
    }
    if (products.length === 0) return null;
    const keys = [...new Set(products.flatMap((product) => Object.keys(product)))];
    for (const key of keys) env[key] = `\${{ ${celMember("matrix", key)} }}`;
    let matrix: Matrix;
    if (products.length === 1) {
      matrix = { axes: products[0] as Record<string, MatrixValue[]> };
    } else {
      // Each entry of parallel:matrix is a product of its own; their union is written out as
      // include entries (a combination of their own each). Keys an entry lacks are "" there,
      // as an undefined variable reads in a script.
      const include: Record<string, MatrixValue>[] = [];
      for (const product of products) {
        let combinations: Record<string, MatrixValue>[] = [{}];
        for (const [key, values] of Object.entries(product)) {
          combinations = combinations.flatMap((combination) =>
            values.map((value) => ({ ...combination, [key]: value })),
          );
        }
        for (const combination of combinations) {
          const full: Record<string, MatrixValue> = {};
          for (const key of keys) full[key] = combination[key] ?? "";
          include.push(full);
        }
      }
      matrix = { include };
    }
    const expansion = expandMatrix(matrix);
    if (!expansion.ok || expansion.combinations.length === 0) {
      this.notes.add(
        "error",
        "matrix-invalid",
        node,
        "The parallel matrix is larger than Microstack's limits; it was dropped.",
        { target: "key" },
      );
      for (const key of keys) delete env[key];
      return null;
    }
    if (expansion.combinations.length > 200) {
      this.notes.add(
        "info",
        "matrix-size",
        node,
        `The matrix has ${expansion.combinations.length} combinations; GitLab allows 200, Microstack more.`,
        { target: "key" },
      );
    }
    return matrix;
  }

  image(job: Job, node: SourceValue): string | undefined {
    const nameNode = node.kind === "map" ? entry(node, "name") : node;
    const raw = scalarText(nameNode);
    if (raw === undefined) return undefined;
    for (const [key, value] of node.kind === "map" ? node.entries : []) {
      if (key === "name") continue;
      this.notes.add("info", "image-option", value, `image:${key} ${describeValue(value, 60)} is not carried over.`, {
        target: "key",
      });
    }
    const lookup = (name: string) => {
      const variable = job.variables.get(name) ?? this.globalVariables.get(name);
      if (this.params.has(name)) return `\${{ ${celMember("params", name)} }}`;
      return variable?.resolved === null || variable === undefined ? null : String(variable.resolved);
    };
    const expanded = expandVariables(this.inputReferences(raw) ?? raw, lookup);
    if (expanded.unknown.length > 0) {
      this.notes.add(
        "warning",
        "image-variable",
        nameNode ?? node,
        `The image "${raw}" reads ${expanded.unknown.map((name) => `$${name}`).join(", ")}, which the file does not define; write the image name out in the editor.`,
      );
    }
    return expanded.value;
  }

  timeout(job: Job): string | undefined {
    const node = entry(job.config, "timeout");
    if (node === undefined) return undefined;
    const seconds = parseGitLabDuration(scalarText(node) ?? "");
    if (seconds === null) {
      this.notes.add(
        "warning",
        "timeout",
        node,
        `timeout ${describeValue(node)} is not a duration Microstack understands; set timeout: in the editor.`,
      );
      return undefined;
    }
    return formatDuration(seconds);
  }

  retry(job: Job): number | Record<string, unknown> | undefined {
    const node = entry(job.config, "retry");
    if (node === undefined) return undefined;
    if (node.kind === "scalar") {
      const count = Number(node.value);
      return Number.isInteger(count) && count > 0 ? count : undefined;
    }
    const max = Number(scalarText(entry(node, "max")) ?? 0);
    const out: Record<string, unknown> = { max: Number.isInteger(max) ? max : 0 };
    const codes = stringList(entry(node, "exit_codes"))
      .map((item) => Number(item.value))
      .filter((code) => Number.isInteger(code) && code >= 0 && code <= 255);
    if (codes.length > 0) out["exit-codes"] = codes;
    const when = stringList(entry(node, "when")).map((item) => String(item.value));
    // Microstack retries a failed script (the listed exit codes) and a lost executor, never a
    // timeout: compare with the failure reasons GitLab was told to retry.
    const always = when.length === 0 || when.includes("always");
    const differences: string[] = [];
    if (!always && !when.includes("script_failure")) differences.push("script failures are retried too");
    if (!always && !when.includes("runner_system_failure")) differences.push("a lost executor is retried too");
    if (always || when.includes("stuck_or_timeout_failure") || when.includes("job_execution_timeout")) {
      differences.push("timeouts are not retried");
    }
    const other = when.filter(
      (reason) =>
        ![
          "always",
          "script_failure",
          "runner_system_failure",
          "stuck_or_timeout_failure",
          "job_execution_timeout",
        ].includes(reason),
    );
    if (other.length > 0) differences.push(`${other.join(", ")} have no Microstack equivalent`);
    if (differences.length > 0) {
      this.notes.add(
        "info",
        "retry-when",
        entry(node, "when") ?? node,
        `retry of "${job.name}": ${differences.join("; ")} (Microstack retries a failed script${codes.length > 0 ? " with the listed exit codes" : ""} and a lost executor).`,
        { target: "key" },
      );
    }
    return out;
  }

  fetches(
    job: Job,
    stepNeeds: Map<string, string[]>,
    env: Record<string, string | number | boolean>,
  ): Record<string, unknown>[] {
    const dependencies = entry(job.config, "dependencies");
    let sources: Job[];
    if (dependencies !== undefined) {
      sources = stringList(dependencies)
        .map((item) => {
          const source = this.jobs.get(String(item.value));
          if (source === undefined || source.mode === "never") {
            this.notes.add(
              "warning",
              "unknown-dependency",
              item,
              `dependencies names "${item.value}", which is not imported; it was dropped.`,
            );
          }
          return source;
        })
        .filter((source): source is Job => source !== undefined && source.mode !== "never");
    } else if (job.explicitNeeds !== null) {
      sources = job.explicitNeeds
        .filter((need) => need.artifacts)
        .map((need) => this.jobs.get(need.job))
        .filter((source): source is Job => source !== undefined && source.mode !== "never");
    } else {
      sources = this.order.filter((other) => other.mode !== "never" && other.stageIndex < job.stageIndex);
    }
    const ancestors = ancestorsOf(stepNeeds);
    const upstream = ancestors.get(job.stepId) ?? new Set<string>();
    const out: Record<string, unknown>[] = [];
    for (const source of sources) {
      if (source.trigger || (source.artifactName === null && source.dotenvNames.length === 0)) continue;
      if (!upstream.has(source.stepId)) {
        this.notes.add(
          "info",
          "artifact-not-upstream",
          dependencies ?? entry(job.config, "needs") ?? job.node,
          `"${job.name}" does not wait for "${source.name}" (${source.nonBlocking ? "a manual job that does not block" : "not in its needs"}), so it cannot fetch its artifacts.`,
          { target: "key" },
        );
        continue;
      }
      if (source.artifactName !== null) out.push({ from: source.stepId, name: source.artifactName });
      for (const name of source.dotenvNames)
        env[name] = `\${{ ${celMember(`${celMember("steps", source.stepId)}.outputs`, name)} }}`;
    }
    return out;
  }

  jobScript(job: Job, exports: string[], env: Record<string, string | number | boolean>): string {
    const { config } = job;
    const lines = (key: string): string[] =>
      flattenScript(entry(config, key)).map((line) => {
        let text = line;
        if (text.includes("${{")) {
          this.notes.add(
            "warning",
            "literal-interpolation",
            entry(config, key) as SourceValue,
            `A line of ${key} contains "\${{", which Microstack reads as an expression; it was written as "$\\{{". Check that line.`,
            { target: "key" },
          );
          text = text.replaceAll("${{", "$\\{{");
        }
        return this.inputReferences(text) ?? text;
      });
    const script = lines("script");
    if (script.length === 0 && !job.trigger) {
      this.notes.add(
        "error",
        "no-script",
        entry(config, "script") ?? job.node,
        `"${job.name}" has no script${entry(job.node, "extends") !== undefined ? " (its extends may come from an include)" : ""}; its step fails until you write one.`,
        { target: "key" },
      );
      script.push(`echo ${shellQuote(`"${job.name}" has no script: write one in the editor.`)} >&2`, "exit 1");
    }
    const before = lines("before_script");
    const after = lines("after_script");
    if (after.length > 0) {
      this.notes.add(
        "info",
        "after-script",
        entry(config, "after_script") as SourceValue,
        `after_script of "${job.name}" runs in an EXIT trap of the step's script: after success and failure alike, from the project directory, and its failure does not fail the job, as in GitLab.`,
        { target: "key" },
      );
    }
    // Provided predefined variables.
    const all = [...exports, ...before, ...script, ...after].join("\n");
    const prologue: string[] = [];
    const referenced = new Set<string>();
    for (const match of all.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) referenced.add(match[1] as string);
    if (referenced.has("CI_PROJECT_DIR")) prologue.push(`export CI_PROJECT_DIR="\${CI_PROJECT_DIR:-$PWD}"`);
    if (referenced.has("CI_JOB_NAME")) env.CI_JOB_NAME = job.name;
    if (referenced.has("CI_JOB_STAGE")) env.CI_JOB_STAGE = job.stage;
    const checkout = job.checkoutKey === null ? undefined : this.checkouts.get(job.checkoutKey);
    if ((referenced.has("CI_COMMIT_SHA") || referenced.has("CI_COMMIT_SHORT_SHA")) && checkout !== undefined) {
      env.CI_COMMIT_SHA = `\${{ ${celMember("steps", checkout.id)}.outputs.commit }}`;
      if (referenced.has("CI_COMMIT_SHORT_SHA"))
        prologue.push('export CI_COMMIT_SHORT_SHA="$(printf \'%s\' "$CI_COMMIT_SHA" | cut -c1-8)"');
    }
    prologue.push(...exports);
    this.scanVariables(job, all, entry(config, "script") ?? job.node, env);
    const epilogue: string[] = [];
    if (job.dotenv.length > 0) {
      epilogue.push("# The dotenv report becomes the step's outputs (NAME=value lines).");
      for (const file of job.dotenv)
        epilogue.push(`if [ -f ${shellQuote(file)} ]; then cat ${shellQuote(file)} >> "$MICROSTACK_OUTPUT"; fi`);
    }
    return assembleGitLabScript({ exports: prologue, beforeScript: before, script, afterScript: after, epilogue });
  }

  scanVariables(job: Job, text: string, node: SourceValue, env: Record<string, string | number | boolean>): void {
    const assigned = new Set<string>();
    for (const match of text.matchAll(/(?:^|[\s;(&|])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=/gm))
      assigned.add(match[1] as string);
    for (const match of text.matchAll(/\b(?:read(?:\s+-[a-z]+)*|for)\s+([A-Za-z_][A-Za-z0-9_]*)/g))
      assigned.add(match[1] as string);
    for (const match of text.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)) {
      const name = match[1] as string;
      if (
        assigned.has(name) ||
        SHELL_VARIABLES.has(name) ||
        env[name] !== undefined ||
        this.pipelineEnv[name] !== undefined
      )
        continue;
      if (job.variables.has(name) || this.globalVariables.has(name)) continue;
      if (PROVIDED_VARIABLES.has(name)) continue;
      const target =
        /^(CI|GITLAB)_/.test(name) || name === "CHAT_INPUT" || name === "TRIGGER_PAYLOAD"
          ? this.predefinedVariables
          : this.unknownVariables;
      if (!target.has(name)) target.set(name, { node });
    }
  }

  /** Jobs without image: ran in the GitLab runner's default image, which the file does not name. */
  reportMissingImages(): void {
    const without = this.order.filter(
      (job) => job.mode !== "never" && !job.trigger && entry(job.config, "image") === undefined,
    );
    const [first] = without;
    if (first === undefined) return;
    this.notes.add(
      "info",
      "no-image",
      first.node,
      `${without.map((job) => `"${job.name}"`).join(", ")} ${without.length === 1 ? "has" : "have"} no image: GitLab used the runner's default image; Microstack uses its executor's default. Set image: (or default: image:) to the image the jobs need.`,
      { target: "key" },
    );
  }

  reportVariables(): void {
    const predefined = [...this.predefinedVariables.entries()];
    if (predefined.length > 0) {
      this.notes.add(
        "warning",
        "predefined-variables",
        predefined[0]?.[1].node as SourceValue,
        `Scripts read GitLab's predefined variables ${predefined.map(([name]) => name).join(", ")}, which Microstack does not set (it sets CI, CI_PROJECT_DIR, CI_JOB_NAME, CI_JOB_STAGE, CI_NODE_INDEX/TOTAL and CI_COMMIT_SHA/SHORT_SHA where used); give them values in env or rewrite those lines.`,
      );
    }
    const unknown = [...this.unknownVariables.entries()];
    if (unknown.length > 0) {
      this.notes.add(
        "info",
        "undefined-variables",
        unknown[0]?.[1].node as SourceValue,
        `Scripts read ${unknown.map(([name]) => name).join(", ")}, which this file does not define: probably project or group CI/CD variables. Add them to env, secrets as \${{ secrets.NAME }}.`,
      );
    }
  }

  keywordNotes(job: Job): void {
    const { config, name } = job;
    const messages: Record<string, [severity: "warning" | "info", message: (value: SourceValue) => string]> = {
      services: [
        "warning",
        (value) =>
          `Service containers ${describeValue(value, 80)} are not started by Microstack; "${name}" cannot reach them. Start them in the script or point the job at a shared instance.`,
      ],
      cache: [
        "info",
        () => `The cache of "${name}" is not carried over: Microstack has no cache, so the job starts from scratch.`,
      ],
      tags: [
        "info",
        (value) =>
          `tags ${describeValue(value, 60)} select GitLab runners; Microstack runs the step on its own executors.`,
      ],
      interruptible: [
        "info",
        () =>
          "interruptible: is not carried over; use the pipeline's concurrency (cancel-in-progress) to cancel older runs.",
      ],
      resource_group: [
        "warning",
        (value) =>
          `resource_group ${describeValue(value)} (one job at a time across pipelines) is not carried over; concurrency: { runs: 1 } on the pipeline comes close.`,
      ],
      coverage: ["info", () => "coverage: (the regex that reads test coverage from the log) is not carried over."],
      release: [
        "warning",
        () =>
          `release: does not create a GitLab release in Microstack; create it in the script (with the GitLab API or glab).`,
      ],
      pages: [
        "warning",
        () =>
          "pages: (GitLab Pages publishing) is not carried over; the job's artifacts are saved, but nothing publishes them.",
      ],
      secrets: [
        "warning",
        (value) =>
          `secrets ${describeValue(value, 80)} come from an external secret store in GitLab; store them as Microstack secrets and pass them as \${{ secrets.NAME }} in env.`,
      ],
      id_tokens: ["warning", () => "id_tokens (OIDC tokens from GitLab) are not issued by Microstack."],
      identity: ["warning", () => "identity: is not carried over."],
      hooks: ["warning", () => "hooks: (pre_get_sources_script) are not carried over."],
      dast_configuration: ["warning", () => "dast_configuration is not carried over."],
      run: ["warning", () => "run: (CI/CD steps) is not carried over."],
      start_in: ["info", () => "start_in applies to when: delayed only."],
      inherit: ["info", () => "inherit: was applied when the defaults and variables were resolved."],
    };
    for (const [key, [severity, message]] of Object.entries(messages)) {
      const value = entry(config, key);
      if (value === undefined) continue;
      if (key === "start_in" && job.mode === "delayed") continue;
      if (key === "inherit") continue;
      // Inherited from a template or default: one note at the template for all its jobs.
      const inherited = value.path[0] !== job.name;
      const text = inherited
        ? message(value).replace(`"${name}"`, "the jobs that use it").replace(`of "${name}" `, "")
        : message(value);
      this.notes.add(severity, key.replace(/_/g, "-"), value, text, { target: "key" });
    }
  }
}

/**
 * Converts a .gitlab-ci.yml to a Microstack pipeline. Never throws on bad input: YAML errors are
 * notes (and an empty result), everything else is imported as far as it goes.
 */
export function importGitLabCi(text: string, options: ImportOptions = {}): ImportResult {
  const source = loadSource(text, { allowedTags: ["!reference"] });
  const notes = new NoteList(source);
  for (const problem of source.problems) notes.push(problem);
  if (source.problems.some((problem) => problem.severity === "error"))
    return { yaml: "", pipeline: null, notes: notes.sorted() };
  let header: SourceMap | null = null;
  let roots = source.roots;
  const first = roots[0];
  if (roots.length > 1 && first?.kind === "map" && first.entries.has("spec")) {
    header = first;
    roots = roots.slice(1);
  }
  if (roots.length > 1)
    notes.addAtStart(
      "warning",
      "multiple-documents",
      "The file has several YAML documents; only the first configuration was imported.",
    );
  const root = roots[0];
  if (root === undefined || root === null || root.kind !== "map") {
    notes.addAtStart(
      "error",
      "not-a-gitlab-ci",
      "This is not a .gitlab-ci.yml: the file must be a mapping of jobs and keywords.",
    );
    return { yaml: "", pipeline: null, notes: notes.sorted() };
  }
  return new GitLabImporter(root, header, notes, options, source).run();
}

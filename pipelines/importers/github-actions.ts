// GitHub Actions workflow -> Microstack pipeline. Jobs become steps (needs kept, a job whose
// work lives elsewhere skipped and its dependents re-linked), a job's steps one run script
// (see shell-script.ts), `${{ }}` expressions and `if:` translated to CEL (see
// github-expressions.ts), environments become approval steps, strategy.matrix a matrix,
// workflow_dispatch inputs typed params and schedules schedule triggers. Every key of the
// workflow is either mapped or reported with its position; nothing is dropped silently.
import { expandMatrix } from "../graph/matrix";
import { checkCron } from "../spec/cron";
import { scanInterpolations } from "../spec/expressions";
import { ENV_NAME_PATTERN, type Matrix, type MatrixValue, NAME_PATTERN } from "../spec/schema";
import {
  ancestorsOf,
  APPROVER_ROLE_NOTE,
  approvalStep,
  finishImport,
  IdAllocator,
  relinkNeeds,
  sanitizeEnvName,
  sanitizeName,
} from "./emit";
import {
  celMember,
  contextPath,
  type GhNode,
  type GhScope,
  parseGitHubExpression,
  translateGitHubCondition,
  translateGitHubValue,
  Untranslatable,
  unwrapGitHubExpression,
  conjuncts,
  translateGitHubConditionNode,
  translateGitHubValueNode,
  GhSyntaxError,
} from "./github-expressions";
import { assembleScript, type ScriptSection, shellDoubleQuoted, shellQuote, type StepShell } from "./shell-script";
import {
  describeValue,
  entry,
  isNullValue,
  type LoadedSource,
  loadSource,
  NoteList,
  scalarText,
  type SourceMap,
  type SourceScalar,
  type SourceValue,
  stringList,
  stringValue,
  toPlain,
} from "./source";
import type { ImportOptions, ImportResult } from "./types";

const WORKFLOW_KEYS = new Set(["name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"]);
const JOB_KEYS = new Set([
  "name",
  "permissions",
  "needs",
  "if",
  "runs-on",
  "snapshot",
  "environment",
  "concurrency",
  "outputs",
  "env",
  "defaults",
  "steps",
  "timeout-minutes",
  "strategy",
  "continue-on-error",
  "container",
  "services",
  "uses",
  "with",
  "secrets",
]);
const STEP_KEYS = new Set([
  "id",
  "if",
  "name",
  "uses",
  "run",
  "working-directory",
  "shell",
  "with",
  "env",
  "continue-on-error",
  "timeout-minutes",
]);

/** github.* values that runners export as environment variables. */
const GITHUB_CONTEXT_ENV: Readonly<Record<string, string>> = {
  sha: "GITHUB_SHA",
  ref: "GITHUB_REF",
  ref_name: "GITHUB_REF_NAME",
  ref_type: "GITHUB_REF_TYPE",
  ref_protected: "GITHUB_REF_PROTECTED",
  head_ref: "GITHUB_HEAD_REF",
  base_ref: "GITHUB_BASE_REF",
  repository: "GITHUB_REPOSITORY",
  repository_id: "GITHUB_REPOSITORY_ID",
  repository_owner: "GITHUB_REPOSITORY_OWNER",
  repository_owner_id: "GITHUB_REPOSITORY_OWNER_ID",
  run_id: "GITHUB_RUN_ID",
  run_number: "GITHUB_RUN_NUMBER",
  run_attempt: "GITHUB_RUN_ATTEMPT",
  actor: "GITHUB_ACTOR",
  actor_id: "GITHUB_ACTOR_ID",
  triggering_actor: "GITHUB_TRIGGERING_ACTOR",
  event_name: "GITHUB_EVENT_NAME",
  event_path: "GITHUB_EVENT_PATH",
  job: "GITHUB_JOB",
  workflow: "GITHUB_WORKFLOW",
  workflow_ref: "GITHUB_WORKFLOW_REF",
  server_url: "GITHUB_SERVER_URL",
  api_url: "GITHUB_API_URL",
  graphql_url: "GITHUB_GRAPHQL_URL",
  action: "GITHUB_ACTION",
  workspace: "GITHUB_WORKSPACE",
};
const RUNNER_CONTEXT_ENV: Readonly<Record<string, string>> = {
  os: "RUNNER_OS",
  arch: "RUNNER_ARCH",
  name: "RUNNER_NAME",
  temp: "RUNNER_TEMP",
  tool_cache: "RUNNER_TOOL_CACHE",
  debug: "RUNNER_DEBUG",
  environment: "RUNNER_ENVIRONMENT",
};
/** Variables the generated script defines itself (files and directories GitHub provides). */
const EMULATED_VARIABLES = new Set([
  "GITHUB_OUTPUT",
  "GITHUB_ENV",
  "GITHUB_PATH",
  "GITHUB_STEP_SUMMARY",
  "GITHUB_WORKSPACE",
  "RUNNER_TEMP",
]);

type ValueKind = "string" | "number" | "boolean";

interface MatrixPlan {
  matrix: Matrix | null;
  /** GitHub matrix path ("os", "target.triple") -> the Microstack key and its value kinds. */
  keys: Map<string, { key: string; kinds: Set<ValueKind>; values: MatrixValue[]; partial: boolean }>;
  dynamic: boolean;
}

interface Param {
  name: string;
  type: "string" | "integer" | "number" | "boolean";
  spec: Record<string, unknown>;
}

interface JobInfo {
  key: string;
  node: SourceMap;
  stepId: string;
  reusable: boolean;
  needs: { job: string; node: SourceScalar }[];
  outputs: Map<string, SourceValue>;
  matrix: MatrixPlan | null;
  /** Artifact names this job uploads: GitHub name -> Microstack name. */
  uploads: Map<string, string>;
}

interface CheckoutConfig {
  key: string;
  inputs: Record<string, unknown>;
  label: string;
}

interface FetchRequest {
  /** GitHub artifact name, or null for "all artifacts". */
  name: string | null;
  path: string | null;
  node: SourceValue;
}

/** Runner labels that default to PowerShell. */
function isWindowsLabel(text: string): boolean {
  return /windows/i.test(text);
}

function actionName(uses: string): { name: string; ref: string } {
  const at = uses.lastIndexOf("@");
  return at === -1 ? { name: uses, ref: "" } : { name: uses.slice(0, at), ref: uses.slice(at + 1) };
}

function firstLine(text: string): string {
  const line = text.split("\n").find((candidate) => candidate.trim() !== "") ?? "";
  const trimmed = plainTitle(line);
  return trimmed.length > 60 ? `${trimmed.slice(0, 59)}…` : trimmed;
}

/** A title for a script comment: no `${{ }}` (it would be rendered), one line. */
function plainTitle(text: string): string {
  return text
    .replace(/\$\{\{([\s\S]*?)\}\}/g, (_, inner: string) => inner.trim())
    .replace(/\$\{\{/g, "$ {{")
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

/** Setup actions: what they install, as a container image when the version is plain. */
const SETUP_IMAGES: Readonly<Record<string, { input: string; image: string; tool: string }>> = {
  "actions/setup-node": { input: "node-version", image: "node", tool: "Node.js" },
  "actions/setup-python": { input: "python-version", image: "python", tool: "Python" },
  "actions/setup-go": { input: "go-version", image: "golang", tool: "Go" },
  "actions/setup-java": { input: "java-version", image: "eclipse-temurin", tool: "Java" },
  "ruby/setup-ruby": { input: "ruby-version", image: "ruby", tool: "Ruby" },
  "hashicorp/setup-terraform": { input: "terraform_version", image: "hashicorp/terraform", tool: "Terraform" },
  "dtolnay/rust-toolchain": { input: "toolchain", image: "rust", tool: "Rust" },
  "actions/setup-dotnet": { input: "dotnet-version", image: "mcr.microsoft.com/dotnet/sdk", tool: ".NET" },
};

function isSetupAction(name: string): boolean {
  const lower = name.toLowerCase();
  return SETUP_IMAGES[lower] !== undefined || /(^|\/|-)setup(-|$)|toolchain$|action-setup$/.test(lower);
}

function imageVersion(version: string): string | null {
  const trimmed = version.trim().replace(/^[v^~=]+|^>=\s*/g, "");
  if (/^(lts\/\*|lts)$/i.test(trimmed)) return "lts";
  if (/^(latest|stable|current|node)$/i.test(trimmed)) return "latest";
  const plain = /^(\d+(?:\.\d+)*)(?:\.x)*$/.exec(trimmed);
  return plain === null ? null : (plain[1] ?? null);
}

class GitHubImporter {
  readonly ids = new IdAllocator();
  readonly params = new Map<string, Param>();
  readonly jobs = new Map<string, JobInfo>();
  readonly pipelineEnv: Record<string, string | number | boolean> = {};
  /** Workflow env entries that only a shell can compute: exported at the top of every script. */
  readonly workflowEnvExports: [string, string][] = [];
  readonly checkouts = new Map<string, CheckoutConfig & { stepId?: string; jobs: Set<string> }>();
  readonly steps: Record<string, unknown>[] = [];
  readonly stepComments = new Map<string, string[]>();
  /** Final needs by step id (for artifact fetches). */
  readonly stepNeeds = new Map<string, string[]>();
  readonly fetches = new Map<string, FetchRequest[]>();
  /** Job step id -> the approval step before it. */
  readonly approvals = new Map<string, string>();
  workflowShell: SourceScalar | undefined;
  workflowWorkingDirectory: SourceScalar | undefined;
  expressionCounter = 0;

  constructor(
    readonly root: SourceMap,
    readonly notes: NoteList,
    readonly options: ImportOptions,
    readonly source: LoadedSource,
  ) {}

  run(): ImportResult {
    const { root, notes } = this;
    for (const [key, value] of root.entries) {
      if (!WORKFLOW_KEYS.has(key)) {
        notes.add("warning", "unknown-key", value, `"${key}" is not a GitHub Actions workflow key; it was ignored.`, {
          target: "key",
        });
      }
    }
    const name = this.pipelineName();
    this.githubTokenNote();
    const triggers = this.triggers();
    this.workflowEnv();
    // GitHub's runners set CI=true for every step; tools (npm, jest, ...) behave by it.
    if (this.pipelineEnv.CI === undefined) this.pipelineEnv.CI = "true";
    this.defaults(entry(root, "defaults"), "workflow");
    const concurrency = this.concurrency();
    const permissions = entry(root, "permissions");
    if (permissions !== undefined) {
      notes.add(
        "info",
        "permissions",
        permissions,
        "permissions: scopes GitHub's GITHUB_TOKEN; Microstack has no such token. Store the tokens the jobs need as secrets.",
        { target: "key" },
      );
    }
    const runName = entry(root, "run-name");
    if (runName !== undefined) {
      notes.add(
        "info",
        "run-name",
        runName,
        "run-name: Microstack names runs itself; the run name was not carried over.",
        {
          target: "key",
        },
      );
    }

    const jobsNode = entry(root, "jobs");
    if (jobsNode?.kind !== "map" || jobsNode.entries.size === 0) {
      notes.add(
        "error",
        "no-jobs",
        jobsNode ?? root,
        "The workflow has no jobs: a GitHub Actions workflow needs a jobs: mapping.",
        { target: "key" },
      );
    } else {
      this.collectJobs(jobsNode);
      this.buildJobs();
    }
    if (this.steps.length === 0) {
      this.steps.push({ id: this.ids.allocate("placeholder"), uses: "noop" });
      notes.addAtStart(
        "error",
        "no-steps",
        "Nothing of the workflow could be imported as a step; the pipeline has one placeholder noop step. Add steps in the editor.",
      );
    }

    const pipeline: Record<string, unknown> = { version: 1, name };
    if (this.params.size > 0) {
      pipeline.params = Object.fromEntries([...this.params.values()].map((param) => [param.name, param.spec]));
    }
    if (triggers !== null) pipeline.triggers = triggers;
    if (Object.keys(this.pipelineEnv).length > 0) pipeline.env = this.pipelineEnv;
    if (concurrency !== null) pipeline.concurrency = concurrency;
    pipeline.steps = this.steps;
    const header = [
      `Imported from GitHub Actions${this.options.fileName === undefined ? "" : ` (${this.options.fileName})`}.`,
      "Review the import notes: they list what was not carried over and where.",
    ];
    return finishImport({ header, pipeline, stepComments: this.stepComments }, notes);
  }

  pipelineName(): string {
    const fromOptions = this.options.name?.trim();
    if (fromOptions) return fromOptions.slice(0, 200);
    const fromWorkflow = scalarText(entry(this.root, "name"))?.trim();
    if (fromWorkflow) return fromWorkflow.slice(0, 200);
    const file = this.options.fileName?.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/i, "");
    return file !== undefined && file !== "" ? file : "imported-workflow";
  }

  // -------------------------------------------------------------------------------------------
  // Triggers and params.

  triggers(): Record<string, unknown> | null {
    const on = entry(this.root, "on");
    const { notes } = this;
    if (on === undefined) {
      notes.addAtStart("warning", "no-trigger", "The workflow has no on: section; runs start by hand.");
      return null;
    }
    const events = new Map<string, SourceValue>();
    if (on.kind === "scalar") {
      if (typeof on.value === "string") events.set(on.value, on);
    } else if (on.kind === "seq") {
      for (const item of on.items)
        if (item.kind === "scalar" && typeof item.value === "string") events.set(item.value, item);
    } else {
      for (const [key, value] of on.entries) events.set(key, value);
    }
    const schedules: Record<string, unknown>[] = [];
    for (const [event, node] of events) {
      const target = on.kind === "map" ? "key" : "value";
      switch (event) {
        case "workflow_dispatch":
          this.inputs(entry(node, "inputs"), "workflow_dispatch");
          break;
        case "workflow_call": {
          this.inputs(entry(node, "inputs"), "workflow_call");
          notes.add(
            "info",
            "workflow-call",
            node,
            "This is a reusable workflow (workflow_call): its inputs became params, so callers start it with those params.",
            { target },
          );
          for (const part of ["secrets", "outputs"] as const) {
            const value = entry(node, part);
            if (value !== undefined) {
              notes.add(
                "warning",
                `workflow-call-${part}`,
                value,
                part === "secrets"
                  ? `workflow_call secrets are passed by callers in GitHub; in Microstack the jobs read \${{ secrets.NAME }} from the project's secrets directly.`
                  : "workflow_call outputs are not carried over: a Microstack pipeline has no outputs; downstream pipelines cannot read them.",
                { target: "key" },
              );
            }
          }
          break;
        }
        case "schedule":
          for (const item of node.kind === "seq" ? node.items : [node]) {
            const cron = entry(item, "cron");
            const text = stringValue(cron)?.trim();
            if (text === undefined || cron === undefined) {
              notes.add("warning", "invalid-schedule", item, "A schedule without a cron: string was skipped.");
              continue;
            }
            const issues = checkCron(text);
            if (issues.length > 0) {
              notes.add(
                "warning",
                "invalid-schedule",
                cron,
                `The cron "${text}" was not carried over: ${issues[0]?.message}. Add the schedule in the editor.`,
              );
              continue;
            }
            schedules.push({ cron: text, timezone: "UTC" });
          }
          break;
        case "repository_dispatch":
          notes.add(
            "warning",
            "event-not-carried",
            node,
            `repository_dispatch starts runs from an API call; add a webhook trigger (triggers.webhook with a secret) and filter on the payload in its if:.`,
            { target },
          );
          break;
        default: {
          const filters = node.kind === "map" && node.entries.size > 0 ? ` (${describeValue(node, 80)})` : "";
          notes.add(
            "warning",
            "event-not-carried",
            node,
            event === "push" || event === "pull_request" || event === "pull_request_target" || event === "merge_group"
              ? `The ${event} trigger${filters} was not carried over: repository events arrive in Microstack later, with GitOps. Until then start runs by hand, on a schedule, or from a webhook trigger.`
              : `The ${event} event${filters} has no Microstack trigger; start runs by hand, on a schedule, or from a webhook trigger.`,
            { target },
          );
        }
      }
    }
    if (schedules.length === 0) return null;
    // A schedule must supply required params; GitHub passes scheduled runs no inputs at all.
    const required = [...this.params.values()].filter(
      (param) => param.spec.required === true && param.spec.default === undefined,
    );
    if (required.length > 0 || this.params.size > 0) {
      const values: Record<string, unknown> = {};
      for (const param of required) {
        const options = param.spec.options as unknown[] | undefined;
        values[param.name] = options?.[0] ?? (param.type === "boolean" ? false : param.type === "string" ? "" : 0);
      }
      if (Object.keys(values).length > 0) for (const schedule of schedules) schedule.params = values;
      const scheduleNode = on.kind === "map" ? on.entries.get("schedule") : undefined;
      if (scheduleNode !== undefined) {
        notes.add(
          "info",
          "schedule-params",
          scheduleNode,
          `Scheduled runs in GitHub get no inputs (inputs.* are empty); in Microstack they get the params' defaults${
            required.length > 0
              ? `, and ${required.map((param) => param.name).join(", ")} (required, no default) get ${required
                  .map((param) => JSON.stringify(values[param.name]))
                  .join(", ")} on schedules`
              : ""
          }.`,
          { target: "key" },
        );
      }
    }
    return { schedule: schedules };
  }

  inputs(node: SourceValue | undefined, event: string): void {
    if (node?.kind !== "map") return;
    for (const [inputName, spec] of node.entries) {
      if (this.params.has(inputName)) {
        const existing = this.params.get(inputName);
        const type = scalarText(entry(spec, "type"));
        if (existing !== undefined && type !== undefined && !this.sameType(existing.type, type)) {
          this.notes.add(
            "warning",
            "input-conflict",
            spec,
            `Input "${inputName}" of ${event} has type ${type}, but another trigger declares it as ${existing.type}; the first declaration was kept.`,
            { target: "key" },
          );
        }
        continue;
      }
      const name = NAME_PATTERN.test(inputName) ? inputName : sanitizeName(inputName, "param");
      if (name !== inputName) {
        this.notes.add("warning", "renamed-input", spec, `Input "${inputName}" became the param "${name}".`, {
          target: "key",
        });
      }
      const declaredType = scalarText(entry(spec, "type")) ?? "string";
      let type: Param["type"] = "string";
      const out: Record<string, unknown> = {};
      if (declaredType === "boolean") type = "boolean";
      else if (declaredType === "number") type = "number";
      else if (declaredType === "environment") {
        this.notes.add(
          "info",
          "environment-input",
          entry(spec, "type") ?? spec,
          `Input "${inputName}" lists the repository's environments in GitHub; it is a free-text string param here. Add options: with your environment names.`,
        );
      } else if (declaredType !== "string" && declaredType !== "choice") {
        this.notes.add(
          "warning",
          "input-type",
          entry(spec, "type") ?? spec,
          `Input type "${declaredType}" is unknown; "${name}" is a string param.`,
        );
      }
      out.type = type;
      const description = scalarText(entry(spec, "description"));
      if (description !== undefined) out.description = description.slice(0, 2000);
      const options = entry(spec, "options");
      if (declaredType === "choice") {
        const values = stringList(options).map((option) => String(option.value));
        if (values.length > 0) out.options = values;
        else
          this.notes.add(
            "warning",
            "input-options",
            spec,
            `Choice input "${inputName}" has no options; it is a free-text string param.`,
            { target: "key" },
          );
      }
      const defaultNode = entry(spec, "default");
      if (defaultNode !== undefined && !isNullValue(defaultNode)) {
        const raw = defaultNode.kind === "scalar" ? defaultNode.value : null;
        let value: unknown;
        if (type === "boolean")
          value = raw === true || raw === "true" ? true : raw === false || raw === "false" ? false : undefined;
        else if (type === "number")
          value = typeof raw === "number" ? raw : Number.isFinite(Number(raw)) && raw !== "" ? Number(raw) : undefined;
        else value = raw === null ? undefined : String(raw);
        if (typeof value === "string" && value.includes("${{")) {
          this.notes.add(
            "warning",
            "input-default",
            defaultNode,
            `The default of "${inputName}" is an expression; it was dropped.`,
          );
          value = undefined;
        }
        if (value === undefined) {
          this.notes.add(
            "warning",
            "input-default",
            defaultNode,
            `The default ${describeValue(defaultNode)} does not fit the ${type} param "${name}"; it was dropped.`,
          );
        } else if (Array.isArray(out.options) && !(out.options as unknown[]).includes(value)) {
          this.notes.add(
            "warning",
            "input-default",
            defaultNode,
            `The default ${JSON.stringify(value)} is not one of the options of "${name}"; it was dropped.`,
          );
        } else {
          out.default = value;
        }
      }
      if (entry(spec, "required")?.kind === "scalar" && (entry(spec, "required") as SourceScalar).value === true) {
        out.required = true;
      }
      const deprecation = entry(spec, "deprecationMessage");
      if (deprecation !== undefined) {
        this.notes.add(
          "info",
          "input-deprecation",
          deprecation,
          "deprecationMessage is not shown by Microstack; it was put in the description.",
          { target: "key" },
        );
        out.description =
          `${out.description ?? ""}${out.description === undefined ? "" : " "}(Deprecated: ${scalarText(deprecation) ?? ""})`.trim();
      }
      this.params.set(inputName, { name, type, spec: out });
    }
  }

  sameType(type: Param["type"], github: string): boolean {
    if (github === "boolean") return type === "boolean";
    if (github === "number") return type === "number";
    return type === "string";
  }

  // -------------------------------------------------------------------------------------------
  // Workflow env, defaults, concurrency.

  workflowEnv(): void {
    const env = entry(this.root, "env");
    if (env === undefined) return;
    if (env.kind !== "map") {
      this.notes.add(
        "warning",
        "env-expression",
        env,
        "The workflow env is not a mapping (an expression?); it was not carried over.",
        { target: "key" },
      );
      return;
    }
    const scope = this.scope({ mode: "template", job: null, env: new Set() });
    for (const [name, value] of env.entries) {
      if (!ENV_NAME_PATTERN.test(name)) {
        this.notes.add("warning", "env-name", value, `"${name}" is not a valid variable name; it was dropped.`, {
          target: "key",
        });
        continue;
      }
      if (value.kind !== "scalar") {
        this.notes.add("warning", "env-value", value, `env ${name} is not a string; it was dropped.`);
        continue;
      }
      if (typeof value.value !== "string" || !value.value.includes("${{")) {
        this.pipelineEnv[name] = value.value === null ? "" : value.value;
        continue;
      }
      const translated = this.templateCel(value.value, scope);
      if (translated.failures.length === 0) {
        this.pipelineEnv[name] = translated.text;
        continue;
      }
      const state = new ScriptState(null, []);
      const word = this.shellWord(value, scope, { kind: "bash", pipefail: false }, state);
      this.workflowEnvExports.push([name, word]);
      const variables = state.variableNames();
      this.notes.add(
        "warning",
        "env-computed",
        value,
        `env ${name} uses ${translated.failures.map((failure) => failure.expression).join(", ")}, which Microstack does not have; every job's script computes it (export ${name}=${word})${
          variables.length > 0
            ? `, and ${variables.join(", ")} ${variables.length === 1 ? "is" : "are"} empty unless you set ${variables.length === 1 ? "it" : "them"} in env`
            : ""
        }.`,
      );
    }
  }

  defaults(
    node: SourceValue | undefined,
    level: "workflow" | "job",
  ): { shell?: SourceScalar; workingDirectory?: SourceScalar } {
    const out: { shell?: SourceScalar; workingDirectory?: SourceScalar } = {};
    if (node === undefined) return out;
    for (const [key, value] of node.kind === "map" ? node.entries : []) {
      if (key !== "run") {
        this.notes.add(
          "warning",
          "unknown-key",
          value,
          `defaults.${key} is not a GitHub Actions key; it was ignored.`,
          { target: "key" },
        );
        continue;
      }
      for (const [runKey, runValue] of value.kind === "map" ? value.entries : []) {
        if (runKey === "shell" && runValue.kind === "scalar") out.shell = runValue;
        else if (runKey === "working-directory" && runValue.kind === "scalar") out.workingDirectory = runValue;
        else
          this.notes.add("warning", "unknown-key", runValue, `defaults.run.${runKey} was ignored.`, { target: "key" });
      }
    }
    if (level === "workflow") {
      this.workflowShell = out.shell;
      this.workflowWorkingDirectory = out.workingDirectory;
    }
    return out;
  }

  concurrency(): Record<string, unknown> | null {
    const node = entry(this.root, "concurrency");
    if (node === undefined) return null;
    const group = node.kind === "scalar" ? node : entry(node, "group");
    const cancel = entry(node, "cancel-in-progress");
    const out: Record<string, unknown> = { runs: 1 };
    if (cancel?.kind === "scalar" && typeof cancel.value === "boolean") out["cancel-in-progress"] = cancel.value;
    else if (cancel !== undefined) {
      this.notes.add(
        "warning",
        "concurrency",
        cancel,
        `cancel-in-progress: ${describeValue(cancel)} is an expression; runs queue instead (set cancel-in-progress in the editor).`,
      );
    }
    const groupText = scalarText(group) ?? "";
    this.notes.add(
      "info",
      "concurrency",
      node,
      `concurrency became "one run at a time" (runs: 1)${
        groupText.includes("${{")
          ? `: GitHub's group "${groupText}" separates runs per ref or event, which Microstack cannot`
          : ""
      }; a group shared with other workflows is not shared here.`,
      { target: "key" },
    );
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Jobs.

  collectJobs(jobsNode: SourceMap): void {
    for (const [key, node] of jobsNode.entries) {
      if (node.kind !== "map") {
        this.notes.add("error", "invalid-job", node, `Job "${key}" is not a mapping; it was skipped.`, {
          target: "key",
        });
        continue;
      }
      const reusable = node.entries.has("uses");
      const needsNode = entry(node, "needs");
      const needs = stringList(needsNode)
        .filter((item) => typeof item.value === "string")
        .map((item) => ({ job: String(item.value), node: item }));
      const outputs = new Map<string, SourceValue>();
      const outputsNode = entry(node, "outputs");
      if (outputsNode?.kind === "map") {
        for (const [name, value] of outputsNode.entries) {
          if (!NAME_PATTERN.test(name)) {
            this.notes.add(
              "warning",
              "output-name",
              value,
              `Output "${name}" is not a valid output name; it was dropped.`,
              { target: "key" },
            );
            continue;
          }
          outputs.set(name, value);
        }
      }
      const info: JobInfo = {
        key,
        node,
        stepId: this.ids.allocate(key),
        reusable,
        needs,
        outputs,
        matrix: reusable ? null : this.matrixPlan(key, entry(entry(node, "strategy"), "matrix")),
        uploads: new Map(),
      };
      for (const step of entry(node, "steps")?.kind === "seq"
        ? (entry(node, "steps") as { items: SourceValue[] }).items
        : []) {
        const uses = stringValue(entry(step, "uses"));
        if (uses === undefined || actionName(uses).name.toLowerCase() !== "actions/upload-artifact") continue;
        const raw = stringValue(entry(entry(step, "with"), "name")) ?? "artifact";
        if (!info.uploads.has(raw)) info.uploads.set(raw, this.artifactName(raw, info));
      }
      this.jobs.set(key, info);
    }
  }

  artifactName(raw: string, job: JobInfo): string {
    const stripped = raw.replace(/\$\{\{[\s\S]*?\}\}/g, "").replace(/^[-_]+|[-_]+$/g, "");
    let name = NAME_PATTERN.test(stripped)
      ? stripped
      : sanitizeName(stripped === "" ? "artifact" : stripped, "artifact");
    const taken = new Set(job.uploads.values());
    for (let n = 2; taken.has(name); n++) name = `${name}-${n}`;
    return name;
  }

  buildJobs(): void {
    const skipped = new Set<string>();
    const rawNeeds = new Map<string, string[]>();
    for (const job of this.jobs.values()) {
      if (job.reusable) skipped.add(job.stepId);
      const list: string[] = [];
      for (const need of job.needs) {
        const target = this.jobs.get(need.job);
        if (target === undefined) {
          this.notes.add(
            "error",
            "unknown-need",
            need.node,
            `Job "${job.key}" needs "${need.job}", which is not a job of this workflow; the need was dropped.`,
          );
          continue;
        }
        if (!list.includes(target.stepId)) list.push(target.stepId);
      }
      rawNeeds.set(job.stepId, list);
    }
    this.breakCycles(rawNeeds);
    const needs = relinkNeeds(rawNeeds, skipped);
    for (const job of this.jobs.values()) {
      if (job.reusable) {
        this.reusableJob(job);
        continue;
      }
      this.buildJob(job, needs.get(job.stepId) ?? []);
    }
    this.addCheckouts();
    this.resolveFetches();
  }

  breakCycles(needs: Map<string, string[]>): void {
    const state = new Map<string, "visiting" | "done">();
    const visit = (id: string) => {
      state.set(id, "visiting");
      const list = needs.get(id) ?? [];
      for (const need of [...list]) {
        if (state.get(need) === "visiting") {
          list.splice(list.indexOf(need), 1);
          const job = [...this.jobs.values()].find((candidate) => candidate.stepId === id);
          const node = job?.needs.find((item) => this.jobs.get(item.job)?.stepId === need)?.node ?? job?.node;
          if (node !== undefined) {
            this.notes.add(
              "error",
              "needs-cycle",
              node,
              `The needs of "${job?.key}" form a cycle through "${need}"; this need was dropped.`,
            );
          }
        } else if (state.get(need) === undefined) {
          visit(need);
        }
      }
      state.set(id, "done");
    };
    for (const id of needs.keys()) if (state.get(id) === undefined) visit(id);
  }

  reusableJob(job: JobInfo): void {
    const uses = entry(job.node, "uses") as SourceValue;
    const dependents = [...this.jobs.values()].filter((other) => other.needs.some((need) => need.job === job.key));
    this.notes.add(
      "error",
      "reusable-workflow",
      uses,
      `Job "${job.key}" calls the reusable workflow ${describeValue(uses)}${
        entry(job.node, "with") === undefined ? "" : ` with ${describeValue(entry(job.node, "with"), 80)}`
      }; it was not imported. Import that workflow as its own pipeline, or paste its jobs here.${
        dependents.length > 0
          ? ` ${dependents.map((other) => `"${other.key}"`).join(", ")} now need${dependents.length === 1 ? "s" : ""} what "${job.key}" needed.`
          : ""
      }`,
      { target: "key" },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Matrix.

  matrixPlan(jobKey: string, node: SourceValue | undefined): MatrixPlan | null {
    if (node === undefined) return null;
    const plan: MatrixPlan = { matrix: null, keys: new Map(), dynamic: false };
    const dynamic = (at: SourceValue, what: string) => {
      plan.dynamic = true;
      this.notes.add(
        "warning",
        "matrix-expression",
        at,
        `The matrix of "${jobKey}" comes from ${what} (${describeValue(at, 80)}), known only at run time; the job was imported without a matrix. List the values as axes in the editor.`,
      );
      return plan;
    };
    if (node.kind === "scalar") return dynamic(node, "an expression");
    if (node.kind !== "map") return dynamic(node, "a value that is not a mapping");
    const axes: [string, SourceValue[]][] = [];
    let hasObjects = false;
    const checkValue = (value: SourceValue): boolean => {
      if (value.kind !== "scalar") hasObjects = true;
      else if (typeof value.value === "string" && value.value.includes("${{")) return false;
      return true;
    };
    for (const [key, value] of node.entries) {
      if (key === "include" || key === "exclude") {
        if (value.kind === "scalar") return dynamic(value, `an expression in ${key}`);
        for (const item of value.kind === "seq" ? value.items : []) {
          if (item.kind !== "map") return dynamic(item, `a ${key} entry that is not a mapping`);
          for (const child of item.entries.values())
            if (!checkValue(child)) return dynamic(child, `an expression in ${key}`);
        }
        continue;
      }
      if (value.kind !== "seq") return dynamic(value, `an expression for axis "${key}"`);
      for (const item of value.items) if (!checkValue(item)) return dynamic(item, `an expression in axis "${key}"`);
      axes.push([key, value.items]);
    }
    const include = entry(node, "include");
    const exclude = entry(node, "exclude");
    if (hasObjects) return this.flattenedMatrix(jobKey, node, axes, include, exclude, plan);

    const keyFor = (name: string): string => {
      const existing = plan.keys.get(name);
      if (existing !== undefined) return existing.key;
      const key = NAME_PATTERN.test(name) ? name : sanitizeName(name, "key");
      plan.keys.set(name, { key, kinds: new Set(), values: [], partial: false });
      return key;
    };
    const record = (name: string, value: MatrixValue) => {
      const info = plan.keys.get(name);
      if (info === undefined) return;
      info.kinds.add(typeof value as ValueKind);
      info.values.push(value);
    };
    const matrix: Matrix = {};
    const axesOut: Record<string, MatrixValue[]> = {};
    for (const [name, items] of axes) {
      const key = keyFor(name);
      const values: MatrixValue[] = [];
      for (const item of items) {
        const value = (item as SourceScalar).value;
        if (value === null) {
          this.notes.add("warning", "matrix-null", item, `A null value in axis "${name}" was dropped.`);
          continue;
        }
        values.push(value);
        record(name, value);
      }
      if (values.length === 0) {
        this.notes.add(
          "warning",
          "matrix-empty-axis",
          node.entries.get(name) ?? node,
          `Axis "${name}" has no values; it was dropped.`,
          { target: "key" },
        );
        continue;
      }
      axesOut[key] = values;
    }
    if (Object.keys(axesOut).length > 0) matrix.axes = axesOut;
    const entries = (list: SourceValue | undefined, kind: "include" | "exclude") => {
      const out: Record<string, MatrixValue>[] = [];
      for (const item of list?.kind === "seq" ? list.items : []) {
        if (item.kind !== "map") continue;
        const combination: Record<string, MatrixValue> = {};
        for (const [name, value] of item.entries) {
          const scalar = (value as SourceScalar).value;
          if (scalar === null) continue;
          if (kind === "exclude" && !axes.some(([axis]) => axis === name)) {
            this.notes.add(
              "warning",
              "matrix-exclude",
              value,
              `exclude names "${name}", which is not an axis; that key was dropped.`,
              { target: "key" },
            );
            continue;
          }
          combination[keyFor(name)] = scalar;
          record(name, scalar);
        }
        if (Object.keys(combination).length > 0) out.push(combination);
      }
      return out;
    };
    const includes = entries(include, "include");
    const excludes = entries(exclude, "exclude");
    if (includes.length > 0) matrix.include = includes;
    if (excludes.length > 0) matrix.exclude = excludes;
    plan.matrix = this.checkedMatrix(jobKey, node, matrix);
    this.markPartialKeys(plan);
    return plan;
  }

  /** Keys that some combinations lack (include entries add them to a few). */
  markPartialKeys(plan: MatrixPlan): void {
    if (plan.matrix === null) return;
    const expansion = expandMatrix(plan.matrix);
    if (!expansion.ok) return;
    for (const info of plan.keys.values()) {
      info.partial = expansion.combinations.some((combination) => !(info.key in combination));
    }
  }

  checkedMatrix(jobKey: string, node: SourceValue, matrix: Matrix): Matrix | null {
    if (matrix.axes === undefined && matrix.include === undefined) {
      this.notes.add("warning", "matrix-empty", node, `The matrix of "${jobKey}" has no values; it was dropped.`, {
        target: "key",
      });
      return null;
    }
    const expansion = expandMatrix(matrix);
    if (!expansion.ok || expansion.combinations.length === 0) {
      this.notes.add(
        "error",
        "matrix-invalid",
        node,
        `The matrix of "${jobKey}" ${
          expansion.ok ? "has no combination left after exclude" : "is larger than Microstack's limits"
        }; it was dropped.`,
        { target: "key" },
      );
      return null;
    }
    return matrix;
  }

  /**
   * A matrix with object or list values: expanded here with GitHub's rules and written as
   * include entries whose nested keys are flattened (`target.os` -> `target_os`).
   */
  flattenedMatrix(
    jobKey: string,
    node: SourceMap,
    axes: [string, SourceValue[]][],
    include: SourceValue | undefined,
    exclude: SourceValue | undefined,
    plan: MatrixPlan,
  ): MatrixPlan {
    type Plain = Record<string, unknown>;
    let combinations: Plain[] = axes.length === 0 ? [] : [{}];
    for (const [name, items] of axes) {
      const next: Plain[] = [];
      for (const combination of combinations)
        for (const item of items) next.push({ ...combination, [name]: toPlain(item) });
      combinations = next;
    }
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const matchesPartially = (value: unknown, pattern: unknown): boolean => {
      if (
        pattern !== null &&
        typeof pattern === "object" &&
        !Array.isArray(pattern) &&
        value !== null &&
        typeof value === "object"
      ) {
        return Object.entries(pattern).every(([key, sub]) => matchesPartially((value as Plain)[key], sub));
      }
      return same(value, pattern);
    };
    const excludes = (exclude?.kind === "seq" ? exclude.items : []).map((item) => toPlain(item) as Plain);
    combinations = combinations.filter(
      (combination) =>
        !excludes.some((pattern) =>
          Object.entries(pattern).every(([key, value]) => matchesPartially(combination[key], value)),
        ),
    );
    const axisNames = axes.map(([name]) => name);
    const extra: Plain[] = [];
    for (const item of include?.kind === "seq" ? include.items : []) {
      const pattern = toPlain(item) as Plain;
      let merged = false;
      for (const combination of combinations) {
        const fits = axisNames.every((name) => !(name in pattern) || same(combination[name], pattern[name]));
        if (!fits) continue;
        Object.assign(combination, pattern);
        merged = true;
      }
      if (!merged) extra.push({ ...pattern });
    }
    const flatten = (value: unknown, prefix: string[], out: Record<string, MatrixValue>) => {
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        for (const [key, sub] of Object.entries(value)) flatten(sub, [...prefix, key], out);
        return;
      }
      if (value === null || value === undefined) return;
      const path = prefix.join(".");
      let info = plan.keys.get(path);
      if (info === undefined) {
        const key = sanitizeName(prefix.join("_"), "key");
        info = { key, kinds: new Set(), values: [], partial: false };
        plan.keys.set(path, info);
      }
      const scalar: MatrixValue = Array.isArray(value) ? JSON.stringify(value) : (value as MatrixValue);
      info.kinds.add(typeof scalar as ValueKind);
      info.values.push(scalar);
      out[info.key] = scalar;
    };
    const include_: Record<string, MatrixValue>[] = [];
    for (const combination of [...combinations, ...extra]) {
      const out: Record<string, MatrixValue> = {};
      for (const [key, value] of Object.entries(combination)) flatten(value, [key], out);
      include_.push(out);
    }
    this.notes.add(
      "info",
      "matrix-flattened",
      node,
      `The matrix of "${jobKey}" has object or list values; it was expanded with GitHub's rules into ${include_.length} include entries, and nested keys are flattened (matrix.a.b is matrix.a_b; lists are JSON text).`,
      { target: "key" },
    );
    plan.matrix = this.checkedMatrix(jobKey, node, { include: include_ });
    this.markPartialKeys(plan);
    return plan;
  }

  // -------------------------------------------------------------------------------------------
  // Expressions.

  scope(options: { mode: "condition" | "template"; job: JobInfo | null; env: ReadonlySet<string> }): GhScope {
    const { job } = options;
    return {
      mode: options.mode,
      allowSecrets: options.mode === "template",
      param: (name) => this.params.get(name),
      need: (name) => {
        if (job === null || !job.needs.some((need) => need.job === name)) return undefined;
        const target = this.jobs.get(name);
        if (target === undefined) return undefined;
        if (target.reusable) return "skipped";
        return { stepId: target.stepId, outputs: new Set(target.outputs.keys()) };
      },
      matrix: (path) => {
        const plan = job?.matrix;
        if (plan === null || plan === undefined || plan.matrix === null) return "no-matrix";
        const found = plan.keys.get(path.join("."));
        return found === undefined ? "unknown-key" : { key: found.key, kinds: found.kinds, partial: found.partial };
      },
      env: (name) => options.env.has(name),
    };
  }

  /** A string's `${{ }}` translated to CEL templates; failures are returned, not reported. */
  templateCel(
    text: string,
    scope: GhScope,
  ): { text: string; failures: { expression: string; reason: string; start: number; end: number }[] } {
    const scan = scanInterpolations(text);
    let out = "";
    let from = 0;
    const failures: { expression: string; reason: string; start: number; end: number }[] = [];
    for (const interpolation of scan.interpolations) {
      out += text.slice(from, interpolation.start);
      from = interpolation.end;
      const expression = text.slice(interpolation.expressionStart, interpolation.end - 2);
      const github = this.githubToken(expression);
      const result = github ?? translateGitHubValue(expression, scope);
      if (result.ok) {
        out += `\${{ ${result.cel} }}`;
      } else {
        failures.push({
          expression: expression.trim(),
          reason: result.reason,
          start: interpolation.start,
          end: interpolation.end,
        });
        out += expression.trim();
      }
    }
    out += text.slice(from);
    return { text: out, failures };
  }

  /** `github.token` is the same token as `secrets.GITHUB_TOKEN`. */
  githubToken(expression: string): { ok: true; cel: string; status: false; type: "string"; secret: string } | null {
    return /^\s*github\.token\s*$/.test(expression)
      ? { ok: true, cel: "secrets.GITHUB_TOKEN", status: false, type: "string", secret: "GITHUB_TOKEN" }
      : null;
  }

  /** A display string (names, messages): untranslated parts stay as plain text, with a note. */
  displayTemplate(node: SourceValue, scope: GhScope, what: string): string | undefined {
    const text = scalarText(node);
    if (text === undefined) return undefined;
    const result = this.templateCel(text, scope);
    for (const failure of result.failures) {
      this.notes.add(
        "info",
        "untranslated-expression",
        node,
        `In ${what}, \${{ ${failure.expression} }} cannot be translated (${failure.reason}); it shows as the text "${failure.expression}".`,
        { at: failure },
      );
    }
    return result.text.trim() === "" ? undefined : result.text.slice(0, 200).trim();
  }

  // -------------------------------------------------------------------------------------------
  // One job.

  buildJob(job: JobInfo, needs: string[]): void {
    const { node } = job;
    const notes = this.notes;
    for (const [key, value] of node.entries) {
      if (!JOB_KEYS.has(key)) {
        notes.add("warning", "unknown-key", value, `"${key}" is not a GitHub Actions job key; it was ignored.`, {
          target: "key",
        });
      }
    }
    const step: Record<string, unknown> = { id: job.stepId };
    const comments: string[] = [];
    const jobDefaults = this.defaults(entry(node, "defaults"), "job");

    // Env visible to the job's expressions: the workflow's and the job's own.
    const jobEnvNode = entry(node, "env");
    const container = entry(node, "container");
    const containerEnv = container?.kind === "map" ? entry(container, "env") : undefined;
    const envNames = new Set(Object.keys(this.pipelineEnv));
    for (const source of [containerEnv, jobEnvNode]) {
      if (source?.kind === "map")
        for (const name of source.entries.keys()) if (ENV_NAME_PATTERN.test(name)) envNames.add(name);
    }
    const conditionScope = this.scope({ mode: "condition", job: { ...job, matrix: null }, env: new Set() });
    const templateScope = this.scope({ mode: "template", job, env: envNames });

    const nameNode = entry(node, "name");
    const name =
      nameNode === undefined
        ? undefined
        : this.displayTemplate(nameNode, templateScope, `the name of job "${job.key}"`);
    if (name !== undefined && name !== job.stepId) step.name = name;

    // Condition.
    let condition: { cel: string | null; status: boolean } = { cel: null, status: false };
    const ifNode = entry(node, "if");
    if (ifNode !== undefined) condition = this.condition(ifNode, conditionScope, `job "${job.key}"`, comments);

    // Environment -> approval before the job.
    const environment = entry(node, "environment");
    let approvalId: string | null = null;
    if (environment !== undefined) {
      approvalId = this.approval(job, environment, needs, condition, templateScope);
      this.approvals.set(job.stepId, approvalId);
    }
    const allNeeds = approvalId === null ? needs : [approvalId, ...needs];
    if (allNeeds.length > 0) step.needs = allNeeds;
    if (condition.cel !== null) {
      step.if =
        approvalId !== null && condition.status
          ? `(${condition.cel}) && ${celMember("steps", approvalId)}.outcome == "success"`
          : condition.cel;
    } else if (ifNode?.kind === "scalar" && ifNode.value === false) {
      step.if = false;
    }

    if (job.matrix?.matrix !== null && job.matrix?.matrix !== undefined) {
      const matrix: Record<string, unknown> = { ...job.matrix.matrix };
      const strategy = entry(node, "strategy");
      const failFast = entry(strategy, "fail-fast");
      const maxParallel = entry(strategy, "max-parallel");
      if (failFast?.kind === "scalar" && typeof failFast.value === "boolean") matrix["fail-fast"] = failFast.value;
      else if (failFast !== undefined)
        notes.add("warning", "matrix-fail-fast", failFast, "fail-fast is an expression; the default (true) applies.");
      if (maxParallel?.kind === "scalar" && typeof maxParallel.value === "number" && maxParallel.value >= 1) {
        matrix["max-parallel"] = Math.floor(maxParallel.value);
      } else if (maxParallel !== undefined)
        notes.add(
          "warning",
          "matrix-max-parallel",
          maxParallel,
          "max-parallel is not a positive number; it was dropped.",
        );
      step.matrix = matrix;
    }
    const strategy = entry(node, "strategy");
    for (const [key, value] of strategy?.kind === "map" ? strategy.entries : []) {
      if (!["matrix", "fail-fast", "max-parallel"].includes(key)) {
        notes.add("warning", "unknown-key", value, `strategy.${key} is not a GitHub Actions key; it was ignored.`, {
          target: "key",
        });
      }
    }

    // Image: the container, else what a setup action installs.
    let image: string | undefined;
    if (container !== undefined) image = this.container(container, templateScope);
    const runsOn = entry(node, "runs-on");
    const windows = this.runsOn(job, runsOn, container !== undefined);

    // Steps -> script.
    const env: Record<string, string | number | boolean> = {};
    const exports: [string, string][] = [];
    for (const source of [containerEnv, jobEnvNode]) this.jobEnv(source, templateScope, env, exports, job);
    const script = this.script(job, {
      shell: jobDefaults.shell ?? this.workflowShell,
      workingDirectory: jobDefaults.workingDirectory ?? this.workflowWorkingDirectory,
      windows,
      templateScope,
      env,
      envNames,
      exports,
    });
    if (image === undefined && script.image !== undefined) image = script.image;
    if (image !== undefined) step.image = image;
    if (script.shell !== undefined) step.shell = script.shell;
    if (script.workingDirectory !== undefined) step["working-directory"] = script.workingDirectory;
    if (Object.keys(env).length > 0) step.env = env;

    const timeout = entry(node, "timeout-minutes");
    if (timeout !== undefined) {
      if (timeout.kind === "scalar" && typeof timeout.value === "number" && timeout.value > 0)
        step.timeout = `${timeout.value}m`;
      else
        notes.add(
          "warning",
          "timeout",
          timeout,
          `timeout-minutes: ${describeValue(timeout)} is not a number; GitHub's default of 6 hours is not applied either. Set timeout: in the editor.`,
        );
    }
    const continueOnError = entry(node, "continue-on-error");
    if (continueOnError !== undefined) {
      if (continueOnError.kind === "scalar" && typeof continueOnError.value === "boolean")
        step["continue-on-error"] = continueOnError.value;
      else
        notes.add(
          "warning",
          "continue-on-error",
          continueOnError,
          `continue-on-error: ${describeValue(continueOnError)} depends on the run (often the matrix leg); Microstack's continue-on-error is true or false for the whole step, so it was left off (failures fail the run).`,
        );
    }
    if (job.outputs.size > 0) step.outputs = [...job.outputs.keys()];
    if (script.save.length > 0) step.artifacts = { save: script.save };
    if (script.fetches.length > 0) this.fetches.set(job.stepId, script.fetches);
    step.run = script.script;

    for (const key of ["services", "concurrency", "permissions", "snapshot"] as const) {
      const value = entry(node, key);
      if (value === undefined) continue;
      if (key === "services") {
        const names =
          value.kind === "map"
            ? [...value.entries.entries()].map(
                ([service, spec]) => `${service} (${scalarText(entry(spec, "image")) ?? scalarText(spec) ?? "?"})`,
              )
            : [];
        notes.add(
          "warning",
          "services",
          value,
          `Service containers ${names.join(", ")} are not started by Microstack; the job's script cannot reach them. Start them in the script (docker run ...) or point the job at a shared instance.`,
          { target: "key" },
        );
      } else if (key === "concurrency") {
        notes.add(
          "warning",
          "job-concurrency",
          value,
          `The job-level concurrency group ${describeValue(value, 80)} was not carried over: Microstack limits concurrency per pipeline (concurrency: runs).`,
          { target: "key" },
        );
      } else if (key === "permissions") {
        notes.add(
          "info",
          "permissions",
          value,
          "permissions: scopes GitHub's GITHUB_TOKEN; Microstack has no such token.",
          { target: "key" },
        );
      } else {
        notes.add("info", "snapshot", value, "snapshot: (custom runner images) is not carried over.", {
          target: "key",
        });
      }
    }

    if (script.checkouts.length > 0) {
      for (const checkout of script.checkouts) {
        const existing = this.checkouts.get(checkout.key);
        if (existing === undefined) this.checkouts.set(checkout.key, { ...checkout, jobs: new Set([job.stepId]) });
        else existing.jobs.add(job.stepId);
      }
    }
    this.stepNeeds.set(job.stepId, allNeeds);
    if (comments.length > 0) this.stepComments.set(job.stepId, comments);
    this.steps.push(step);
  }

  condition(
    node: SourceValue,
    scope: GhScope,
    what: string,
    comments: string[],
  ): { cel: string | null; status: boolean } {
    if (node.kind !== "scalar") {
      this.notes.add("warning", "condition", node, `The if: of ${what} is not an expression; it was dropped.`);
      return { cel: null, status: false };
    }
    if (typeof node.value === "boolean") return { cel: node.value ? null : "false", status: false };
    const text = String(node.value ?? "");
    const result = translateGitHubCondition(text, scope);
    for (const dropped of result.dropped) {
      this.notes.add(
        "warning",
        "condition-dropped",
        node,
        `The condition ${dropped.text === text.trim() ? "" : "part "}"${dropped.text}" of ${what} cannot be evaluated in Microstack (${dropped.reason}); it was dropped, so the ${
          result.cel === null ? "step runs whenever its needs succeed" : "rest of the condition decides"
        }. Gate it with a param or a webhook filter if it matters.`,
        { at: { start: dropped.start, end: dropped.end } },
      );
    }
    if (result.dropped.length > 0)
      comments.push(`GitHub if: ${text.trim()}`, "  (partly or wholly dropped: see the import notes)");
    return { cel: result.cel, status: result.status };
  }

  approval(
    job: JobInfo,
    node: SourceValue,
    needs: readonly string[],
    condition: { cel: string | null; status: boolean },
    scope: GhScope,
  ): string {
    const nameNode = node.kind === "map" ? entry(node, "name") : node;
    const url = node.kind === "map" ? entry(node, "url") : undefined;
    const raw = scalarText(nameNode) ?? "";
    let environment: string | null = null;
    const noMatrixScope: GhScope = { ...scope, matrix: () => "no-matrix" };
    const translated = this.templateCel(raw, noMatrixScope);
    if (raw !== "" && translated.failures.length === 0) environment = translated.text;
    else if (raw !== "") {
      const reason = translated.failures[0]?.reason ?? "";
      this.notes.add(
        "warning",
        "environment-expression",
        nameNode ?? node,
        `The environment name "${raw}" is computed (${reason}); one approval now covers the job and has no environment. Name the environment in the approval step.`,
      );
    }
    const id = this.ids.allocate(`approve-${job.stepId}`);
    const label = environment ?? plainTitle(raw);
    const step = approvalStep({
      id,
      name: `Approve ${job.key}${label === "" ? "" : ` (${label})`}`.slice(0, 200),
      environment,
      message: `Approve job "${job.key}"${label === "" ? "" : ` deploying to ${label}`}?`,
      needs,
      condition: condition.cel,
    });
    this.steps.push(step);
    this.stepNeeds.set(id, [...needs]);
    this.notes.add(
      "info",
      "environment-approval",
      node,
      `environment: ${raw === "" ? describeValue(node) : raw} became the approval step "${id}" before "${job.stepId}". GitHub's required reviewers live in the repository's settings, not in the workflow. ${APPROVER_ROLE_NOTE}`,
      { target: "key" },
    );
    if (url !== undefined) {
      this.notes.add(
        "info",
        "environment-url",
        url,
        `The environment URL ${describeValue(url)} is not shown by Microstack.`,
        { target: "key" },
      );
    }
    return id;
  }

  container(node: SourceValue, scope: GhScope): string | undefined {
    const imageNode = node.kind === "map" ? entry(node, "image") : node;
    const text = scalarText(imageNode);
    let image: string | undefined;
    if (text !== undefined && imageNode !== undefined) {
      const translated = this.templateCel(text, scope);
      if (translated.failures.length === 0) image = translated.text;
      else {
        this.notes.add(
          "warning",
          "container-expression",
          imageNode,
          `The container image "${text}" uses ${translated.failures.map((failure) => failure.expression).join(", ")}, which cannot be translated; the job has no image. Set image: in the editor.`,
        );
      }
    }
    if (node.kind === "map") {
      for (const [key, value] of node.entries) {
        if (key === "image" || key === "env") continue;
        const messages: Record<string, string> = {
          credentials:
            "Registry credentials for the job's container are configured on Microstack's executors, not per step.",
          options: "docker create options of the job container are not carried over.",
          ports: "Ports of the job container are not carried over.",
          volumes: "Volumes of the job container are not carried over.",
        };
        this.notes.add(
          "warning",
          "container-option",
          value,
          `container.${key}: ${messages[key] ?? "not carried over."}`,
          { target: "key" },
        );
      }
    }
    return image;
  }

  /** Notes runs-on; returns whether the job runs on Windows (PowerShell is its default shell). */
  runsOn(job: JobInfo, node: SourceValue | undefined, hasContainer: boolean): boolean {
    if (node === undefined) {
      this.notes.add("warning", "runs-on", job.node, `Job "${job.key}" has no runs-on.`, { target: "key" });
      return false;
    }
    const labels =
      node.kind === "map"
        ? stringList(entry(node, "labels")).map((item) => String(item.value))
        : stringList(node).map((item) => String(item.value));
    const text = labels.join(", ") || describeValue(node);
    let windows = labels.some(isWindowsLabel);
    let mixed = false;
    let macos = /macos/i.test(text);
    const matrixRef = /\$\{\{\s*matrix\.([A-Za-z0-9_.-]+)\s*\}\}/.exec(text);
    if (matrixRef !== null && job.matrix !== null) {
      const values = job.matrix.keys.get(matrixRef[1] ?? "")?.values.map(String) ?? [];
      windows = values.length > 0 && values.every(isWindowsLabel);
      mixed = !windows && values.some(isWindowsLabel);
      macos = values.some((value) => /macos/i.test(value));
    }
    this.notes.add(
      windows || mixed || macos ? "warning" : "info",
      "runs-on",
      node,
      `runs-on: ${text} selects a GitHub runner; Microstack runs the script on its own executors${
        hasContainer ? ", in the job's container" : ": set image: to a container image with the tools the job needs"
      }.${windows ? " The job targets Windows: its steps default to PowerShell (shell: pwsh)." : ""}${
        mixed ? " Some matrix legs target Windows; the script is written for bash, as the other legs run it." : ""
      }${macos ? " macOS-only tools (xcodebuild, brew) are not available in Linux containers." : ""}`,
      { target: "key" },
    );
    return windows;
  }

  jobEnv(
    source: SourceValue | undefined,
    scope: GhScope,
    env: Record<string, string | number | boolean>,
    exports: [string, string][],
    job: JobInfo,
  ): void {
    if (source === undefined) return;
    if (source.kind !== "map") {
      this.notes.add(
        "warning",
        "env-expression",
        source,
        `The env of "${job.key}" is not a mapping; it was not carried over.`,
        { target: "key" },
      );
      return;
    }
    for (const [name, value] of source.entries) {
      if (!ENV_NAME_PATTERN.test(name)) {
        this.notes.add("warning", "env-name", value, `"${name}" is not a valid variable name; it was dropped.`, {
          target: "key",
        });
        continue;
      }
      if (value.kind !== "scalar") {
        this.notes.add("warning", "env-value", value, `env ${name} is not a string; it was dropped.`);
        continue;
      }
      if (typeof value.value !== "string" || !value.value.includes("${{")) {
        env[name] = value.value === null ? "" : value.value;
        continue;
      }
      const translated = this.templateCel(value.value, scope);
      if (translated.failures.length === 0) env[name] = translated.text;
      else exports.push([name, this.shellWord(value, scope, { kind: "bash", pipefail: false }, null)]);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Script.

  script(
    job: JobInfo,
    context: {
      shell: SourceScalar | undefined;
      workingDirectory: SourceScalar | undefined;
      windows: boolean;
      templateScope: GhScope;
      env: Record<string, string | number | boolean>;
      envNames: Set<string>;
      exports: [string, string][];
    },
  ): {
    script: string;
    shell?: string;
    workingDirectory?: string;
    image?: string;
    save: Record<string, unknown>[];
    fetches: FetchRequest[];
    checkouts: CheckoutConfig[];
  } {
    const notes = this.notes;
    const stepsNode = entry(job.node, "steps");
    const items = stepsNode?.kind === "seq" ? stepsNode.items : [];
    if (stepsNode === undefined || items.length === 0) {
      notes.add("error", "no-steps", stepsNode ?? job.node, `Job "${job.key}" has no steps.`, { target: "key" });
    }
    const sections: ScriptSection[] = [];
    const save: Record<string, unknown>[] = [];
    const fetches: FetchRequest[] = [];
    const checkouts: CheckoutConfig[] = [];
    const state = new ScriptState(job, items);
    const setupImages: { image: string; action: string; node: SourceValue }[] = [];
    const hoisted = new Map<string, { value: string | number | boolean; step: string }>();
    const conflicting = new Set<string>();

    // Working directories: the job default, unless a step overrides it.
    const defaultDirectory = this.workingDirectory(context.workingDirectory, context.templateScope);
    const overrides = items.some(
      (item) => entry(item, "working-directory") !== undefined && entry(item, "run") !== undefined,
    );

    // Step env: hoisted to the job's env unless two steps disagree on a value.
    for (const item of items) {
      const stepEnv = entry(item, "env");
      if (stepEnv?.kind !== "map") continue;
      if (entry(item, "run") === undefined) continue;
      for (const [name, value] of stepEnv.entries) {
        const plain = value.kind === "scalar" ? value.value : null;
        if (plain === null || !ENV_NAME_PATTERN.test(name)) continue;
        const known = context.env[name] ?? hoisted.get(name)?.value;
        if (known !== undefined && known !== plain) conflicting.add(name);
        else if (known === undefined) hoisted.set(name, { value: plain, step: "" });
      }
    }

    items.forEach((item, index) => {
      const stepPath = `jobs.${job.key}.steps[${index}]`;
      if (item.kind !== "map") {
        notes.add("warning", "invalid-step", item, `${stepPath} is not a mapping; it was skipped.`);
        return;
      }
      for (const [key, value] of item.entries) {
        if (!STEP_KEYS.has(key))
          notes.add("warning", "unknown-key", value, `"${key}" is not a GitHub Actions step key; it was ignored.`, {
            target: "key",
          });
      }
      const run = entry(item, "run");
      const uses = entry(item, "uses");
      const stepName = scalarText(entry(item, "name"));
      const title = plainTitle(
        stepName ?? (run !== undefined ? `Run ${firstLine(scalarText(run) ?? "")}` : (scalarText(uses) ?? "step")),
      );
      const stepScope: GhScope = {
        ...context.templateScope,
        env: (name) => context.envNames.has(name) || hoisted.has(name),
      };

      // Step env.
      const exportsHere: [string, string][] = [];
      const stepEnv = entry(item, "env");
      if (stepEnv !== undefined && stepEnv.kind !== "map") {
        notes.add("warning", "env-expression", stepEnv, `The env of ${stepPath} is not a mapping; it was dropped.`, {
          target: "key",
        });
      }
      for (const [name, value] of stepEnv?.kind === "map" && run !== undefined ? stepEnv.entries : []) {
        if (!ENV_NAME_PATTERN.test(name) || value.kind !== "scalar" || value.value === null) {
          notes.add(
            "warning",
            "env-name",
            value,
            `env ${name} of ${stepPath} was dropped: not a valid name or value.`,
            { target: "key" },
          );
          continue;
        }
        const plain = value.value;
        const translated =
          typeof plain === "string" && plain.includes("${{") ? this.templateCel(plain, stepScope) : null;
        if (!conflicting.has(name) && (translated === null || translated.failures.length === 0) && run !== undefined) {
          const final = translated === null ? plain : translated.text;
          if (context.env[name] === undefined) {
            context.env[name] = final;
            context.envNames.add(name);
            hoisted.set(name, { value: plain, step: title });
          }
          continue;
        }
        exportsHere.push([name, this.shellWord(value, stepScope, { kind: "bash", pipefail: false }, state)]);
      }

      // Step condition.
      let condition: string | null = null;
      let handlesStatus = false;
      const ifNode = entry(item, "if");
      if (ifNode !== undefined) {
        const shellCondition = this.stepCondition(ifNode, stepScope, state, `${stepPath}`);
        condition = shellCondition.test;
        handlesStatus = shellCondition.status;
      }
      const coe = entry(item, "continue-on-error");
      let continueOnError = false;
      if (coe?.kind === "scalar" && typeof coe.value === "boolean") continueOnError = coe.value;
      else if (coe !== undefined)
        notes.add(
          "warning",
          "continue-on-error",
          coe,
          `continue-on-error: ${describeValue(coe)} is an expression; the step's failure fails the job.`,
        );
      const timeout = entry(item, "timeout-minutes");
      if (timeout !== undefined) {
        notes.add(
          "info",
          "step-timeout",
          timeout,
          `The step timeout (${describeValue(timeout)} minutes) is not carried over; the job's timeout applies to the whole script.`,
          { target: "key" },
        );
      }
      const base: Omit<ScriptSection, "kind" | "body" | "shell"> = {
        title,
        condition,
        conditionHandlesStatus: handlesStatus,
        continueOnError,
        workingDirectory: null,
        exports: exportsHere,
        after: [],
        index,
        outputFile: false,
      };

      if (run !== undefined) {
        const shell = this.stepShell(entry(item, "shell"), context.shell, context.windows);
        if (shell === null) {
          sections.push({
            ...base,
            kind: "fail",
            body: `Step "${title}" uses the cmd shell, which Microstack does not run: rewrite it for bash or pwsh.`,
            shell: { kind: "bash", pipefail: false },
          });
          return;
        }
        const text = scalarText(run) ?? "";
        const body = this.translateScript(text, run, stepScope, shell, state);
        const directoryNode = entry(item, "working-directory");
        let directory: string | null = null;
        if (directoryNode !== undefined)
          directory = this.workingDirectory(directoryNode as SourceScalar, stepScope) ?? null;
        else if (overrides) directory = defaultDirectory ?? null;
        state.scanScript(text, run);
        sections.push({
          ...base,
          kind: "run",
          body,
          shell,
          workingDirectory: directory,
          after: state.afterLines(text),
          outputFile: entry(item, "id") !== undefined || /GITHUB_OUTPUT/.test(text),
        });
        return;
      }
      if (uses === undefined || scalarText(uses) === undefined) {
        notes.add("warning", "invalid-step", item, `${stepPath} has neither run: nor uses:; it was skipped.`);
        return;
      }
      const usesText = scalarText(uses) as string;
      const { name: action } = actionName(usesText);
      const lower = action.toLowerCase();
      const withNode = entry(item, "with");
      if (lower === "actions/checkout") {
        const checkout = this.checkout(withNode, stepScope);
        checkouts.push(checkout);
        if (ifNode !== undefined || index > 0) {
          notes.add(
            "info",
            "checkout-position",
            uses,
            `The checkout of ${stepPath} runs before the whole job (in the shared "checkout" step it needs)${ifNode === undefined ? "" : "; its if: was dropped"}.`,
          );
        }
        return;
      }
      if (lower === "actions/upload-artifact") {
        const artifact = this.upload(withNode, stepScope, uses, job, ifNode);
        const same = save.find((existing) => existing.name === artifact?.name);
        if (artifact !== null && same !== undefined) {
          // Two uploads under one name: one artifact with all the paths (GitHub would refuse
          // the second upload unless overwrite: true).
          same.paths = [...new Set([...(same.paths as string[]), ...(artifact.paths as string[])])];
          notes.add(
            "info",
            "artifact-merged",
            uses,
            `A second upload named "${String(artifact.name)}" was merged into the first: one artifact with both paths.`,
          );
        } else if (artifact !== null) {
          save.push(artifact);
        }
        return;
      }
      if (lower === "actions/download-artifact") {
        fetches.push(this.download(withNode, uses));
        return;
      }
      if (usesText.startsWith("docker://") || usesText.startsWith("./") || usesText.startsWith("../")) {
        const local = !usesText.startsWith("docker://");
        notes.add(
          "warning",
          local ? "local-action" : "docker-action",
          uses,
          local
            ? `${stepPath} uses the local action ${usesText}, whose files are not read by the importer; the script fails at this point until you paste the action's steps in its place.`
            : `${stepPath} runs the container ${usesText.slice("docker://".length)}${withNode === undefined ? "" : ` with ${describeValue(withNode, 80)}`}; the script fails at this point until you replace it (for example a separate step with that image:).`,
        );
        sections.push({
          ...base,
          kind: "fail",
          body: `Step "${title}" used ${usesText}, which Microstack cannot run: replace this line with its commands.`,
          shell: { kind: "bash", pipefail: false },
        });
        return;
      }
      if (lower.startsWith("actions/cache") || /(^|[/-])cache([/-]|$)/.test(lower)) {
        notes.add(
          "info",
          "cache",
          uses,
          `${stepPath} (${usesText}) caches ${describeValue(entry(withNode, "path"), 60) || "files"} between runs; Microstack has no cache, so the job starts from scratch.`,
        );
        sections.push({
          ...base,
          kind: "comment",
          body: stepName === undefined ? "caching is not carried over" : `${usesText}: caching is not carried over`,
          shell: { kind: "bash", pipefail: false },
        });
        return;
      }
      if (isSetupAction(lower)) {
        const mapping = SETUP_IMAGES[lower];
        let suggestion = "";
        if (mapping !== undefined) {
          const versionNode = lower === "dtolnay/rust-toolchain" ? undefined : entry(withNode, mapping.input);
          const versionText =
            lower === "dtolnay/rust-toolchain"
              ? (actionName(usesText).ref.match(/^\d[\d.]*$|^stable$|^nightly$/)?.[0] ?? "stable")
              : scalarText(versionNode);
          const image = this.setupImage(mapping.image, versionText, job);
          if (image !== null) {
            setupImages.push({ image, action: usesText, node: uses });
            suggestion = ` The job's image is ${image}.`;
          } else {
            suggestion = ` Use a ${mapping.tool} image (image: ${mapping.image}:<version>).`;
          }
        }
        notes.add(
          "warning",
          "setup-action",
          uses,
          `${stepPath} (${usesText}${withNode === undefined ? "" : ` with ${describeValue(withNode, 80)}`}) installs tools on GitHub's runner; Microstack does not run actions.${suggestion || " Use a container image that has these tools."}`,
        );
        sections.push({
          ...base,
          kind: "comment",
          body:
            stepName === undefined ? "tools come from the job's image" : `${usesText}: tools come from the job's image`,
          shell: { kind: "bash", pipefail: false },
        });
        return;
      }
      notes.add(
        "warning",
        "unsupported-action",
        uses,
        `${stepPath} uses the action ${usesText}${withNode === undefined ? "" : ` with ${describeValue(withNode, 160)}`}. Microstack does not run GitHub Actions: the job's script fails at this point with a message until you replace it with the commands the action ran.`,
      );
      sections.push({
        ...base,
        kind: "fail",
        body: `${stepName === undefined ? "" : `Step "${title}" used `}${usesText}${stepName === undefined ? " is an action" : ""}, which Microstack cannot run: replace this line with the commands it ran.`,
        shell: { kind: "bash", pipefail: false },
      });
    });

    if (hoisted.size > 0) {
      const names = [...hoisted.keys()].filter((name) => hoisted.get(name)?.step !== "");
      if (names.length > 0) {
        notes.add(
          "info",
          "step-env",
          entry(job.node, "steps") ?? job.node,
          `The env of single steps (${names.join(", ")}) now applies to the whole script of "${job.key}", which runs all its steps.`,
          { target: "key" },
        );
      }
    }

    // Prologue: emulated GitHub files and variables, then variables only a shell can compute.
    const prologue: string[] = [];
    // (Steps in other shells get ms_tmp from assembleScript when the script needs it.)
    const needsTmp = ["GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "RUNNER_TEMP"].some((name) =>
      state.emulated.has(name),
    );
    if (needsTmp) prologue.push('ms_tmp="$(mktemp -d)"');
    const stepOutputs = state.stepOutputs || job.outputs.size > 0;
    if (stepOutputs) {
      prologue.push(
        "# Each step writes its outputs to its own $GITHUB_OUTPUT file, as on GitHub.",
        'ms_outputs="$(mktemp -d)"',
        'ms_output() { if [ -f "$ms_outputs/$1" ]; then sed -n "s/^$2=//p" "$ms_outputs/$1" | tail -n 1; fi; }',
        'export GITHUB_OUTPUT="$ms_outputs/other"',
      );
    }
    if (state.emulated.has("GITHUB_ENV")) prologue.push('export GITHUB_ENV="$ms_tmp/env"', ': > "$GITHUB_ENV"');
    if (state.emulated.has("GITHUB_PATH")) prologue.push('export GITHUB_PATH="$ms_tmp/path"', ': > "$GITHUB_PATH"');
    if (state.emulated.has("GITHUB_STEP_SUMMARY")) prologue.push('export GITHUB_STEP_SUMMARY="$ms_tmp/summary.md"');
    if (state.emulated.has("RUNNER_TEMP"))
      prologue.push(`export RUNNER_TEMP="\${RUNNER_TEMP:-$ms_tmp/runner-temp}"`, 'mkdir -p "$RUNNER_TEMP"');
    const microstackDirectory = overrides ? undefined : defaultDirectory;
    if (state.emulated.has("GITHUB_WORKSPACE")) {
      const depth =
        microstackDirectory === undefined
          ? 0
          : microstackDirectory.split("/").filter((part) => part !== "" && part !== ".").length;
      prologue.push(
        depth === 0
          ? `export GITHUB_WORKSPACE="\${GITHUB_WORKSPACE:-$PWD}"`
          : `export GITHUB_WORKSPACE="\${GITHUB_WORKSPACE:-$(cd ${"../".repeat(depth).replace(/\/$/, "")} && pwd)}"`,
      );
    }
    for (const [name, word] of this.workflowEnvExports) prologue.push(`export ${name}=${word}`);
    for (const [name, word] of context.exports) prologue.push(`export ${name}=${word}`);

    // Epilogue: the job's outputs, from its steps' output files.
    const epilogue: string[] = [];
    for (const [name, value] of job.outputs) {
      const text = scalarText(value) ?? "";
      const word = this.shellWord(value, context.templateScope, { kind: "bash", pipefail: false }, state, true);
      if (!text.includes("${{")) {
        this.notes.add("info", "job-output", value, `Output "${name}" is a constant.`);
      }
      epilogue.push(`printf '%s\\n' "${name}=${word}" >> "$MICROSTACK_OUTPUT"`);
    }
    if (job.outputs.size > 0) {
      epilogue.unshift("# The job's outputs: key=value lines in $MICROSTACK_OUTPUT.");
      this.notes.add(
        "info",
        "job-outputs",
        entry(job.node, "outputs") ?? job.node,
        `The outputs of "${job.key}" (${[...job.outputs.keys()].join(", ")}) are written to $MICROSTACK_OUTPUT at the end of its script, from what its steps wrote to $GITHUB_OUTPUT; later steps read them as steps.${job.stepId}.outputs.NAME.`,
        { target: "key" },
      );
    }

    state.reportGitHubVariables(notes);
    const assembled = assembleScript(sections, { prologue, epilogue, stepOutputs, outcomes: state.outcomes });
    let image: string | undefined;
    // One language setup action names the image; tool installers (pnpm, buildx) do not count.
    if (setupImages.length === 1) {
      image = setupImages[0]?.image;
    } else if (setupImages.length > 1) {
      this.notes.add(
        "info",
        "setup-images",
        setupImages[0]?.node ?? job.node,
        `"${job.key}" sets up several tools (${setupImages.map((setup) => setup.action).join(", ")}); no image was chosen: use one that has them all.`,
      );
    }
    const result: ReturnType<GitHubImporter["script"]> = { script: assembled.script, save, fetches, checkouts };
    result.shell = assembled.shell;
    if (microstackDirectory !== undefined) result.workingDirectory = microstackDirectory;
    if (image !== undefined) result.image = image;
    return result;
  }

  workingDirectory(node: SourceScalar | undefined, scope: GhScope): string | undefined {
    const text = scalarText(node);
    if (text === undefined || node === undefined) return undefined;
    const stripped = text.replace(/^\$\{\{\s*github\.workspace\s*\}\}\/?/, "") || ".";
    const translated = this.templateCel(stripped, scope);
    if (translated.failures.length > 0) {
      this.notes.add(
        "warning",
        "working-directory",
        node,
        `working-directory "${text}" cannot be translated (${translated.failures[0]?.reason}); it was dropped.`,
      );
      return undefined;
    }
    return translated.text === "." ? undefined : translated.text;
  }

  setupImage(base: string, version: string | undefined, job: JobInfo): string | null {
    if (version === undefined) return `${base}:latest`;
    const matrixRef = /^\$\{\{\s*matrix\.([A-Za-z0-9_.-]+)\s*\}\}$/.exec(version.trim());
    if (matrixRef !== null) {
      const info = job.matrix?.keys.get(matrixRef[1] ?? "");
      if (info === undefined || job.matrix?.matrix === null) return null;
      if (!info.values.every((value) => imageVersion(String(value)) === String(value))) return null;
      return `${base}:\${{ ${celMember("matrix", info.key)} }}`;
    }
    if (version.includes("${{")) return null;
    const tag = imageVersion(version);
    return tag === null ? null : `${base}:${tag}`;
  }

  stepShell(node: SourceValue | undefined, fallback: SourceScalar | undefined, windows: boolean): StepShell | null {
    const shellNode = node ?? fallback;
    const text = scalarText(shellNode)?.trim();
    if (text === undefined) return windows ? { kind: "pwsh" } : { kind: "bash", pipefail: false };
    switch (text) {
      case "bash":
        return { kind: "bash", pipefail: true };
      case "sh":
        return { kind: "sh" };
      case "pwsh":
        return { kind: "pwsh" };
      case "powershell":
        if (shellNode !== undefined) {
          this.notes.add(
            "warning",
            "shell",
            shellNode,
            "shell: powershell (Windows PowerShell 5) runs as pwsh (PowerShell 7).",
          );
        }
        return { kind: "pwsh" };
      case "python":
        return { kind: "python" };
      case "cmd":
        if (shellNode !== undefined) {
          this.notes.add(
            "warning",
            "shell",
            shellNode,
            "shell: cmd (Windows batch) cannot run on Microstack's executors; the step fails until it is rewritten.",
          );
        }
        return null;
    }
    if (text.includes("{0}")) return { kind: "custom", command: text };
    if (shellNode !== undefined)
      this.notes.add("warning", "shell", shellNode, `shell: ${text} is not a known shell; the step runs with bash.`);
    return { kind: "bash", pipefail: false };
  }

  /**
   * `${{ }}` in a run script. CEL when it translates (Microstack renders it before the script
   * runs, as GitHub does); else what the script can compute itself: an in-job step output from
   * its $GITHUB_OUTPUT file, a github.* value from the variable GitHub exports for it, an env
   * variable set with $GITHUB_ENV; else a placeholder variable, with a note.
   */
  translateScript(text: string, node: SourceValue, scope: GhScope, shell: StepShell, state: ScriptState): string {
    const scan = scanInterpolations(text);
    let out = "";
    let from = 0;
    for (const interpolation of scan.interpolations) {
      out += text.slice(from, interpolation.start);
      from = interpolation.end;
      const expression = text.slice(interpolation.expressionStart, interpolation.end - 2);
      const cel = this.githubToken(expression) ?? translateGitHubValue(expression, scope);
      if (cel.ok) {
        out += `\${{ ${cel.cel} }}`;
        continue;
      }
      out += this.shellFallback(expression, cel.reason, node, interpolation, shell, state);
    }
    out += text.slice(from);
    if (scan.unterminatedAt !== null) {
      this.notes.add(
        "warning",
        "unterminated-expression",
        node,
        "An unterminated ${{ in the script was escaped as $\\{{.",
        { at: { start: scan.unterminatedAt, end: scan.unterminatedAt + 3 } },
      );
      out = out.replace(/\$\{\{/g, "$\\{{");
    }
    return out;
  }

  /** One note for every use of GitHub's per-run token, at the first. */
  githubTokenNote(): void {
    const uses: { node: SourceScalar; at: { start: number; end: number } }[] = [];
    const walk = (value: SourceValue) => {
      if (value.kind === "map") for (const child of value.entries.values()) walk(child);
      else if (value.kind === "seq") for (const child of value.items) walk(child);
      else if (typeof value.value === "string" && value.value.includes("${{")) {
        for (const interpolation of scanInterpolations(value.value).interpolations) {
          if (/^\s*(?:secrets\.GITHUB_TOKEN|github\.token)\s*$/.test(interpolation.expression)) {
            uses.push({ node: value, at: interpolation });
          }
        }
      }
    };
    walk(this.root);
    const [first] = uses;
    if (first === undefined) return;
    this.notes.add(
      "warning",
      "github-token",
      first.node,
      `GITHUB_TOKEN (used ${uses.length === 1 ? "once" : `${uses.length} times`}) is created by GitHub for each run; Microstack has none. Store a token with the access the jobs need as the secret GITHUB_TOKEN.`,
      { at: first.at },
    );
  }

  shellFallback(
    expression: string,
    reason: string,
    node: SourceValue,
    at: { start: number; end: number },
    shell: StepShell,
    state: ScriptState | null,
  ): string {
    const pwsh = shell.kind === "pwsh";
    const variable = (name: string) => (pwsh ? `$env:${name}` : `\${${name}}`);
    let parsed: GhNode | null = null;
    try {
      parsed = parseGitHubExpression(expression);
    } catch (error) {
      if (!(error instanceof GhSyntaxError)) throw error;
    }
    const path = parsed === null ? null : contextPath(parsed);
    const plain = path?.segments.every((segment) => typeof segment === "string" && segment !== "*")
      ? (path?.segments as string[])
      : null;
    if (path !== null && plain !== null) {
      const { root } = path;
      if (root === "steps" && state !== null && !pwsh && shell.kind !== "python") {
        const [stepId, field, output] = plain;
        const index = stepId === undefined ? undefined : state.indexOf(stepId);
        if (index !== undefined && field === "outputs" && output !== undefined && plain.length === 3) {
          state.stepOutputs = true;
          if (!state.isRun(index)) {
            this.notes.add(
              "warning",
              "action-output",
              node,
              `\${{ ${expression.trim()} }} reads an output of an action step, which was not carried over; it reads an empty value.`,
              { at },
            );
          }
          return `$(ms_output ${index} ${shellQuote(output)})`;
        }
        if (index !== undefined && (field === "outcome" || field === "conclusion") && plain.length === 2) {
          state.outcomes = true;
          return `\${ms_${field}_${index}}`;
        }
      }
      if (
        root === "github" &&
        plain.length === 1 &&
        plain[0] !== undefined &&
        GITHUB_CONTEXT_ENV[plain[0]] !== undefined
      ) {
        const name = GITHUB_CONTEXT_ENV[plain[0]] as string;
        state?.recordVariable(name, node, at);
        return variable(name);
      }
      if (
        root === "runner" &&
        plain.length === 1 &&
        plain[0] !== undefined &&
        RUNNER_CONTEXT_ENV[plain[0]] !== undefined
      ) {
        const name = RUNNER_CONTEXT_ENV[plain[0]] as string;
        state?.recordVariable(name, node, at);
        return variable(name);
      }
      if (root === "env" && plain.length === 1 && plain[0] !== undefined && ENV_NAME_PATTERN.test(plain[0])) {
        const name = plain[0];
        if (state !== null && !state.writesEnv(name)) {
          this.notes.add(
            "info",
            "env-reference",
            node,
            `\${{ env.${name} }} became the shell variable ${variable(name)}: ${name} is not declared in the workflow, so the script must set it (or $GITHUB_ENV did on GitHub).`,
            { at },
          );
        }
        return variable(name);
      }
      if (root === "vars" && plain.length === 1 && plain[0] !== undefined && ENV_NAME_PATTERN.test(plain[0])) {
        this.notes.add(
          "warning",
          "configuration-variable",
          node,
          `\${{ vars.${plain[0]} }} is a configuration variable from GitHub's settings; it became ${variable(plain[0])}: declare ${plain[0]} in the pipeline's env (or make it a param).`,
          { at },
        );
        return variable(plain[0]);
      }
      if (root === "github" || root === "runner") {
        const name = sanitizeEnvName(`${root}_${plain.join("_")}`.toUpperCase());
        this.notes.add(
          "warning",
          "untranslated-expression",
          node,
          `\${{ ${expression.trim()} }} has no Microstack equivalent (${reason}); it became ${variable(name)}, which nothing sets: define it in env or rewrite this part.`,
          { at },
        );
        return variable(name);
      }
    }
    const name = `GHA_EXPR_${++this.expressionCounter}`;
    this.notes.add(
      "warning",
      "untranslated-expression",
      node,
      `\${{ ${expression.trim()} }} cannot be translated (${reason}); it became ${variable(name)}, which nothing sets: define it in env or rewrite this part.`,
      { at },
    );
    return variable(name);
  }

  /** A value as one double-quoted shell word (env exports, job outputs). */
  shellWord(node: SourceValue, scope: GhScope, shell: StepShell, state: ScriptState | null, inner = false): string {
    const text = scalarText(node) ?? "";
    const scan = scanInterpolations(text);
    let out = "";
    let from = 0;
    for (const interpolation of scan.interpolations) {
      out += shellDoubleQuoted(text.slice(from, interpolation.start));
      from = interpolation.end;
      const expression = text.slice(interpolation.expressionStart, interpolation.end - 2);
      const cel = this.githubToken(expression) ?? translateGitHubValue(expression, scope);
      if (cel.ok) {
        out += `\${{ ${cel.cel} }}`;
        continue;
      }
      out += this.shellFallback(expression, cel.reason, node, interpolation, shell, state);
    }
    out += shellDoubleQuoted(text.slice(from));
    return inner ? out : `"${out}"`;
  }

  /**
   * A step's if: as a shell test. Status functions test the script's own failure flag,
   * in-job step outputs and outcomes read the step files and variables, and the rest is CEL
   * rendered by Microstack (`[ "${{ matrix.os == "linux" }}" = true ]`).
   */
  stepCondition(
    node: SourceValue,
    scope: GhScope,
    state: ScriptState,
    where: string,
  ): { test: string | null; status: boolean } {
    if (node.kind !== "scalar") return { test: null, status: false };
    if (typeof node.value === "boolean") return { test: node.value ? null : "false", status: false };
    const text = String(node.value ?? "");
    const { expression, offset } = unwrapGitHubExpression(text);
    let parsed: GhNode;
    try {
      parsed = parseGitHubExpression(expression);
    } catch (error) {
      if (!(error instanceof GhSyntaxError)) throw error;
      this.notes.add(
        "warning",
        "condition-dropped",
        node,
        `The condition of ${where} is not a valid expression (${error.message}); it was dropped.`,
      );
      return { test: null, status: false };
    }
    const conditionScope: GhScope = { ...scope, mode: "condition", allowSecrets: false };
    const tests: string[] = [];
    let status = false;
    for (const part of conjuncts(parsed)) {
      try {
        const result = this.shellTest(part, conditionScope, state);
        tests.push(result.test);
        status ||= result.status;
      } catch (error) {
        if (!(error instanceof Untranslatable)) throw error;
        this.notes.add(
          "warning",
          "condition-dropped",
          node,
          `The condition "${expression.slice(part.start, part.end)}" of ${where} cannot be evaluated in Microstack (${error.reason}); it was dropped, so the step runs ${tests.length > 0 || conjuncts(parsed).length > 1 ? "when the rest of its condition holds" : "whenever the steps before it succeeded"}.`,
          { at: { start: offset + part.start, end: offset + part.end } },
        );
      }
    }
    if (tests.length === 0) return { test: null, status: false };
    return {
      test: tests.length === 1 ? (tests[0] as string) : tests.map((test) => `{ ${test}; }`).join(" && "),
      status,
    };
  }

  shellTest(node: GhNode, scope: GhScope, state: ScriptState): { test: string; status: boolean } {
    if (node.type === "call" && node.args.length === 0) {
      switch (node.name.toLowerCase()) {
        case "success":
          return { test: '[ "$ms_failed" = 0 ]', status: true };
        case "failure":
          return { test: '[ "$ms_failed" = 1 ]', status: true };
        case "always":
          return { test: "true", status: true };
        case "cancelled":
          return { test: "false", status: true };
      }
    }
    if (node.type === "not") {
      const inner = this.shellTest(node.operand, scope, state);
      return {
        test: inner.test === "true" ? "false" : inner.test === "false" ? "true" : `! { ${inner.test}; }`,
        status: inner.status,
      };
    }
    if (node.type === "binary" && (node.op === "&&" || node.op === "||")) {
      const left = this.shellTest(node.left, scope, state);
      const right = this.shellTest(node.right, scope, state);
      return { test: `{ ${left.test}; } ${node.op} { ${right.test}; }`, status: left.status || right.status };
    }
    const stepWord = (candidate: GhNode): string | null => {
      const path = contextPath(candidate);
      if (path?.root !== "steps") return null;
      const [stepId, field, output] = path.segments;
      if (typeof stepId !== "string" || typeof field !== "string") return null;
      const index = state.indexOf(stepId);
      if (index === undefined) throw new Untranslatable(`no step with id "${stepId}" comes before this one`, candidate);
      if (field === "outputs" && typeof output === "string" && path.segments.length === 3) {
        state.stepOutputs = true;
        return `"$(ms_output ${index} ${shellQuote(output)})"`;
      }
      if ((field === "outcome" || field === "conclusion") && path.segments.length === 2) {
        state.outcomes = true;
        return `"$ms_${field}_${index}"`;
      }
      throw new Untranslatable(`steps.${stepId}.${field} has no equivalent`, candidate);
    };
    const refersToSteps = (candidate: GhNode): boolean => contextPath(candidate)?.root === "steps";
    if (
      node.type === "binary" &&
      (node.op === "==" || node.op === "!=") &&
      (refersToSteps(node.left) || refersToSteps(node.right))
    ) {
      const word = (side: GhNode): string => {
        const fromStep = stepWord(side);
        if (fromStep !== null) return fromStep;
        if (side.type === "literal") return shellQuote(side.value === null ? "" : String(side.value));
        const value = translateGitHubValueNode(side, { ...scope, mode: "template", allowSecrets: false });
        if (!value.ok) throw new Untranslatable(value.reason, side);
        return `"\${{ ${value.cel} }}"`;
      };
      return { test: `[ ${word(node.left)} ${node.op === "==" ? "=" : "!="} ${word(node.right)} ]`, status: false };
    }
    if (refersToSteps(node)) {
      const word = stepWord(node);
      return { test: `[ -n ${word} ]`, status: false };
    }
    const result = translateGitHubConditionNode(node, scope);
    if (!result.ok) throw new Untranslatable(result.reason, node);
    return { test: `[ "\${{ ${result.cel} }}" = true ]`, status: result.status };
  }

  // -------------------------------------------------------------------------------------------
  // Actions with Microstack equivalents.

  checkout(withNode: SourceValue | undefined, scope: GhScope): CheckoutConfig {
    const inputs: Record<string, unknown> = {};
    const mapped: Record<string, string> = { repository: "repository", ref: "ref", path: "path" };
    for (const [key, value] of withNode?.kind === "map" ? withNode.entries : []) {
      const text = scalarText(value);
      if (mapped[key] !== undefined && text !== undefined) {
        const translated = this.templateCel(text, scope);
        if (translated.failures.length === 0) {
          if (!(key === "repository" && /^\$\{\{\s*github\.repository\s*\}\}$/.test(text)))
            inputs[mapped[key] as string] = translated.text;
        } else {
          this.notes.add(
            "warning",
            "checkout-input",
            value,
            `checkout ${key}: "${text}" cannot be translated (${translated.failures[0]?.reason}); the default applies.`,
          );
        }
      } else if (key === "fetch-depth") {
        const depth = value.kind === "scalar" ? Number(value.value) : Number.NaN;
        if (Number.isInteger(depth) && depth >= 0) inputs.depth = depth;
        else
          this.notes.add(
            "warning",
            "checkout-input",
            value,
            `fetch-depth ${describeValue(value)} is not a number; the default depth applies.`,
          );
      } else if (key === "submodules") {
        const on =
          value.kind === "scalar" && (value.value === true || value.value === "true" || value.value === "recursive");
        inputs.submodules = on;
        if (value.kind === "scalar" && value.value === "recursive") {
          this.notes.add("info", "checkout-input", value, "submodules: recursive became submodules: true.");
        }
      } else if (key === "token" || key === "ssh-key") {
        this.notes.add(
          "info",
          "checkout-credentials",
          value,
          `checkout ${key} is not needed: the checkout step uses the project's repository credentials. For another repository, configure its credentials in Microstack.`,
          { target: "key" },
        );
      } else {
        this.notes.add(
          key === "persist-credentials" || key === "clean" || key === "show-progress" ? "info" : "warning",
          "checkout-input",
          value,
          `checkout ${key}: ${describeValue(value)} is not supported by Microstack's checkout step; it was dropped.`,
          { target: "key" },
        );
      }
    }
    const key = JSON.stringify(Object.entries(inputs).sort(([a], [b]) => (a < b ? -1 : 1)));
    const label = typeof inputs.repository === "string" ? inputs.repository : "the repository";
    return { key, inputs, label };
  }

  upload(
    withNode: SourceValue | undefined,
    scope: GhScope,
    uses: SourceValue,
    job: JobInfo,
    ifNode: SourceValue | undefined,
  ): Record<string, unknown> | null {
    const raw = stringValue(entry(withNode, "name")) ?? "artifact";
    const name = job.uploads.get(raw) ?? sanitizeName(raw, "artifact");
    if (raw.includes("${{")) {
      this.notes.add(
        "warning",
        "artifact-name",
        entry(withNode, "name") ?? uses,
        `The artifact name "${raw}" is computed; Microstack artifact names are fixed, so it is "${name}" (every matrix leg saves under that name).`,
      );
    } else if (name !== raw) {
      this.notes.add(
        "info",
        "artifact-name",
        entry(withNode, "name") ?? uses,
        `The artifact "${raw}" is saved as "${name}".`,
      );
    }
    const pathNode = entry(withNode, "path");
    const paths: string[] = [];
    for (const line of (scalarText(pathNode) ?? "").split("\n")) {
      const trimmed = line.trim();
      if (trimmed === "" || trimmed.startsWith("#")) continue;
      if (trimmed.startsWith("!")) {
        this.notes.add(
          "warning",
          "artifact-exclude",
          pathNode ?? uses,
          `The exclusion "${trimmed}" is not supported by Microstack artifacts; those files are saved too.`,
        );
        continue;
      }
      const translated = this.templateCel(trimmed, scope);
      if (translated.failures.length > 0) {
        this.notes.add(
          "warning",
          "artifact-path",
          pathNode ?? uses,
          `The artifact path "${trimmed}" cannot be translated (${translated.failures[0]?.reason}); it was dropped.`,
        );
        continue;
      }
      paths.push(translated.text);
    }
    if (paths.length === 0) {
      this.notes.add(
        "warning",
        "artifact-path",
        uses,
        `The upload of "${raw}" has no path that could be carried over; it was dropped.`,
      );
      return null;
    }
    const artifact: Record<string, unknown> = { name, paths };
    const retention = entry(withNode, "retention-days");
    if (retention?.kind === "scalar" && Number.isInteger(Number(retention.value)) && Number(retention.value) > 0) {
      artifact["expire-in"] = `${Number(retention.value)}d`;
    }
    for (const [key, value] of withNode?.kind === "map" ? withNode.entries : []) {
      if (["name", "path", "retention-days"].includes(key)) continue;
      this.notes.add(
        "info",
        "artifact-option",
        value,
        `upload-artifact ${key}: ${describeValue(value)} is not supported; Microstack's defaults apply.`,
        { target: "key" },
      );
    }
    if (ifNode !== undefined) {
      this.notes.add(
        "info",
        "artifact-condition",
        ifNode,
        `The upload's if: (${describeValue(ifNode)}) was dropped: Microstack saves the artifact "${name}" when the step ends.`,
      );
    }
    return artifact;
  }

  download(withNode: SourceValue | undefined, uses: SourceValue): FetchRequest {
    for (const [key, value] of withNode?.kind === "map" ? withNode.entries : []) {
      if (key === "name" || key === "path") continue;
      this.notes.add(
        "warning",
        "artifact-option",
        value,
        `download-artifact ${key}: ${describeValue(value)} is not supported; list the artifacts to fetch by name in the editor.`,
        { target: "key" },
      );
    }
    const name = stringValue(entry(withNode, "name")) ?? null;
    const path = stringValue(entry(withNode, "path")) ?? null;
    return { name, path, node: uses };
  }

  // -------------------------------------------------------------------------------------------
  // After all jobs.

  addCheckouts(): void {
    if (this.checkouts.size === 0) return;
    const ancestors = ancestorsOf(this.stepNeeds);
    const created: Record<string, unknown>[] = [];
    for (const checkout of this.checkouts.values()) {
      const id = this.ids.allocate(
        this.checkouts.size === 1
          ? "checkout"
          : `checkout-${sanitizeName(checkout.label === "the repository" ? "repo" : (checkout.label.split("/").pop() ?? "repo"))}`,
      );
      checkout.stepId = id;
      const step: Record<string, unknown> = { id, name: `Check out ${checkout.label}`, uses: "checkout" };
      if (Object.keys(checkout.inputs).length > 0) step.with = checkout.inputs;
      created.push(step);
    }
    // Each job that checked out needs its checkout step, unless an upstream step already does.
    for (const checkout of this.checkouts.values()) {
      for (const stepId of checkout.jobs) {
        const upstream = ancestors.get(stepId) ?? new Set();
        const viaUpstream = [...upstream].some((ancestor) =>
          [...this.checkouts.values()].some((other) => other.key === checkout.key && other.jobs.has(ancestor)),
        );
        if (viaUpstream) continue;
        const step = this.steps.find((candidate) => candidate.id === stepId);
        if (step === undefined) continue;
        const needs = (step.needs as string[] | undefined) ?? [];
        step.needs = [checkout.stepId as string, ...needs];
        this.stepNeeds.set(stepId, step.needs as string[]);
      }
    }
    this.steps.unshift(...created);
    for (const step of created) this.stepNeeds.set(step.id as string, []);
  }

  resolveFetches(): void {
    if (this.fetches.size === 0) return;
    const ancestors = ancestorsOf(this.stepNeeds);
    for (const [stepId, requests] of this.fetches) {
      const step = this.steps.find((candidate) => candidate.id === stepId);
      if (step === undefined) continue;
      const upstream = ancestors.get(stepId) ?? new Set<string>();
      const fetch: Record<string, unknown>[] = [];
      for (const request of requests) {
        const producers = [...this.jobs.values()].filter(
          (job) =>
            !job.reusable &&
            job.stepId !== stepId &&
            (request.name === null ? job.uploads.size > 0 : job.uploads.has(request.name)),
        );
        if (producers.length === 0) {
          this.notes.add(
            "warning",
            "artifact-source",
            request.node,
            request.name === null
              ? "No job of this workflow uploads artifacts; the download was dropped."
              : `No job of this workflow uploads "${request.name}" (it may come from another workflow); the download was dropped.`,
          );
          continue;
        }
        for (const producer of producers) {
          if (!upstream.has(producer.stepId)) {
            this.notes.add(
              "warning",
              "artifact-source",
              request.node,
              `The artifact${request.name === null ? "s" : ` "${request.name}"`} of "${producer.key}" can only be fetched by a step that needs it; add "${producer.stepId}" to needs.`,
            );
            continue;
          }
          for (const [raw, name] of producer.uploads) {
            if (request.name !== null && raw !== request.name) continue;
            const item: Record<string, unknown> = { from: producer.stepId, name };
            const base = request.path ?? (request.name === null ? "." : null);
            const path = request.name === null ? `${base}/${name}`.replace(/^\.\//, "") : base;
            if (path !== null && path !== "." && !path.includes("${{")) item.path = path;
            else if (path?.includes("${{"))
              this.notes.add(
                "warning",
                "artifact-path",
                request.node,
                `The download path "${path}" is computed; the artifact is fetched into the workspace.`,
              );
            fetch.push(item);
          }
        }
      }
      if (fetch.length === 0) continue;
      const artifacts = (step.artifacts as Record<string, unknown> | undefined) ?? {};
      artifacts.fetch = fetch;
      step.artifacts = artifacts;
    }
  }
}

/** What a job's script learns about itself while it is translated. */
class ScriptState {
  stepOutputs = false;
  outcomes = false;
  readonly emulated = new Set<string>();
  readonly #ids = new Map<string, number>();
  readonly #runs = new Set<number>();
  readonly #envWrites = new Set<string>();
  readonly #variables = new Map<string, { node: SourceValue; at?: { start: number; end: number } }>();

  constructor(
    readonly job: JobInfo | null,
    items: readonly SourceValue[],
  ) {
    items.forEach((item, index) => {
      const id = stringValue(entry(item, "id"));
      if (id !== undefined && !this.#ids.has(id)) this.#ids.set(id, index);
      if (entry(item, "run") !== undefined) this.#runs.add(index);
      const run = scalarText(entry(item, "run")) ?? "";
      for (const match of run.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)=[^\n]*>>\s*"?\$\{?GITHUB_ENV\b/g)) {
        if (match[1] !== undefined) this.#envWrites.add(match[1]);
      }
    });
  }

  indexOf(id: string): number | undefined {
    return this.#ids.get(id);
  }

  isRun(index: number): boolean {
    return this.#runs.has(index);
  }

  writesEnv(name: string): boolean {
    return this.#envWrites.has(name);
  }

  recordVariable(name: string, node: SourceValue, at?: { start: number; end: number }): void {
    if (EMULATED_VARIABLES.has(name)) {
      this.emulated.add(name);
      return;
    }
    if (!this.#variables.has(name)) this.#variables.set(name, at === undefined ? { node } : { node, at });
  }

  variableNames(): string[] {
    return [...this.#variables.keys()].filter((name) => !EMULATED_VARIABLES.has(name) && name !== "::set-output");
  }

  /** Notes variables a script reads that GitHub sets and Microstack does not. */
  scanScript(text: string, node: SourceValue): void {
    for (const match of text.matchAll(/\$\{?((?:GITHUB|RUNNER)_[A-Z0-9_]+)/g)) {
      const name = match[1] as string;
      if (name === "GITHUB_OUTPUT") this.stepOutputs = true;
      this.recordVariable(name, node);
    }
    if (/::set-output\s/.test(text)) this.recordVariable("::set-output", node);
  }

  /** Lines after a step that load what it appended to $GITHUB_ENV and $GITHUB_PATH. */
  afterLines(text: string): string[] {
    const lines: string[] = [];
    if (/GITHUB_ENV\b/.test(text)) {
      this.emulated.add("GITHUB_ENV");
      lines.push(
        "# Load what the step appended to $GITHUB_ENV (NAME=value lines).",
        `while IFS= read -r ms_line; do case "$ms_line" in *=*) export "$ms_line" ;; esac; done < "$GITHUB_ENV"`,
        ': > "$GITHUB_ENV"',
      );
    }
    if (/GITHUB_PATH\b/.test(text)) {
      this.emulated.add("GITHUB_PATH");
      lines.push(
        `while IFS= read -r ms_line; do if [ -n "$ms_line" ]; then PATH="$ms_line:$PATH"; fi; done < "$GITHUB_PATH"`,
        "export PATH",
        ': > "$GITHUB_PATH"',
      );
    }
    return lines;
  }

  reportGitHubVariables(notes: NoteList): void {
    const missing = [...this.#variables.entries()].filter(([name]) => !EMULATED_VARIABLES.has(name));
    const setOutput = missing.find(([name]) => name === "::set-output");
    if (setOutput !== undefined) {
      notes.add(
        "warning",
        "set-output",
        setOutput[1].node,
        'The deprecated "::set-output name=NAME::VALUE" command does nothing in Microstack; write "NAME=VALUE" to $GITHUB_OUTPUT instead.',
      );
    }
    const variables = missing.filter(([name]) => name !== "::set-output");
    if (variables.length === 0) return;
    const [first] = variables;
    if (first === undefined) return;
    notes.add(
      "warning",
      "github-variables",
      first[1].node,
      `The script of "${this.job?.key ?? "?"}" reads ${variables.map(([name]) => name).join(", ")}, which GitHub's runner sets and Microstack does not; they are empty unless you set them in env (params or fixed values).`,
      first[1].at === undefined ? {} : { at: first[1].at },
    );
  }
}

/**
 * Converts a GitHub Actions workflow to a Microstack pipeline. Never throws on bad input: YAML
 * errors are notes (and an empty result), everything else is imported as far as it goes.
 */
export function importGitHubActions(text: string, options: ImportOptions = {}): ImportResult {
  const source = loadSource(text);
  const notes = new NoteList(source);
  for (const problem of source.problems) notes.push(problem);
  if (source.problems.some((problem) => problem.severity === "error"))
    return { yaml: "", pipeline: null, notes: notes.sorted() };
  const [root, ...rest] = source.roots;
  if (rest.length > 0)
    notes.addAtStart(
      "warning",
      "multiple-documents",
      "The file has several YAML documents; only the first was imported.",
    );
  if (root === undefined || root === null || root.kind !== "map") {
    notes.addAtStart(
      "error",
      "not-a-workflow",
      "This is not a GitHub Actions workflow: the file must be a mapping with on: and jobs:.",
    );
    return { yaml: "", pipeline: null, notes: notes.sorted() };
  }
  return new GitHubImporter(root, notes, options, source).run();
}

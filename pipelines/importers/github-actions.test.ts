import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandMatrix } from "../graph/matrix";
import { parsePipeline } from "../spec/parse";
import type { Pipeline, Step } from "../spec/schema";
import { importGitHubActions } from "./github-actions";
import { type GhScope, translateGitHubCondition, translateGitHubValue } from "./github-expressions";
import type { ImportNote, ImportResult } from "./types";

const FIXTURES = path.join(import.meta.dirname, "fixtures", "github");
const fixtures = readdirSync(FIXTURES).filter((file) => file.endsWith(".yml"));

function load(file: string): { text: string; result: ImportResult } {
  const text = readFileSync(path.join(FIXTURES, file), "utf8");
  return { text, result: importGitHubActions(text, { fileName: file }) };
}

function pipelineOf(result: ImportResult): Pipeline {
  expect(result.pipeline, result.notes.map((note) => note.message).join("\n")).not.toBeNull();
  return result.pipeline as Pipeline;
}

function step(pipeline: Pipeline, id: string): Step {
  const found = pipeline.steps.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no step ${id}: ${pipeline.steps.map((s) => s.id).join(", ")}`);
  return found;
}

function needsOf(pipeline: Pipeline, id: string): string[] {
  const needs = step(pipeline, id).needs;
  return needs === undefined ? [] : typeof needs === "string" ? [needs] : [...needs];
}

function notesWith(result: ImportResult, code: string): ImportNote[] {
  return result.notes.filter((note) => note.code === code);
}

/** The text at a note's line and column in the source. */
function sourceAt(text: string, note: ImportNote, length: number): string {
  const line = text.split("\n")[note.line - 1] ?? "";
  return line.slice(note.column - 1, note.column - 1 + length);
}

describe("GitHub Actions fixtures", () => {
  it("has at least 11 workflows of varied shape", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(11);
  });

  it.each(fixtures)("%s imports to a pipeline that parses without errors", (file) => {
    const { result } = load(file);
    expect(result.yaml).not.toBe("");
    const parsed = parsePipeline(result.yaml);
    expect(parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error")).toEqual([]);
    expect(parsed.pipeline).not.toBeNull();
    expect(result.notes.filter((note) => note.code === "invalid-output")).toEqual([]);
    for (const note of result.notes) {
      expect(note.code).toMatch(/^[a-z]+(?:-[a-z]+)*$/);
      expect(note.line).toBeGreaterThanOrEqual(1);
      expect(note.column).toBeGreaterThanOrEqual(1);
      expect(note.message.length).toBeGreaterThan(10);
    }
    const positions = result.notes.map((note) => note.line * 10_000 + note.column);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});

describe("node monorepo CI", () => {
  const { text, result } = load("node-monorepo-ci.yml");
  const pipeline = pipelineOf(result);

  it("keeps the DAG and checks out once", () => {
    expect(needsOf(pipeline, "lint")).toEqual(["checkout"]);
    expect(needsOf(pipeline, "test")).toEqual(["lint"]);
    expect(needsOf(pipeline, "build")).toEqual(["lint", "test"]);
    expect(step(pipeline, "checkout")).toMatchObject({ uses: "checkout", with: { depth: 0 } });
  });

  it("expands the matrix as GitHub does: 3 x 3, minus one exclude, include merged", () => {
    const matrix = step(pipeline, "test").matrix;
    expect(matrix).toMatchObject({ "fail-fast": false, "max-parallel": 6 });
    const expansion = expandMatrix(matrix as NonNullable<typeof matrix>);
    expect(expansion.ok && expansion.combinations.length).toBe(8);
    expect(expansion.ok && expansion.combinations.filter((combination) => combination.coverage === true)).toEqual([
      { node: 22, package: "api", coverage: true },
    ]);
  });

  it("takes the image from setup-node, per matrix leg", () => {
    expect(step(pipeline, "lint").image).toBe("node:20");
    expect(step(pipeline, "test").image).toBe(`node:\${{ matrix.node }}`);
    // "package" is a reserved word in CEL, so it is read with brackets.
    expect(step(pipeline, "test").name).toBe(`Test \${{ matrix["package"] }} (node \${{ matrix.node }})`);
  });

  it("guards a matrix key that only some legs have", () => {
    expect(step(pipeline, "test").run).toContain(
      `if [ "\${{ "coverage" in matrix && matrix.coverage }}" = true ]; then`,
    );
  });

  it("maps concurrency with cancel-in-progress, and keeps the secret env", () => {
    expect(pipeline.concurrency).toEqual({ runs: 1, "cancel-in-progress": true });
    expect(pipeline.env).toMatchObject({ TURBO_TOKEN: `\${{ secrets.TURBO_TOKEN }}`, TURBO_TELEMETRY_DISABLED: 1 });
  });

  it("reports the artifact exclusion at its line", () => {
    const [note] = notesWith(result, "artifact-exclude");
    expect(note?.severity).toBe("warning");
    expect(note?.message).toContain("!packages/web/dist/**/*.map");
    expect(sourceAt(text, note as ImportNote, 1)).toBe("|");
    expect(step(pipeline, "build").artifacts?.save).toEqual([
      { name: "web-dist", paths: ["packages/web/dist"], "expire-in": "3d" },
    ]);
  });

  it("notes the push and pull_request triggers", () => {
    const events = notesWith(result, "event-not-carried");
    expect(events.map((note) => sourceAt(text, note, 12))).toEqual(["push:", "pull_request"]);
    expect(events.map((note) => note.path)).toEqual(["on.push", "on.pull_request"]);
  });
});

describe("Go release with goreleaser", () => {
  const { text, result } = load("go-release-goreleaser.yml");
  const pipeline = pipelineOf(result);

  it("makes the script fail where an action did the work, with a warning at the uses line", () => {
    const note = notesWith(result, "unsupported-action").find(
      (candidate) => candidate.path === "jobs.goreleaser.steps[3].uses",
    );
    expect(note).toMatchObject({ severity: "warning", path: "jobs.goreleaser.steps[3].uses", line: 42, column: 15 });
    expect(sourceAt(text, note as ImportNote, 31)).toBe("goreleaser/goreleaser-action@v6");
    expect(note?.message).toContain("release --clean");
    const run = step(pipeline, "goreleaser").run ?? "";
    expect(run).toMatch(/goreleaser\/goreleaser-action@v6 is an action, which Microstack cannot run[^\n]*\nexit 1\n/);
  });

  it("emulates $GITHUB_STEP_SUMMARY and translates github.ref_name to its variable, with notes", () => {
    const run = step(pipeline, "goreleaser").run ?? "";
    expect(run).toContain('export GITHUB_STEP_SUMMARY="$ms_tmp/summary.md"');
    expect(run).toContain(`echo "Released \${GITHUB_REF_NAME}" >> "$GITHUB_STEP_SUMMARY"`);
    expect(notesWith(result, "github-variables")[0]?.message).toContain("GITHUB_REF_NAME");
  });

  it("keeps the test job's steps as one script in order", () => {
    const run = step(pipeline, "test").run ?? "";
    expect(run.indexOf("go vet ./...")).toBeLessThan(run.indexOf("go test -race"));
    expect(run.startsWith("set -e\n")).toBe(true);
    expect(step(pipeline, "test").image).toBe("golang:1.22");
  });

  it("notes permissions as info", () => {
    expect(notesWith(result, "permissions")[0]).toMatchObject({
      severity: "info",
      path: "permissions",
      line: 9,
      column: 1,
    });
  });
});

describe("Python tox matrix", () => {
  const { result } = load("python-tox-matrix.yml");
  const pipeline = pipelineOf(result);

  it("keeps axes, include and exclude", () => {
    const matrix = step(pipeline, "tests").matrix as NonNullable<Step["matrix"]>;
    const expansion = expandMatrix(matrix);
    // 2 x 4 = 8, minus windows/3.9 = 7, plus the 3.13 leg = 8; the lint include joins both 3.12 legs.
    expect(expansion.ok && expansion.combinations.length).toBe(8);
    expect(
      expansion.ok && expansion.combinations.filter((combination) => combination["tox-env"] === "py312-lint").length,
    ).toBe(2);
  });

  it("translates `matrix.tox-env || 'py'` to a guarded ternary", () => {
    expect(step(pipeline, "tests").run).toContain(
      `tox -e "\${{ "tox-env" in matrix && matrix["tox-env"] != "" ? matrix["tox-env"] : "py" }}"`,
    );
  });

  it("reports what depends on the matrix leg and the service container", () => {
    expect(notesWith(result, "continue-on-error")[0]).toMatchObject({ severity: "warning", line: 14 });
    expect(step(pipeline, "tests")["continue-on-error"]).toBeUndefined();
    expect(notesWith(result, "services")[0]?.message).toContain("postgres (postgres:16)");
    expect(notesWith(result, "runs-on")[0]?.message).toContain("Some matrix legs target Windows");
  });

  it("runs the always() step even after a failure (tracked script)", () => {
    const run = step(pipeline, "tests").run ?? "";
    expect(run).toContain("ms_failed=0");
    expect(run).toMatch(/# Report\n\(\nset -eo pipefail\nls -la .tox \|\| true\n\)/);
  });
});

describe("Docker build and push with environments", () => {
  const { result } = load("docker-build-push.yml");
  const pipeline = pipelineOf(result);

  it("puts an approval before each deploy, with the environment", () => {
    expect(step(pipeline, "approve-deploy-staging")).toMatchObject({
      needs: ["build"],
      approval: { environment: "staging", approvers: { roles: ["approver"] } },
    });
    expect(needsOf(pipeline, "deploy-staging")).toEqual(["approve-deploy-staging", "build"]);
    expect(needsOf(pipeline, "deploy-production")).toEqual(["approve-deploy-production", "build", "deploy-staging"]);
    const order = pipeline.steps.map((candidate) => candidate.id);
    expect(order.indexOf("approve-deploy-production")).toBe(order.indexOf("deploy-production") - 1);
  });

  it("writes the job outputs from the step output files", () => {
    const build = step(pipeline, "build");
    expect(build.outputs).toEqual(["tag", "digest"]);
    expect(build.run).toContain(`printf '%s\\n' "tag=$(ms_output 3 tag)" >> "$MICROSTACK_OUTPUT"`);
    expect(notesWith(result, "action-output")[0]?.path).toBe("jobs.build.outputs.digest");
    expect(step(pipeline, "deploy-staging").run).toContain(`\${{ steps.build.outputs.tag }}`);
  });

  it("computes env the pipeline cannot hold in each script, with one note", () => {
    expect(pipeline.env?.IMAGE_NAME).toBeUndefined();
    expect(step(pipeline, "build").run).toContain(`export IMAGE_NAME="\${GITHUB_REPOSITORY}"`);
    expect(notesWith(result, "env-computed")).toHaveLength(1);
  });

  it("translates the condition on the boolean input", () => {
    expect(step(pipeline, "deploy-staging").if).toBe("params.push != false");
    expect(step(pipeline, "approve-deploy-staging").if).toBe("params.push != false");
  });
});

describe("Terraform plan and apply", () => {
  const { result } = load("terraform-plan-apply.yml");
  const pipeline = pipelineOf(result);

  it("turns workflow_dispatch inputs into typed params", () => {
    expect(pipeline.params).toEqual({
      workspace: {
        type: "string",
        description: "Terraform workspace",
        options: ["dev", "staging", "prod"],
        required: true,
      },
      action: {
        type: "string",
        description: "plan only, or plan and apply",
        options: ["plan", "apply"],
        default: "plan",
      },
    });
    expect(pipeline.env).toMatchObject({ TF_WORKSPACE: `\${{ params.workspace }}` });
  });

  it("translates the apply condition, including a needs output", () => {
    expect(step(pipeline, "apply").if).toBe('params.action == "apply" && steps.plan.outputs.changes == "true"');
    expect(step(pipeline, "approve-apply").approval?.environment).toBe(`terraform-\${{ params.workspace }}`);
  });

  it("hands the plan over as an artifact and applies defaults.run.working-directory", () => {
    expect(step(pipeline, "plan")["working-directory"]).toBe("infra");
    expect(step(pipeline, "plan").artifacts?.save).toEqual([{ name: "tfplan", paths: ["infra/tfplan"] }]);
    expect(step(pipeline, "apply").artifacts?.fetch).toEqual([{ from: "plan", name: "tfplan", path: "infra" }]);
    expect(step(pipeline, "apply").timeout).toBe("30m");
  });
});

describe("Rust cross-compile matrix of objects", () => {
  const { result } = load("rust-cross-compile.yml");
  const pipeline = pipelineOf(result);

  it("flattens object values into include entries", () => {
    const build = step(pipeline, "build");
    const expansion = expandMatrix(build.matrix as NonNullable<Step["matrix"]>);
    expect(expansion.ok && expansion.combinations.length).toBe(4);
    expect(expansion.ok && expansion.combinations[1]).toEqual({
      target_triple: "aarch64-unknown-linux-gnu",
      target_os: "ubuntu-latest",
      target_cross: true,
      profile: "release",
    });
    expect(build.name).toBe(`build (\${{ matrix.target_triple }})`);
    expect(build.run).toContain(`cargo build --profile \${{ matrix.profile }} --target \${{ matrix.target_triple }}`);
    expect(notesWith(result, "matrix-flattened")).toHaveLength(1);
  });

  it("treats a cache action as a cache (a comment), not as work that fails", () => {
    const run = step(pipeline, "build").run ?? "";
    expect(run).toContain("# Swatinem/rust-cache@v2: caching is not carried over");
    expect(run).not.toContain("exit 1");
  });
});

describe("deploy to Kubernetes with environments", () => {
  const { result } = load("k8s-deploy-environments.yml");
  const pipeline = pipelineOf(result);

  it("gates production on the boolean input, the approval included", () => {
    expect(step(pipeline, "production").if).toBe("params.promote");
    expect(step(pipeline, "approve-production").if).toBe("params.promote");
  });

  it("reads needs results as step outcomes", () => {
    expect(step(pipeline, "notify").if).toBe("always()");
    expect(step(pipeline, "notify").run).toContain(
      `staging=\${{ steps.staging.outcome }} production=\${{ steps.production.outcome }}`,
    );
  });

  it("emulates RUNNER_TEMP and isolates a step that changes directory", () => {
    const run = step(pipeline, "staging").run ?? "";
    expect(run).toContain(`export RUNNER_TEMP="\${RUNNER_TEMP:-$ms_tmp/runner-temp}"`);
    expect(run).toMatch(/# Deploy\n\(\n[\s\S]*cd deploy\/overlays\/staging[\s\S]*\n\)\n\n# Smoke test/);
  });
});

describe("reusable workflow caller", () => {
  const { text, result } = load("reusable-workflow-caller.yml");
  const pipeline = pipelineOf(result);

  it("skips the jobs that call other workflows, with an error at each uses:", () => {
    const errors = notesWith(result, "reusable-workflow");
    expect(errors.map((note) => note.path)).toEqual(["jobs.lint.uses", "jobs.test.uses", "jobs.publish.uses"]);
    for (const note of errors) {
      expect(note.severity).toBe("error");
      expect(sourceAt(text, note, 5)).toBe("uses:");
    }
    expect(pipeline.steps.map((candidate) => candidate.id)).toEqual(["checkout", "version", "announce"]);
  });

  it("re-links the dependents to what the skipped jobs needed", () => {
    expect(needsOf(pipeline, "version")).toEqual(["checkout"]);
    expect(needsOf(pipeline, "announce")).toEqual(["version"]);
    expect(step(pipeline, "announce").run).toContain(`\${{ steps.version.outputs.next }}`);
  });
});

describe("nightly scheduled run", () => {
  const { result } = load("nightly-scheduled.yml");
  const pipeline = pipelineOf(result);

  it("carries the crons over in UTC", () => {
    expect(pipeline.triggers?.schedule).toEqual([
      { cron: "17 2 * * *", timezone: "UTC" },
      { cron: "0 6 * * 6", timezone: "UTC" },
    ]);
  });

  it("translates status conditions", () => {
    expect(step(pipeline, "teardown").if).toBe('always() && steps.provision.outcome == "success"');
    expect(step(pipeline, "report-failure").if).toBe("failure()");
  });

  it("reads an input with a default the way GitHub's || does", () => {
    expect(step(pipeline, "e2e").run).toContain(`--project="\${{ params.suite != "" ? params.suite : "full" }}"`);
  });
});

describe("workflow_dispatch with choices", () => {
  const { result } = load("workflow-dispatch-choice.yml");
  const pipeline = pipelineOf(result);

  it("types every input", () => {
    expect(pipeline.params?.replicas).toEqual({ type: "number", description: "Number of replicas", default: 2 });
    expect(pipeline.params?.["dry-run"]).toMatchObject({ type: "boolean", default: true });
    expect(pipeline.params?.region).toEqual({ type: "string", description: "Deployment environment" });
    expect(notesWith(result, "environment-input")).toHaveLength(1);
  });

  it("translates negation, github.event.inputs, number comparisons and format()", () => {
    expect(step(pipeline, "release").if).toBe('!params["dry-run"]');
    expect(step(pipeline, "dry-run").if).toBe('params["dry-run"]');
    const validate = step(pipeline, "validate").run ?? "";
    expect(validate).toContain(
      `if { [ "\${{ params.target == "production" }}" = true ]; } && { [ "\${{ params["dry-run"] == false }}" = true ]; }; then`,
    );
    expect(step(pipeline, "release").run).toContain(`if [ "\${{ params.replicas > 3.0 }}" = true ]; then`);
    expect(step(pipeline, "dry-run").run).toContain(`\${{ params.target + "-" + params.region }}`);
  });

  it("checks out the requested ref", () => {
    expect(step(pipeline, "checkout").with).toEqual({ ref: `v\${{ params.version }}` });
    expect(needsOf(pipeline, "release")).toEqual(["checkout", "approve-release", "validate"]);
  });
});

describe("artifacts between jobs", () => {
  const { result } = load("artifacts-between-jobs.yml");
  const pipeline = pipelineOf(result);

  it("saves and fetches by name, and fetches everything for a download without a name", () => {
    expect(step(pipeline, "test").artifacts?.fetch).toEqual([{ from: "build", name: "dist", path: "app/dist" }]);
    expect(step(pipeline, "bundle").artifacts?.fetch).toEqual([
      { from: "build", name: "dist", path: "all/dist" },
      { from: "build", name: "sbom", path: "all/sbom" },
    ]);
  });

  it("passes a step output and $GITHUB_ENV to the next step", () => {
    const run = step(pipeline, "build").run ?? "";
    expect(run).toContain(`echo "built $(ms_output 1 version) (\${APP_VERSION})"`);
    expect(run).toContain(
      `while IFS= read -r ms_line; do case "$ms_line" in *=*) export "$ms_line" ;; esac; done < "$GITHUB_ENV"`,
    );
    expect(step(pipeline, "build")["working-directory"]).toBe("app");
  });

  it("cds per step when a step has its own working-directory", () => {
    const run = step(pipeline, "test").run ?? "";
    expect(run).toContain("(\ncd app\nnpm ci && npm test\n)");
    expect(run).toContain("(\ncd tests/integration\n./run.sh ../../app/dist\n)");
    expect(step(pipeline, "test")["working-directory"]).toBeUndefined();
  });
});

describe("Windows and other shells", () => {
  const { result } = load("windows-dotnet.yml");
  const pipeline = pipelineOf(result);

  it("runs a Windows job's steps in PowerShell", () => {
    const build = step(pipeline, "build");
    expect(build.shell).toBe("pwsh");
    expect(build.run).toContain('Write-Host "Tests done on $env:RUNNER_OS"');
    expect(build.image).toBe("mcr.microsoft.com/dotnet/sdk:8.0");
  });

  it("embeds python and pwsh steps in a bash script", () => {
    const run = step(pipeline, "package").run ?? "";
    expect(step(pipeline, "package").shell).toBe("bash");
    expect(run).toContain(`cat > "$ms_tmp/step-1.py" <<'MS_STEP_1_EOF'`);
    expect(run).toContain('python "$ms_tmp/step-1.py"');
    expect(run).toContain(`pwsh -NoLogo -NoProfile -NonInteractive -Command ". '$ms_tmp/step-2.ps1'"`);
  });
});

// ---------------------------------------------------------------------------------------------

function scope(overrides: Partial<GhScope> = {}): GhScope {
  const params: Record<string, "string" | "boolean" | "number"> = {
    env: "string",
    debug: "boolean",
    count: "number",
    "dry-run": "boolean",
  };
  return {
    mode: "condition",
    allowSecrets: false,
    param: (name) => (params[name] === undefined ? undefined : { name, type: params[name] as "string" }),
    need: (name) =>
      name === "build"
        ? { stepId: "build", outputs: new Set(["version"]) }
        : name === "deploy-app"
          ? { stepId: "deploy-app", outputs: new Set() }
          : undefined,
    matrix: (keys) =>
      keys[0] === "os" ? { key: "os", kinds: new Set(["string"] as const), partial: false } : "unknown-key",
    env: (name) => name === "REGION",
    ...overrides,
  };
}

describe("GitHub expressions to CEL", () => {
  it.each([
    ["success()", "success()"],
    [`\${{ always() }}`, "always()"],
    ["!cancelled()", "!cancelled()"],
    ["failure() && needs.build.result == 'failure'", 'failure() && steps.build.outcome == "failure"'],
    ["needs.build.outputs.version != ''", 'steps.build.outputs.version != ""'],
    ["needs.deploy-app.result == 'success'", 'steps["deploy-app"].outcome == "success"'],
    ["inputs.env == 'prod' || inputs.env == 'staging'", 'params.env == "prod" || params.env == "staging"'],
    ["github.event.inputs.debug == 'true'", "params.debug == true"],
    ["inputs.count >= 2", "params.count >= 2.0"],
    ["inputs.env", 'params.env != ""'],
    ["!inputs.dry-run", '!params["dry-run"]'],
    ["matrix.os == 'ubuntu-latest'", 'matrix.os == "ubuntu-latest"'],
    ["startsWith(inputs.env, 'prod')", 'params.env.startsWith("prod")'],
    ['contains(fromJSON(\'["a", "b"]\'), inputs.env)', 'params.env in ["a", "b"]'],
    ["env.REGION == 'eu'", 'env.REGION == "eu"'],
    ["(inputs.debug || inputs.count > 1) && success()", "(params.debug || params.count > 1.0) && success()"],
    ["'it''s' == inputs.env", '"it\'s" == params.env'],
  ])("%s -> %s", (source, expected) => {
    const result = translateGitHubCondition(source, scope());
    expect(result.dropped).toEqual([]);
    expect(result.cel).toBe(expected);
  });

  it("drops what cannot be evaluated, part by part, with the original text", () => {
    const result = translateGitHubCondition("always() && github.ref == 'refs/heads/main' && inputs.debug", scope());
    expect(result.cel).toBe("always() && params.debug");
    expect(result.status).toBe(true);
    expect(result.dropped).toHaveLength(1);
    expect(result.dropped[0]?.text).toBe("github.ref == 'refs/heads/main'");
    expect(result.dropped[0]?.reason).toContain("github context");
    expect(translateGitHubCondition("contains(github.event.pull_request.labels.*.name, 'x')", scope()).cel).toBeNull();
    expect(translateGitHubCondition("secrets.TOKEN != ''", scope()).dropped[0]?.reason).toContain(
      "secrets cannot be read",
    );
    expect(translateGitHubCondition("hashFiles('go.sum') != ''", scope()).dropped[0]?.reason).toContain("hashFiles()");
  });

  it("translates templates: secrets stay, ternary idiom, format", () => {
    const template = scope({ mode: "template", allowSecrets: true });
    expect(translateGitHubValue(" secrets.NPM_TOKEN ", template)).toMatchObject({
      ok: true,
      cel: "secrets.NPM_TOKEN",
      secret: "NPM_TOKEN",
    });
    expect(translateGitHubValue("inputs.debug && 'verbose' || 'quiet'", template)).toMatchObject({
      ok: true,
      cel: 'params.debug ? "verbose" : "quiet"',
    });
    expect(translateGitHubValue("format('{0}/{1}', inputs.env, matrix.os)", template)).toMatchObject({
      ok: true,
      cel: 'params.env + "/" + string(matrix.os)',
    });
    expect(translateGitHubValue("github.sha", template).ok).toBe(false);
  });
});

describe("import errors", () => {
  it("reports YAML syntax errors with their position and imports nothing", () => {
    const result = importGitHubActions("on: push\njobs:\n  build:\n    runs-on: [ubuntu\n    steps: []\n");
    expect(result.yaml).toBe("");
    expect(result.pipeline).toBeNull();
    expect(result.notes[0]).toMatchObject({ severity: "error", code: "yaml-syntax" });
    expect(result.notes[0]?.line).toBeGreaterThanOrEqual(4);
  });

  it("refuses a document that is not a workflow", () => {
    const result = importGitHubActions("- just\n- a list\n");
    expect(result).toMatchObject({ yaml: "", pipeline: null });
    expect(result.notes[0]?.code).toBe("not-a-workflow");
  });

  it("reports unknown keys where they are", () => {
    const result = importGitHubActions(
      "on: workflow_dispatch\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n    steps:\n      - run: echo hi\n",
    );
    expect(notesWith(result, "unknown-key")[0]).toMatchObject({ path: "jobs.a.stepz", line: 5, column: 5 });
    expect(result.pipeline).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// The generated scripts, run: GitHub's step semantics must survive the concatenation.

const bash = spawnSync("bash", ["--version"]).status === 0;

function runScript(script: string): { code: number; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "ms-import-"));
  writeFileSync(path.join(dir, "output"), "");
  const result = spawnSync("bash", ["-c", script], {
    cwd: dir,
    env: { ...process.env, MICROSTACK_OUTPUT: path.join(dir, "output") },
  });
  return { code: result.status ?? -1, dir };
}

describe.skipIf(!bash)("generated scripts, run with bash", () => {
  it("stops at the first failing step, runs failure() and always() steps, and fails the job", () => {
    const result = importGitHubActions(`on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo one > one
      - run: |
          false
          echo never > never
      - run: echo skipped > skipped
      - if: failure()
        run: echo failure > failure
      - if: always()
        run: echo always > always
      - if: success()
        run: echo success > success
`);
    const run = result.pipeline?.steps[0]?.run ?? "";
    const { code, dir } = runScript(run);
    expect(code).toBe(1);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(["always", "failure", "one", "output"]);
  });

  it("starts every step where GitHub starts it, and passes env and outputs between steps", () => {
    const result = importGitHubActions(`on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    outputs:
      answer: \${{ steps.calc.outputs.value }}
    steps:
      - run: mkdir sub && cd sub && echo "X=from-env" >> "$GITHUB_ENV"
      - id: calc
        run: echo "value=$X-42" >> "$GITHUB_OUTPUT"
      - run: echo "\${{ steps.calc.outputs.value }}" > where-am-i
`);
    const run = result.pipeline?.steps[0]?.run ?? "";
    const { code, dir } = runScript(run);
    expect(code).toBe(0);
    expect(readFileSync(path.join(dir, "where-am-i"), "utf8")).toBe("from-env-42\n");
    expect(readFileSync(path.join(dir, "output"), "utf8")).toBe("answer=from-env-42\n");
  });

  it("lets a continue-on-error step fail without failing the job", () => {
    const result = importGitHubActions(`on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
        continue-on-error: true
      - run: echo ran > ran
`);
    const { code, dir } = runScript(result.pipeline?.steps[0]?.run ?? "");
    expect(code).toBe(0);
    expect(readdirSync(dir)).toContain("ran");
  });
});

// ---------------------------------------------------------------------------------------------

describe("random job graphs", () => {
  it("keep their needs edges (re-linked through skipped jobs), approvals in front, and always parse", () => {
    const graph = fc.integer({ min: 1, max: 12 }).chain((count) =>
      fc.record({
        jobs: fc.tuple(
          ...Array.from({ length: count }, (_, index) =>
            fc.record({
              needs:
                index === 0
                  ? fc.constant([] as number[])
                  : fc.uniqueArray(fc.integer({ min: 0, max: index - 1 }), { maxLength: 3 }),
              kind: fc.constantFrom("run", "run", "run", "reusable", "environment"),
              condition: fc.constantFrom(null, "always()", "failure()", "github.ref == 'refs/heads/main'", "inputs.go"),
            }),
          ),
        ),
      }),
    );
    fc.assert(
      fc.property(graph, ({ jobs }) => {
        const lines = ["on:", "  workflow_dispatch:", "    inputs:", "      go: { type: boolean }", "jobs:"];
        jobs.forEach((job, index) => {
          lines.push(`  job${index}:`);
          if (job.needs.length > 0) lines.push(`    needs: [${job.needs.map((need) => `job${need}`).join(", ")}]`);
          if (job.condition !== null && job.kind !== "reusable") lines.push(`    if: ${JSON.stringify(job.condition)}`);
          if (job.kind === "reusable") {
            lines.push("    uses: ./.github/workflows/other.yml");
            return;
          }
          if (job.kind === "environment") lines.push(`    environment: env${index}`);
          lines.push("    runs-on: ubuntu-latest", "    steps:", `      - run: echo ${index}`);
        });
        const result = importGitHubActions(lines.join("\n"));
        const parsed = parsePipeline(result.yaml);
        expect(parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error")).toEqual([]);
        const pipeline = parsed.pipeline as Pipeline;
        // Expected needs: the original ones, with skipped (reusable) jobs replaced by their needs.
        const expand = (index: number): string[] =>
          jobs[index]?.kind === "reusable" ? (jobs[index]?.needs ?? []).flatMap(expand) : [`job${index}`];
        jobs.forEach((job, index) => {
          const id = `job${index}`;
          if (job.kind === "reusable") {
            expect(pipeline.steps.some((candidate) => candidate.id === id)).toBe(false);
            return;
          }
          const expected = [...new Set(job.needs.flatMap(expand))];
          const actual = needsOf(pipeline, id);
          if (job.kind === "environment") {
            expect(actual[0]).toBe(`approve-${id}`);
            expect(needsOf(pipeline, `approve-${id}`).sort()).toEqual([...expected].sort());
            expect(actual.slice(1).sort()).toEqual([...expected].sort());
          } else {
            expect(actual.sort()).toEqual([...expected].sort());
          }
        });
      }),
      { numRuns: 150 },
    );
  });
});

describe("odd workflows still import to a valid pipeline", () => {
  it.each([
    ["empty steps", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: []\n"],
    [
      "actions only",
      "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: some/action@v1\n      - uses: ./local\n      - uses: docker://alpine:3\n",
    ],
    [
      "dynamic matrix read everywhere",
      `on: push\njobs:\n  m:\n    runs-on: x\n    outputs: { list: '\${{ steps.s.outputs.list }}' }\n    steps:\n      - id: s\n        run: echo 'list=[1]' >> $GITHUB_OUTPUT\n  b:\n    needs: m\n    name: b \${{ matrix.v }}\n    runs-on: \${{ matrix.os }}\n    if: matrix.v == 1\n    environment: env-\${{ matrix.v }}\n    strategy:\n      matrix: \${{ fromJSON(needs.m.outputs.list) }}\n    steps:\n      - if: matrix.v == 2\n        run: echo \${{ matrix.v }} \${{ hashFiles('x') }} \${{ toJSON(github) }}\n`,
    ],
    [
      "workflow env with a matrix",
      `on: push\nenv:\n  A: \${{ matrix.x }}\n  B: \${{ github.sha }}-\${{ vars.SUFFIX }}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo $A $B\n`,
    ],
    [
      "a job named checkout, and weird ids",
      "on: push\njobs:\n  checkout:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n      - run: echo\n  my job:\n    needs: [checkout, nope]\n    runs-on: x\n    steps:\n      - run: echo\n",
    ],
    [
      "unterminated expression and cmd",
      `on: push\njobs:\n  a:\n    runs-on: windows-latest\n    steps:\n      - run: echo \${{ oops\n      - shell: cmd\n        run: dir\n      - run: echo \${{ steps.none.outputs.x }} \${{ steps.none.outcome }}\n`,
    ],
    [
      "bad inputs, bad cron",
      `on:\n  schedule:\n    - cron: 'not a cron'\n  workflow_dispatch:\n    inputs:\n      1st: { type: choice }\n      flag: { type: boolean, default: maybe }\n      n: { type: number, default: abc, required: true }\njobs:\n  a:\n    if: false\n    runs-on: x\n    steps:\n      - run: echo \${{ inputs.1st }}\n`,
    ],
    [
      "duplicate artifact names and uploads with expressions",
      `on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/upload-artifact@v4\n        with: { name: out, path: a }\n      - uses: actions/upload-artifact@v4\n        with: { name: out, path: b }\n      - uses: actions/upload-artifact@v4\n        with: { name: '\${{ github.sha }}', path: c }\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - uses: actions/download-artifact@v4\n        with: { name: out }\n      - uses: actions/download-artifact@v4\n        with: { name: missing }\n`,
    ],
    [
      "needs cycle",
      "on: push\njobs:\n  a:\n    needs: b\n    runs-on: x\n    steps: [{ run: echo }]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{ run: echo }]\n",
    ],
    ["no jobs", "on: push\nname: nothing\n"],
  ])("%s", (_, text) => {
    const result = importGitHubActions(text);
    expect(result.notes.filter((note) => note.code === "invalid-output")).toEqual([]);
    const parsed = parsePipeline(result.yaml);
    expect(parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error")).toEqual([]);
    expect(result.notes.length).toBeGreaterThan(0);
  });
});

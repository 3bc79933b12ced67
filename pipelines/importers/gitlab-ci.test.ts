import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandMatrix } from "../graph/matrix";
import { parsePipeline } from "../spec/parse";
import type { Pipeline, Step } from "../spec/schema";
import { ancestorsOf } from "./emit";
import { translateGitLabExpression } from "./gitlab-expressions";
import { importGitLabCi, parseGitLabDuration } from "./gitlab-ci";
import type { ImportNote, ImportResult } from "./types";

const FIXTURES = path.join(import.meta.dirname, "fixtures", "gitlab");
const fixtures = readdirSync(FIXTURES).filter((file) => file.endsWith(".yml"));

function load(file: string): { text: string; result: ImportResult } {
  const text = readFileSync(path.join(FIXTURES, file), "utf8");
  return { text, result: importGitLabCi(text, { fileName: file }) };
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

function sourceAt(text: string, note: ImportNote, length: number): string {
  const line = text.split("\n")[note.line - 1] ?? "";
  return line.slice(note.column - 1, note.column - 1 + length);
}

function instances(matrix: Step["matrix"]): number {
  const expansion = expandMatrix(matrix as NonNullable<Step["matrix"]>);
  return expansion.ok ? expansion.combinations.length : -1;
}

describe("GitLab CI fixtures", () => {
  it("has at least 11 pipelines of varied shape", () => {
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
    }
  });
});

describe("classic build/test/deploy (stages only)", () => {
  const { text, result } = load("classic-build-test-deploy.yml");
  const pipeline = pipelineOf(result);

  it("orders jobs by stage: each waits for the stage before", () => {
    expect(needsOf(pipeline, "compile-assets")).toEqual(["checkout"]);
    expect(needsOf(pipeline, "rspec")).toEqual(["compile-assets"]);
    expect(needsOf(pipeline, "rubocop")).toEqual(["compile-assets"]);
    expect(needsOf(pipeline, "deploy")).toEqual(["rspec", "rubocop"]);
    expect(pipeline.stages).toEqual([{ id: "build" }, { id: "test" }, { id: "deploy" }]);
    expect(step(pipeline, "deploy").stage).toBe("deploy");
  });

  it("applies the legacy top-level image and before_script, and passes artifacts to later stages", () => {
    const rspec = step(pipeline, "rspec");
    expect(rspec.image).toBe("ruby:3.3");
    expect(rspec.run).toMatch(
      /# before_script\nbundle config set path "\$BUNDLE_PATH"\nbundle install --jobs 4\n\n# script\nbin\/rails db:schema:load/,
    );
    expect(rspec.artifacts?.fetch).toEqual([{ from: "compile-assets", name: "compile-assets" }]);
    expect(step(pipeline, "compile-assets").artifacts?.save).toEqual([
      { name: "compile-assets", paths: ["public/assets/"], "expire-in": "2d" },
    ]);
  });

  it("reports only: at the keyword, and the variable the script expects from the project", () => {
    const [only] = notesWith(result, "only");
    expect(only).toMatchObject({ severity: "warning", path: "deploy.only", line: 45, column: 3 });
    expect(sourceAt(text, only as ImportNote, 5)).toBe("only:");
    expect(notesWith(result, "undefined-variables")[0]?.message).toContain("HEROKU_API_KEY");
    expect(notesWith(result, "services")[0]?.path).toBe("rspec.services");
  });
});

describe("needs DAG", () => {
  const { result } = load("needs-dag.yml");
  const pipeline = pipelineOf(result);

  it("keeps needs, needs: [] and the stage order for jobs without needs", () => {
    expect(needsOf(pipeline, "lint")).toEqual(["checkout"]);
    expect(needsOf(pipeline, "test-linux")).toEqual(["build-linux"]);
    expect(needsOf(pipeline, "package")).toEqual(["build-linux", "build-darwin", "test-linux", "test-darwin"]);
    // publish has no needs: every job of the earlier stages, minus those already upstream.
    expect(needsOf(pipeline, "publish")).toEqual(["lint", "package"]);
  });

  it("fetches artifacts only as needs:artifacts says", () => {
    expect(step(pipeline, "test-darwin").artifacts).toBeUndefined();
    expect(step(pipeline, "test-linux").artifacts?.fetch).toEqual([{ from: "build-linux", name: "build-linux" }]);
    expect(notesWith(result, "optional-need")[0]?.message).toContain('"docs"');
  });
});

describe("extends, anchors and default", () => {
  const { result } = load("extends-anchors-default.yml");
  const pipeline = pipelineOf(result);

  it("deep-merges extends (maps merge, lists are replaced) through two levels, with !reference", () => {
    const unit = step(pipeline, "unit");
    expect(unit.env).toEqual({ PYTEST_ADDOPTS: "-q", COVERAGE: "true" });
    expect(unit.run).toMatch(
      /# script\necho "setting up \$APP"\n\.\/scripts\/setup\.sh\npytest tests\/unit --cov=\$APP\n$/,
    );
    expect(unit.image).toBe("python:3.12-slim");
    expect(unit.timeout).toBe("20m");
    expect(unit.retry).toEqual({ max: 2 });
  });

  it("lets a later extends win, and honours inherit:default", () => {
    const integration = step(pipeline, "integration");
    expect(integration.image).toBe("python:3.11-slim");
    expect(integration.env).toEqual({ PYTEST_ADDOPTS: "-q -m integration", COVERAGE: "false" });
    expect(integration.run).not.toContain("pip install -r requirements.txt");
    expect(integration.retry).toBeUndefined();
    expect(integration.timeout).toBe("20m");
  });

  it("honours inherit:variables, and reports the cache once at the anchor", () => {
    const lint = step(pipeline, "lint");
    expect(lint.env).toEqual({ PIP_CACHE_DIR: "" });
    expect(lint.run).not.toContain("PIP_CACHE_DIR=");
    expect(notesWith(result, "cache")).toHaveLength(1);
    expect(notesWith(result, "cache")[0]?.path).toBe('[".cache"].cache');
  });

  it("expands a variable that reads a predefined one in the script", () => {
    expect(step(pipeline, "unit").run).toContain('export PIP_CACHE_DIR="$CI_PROJECT_DIR/.cache/pip"');
    expect(step(pipeline, "unit").run).toContain(`export CI_PROJECT_DIR="\${CI_PROJECT_DIR:-$PWD}"`);
  });
});

describe("parallel", () => {
  const { result } = load("parallel-matrix.yml");
  const pipeline = pipelineOf(result);

  it("turns parallel: N into an index axis with GitLab's variables", () => {
    const shards = step(pipeline, "shard-tests");
    expect(instances(shards.matrix)).toBe(4);
    expect(shards.env).toEqual({ CI_NODE_INDEX: `\${{ matrix.CI_NODE_INDEX }}`, CI_NODE_TOTAL: "4" });
  });

  it("turns parallel:matrix into the union of each entry's product", () => {
    const deploy = step(pipeline, "deploy");
    expect(instances(deploy.matrix)).toBe(2 * 2 + 1 + 1);
    expect(deploy.env).toMatchObject({ PROVIDER: `\${{ matrix.PROVIDER }}`, STACK: `\${{ matrix.STACK }}` });
    expect(notesWith(result, "dynamic-environment")[0]?.message).toContain("$PROVIDER");
  });
});

describe("rules and manual jobs", () => {
  const { result } = load("rules-manual.yml");
  const pipeline = pipelineOf(result);

  it("makes prefilled variables params and translates rules on them", () => {
    expect(pipeline.params?.RUN_E2E).toEqual({
      type: "string",
      description: "Run the end-to-end suite",
      options: ["true", "false"],
      default: "false",
    });
    expect(step(pipeline, "e2e").if).toBe('params.RUN_E2E == "true"');
    expect(step(pipeline, "e2e").env).toEqual({ PLAYWRIGHT_WORKERS: "4" });
  });

  it("puts a manual step before a job that rules make manual, with the never rule as a condition", () => {
    expect(step(pipeline, "start-release")).toMatchObject({
      needs: ["e2e", "docs-check"],
      if: '!(env.SKIP_RELEASE == "true")',
      manual: { message: 'Start "release".' },
    });
    expect(needsOf(pipeline, "release")).toEqual(["start-release", "e2e", "docs-check"]);
    expect(notesWith(result, "rule-not-evaluated")[0]).toMatchObject({
      path: "release.rules[1].if",
      line: 45,
      column: 11,
    });
  });

  it("maps when: always and allow_failure from a rule", () => {
    expect(step(pipeline, "cleanup").if).toBe("always()");
    expect(step(pipeline, "docs-check")["continue-on-error"]).toBe(true);
    expect(step(pipeline, "build").if).toBeUndefined();
  });
});

describe("Java Maven", () => {
  const { result } = load("java-maven.yml");
  const pipeline = pipelineOf(result);

  it("keeps the stages, the artifacts and the dependencies", () => {
    expect(needsOf(pipeline, "package")).toEqual(["unit-tests", "integration-tests"]);
    expect(step(pipeline, "deploy-nexus").artifacts?.fetch).toEqual([{ from: "package", name: "package" }]);
    expect(step(pipeline, "compile").artifacts?.save).toEqual([
      { name: "compile", paths: ["target/"], "expire-in": "1h" },
    ]);
    expect(step(pipeline, "package").artifacts?.save).toEqual([
      { name: "package", paths: ["target/*.jar"], "expire-in": "30d" },
    ]);
  });

  it("reports what Microstack does not have", () => {
    expect(notesWith(result, "resource-group")[0]?.severity).toBe("warning");
    expect(notesWith(result, "coverage")[0]?.severity).toBe("info");
    expect(notesWith(result, "artifact-report").map((note) => note.path)).toEqual([
      "unit-tests.artifacts.reports.junit",
      "integration-tests.artifacts.reports.junit",
    ]);
  });
});

describe("monorepo with include", () => {
  const { text, result } = load("monorepo-include.yml");
  const pipeline = pipelineOf(result);

  it("reports each include as an error where it is", () => {
    const includes = notesWith(result, "include-not-fetched");
    expect(includes.map((note) => [note.line, note.column])).toEqual([
      [3, 5],
      [4, 5],
      [7, 5],
      [8, 5],
    ]);
    expect(includes.every((note) => note.severity === "error" && note.message.includes("inline"))).toBe(true);
    expect(sourceAt(text, includes[0] as ImportNote, 6)).toBe("local:");
  });

  it("keeps jobs that extend missing templates, failing until they get a script", () => {
    expect(notesWith(result, "unknown-extends").map((note) => note.path)).toEqual([
      "lint.extends",
      '["api:build"].extends',
      '["deploy:all"].extends',
    ]);
    expect(step(pipeline, "api-build")).toMatchObject({ name: "api:build", env: { SERVICE: "api" } });
    expect(step(pipeline, "api-build").run).toContain("exit 1");
    expect(step(pipeline, "deploy-all").run).toContain("./deploy.sh api web");
    expect(needsOf(pipeline, "web-test")).toEqual(["web-build"]);
  });
});

describe("Helm deploy with environments", () => {
  const { result } = load("helm-deploy-environments.yml");
  const pipeline = pipelineOf(result);

  it("passes the dotenv report on as outputs and env", () => {
    expect(step(pipeline, "build-image").outputs).toEqual(["IMAGE_TAG"]);
    expect(step(pipeline, "build-image").run).toContain(
      `if [ -f image.env ]; then cat image.env >> "$MICROSTACK_OUTPUT"; fi`,
    );
    expect(step(pipeline, "deploy-production").env).toEqual({
      IMAGE_TAG: `\${{ steps["build-image"].outputs.IMAGE_TAG }}`,
    });
  });

  it("puts an approval with the confirmation before the manual production deploy", () => {
    expect(step(pipeline, "approve-deploy-production")).toMatchObject({
      needs: ["smoke"],
      approval: { environment: "production", message: "Deploy shop to production?" },
    });
    expect(needsOf(pipeline, "deploy-production")).toEqual(["approve-deploy-production", "smoke"]);
    expect(step(pipeline, "deploy-production")["continue-on-error"]).toBeUndefined();
    expect(step(pipeline, "deploy-staging").image).toBe("alpine/helm:3.15.2");
  });
});

describe("review apps", () => {
  const { result } = load("review-apps.yml");
  const pipeline = pipelineOf(result);

  it("approves review deploys under the environment's fixed part, and stops by hand", () => {
    expect(step(pipeline, "approve-review").approval?.environment).toBe("review");
    expect(step(pipeline, "start-stop-review").manual).toEqual({ message: 'Start "stop-review".' });
    expect(pipeline.steps.some((candidate) => candidate.id === "approve-stop-review")).toBe(false);
    expect(notesWith(result, "environment-on-stop")[0]?.severity).toBe("warning");
    expect(notesWith(result, "environment-action")[0]?.path).toBe("stop-review.environment.action");
  });

  it("does not check out for GIT_STRATEGY: none, and passes the dotenv URL on", () => {
    expect(needsOf(pipeline, "stop-review")).toEqual(["start-stop-review", "review"]);
    expect(step(pipeline, "stop-review").env).toMatchObject({
      DYNAMIC_URL: `\${{ steps.review.outputs.DYNAMIC_URL }}`,
    });
  });
});

describe("child pipelines", () => {
  const { result } = load("child-pipelines-trigger.yml");
  const pipeline = pipelineOf(result);

  it("skips trigger jobs with an error and re-links what waited for them", () => {
    expect(notesWith(result, "trigger-not-imported").map((note) => note.path)).toEqual([
      "backend.trigger",
      "dynamic.trigger",
      "docs-site.trigger",
    ]);
    expect(pipeline.steps.map((candidate) => candidate.id)).toEqual(["checkout", "generate-config", "report"]);
    expect(needsOf(pipeline, "report")).toEqual(["generate-config"]);
  });
});

describe("retry, timeout, allow_failure, delayed", () => {
  const { result } = load("retry-timeout-allow-failure.yml");
  const pipeline = pipelineOf(result);

  it("maps retry and timeouts", () => {
    expect(step(pipeline, "integration")).toMatchObject({
      retry: { max: 2, "exit-codes": [137, 143] },
      timeout: "45m",
    });
    expect(step(pipeline, "flaky-e2e")).toMatchObject({ retry: 2, timeout: "3h30m" });
    expect(step(pipeline, "experimental")).toMatchObject({ "continue-on-error": true, timeout: "1h" });
  });

  it("reports allow_failure exit codes and leaves the job strict", () => {
    expect(step(pipeline, "flaky-e2e")["continue-on-error"]).toBeUndefined();
    expect(notesWith(result, "allow-failure-exit-codes")[0]).toMatchObject({
      severity: "warning",
      line: 23,
      column: 3,
    });
  });

  it("waits before a delayed job, and maps on_failure and always", () => {
    expect(step(pipeline, "wait-canary")).toMatchObject({ uses: "sleep", with: { duration: "30m" } });
    expect(needsOf(pipeline, "canary")[0]).toBe("wait-canary");
    expect(step(pipeline, "rollback").if).toBe("failure()");
    expect(step(pipeline, "report").if).toBe("always()");
    expect(step(pipeline, "report").run).toContain("trap ms_after_script EXIT");
  });
});

describe("spec inputs", () => {
  const { result } = load("spec-inputs-component.yml");
  const pipeline = pipelineOf(result);

  it("makes inputs params and $[[ inputs ]] templates", () => {
    expect(pipeline.params?.["node-version"]).toEqual({
      type: "string",
      description: "Node.js version for the jobs",
      options: ["18", "20", "22"],
      default: "20",
    });
    expect(pipeline.params?.["run-audit"]).toEqual({ type: "boolean", default: false });
    expect(step(pipeline, "audit").image).toBe(`node:\${{ params["node-version"] }}`);
    expect(step(pipeline, "unit-tests").stage).toBe("test");
  });

  it("reports workflow rules and only/except", () => {
    expect(notesWith(result, "workflow-rules")[0]?.severity).toBe("warning");
    expect(notesWith(result, "except")[0]?.path).toBe("audit.except");
  });
});

// ---------------------------------------------------------------------------------------------

describe("GitLab expressions and durations", () => {
  const scope = {
    variable: (name: string) => (name === "DEPLOY" ? "env.DEPLOY" : name === "TARGET" ? "params.TARGET" : null),
  };

  it.each([
    ['$DEPLOY == "true"', 'env.DEPLOY == "true"'],
    ["$DEPLOY", 'env.DEPLOY != ""'],
    ['$TARGET =~ /^prod/i && $DEPLOY != "no"', 'params.TARGET.matches("(?i)^prod") && env.DEPLOY != "no"'],
    [
      '($TARGET == "a" || $TARGET == "b") && $DEPLOY',
      '(params.TARGET == "a" || params.TARGET == "b") && env.DEPLOY != ""',
    ],
    ["$DEPLOY !~ /skip\\/me/", '!env.DEPLOY.matches("skip/me")'],
    ["$DEPLOY == null", "false"],
  ])("%s -> %s", (source, expected) => {
    expect(translateGitLabExpression(source, scope)).toEqual({ ok: true, cel: expected });
  });

  it("refuses predefined variables", () => {
    const result = translateGitLabExpression('$CI_COMMIT_BRANCH == "main"', scope);
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toContain("predefined");
  });

  it.each([
    ["1h 30m", 5400],
    ["3 hours 30 minutes", 12600],
    ["90 minutes", 5400],
    ["1 week", 604800],
    ["2 days", 172800],
    ["3600", 3600],
    ["soon", null],
  ])("%s is %s seconds", (text, seconds) => {
    expect(parseGitLabDuration(text)).toBe(seconds);
  });
});

describe("import errors", () => {
  it("reports YAML syntax errors and imports nothing", () => {
    const result = importGitLabCi("build:\n  script: [make, test\n  stage: build\n");
    expect(result).toMatchObject({ yaml: "", pipeline: null });
    expect(result.notes[0]).toMatchObject({ severity: "error", code: "yaml-syntax" });
  });

  it("reports an unknown job keyword where it is", () => {
    const result = importGitLabCi("build:\n  script: make\n  scirpt: make\n");
    expect(notesWith(result, "unknown-key")[0]).toMatchObject({ path: "build.scirpt", line: 3, column: 3 });
  });
});

// ---------------------------------------------------------------------------------------------

const bash = spawnSync("bash", ["--version"]).status === 0;

describe.skipIf(!bash)("the GitLab script, run with bash", () => {
  it("runs after_script after a failure, keeps the failure, and ignores after_script's own failure", () => {
    const result = importGitLabCi(`job:
  script:
    - echo before > before
    - false
    - echo never > never
  after_script:
    - pwd > after-dir
    - exit 7
`);
    const dir = mkdtempSync(path.join(tmpdir(), "ms-gitlab-"));
    const run = spawnSync("bash", ["-c", result.pipeline?.steps.find((s) => s.id === "job")?.run ?? ""], { cwd: dir });
    expect(run.status).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(["after-dir", "before"]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("random stage layouts", () => {
  it("order jobs as GitLab does: explicit needs kept, everything else after all earlier stages", () => {
    const layout = fc.integer({ min: 1, max: 10 }).chain((count) =>
      fc.tuple(
        ...Array.from({ length: count }, (_, index) =>
          fc.record({
            stage: fc.integer({ min: 0, max: 3 }),
            needs: fc.option(
              index === 0
                ? fc.constant([] as number[])
                : fc.uniqueArray(fc.integer({ min: 0, max: index - 1 }), { maxLength: 2 }),
              { nil: null },
            ),
            manual: fc.boolean(),
          }),
        ),
      ),
    );
    fc.assert(
      fc.property(layout, (generated) => {
        // GitLab accepts needs on jobs of the same or earlier stages only.
        const jobs = generated.map((job) => ({
          ...job,
          needs: job.needs === null ? null : job.needs.filter((need) => (generated[need]?.stage ?? 9) <= job.stage),
        }));
        const lines = ["stages: [s0, s1, s2, s3]"];
        jobs.forEach((job, index) => {
          lines.push(`job${index}:`, `  stage: s${job.stage}`, `  script: echo ${index}`);
          if (job.needs !== null) lines.push(`  needs: [${job.needs.map((need) => `job${need}`).join(", ")}]`);
          if (job.manual) lines.push("  when: manual");
        });
        const result = importGitLabCi(lines.join("\n"));
        const parsed = parsePipeline(result.yaml);
        // GitLab rejects needs on a later stage; those inputs may produce needs-cycle notes only.
        expect(parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error")).toEqual([]);
        const pipeline = parsed.pipeline as Pipeline;
        const needs = new Map(pipeline.steps.map((candidate) => [candidate.id, needsOf(pipeline, candidate.id)]));
        const ancestors = ancestorsOf(needs);
        jobs.forEach((job, index) => {
          const id = `job${index}`;
          const own = needsOf(pipeline, id).filter((need) => need !== "checkout" && need !== `start-${id}`);
          if (job.needs !== null) {
            expect(own.sort()).toEqual(job.needs.map((need) => `job${need}`).sort());
            return;
          }
          // Every blocking job of an earlier stage is upstream; nothing of a later stage is.
          jobs.forEach((other, otherIndex) => {
            const upstream = ancestors.get(id)?.has(`job${otherIndex}`) ?? false;
            if (other.stage < job.stage && !other.manual) expect(upstream, `job${otherIndex} before ${id}`).toBe(true);
            if (other.stage > job.stage && other.needs === null) expect(upstream).toBe(false);
          });
          if (job.manual) expect(needsOf(pipeline, id)[0]).toBe(`start-${id}`);
        });
      }),
      { numRuns: 150 },
    );
  });
});

describe("odd files still import to a valid pipeline", () => {
  it.each([
    ["only a missing extends", "job:\n  extends: .nowhere\n"],
    ["rules that never add the job", "a:\n  script: x\n  rules:\n    - when: never\nb:\n  needs: [a]\n  script: y\n"],
    [
      "bad variable names and images",
      `variables:\n  bad-name: x\n  OK: $UNDEFINED/x\nj:\n  image: $UNDEFINED:1\n  variables:\n    J: \${OK}-$CI_JOB_ID\n  script: echo $J\n  rules:\n    - if: $J == "x"\n    - if: $OK\n`,
    ],
    [
      "pre, post, and an undeclared stage",
      "stages: [build]\nfirst:\n  stage: .pre\n  script: a\nlast:\n  stage: .post\n  script: b\nmid:\n  stage: nowhere\n  script: c\n",
    ],
    [
      "extends cycle and a missing reference",
      ".a:\n  extends: .b\n  script: [!reference [.zzz, script]]\n.b:\n  extends: .a\njob:\n  extends: .a\n  script: [[echo, [nested]]]\n",
    ],
    [
      "delayed without start_in, dynamic environment",
      "j:\n  script: x\n  when: delayed\n  environment:\n    name: $CI_COMMIT_REF_NAME\n",
    ],
    [`a job named checkout, a literal \${{ in a script`, `checkout:\n  script: echo '\${{ not github }}'\n`],
    ["needs cycle in one stage", "a:\n  needs: [b]\n  script: x\nb:\n  needs: [a]\n  script: y\n"],
    [
      "parallel with bad values",
      "j:\n  script: x\n  parallel:\n    matrix:\n      - bad-key: [1]\n        OK: []\n      - OK: [a, b]\nk:\n  script: y\n  parallel: 0\n",
    ],
    [
      "manual rule with a job variable in the condition",
      'j:\n  variables:\n    MODE: fast\n  script: x\n  rules:\n    - if: $MODE == "fast"\n      when: manual\n  environment: production\n',
    ],
    ["nothing but keywords", "stages: [a]\nvariables:\n  X: 1\n"],
  ])("%s", (_, text) => {
    const result = importGitLabCi(text);
    expect(result.notes.filter((note) => note.code === "invalid-output")).toEqual([]);
    const parsed = parsePipeline(result.yaml);
    expect(parsed.diagnostics.filter((diagnostic) => diagnostic.severity === "error")).toEqual([]);
    expect(result.notes.length).toBeGreaterThan(0);
  });
});

describe("rules through !reference", () => {
  it("flattens referenced rule lists, as GitLab does", () => {
    const result = importGitLabCi(`variables:
  GO:
    value: "yes"
    description: Deploy?
.deploy-rules:
  rules:
    - if: $GO == "no"
      when: never
    - when: manual
deploy:
  script: ./deploy.sh
  rules:
    - !reference [.deploy-rules, rules]
`);
    const pipeline = pipelineOf(result);
    expect(step(pipeline, "start-deploy").if).toBe('!(params.GO == "no")');
  });
});

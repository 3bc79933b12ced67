import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parsePipeline } from "./parse";
import { createStepKindRegistry, defineStepKind, registerStepKind, stepKinds } from "./schema";
import { validatePipeline } from "./validate";

function messages(text: string, options?: Parameters<typeof parsePipeline>[1]): string[] {
  return parsePipeline(text, options).diagnostics.map((diagnostic) => `${diagnostic.code}: ${diagnostic.message}`);
}

const pipeline = (body: string) => `name: demo\n${body}`;

describe("conditions", () => {
  const base = pipeline(`params:
  target: {type: string, options: [staging, production], default: staging}
  replicas: {type: integer, default: 2}
  dry-run: {type: boolean, default: false}
env:
  REGION: eu
steps:
  - id: build
    run: make
    outputs: [version]
  - id: test
    needs: [build]
    run: make test
  - id: lint
    run: make lint
`);

  const withStep = (step: string) => `${base}${step}`;

  it("reads params with their declared types, env, and upstream steps (transitively)", () => {
    const text = withStep(`  - id: deploy
    needs: [test]
    if: >-
      steps.build.outcome == "success" && steps.build.outputs.version.startsWith("1.")
      && params.target == "production" && params.replicas > 1 && !params["dry-run"] && env.REGION == "eu"
    run: deploy
`);
    expect(messages(text)).toEqual([]);
  });

  it("refuses steps that are not upstream, unknown outputs, unknown params and undeclared env", () => {
    const text = withStep(`  - id: deploy
    needs: [test]
    if: steps.lint.outcome == "success" || steps.build.outputs.digest == "x" || params.tagret == "x" || env.ZONE == "a"
    run: deploy
`);
    expect(messages(text)).toEqual([
      'cel-reference: step "deploy" does not need "lint" (directly or transitively), so it cannot read its outcome or outputs: add it to needs',
      'cel-reference: step "build" has no output "digest"',
      'cel-reference: unknown param "tagret"; did you mean "target"?',
      "cel-reference: env.ZONE is not set by this pipeline or step",
    ]);
  });

  it("type-checks against the declared param types", () => {
    const text = withStep(`  - id: deploy
    needs: [test]
    if: params.replicas == "2"
    run: deploy
`);
    expect(messages(text)).toEqual(["cel-type: these types do not go together: int == string"]);
  });

  it("requires conditions to be true or false", () => {
    const text = withStep("  - id: deploy\n    if: params.replicas + 1\n    run: deploy\n");
    expect(messages(text)).toEqual(["cel-type: a condition must be true or false, this expression is an int"]);
  });

  it("knows the status functions and records whether a condition uses one", () => {
    const text = withStep(`  - id: cleanup
    needs: [test]
    if: always()
    run: cleanup
  - id: notify
    needs: [test]
    if: failure() && steps.test.outcome == "failure"
    run: notify
  - id: deploy
    needs: [test]
    if: params.target == "production"
    run: deploy
`);
    const result = parsePipeline(text);
    expect(result.diagnostics).toEqual([]);
    expect(result.analysis?.steps.cleanup?.usesStatusFunction).toBe(true);
    expect(result.analysis?.steps.notify?.usesStatusFunction).toBe(true);
    expect(result.analysis?.steps.deploy?.usesStatusFunction).toBe(false);
  });

  it("catches misspelled outcomes and explains hyphenated ids", () => {
    const text = pipeline(`steps:
  - id: deploy-prod
    run: x
  - id: verify
    needs: [deploy-prod]
    if: steps.deploy-prod.outcome == "success"
    run: y
  - id: report
    needs: [deploy-prod]
    if: steps["deploy-prod"].outcome == "succeeded"
    run: z
`);
    expect(messages(text)).toEqual([
      'cel-reference: unknown step "deploy"; ids with "-" need brackets in CEL: steps["deploy-prod"]',
      'cel-reference: an outcome is one of success, failure, cancelled, skipped, never "succeeded"',
    ]);
  });

  it(`accepts \`if: \${{ expr }}\` and plain booleans`, () => {
    const text = withStep(
      `  - id: a\n    if: \${{ params.target == 'staging' }}\n    run: x\n  - id: b\n    if: false\n    run: y\n`,
    );
    expect(messages(text)).toEqual([]);
  });

  it("keeps secrets out of conditions", () => {
    expect(messages(withStep('  - id: a\n    if: secrets.TOKEN == "x"\n    run: x\n'))).toEqual([
      "secret-reference: secrets cannot be used in conditions: pass them to steps through env",
    ]);
  });

  it("scopes matrix values to steps with a matrix", () => {
    const text = withStep(`  - id: a
    matrix:
      axes: {os: [linux, windows]}
      include: [{os: linux, coverage: true}]
    if: matrix.os == "linux" && matrix.coverage == true
    run: x
  - id: b
    if: matrix.os == "linux"
    run: y
`);
    expect(messages(text)).toEqual(["cel-reference: matrix is only available in steps that have a matrix"]);
  });
});

describe("gates", () => {
  it("check their condition over declared metrics and time", () => {
    const text = pipeline(`steps:
  - id: deploy
    run: x
  - id: healthy
    needs: [deploy]
    gate:
      condition: elapsed > duration("5m") && metrics.error_rate < 0.01 && metrics.latency < 1.0 && now > timestamp("2024-01-01T00:00:00Z")
      metrics:
        error_rate: {query: "sum(rate(errors[5m]))"}
      interval: 1h
      timeout: 10m
  - id: after
    needs: [healthy]
    if: metrics.error_rate < 1.0
    run: y
`);
    expect(messages(text)).toEqual([
      'cel-reference: metric "latency" is not declared under gate.metrics',
      "invalid-value: the interval is longer than the timeout: the condition would be checked once",
      "cel-reference: metrics is only available in gate conditions",
    ]);
  });
});

describe("interpolations and secrets", () => {
  it(`collects secret references and checks \${{ }} in every template string`, () => {
    const text = pipeline(`params:
  target: {type: string, default: staging}
env:
  TARGET: \${{ params.target }}
  TOKEN: \${{ secrets.DEPLOY_TOKEN }}
steps:
  - id: build
    run: make
    outputs: [image]
  - id: deploy
    needs: [build]
    image: \${{ steps.build.outputs.image }}
    env:
      KUBECONFIG: \${{ secrets.KUBECONFIG }}
    run: deploy \${{ params.target }} \${{ steps.build.outputs.tag }}
`);
    const result = parsePipeline(text);
    expect(result.diagnostics.map((diagnostic) => diagnostic.message)).toEqual(['step "build" has no output "tag"']);
    expect(result.analysis?.secrets).toEqual(["DEPLOY_TOKEN", "KUBECONFIG"]);
  });

  it(`requires a secret to stand alone in its \${{ }}`, () => {
    expect(messages(pipeline(`steps:\n  - id: a\n    run: echo \${{ secrets.A + "x" }}\n`))).toEqual([
      `secret-reference: a secret is referenced on its own: \${{ secrets.NAME }}`,
    ]);
  });

  it("requires webhook secrets to be references, and webhook params to use payload only", () => {
    const text = pipeline(`params:
  ref: {type: string}
triggers:
  webhook:
    - id: push
      secret: hunter2
      if: payload.ref.startsWith("refs/heads/")
      params:
        ref: \${{ payload.ref }}
    - id: other
      secret: \${{ secrets.HOOK }}
      params:
        ref: \${{ secrets.HOOK }}
steps:
  - id: a
    run: x
`);
    expect(messages(text)).toEqual([
      `secret-reference: the webhook secret must be a reference such as \${{ secrets.DEPLOY_HOOK }}, never the secret itself`,
      "secret-reference: secrets are not available here",
    ]);
  });
});

describe("params and triggers", () => {
  it("checks defaults, options and the values triggers supply", () => {
    const text = pipeline(`params:
  target: {type: string, options: [staging, production], default: prod}
  count: {type: integer, default: 1.5}
  flag: {type: boolean, options: [1]}
  tag: {type: string, required: true}
triggers:
  schedule:
    - cron: "0 3 * * *"
      params: {target: production, cuont: 2}
    - cron: "@daily"
      params: {target: qa, tag: nightly}
steps:
  - id: a
    run: x
`);
    expect(messages(text)).toEqual([
      'invalid-param: the default "prod" is not one of the options',
      "invalid-param: the default 1.5 is not an integer",
      "invalid-param: a boolean param cannot have options",
      "invalid-param: the schedule does not supply the required param tag",
      'invalid-param: unknown param "cuont"; did you mean "count"?',
      'invalid-param: "qa" is not an option of param "target": "staging", "production"',
    ]);
  });
});

describe("references", () => {
  it("checks artifact fetches against upstream steps and their saved artifacts", () => {
    const text = pipeline(`steps:
  - id: build
    run: make
    artifacts:
      save:
        - {name: dist, paths: [dist/**]}
  - id: other
    run: x
  - id: deploy
    needs: [build]
    run: deploy
    artifacts:
      fetch:
        - {from: build, name: dsit}
        - {from: other}
`);
    expect(messages(text)).toEqual([
      'invalid-artifact: step "build" saves no artifact "dsit"; did you mean "dist"?',
      'invalid-artifact: step "deploy" does not need "other" (directly or transitively), so its artifacts may not exist yet: add it to needs',
    ]);
  });

  it("keeps handlers out of the graph and lets them read every step", () => {
    const text = pipeline(`steps:
  - id: deploy
    run: x
    rollback: undo
  - id: verify
    needs: [undo]
    run: y
handlers:
  - id: undo
    needs: [deploy]
    if: steps.deploy.outcome == "success"
    run: z
`);
    expect(messages(text)).toEqual([
      'unknown-need: "undo" is a handler: handlers run outside the graph and cannot be needed',
      "field-not-allowed: handlers run outside the graph: needs is not allowed here",
    ]);
  });

  it("checks approvals can be satisfied", () => {
    const text = pipeline(`steps:
  - id: approve
    approval:
      approvers: {users: [alice]}
      min-approvals: 2
  - id: nobody
    approval:
      approvers: {}
`);
    expect(messages(text)).toEqual([
      "invalid-value: 2 approvals are required but only 1 user is listed",
      "invalid-value: list at least one user, team or role who may approve",
    ]);
  });

  it("keeps kind-specific fields on their kind", () => {
    const text = pipeline(`steps:
  - id: approve
    approval:
      approvers: {teams: [sre]}
    retry: 2
    image: alpine
`);
    expect(messages(text)).toEqual([
      "field-not-allowed: retry is not available on approval steps",
      'field-not-allowed: image belongs to run steps, and "approve" is an approval step',
    ]);
  });
});

describe("matrices", () => {
  it("sizes matrices with include and exclude and counts the run's instances", () => {
    const text = pipeline(`steps:
  - id: test
    matrix:
      axes: {os: [linux, windows, mac], node: [20, 22]}
      exclude: [{os: mac}]
      include: [{os: bsd, node: 22}]
    run: x
  - id: after
    needs: [test]
    run: y
`);
    const result = parsePipeline(text);
    expect(result.diagnostics).toEqual([]);
    expect(result.analysis?.steps.test?.instances).toBe(5);
    expect(result.analysis?.instanceCount).toBe(6);
  });

  it("reports an exclude on an unknown axis and a matrix that excludes everything", () => {
    const text = pipeline(`steps:
  - id: test
    matrix:
      axes: {os: [linux]}
      exclude: [{os: linux}, {nod: 1}]
    run: x
`);
    expect(messages(text)).toEqual([
      "invalid-matrix: exclude removes every combination: the step would never run",
      'invalid-matrix: exclude names "nod", which is not an axis',
    ]);
  });
});

describe("step kinds", () => {
  it("validates inputs against a registered kind, with suggestions for input names", () => {
    const registry = createStepKindRegistry().register(
      defineStepKind({
        name: "acme/deploy",
        description: "Deploy with ACME",
        inputs: z.strictObject({ service: z.string(), replicas: z.number().int().min(1) }),
        outputs: ["url"],
      }),
    );
    const text = pipeline(`steps:
  - id: ship
    uses: acme/deploy
    with: {service: api, replicas: 0, servce: x}
  - id: check
    needs: [ship]
    if: steps.ship.outputs.url != ""
    run: curl
`);
    expect(messages(text, { registry })).toEqual(
      ['"replicas" must be at least 1', 'unknown key "servce" in "with"; did you mean "service"?'].map(
        (message, i) => `${i === 0 ? "invalid-input" : "unknown-key"}: ${message}`,
      ),
    );
    expect(messages(text)).toEqual([
      'unknown-step-kind: unknown step kind "acme/deploy"; known kinds: checkout, http, notify, sleep, noop',
    ]);
  });

  it("registers kinds process-wide and refuses duplicates", () => {
    registerStepKind({ name: "test-only/wait", description: "test", inputs: z.strictObject({}) });
    expect(stepKinds.get("test-only/wait")?.description).toBe("test");
    expect(() =>
      registerStepKind({ name: "test-only/wait", description: "again", inputs: z.strictObject({}) }),
    ).toThrow("already registered");
    expect(() => registerStepKind({ name: "Bad Name", description: "x", inputs: z.strictObject({}) })).toThrow();
  });
});

describe("validatePipeline", () => {
  it("validates plain data (a JSON body) with paths and no positions", () => {
    const result = validatePipeline({ name: "api", steps: [{ id: "a", run: "x", needs: ["b"] }] });
    expect(result.pipeline).toBeNull();
    expect(result.issues).toEqual([
      {
        path: ["steps", 0, "needs", 0],
        message: 'step "a" needs "b", which is not a step',
        code: "unknown-need",
        severity: "error",
        target: undefined,
      },
    ]);
  });

  it("refuses something that is not a mapping", () => {
    expect(validatePipeline(["a"]).issues[0]?.code).toBe("not-a-mapping");
  });
});

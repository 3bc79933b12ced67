import { describe, expect, it } from "vitest";
import type { Param } from "../spec/schema";
import {
  createConditionCompiler,
  type EvaluationScope,
  evaluate,
  evaluateCondition,
  renderTemplate,
  renderValue,
  StepValue,
  toCelParams,
} from "./conditions";

const params = new Map<string, Param>([
  ["replicas", { type: "integer" }],
  ["target", { type: "string" }],
]);
const compiler = createConditionCompiler(params);

function scope(overrides: Partial<EvaluationScope> = {}): EvaluationScope {
  return {
    params: toCelParams(params, { replicas: 3, target: "prod" }),
    matrix: null,
    now: Date.UTC(2026, 0, 1),
    env: () => ({ REGION: "eu" }),
    step: (id) => (id === "build" ? new StepValue("success", { tag: "v1" }) : undefined),
    upstream: () => ["build"],
    status: { success: true, failure: false, cancelled: false },
    ...overrides,
  };
}

describe("compiled expressions", () => {
  it("knows which steps, env and status functions an expression reads", () => {
    expect(
      compiler.expression('steps.build.outcome == "success" && steps["deploy-eu"].outputs.x == "1"'),
    ).toMatchObject({
      stepRefs: ["build", "deploy-eu"],
      readsEnv: false,
      usesStatus: false,
    });
    expect(compiler.expression('env.REGION == "eu" || failure()')).toMatchObject({ readsEnv: true, usesStatus: true });
    expect(compiler.expression('steps[params.target].outcome == "success"').stepRefs).toBe("all");
  });

  it("implies success() only when the condition calls no status function", () => {
    const failed = scope({ status: { success: false, failure: true, cancelled: false } });
    const plain = compiler.condition("params.replicas > 1", { implicitSuccess: true });
    expect(evaluateCondition(plain, failed, true)).toEqual({ ok: true, value: false, implied: true });
    const explicit = compiler.condition(`\${{ failure() && params.replicas > 1 }}`, { implicitSuccess: true });
    expect(evaluateCondition(explicit, failed, true)).toEqual({ ok: true, value: true, implied: false });
    expect(evaluateCondition(compiler.condition("always()", { implicitSuccess: true }), failed, true)).toMatchObject({
      value: true,
    });
    // Handlers: no implied status.
    expect(evaluateCondition(compiler.condition("true", { implicitSuccess: false }), failed, false)).toMatchObject({
      value: true,
    });
    expect(evaluateCondition(null, failed, true)).toEqual({ ok: true, value: false, implied: true });
  });

  it("reports evaluation errors and non-boolean conditions instead of throwing", () => {
    expect(
      evaluateCondition(
        compiler.condition("steps.build.outputs.nope == 'x'", { implicitSuccess: true }),
        scope(),
        true,
      ),
    ).toEqual({
      ok: false,
      error: expect.stringContaining("nope"),
    });
    expect(evaluateCondition(compiler.condition("params.target", { implicitSuccess: true }), scope(), true)).toEqual({
      ok: false,
      error: "the condition is not true or false",
    });
  });

  it("evaluates gate conditions over metrics and elapsed time", () => {
    const gate = compiler.expression('metrics.errors < 0.5 && elapsed > duration("10m")');
    const now = Date.UTC(2026, 0, 1, 0, 11);
    const started = Date.UTC(2026, 0, 1);
    expect(
      evaluate(gate, scope({ now, status: null, gate: { metrics: { errors: 0.1 }, startedAt: started } })),
    ).toEqual({
      ok: true,
      value: true,
    });
    expect(
      evaluate(gate, scope({ now, status: null, gate: { metrics: { errors: 0.9 }, startedAt: started } })),
    ).toEqual({
      ok: true,
      value: false,
    });
  });
});

describe("templates", () => {
  it("renders expressions and leaves secret references for the executor", () => {
    expect(
      renderTemplate(
        compiler,
        `deploy \${{ steps.build.outputs.tag }} x\${{ params.replicas }} \${{ secrets.TOKEN }}`,
        scope(),
      ),
    ).toEqual({ ok: true, value: `deploy v1 x3 \${{ secrets.TOKEN }}`, secrets: ["TOKEN"] });
    expect(renderTemplate(compiler, "no templates", scope())).toEqual({ ok: true, value: "no templates", secrets: [] });
    expect(renderTemplate(compiler, `\${{ now }}`, scope())).toMatchObject({ value: "2026-01-01T00:00:00.000Z" });
  });

  it("keeps the CEL type of a whole interpolation in structured inputs", () => {
    expect(
      renderValue(
        compiler,
        { n: `\${{ params.replicas * 2 }}`, list: [`\${{ [1, 2] }}`], s: `n=\${{ params.replicas }}` },
        scope(),
      ),
    ).toEqual({ ok: true, value: { n: 6, list: [[1, 2]], s: "n=3" }, secrets: [] });
  });

  it("fails with the expression that could not be rendered", () => {
    expect(renderTemplate(compiler, `\${{ steps.build.outputs.missing }}`, scope())).toEqual({
      ok: false,
      error: expect.stringMatching(/^\$\{\{ steps\.build\.outputs\.missing \}\}: /),
    });
  });
});

// Validation time of a 1,000-step pipeline (the budget: under 50 ms).
//   node --import tsx bench/pipeline-spec.ts
// The pipeline is what a generated monorepo pipeline looks like: every step has needs (1-3
// upstream steps), an `if` reading an upstream outcome, env with ${{ }} templates and secrets, a
// run script; every tenth step a matrix, every fiftieth an approval or gate. Reported per run of
// the whole path the editor takes on each keystroke (parsePipeline: YAML parse + validation),
// and of its two halves: the YAML parse alone (the `yaml` package) and validatePipeline on the
// parsed data (schema, graph, CEL, matrices: our code). p50/p99 over RUNS runs after a warm-up.
// The last line is one JSON object.
import { performance } from "node:perf_hooks";
import { parsePipeline } from "@/pipelines/spec/parse";
import { validatePipeline } from "@/pipelines/spec/validate";
import { parseYaml } from "@/pipelines/spec/yaml-source";

const STEPS = 1_000;
const RUNS = 200;
const WARMUP = 20;

function pipelineText(steps: number): string {
  const lines = [
    "name: generated-monorepo",
    "params:",
    "  target: {type: string, options: [staging, production], default: staging}",
    "  shards: {type: integer, default: 4}",
    "env:",
    "  REGISTRY: registry.internal",
    "stages:",
    "  - id: build",
    "  - id: test",
    "  - id: deploy",
    "steps:",
  ];
  for (let i = 0; i < steps; i++) {
    const needs = [i - 1, i - 3, i - 7].filter((n) => n >= 0).map((n) => `s${n}`);
    lines.push(`  - id: s${i}`);
    lines.push(`    stage: ${["build", "test", "deploy"][i % 3]}`);
    if (needs.length > 0) {
      lines.push(`    needs: [${needs.join(", ")}]`);
      lines.push(`    if: steps.${needs[0]}.outcome == "success" && params.target != "production"`);
    }
    if (i % 50 === 25) {
      lines.push("    approval:", "      approvers: {teams: [release]}", "      timeout: 4h");
      continue;
    }
    if (i % 50 === 40 && needs.length > 0) {
      lines.push(
        "    gate:",
        `      condition: metrics.errors < 0.01 && steps.${needs[0]}.outcome == "success"`,
        "      metrics: {errors: {query: 'sum(rate(errors_total[5m]))'}}",
        "      timeout: 30m",
      );
      continue;
    }
    lines.push("    env:", `      TAG: "\${{ params.target }}-${i}"`, `      TOKEN: \${{ secrets.REGISTRY_TOKEN }}`);
    if (i % 10 === 0) lines.push("    matrix:", "      axes: {os: [linux, windows], node: [20, 22]}");
    lines.push("    outputs: [digest]");
    lines.push(
      "    run: |",
      `      make -C packages/p${i} build`,
      "      echo digest=sha256:abc >> $MICROSTACK_OUTPUT",
    );
    lines.push("    timeout: 15m");
  }
  return `${lines.join("\n")}\n`;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function measure(fn: () => void): { p50: number; p99: number; mean: number } {
  for (let i = 0; i < WARMUP; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const round = (value: number) => Number(value.toFixed(2));
  return {
    p50: round(quantile(samples, 0.5)),
    p99: round(quantile(samples, 0.99)),
    mean: round(samples.reduce((sum, value) => sum + value, 0) / samples.length),
  };
}

const text = pipelineText(STEPS);
const check = parsePipeline(text);
const errors = check.diagnostics.filter((diagnostic) => diagnostic.severity === "error");
if (errors.length > 0) {
  console.error(errors.slice(0, 5));
  throw new Error("the benchmark pipeline should be valid");
}
const data = parseYaml(text).document.toJS() as Record<string, unknown>;

// Warm: the editor re-validating the same pipeline (CEL environments and expressions cached).
const validate = measure(() => validatePipeline(data));
// Cold: a pipeline whose params were never seen, so nothing is cached.
let coldRun = 0;
const validateCold = measure(() => {
  const params = { ...(data.params as Record<string, unknown>), [`fresh${coldRun++}`]: { type: "string" } };
  validatePipeline({ ...data, params });
});
const yaml = measure(() => parseYaml(text).document.toJS());
const total = measure(() => parsePipeline(text));

console.log(
  `pipeline: ${STEPS} steps, ${check.analysis?.instanceCount} instances, ${(text.length / 1024).toFixed(0)} KiB of YAML`,
);
console.log(`validatePipeline (schema, graph, CEL, matrices)  p50 ${validate.p50} ms  p99 ${validate.p99} ms`);
console.log(
  `validatePipeline, nothing cached                   p50 ${validateCold.p50} ms  p99 ${validateCold.p99} ms`,
);
console.log(`YAML parse (yaml package)                          p50 ${yaml.p50} ms  p99 ${yaml.p99} ms`);
console.log(`parsePipeline (both, what the editor runs)         p50 ${total.p50} ms  p99 ${total.p99} ms`);
console.log(
  JSON.stringify({
    bench: "pipeline-spec",
    steps: STEPS,
    instances: check.analysis?.instanceCount,
    yamlBytes: text.length,
    runs: RUNS,
    validateP50Ms: validate.p50,
    validateP99Ms: validate.p99,
    validateColdP50Ms: validateCold.p50,
    validateColdP99Ms: validateCold.p99,
    yamlParseP50Ms: yaml.p50,
    yamlParseP99Ms: yaml.p99,
    parsePipelineP50Ms: total.p50,
    parsePipelineP99Ms: total.p99,
    budgetMs: 50,
    withinBudget: validate.p99 < 50 && validateCold.p99 < 50,
  }),
);

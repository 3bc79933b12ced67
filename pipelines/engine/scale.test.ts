// The "a 10,000-step run completes with no-op steps", twice: with `uses: noop` (which
// the engine completes itself, so the whole run is one transition) and with steps that go out
// to an executor and come back (20,000 events). Timings are printed; the limits are loose
// enough for a slow CI machine and far below what a per-event full scan would need.
import { describe, expect, it } from "vitest";
import type { Pipeline, Step } from "../spec/schema";
import { compileRunGraph } from "./graph";
import { RunHarness } from "./harness";

function bigPipeline(body: Partial<Step>): Pipeline {
  const chain = 10_000 - 1 - 1_024;
  const steps: Step[] = [];
  for (let i = 0; i < chain; i++) {
    const needs = i === 0 ? [] : [`s${i - 1}`, ...(i >= 10 ? [`s${i - 10}`] : [])];
    steps.push({ id: `s${i}`, needs, ...body });
  }
  // A join with 1,000 needs and a 1,024-way matrix behind it.
  steps.push({ id: "join", needs: Array.from({ length: 1_000 }, (_, k) => `s${chain - 1 - k}`), ...body });
  const axes = Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`f${k}`, ["on", "off"]]));
  steps.push({ id: "fan", needs: ["join"], matrix: { axes, "max-parallel": 256 }, ...body });
  return { name: "big", concurrency: 64, steps };
}

describe("scale", () => {
  it("completes a 10,000-step run of no-op steps", () => {
    const graph = compileRunGraph(bigPipeline({ uses: "noop" }));
    expect(graph.instances).toHaveLength(10_000);
    const started = performance.now();
    const h = new RunHarness(graph);
    h.start();
    const elapsed = performance.now() - started;
    console.log(`10,000 inline no-op steps: ${elapsed.toFixed(0)} ms`);
    expect(h.state).toMatchObject({ status: "succeeded", phase: "done" });
    expect(h.state.steps.every((step) => step.status === "succeeded")).toBe(true);
    expect(elapsed).toBeLessThan(3_000);
  });

  it("completes a 10,000-step run through an executor, one transition per start and per exit", () => {
    const graph = compileRunGraph(bigPipeline({ run: "true" }));
    const started = performance.now();
    const h = new RunHarness(graph);
    h.start();
    let peak = 0;
    for (let guard = 0; guard < 100_000 && h.outstanding.size > 0; guard++) {
      peak = Math.max(peak, h.outstanding.size);
      const command = h.outstanding.values().next().value as NonNullable<ReturnType<typeof h.outstanding.get>>;
      h.started(command.instance);
      h.exit(command.instance);
    }
    const elapsed = performance.now() - started;
    console.log(`10,000 steps through an executor (20,000 events): ${elapsed.toFixed(0)} ms`);
    expect(h.state).toMatchObject({ status: "succeeded", phase: "done" });
    expect(h.commandsOf("start-step")).toHaveLength(10_000);
    expect(h.applied).toBe(1 + 20_000);
    expect(h.ignored).toEqual([]);
    expect(peak).toBe(64);
    expect(elapsed).toBeLessThan(5_000);
  });
});

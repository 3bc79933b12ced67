import { describe, expect, it, vi } from "vitest";

// The custom server and Next's bundle each load the engine in one process and share one snapshot.
// Loading the module twice stands in for the two graphs: their numbering must be one.
describe("the engine loaded by two module graphs", () => {
  it("gives an action the same id in both, and different actions different ids", async () => {
    const first = await import("./snapshot");
    vi.resetModules();
    const second = await import("./snapshot");
    expect(second).not.toBe(first);

    const run = first.actionId("two-graphs:run");
    const read = second.actionId("two-graphs:read");
    expect(second.actionId("two-graphs:run")).toBe(run);
    expect(first.actionId("two-graphs:read")).toBe(read);
    expect(read).not.toBe(run);
  });
});

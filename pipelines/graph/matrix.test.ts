import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandMatrix, matrixInstanceId, matrixKeys } from "./matrix";

function combinations(matrix: Parameters<typeof expandMatrix>[0]) {
  const result = expandMatrix(matrix);
  if (!result.ok) throw new Error(result.reason);
  return result.combinations;
}

describe("expandMatrix", () => {
  it("multiplies the axes, first axis slowest", () => {
    expect(combinations({ axes: { version: [10, 12], os: ["ubuntu", "windows"] } })).toEqual([
      { version: 10, os: "ubuntu" },
      { version: 10, os: "windows" },
      { version: 12, os: "ubuntu" },
      { version: 12, os: "windows" },
    ]);
  });

  it("follows GitHub's include rules (the fruit/animal example of their docs)", () => {
    const result = combinations({
      axes: { fruit: ["apple", "pear"], animal: ["cat", "dog"] },
      include: [
        { color: "green" },
        { color: "pink", animal: "cat" },
        { fruit: "apple", shape: "circle" },
        { fruit: "banana" },
        { fruit: "banana", animal: "cat" },
      ],
    });
    expect(result).toEqual([
      { fruit: "apple", animal: "cat", color: "pink", shape: "circle" },
      { fruit: "apple", animal: "dog", color: "green", shape: "circle" },
      { fruit: "pear", animal: "cat", color: "pink" },
      { fruit: "pear", animal: "dog", color: "green" },
      { fruit: "banana" },
      { fruit: "banana", animal: "cat" },
    ]);
  });

  it("applies exclude before include, matching partial entries", () => {
    const result = combinations({
      axes: { os: ["linux", "windows"], node: [20, 22] },
      exclude: [{ os: "windows", node: 20 }],
      include: [{ os: "windows", node: 20, experimental: true }],
    });
    expect(result).toEqual([
      { os: "linux", node: 20 },
      { os: "linux", node: 22 },
      { os: "windows", node: 22 },
      { os: "windows", node: 20, experimental: true },
    ]);
  });

  it("takes include-only matrices as the list of combinations", () => {
    expect(combinations({ include: [{ target: "a" }, { target: "b" }] })).toEqual([{ target: "a" }, { target: "b" }]);
  });

  it("expands 1,024 combinations and refuses abuse-sized ones", () => {
    const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`axis${i}`, [true, false]]));
    expect(combinations({ axes: ten })).toHaveLength(1_024);
    const huge = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`axis${i}`, [1, 2]]));
    expect(expandMatrix({ axes: huge })).toEqual({ ok: false, reason: "product-too-large", product: 1_048_576 });
    const big = { axes: { a: Array.from({ length: 100 }, (_, i) => i), b: Array.from({ length: 100 }, (_, i) => i) } };
    expect(expandMatrix(big)).toEqual({ ok: false, reason: "too-many-instances", count: 10_000 });
  });

  it("lists the keys combinations can carry", () => {
    expect(matrixKeys({ axes: { os: ["a"] }, include: [{ os: "a", extra: 1 }] })).toEqual(["os", "extra"]);
  });
});

describe("matrixInstanceId", () => {
  it("depends on the values only, not on order or position", () => {
    expect(matrixInstanceId("test", { os: "linux", node: 20 })).toBe("test[node=20,os=linux]");
    expect(matrixInstanceId("test", { node: 20, os: "linux" })).toBe("test[node=20,os=linux]");
    expect(matrixInstanceId("test", { v: "1" })).not.toBe(matrixInstanceId("test", { v: 1 }));
    expect(matrixInstanceId("test", { label: "a b" })).toBe('test[label="a b"]');
  });

  it("keeps existing instance ids when an axis grows (random matrices)", () => {
    const values = fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constantFrom("a", "b", "c", "x y")), {
      minLength: 1,
      maxLength: 4,
      selector: (value) => JSON.stringify(value),
    });
    fc.assert(
      fc.property(values, values, fc.integer({ min: 100, max: 200 }), (first, second, extra) => {
        const before = combinations({ axes: { p: first, q: second } }).map((c) => matrixInstanceId("s", c));
        const after = combinations({ axes: { p: [...first, extra], q: second } }).map((c) => matrixInstanceId("s", c));
        for (const id of before) expect(after).toContain(id);
        expect(new Set(after).size).toBe(after.length);
      }),
    );
  });
});

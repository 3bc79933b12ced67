import { describe, expect, it } from "vitest";
import { NAMESPACES, RESOURCES } from "./resources";

function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, inner]) => keys(inner, prefix ? `${prefix}.${key}` : key));
}

// i18next plural suffixes differ by language (zh has only _other); compare the base keys.
const base = (key: string) => key.replace(/_(zero|one|two|few|many|other)$/, "");

describe("messages", () => {
  it.each(NAMESPACES)("zh-CN has every key of en in %s, and no extra ones", (ns) => {
    const en = new Set(keys(RESOURCES.en[ns]).map(base));
    const zh = new Set(keys(RESOURCES["zh-CN"][ns]).map(base));
    expect([...en].filter((k) => !zh.has(k))).toEqual([]);
    expect([...zh].filter((k) => !en.has(k))).toEqual([]);
  });

  it.each(NAMESPACES)("no empty strings in %s", (ns) => {
    for (const locale of ["en", "zh-CN"] as const) {
      const flat = keys(RESOURCES[locale][ns]);
      for (const key of flat) {
        const value = key
          .split(".")
          .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], RESOURCES[locale][ns]);
        expect(typeof value === "string" && value.trim().length > 0, `${locale}:${ns}:${key}`).toBe(true);
      }
    }
  });
});

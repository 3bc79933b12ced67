import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { safeCallback } from "./safe-callback";

const ORIGIN = "http://localhost:3000";

describe("safeCallback", () => {
  it("keeps same-origin paths with their query and hash", () => {
    expect(safeCallback("/projects/acme/storefront?tab=members#top", ORIGIN)).toBe(
      "/projects/acme/storefront?tab=members#top",
    );
    expect(safeCallback(`${ORIGIN}/audit`, ORIGIN)).toBe("/audit");
    expect(safeCallback(undefined, ORIGIN)).toBe("/");
  });

  it.each([
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "/.//evil.example/x",
    "http://localhost:3001/",
  ])("never sends %s off-site", (url) => {
    const target = safeCallback(url, ORIGIN);
    expect(target.startsWith("//")).toBe(false);
    expect(new URL(target, ORIGIN).origin).toBe(ORIGIN);
  });

  it("never leaves the origin, whatever the input", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[/\\.\t ]{0,6}[a-z.]{0,12}(\/[a-z./]{0,8})?$/)), (url) => {
        const target = safeCallback(url, ORIGIN);
        expect(new URL(target, ORIGIN).origin).toBe(ORIGIN);
        expect(target.startsWith("/")).toBe(true);
        expect(target.startsWith("//")).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMasker, MASK } from "./masking";

describe("createMasker", () => {
  it("masks every occurrence of every secret", () => {
    const masker = createMasker(["s3cr3t-token", "p@ss word"]);
    expect(masker.mask("token=s3cr3t-token and again s3cr3t-token; pw=p@ss word")).toBe(
      "token=*** and again ***; pw=***",
    );
    expect(masker.mask("nothing to hide")).toBe("nothing to hide");
  });

  it("masks overlapping and nested secrets completely", () => {
    const masker = createMasker(["abcdef", "defghi", "bcde"]);
    expect(masker.mask("x abcdefghi y")).toBe(`x ${MASK} y`);
    expect(masker.mask("zbcdez")).toBe(`z${MASK}z`);
  });

  it("ignores values shorter than 4 characters and blank values", () => {
    const masker = createMasker(["abc", "    ", "", "true1"]);
    expect(masker.mask("abc true1   done")).toBe(`abc ${MASK}   done`);
  });

  it("masks URL-encoded, JSON-escaped and base64 forms, also inside a larger base64 blob", () => {
    const secret = 'pa ss/w"rd+1';
    const masker = createMasker([secret]);
    expect(masker.mask(`url=${encodeURIComponent(secret)}`)).toBe(`url=${MASK}`);
    expect(masker.mask(`form=${encodeURIComponent(secret).replaceAll("%20", "+")}`)).toBe(`form=${MASK}`);
    expect(masker.mask(JSON.stringify({ password: secret }))).toBe(`{"password":"${MASK}"}`);
    expect(masker.mask(Buffer.from(secret).toString("base64"))).toBe(MASK);
    expect(masker.mask(Buffer.from(secret).toString("base64url"))).toBe(MASK);

    for (const user of ["a", "ab", "abc"]) {
      const header = `Authorization: Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;
      const masked = masker.mask(header);
      expect(masked).toContain(MASK);
      // Only the characters that also encode "user:" and the final partial group are left.
      const userChars = Math.ceil(((user.length + 1) * 4) / 3);
      expect(masked.length).toBeLessThanOrEqual("Authorization: Basic ".length + userChars + MASK.length + 3);
    }
  });

  it("masks each line of a multi-line secret", () => {
    const key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----";
    const masker = createMasker([key]);
    expect(masker.mask("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")).toBe(`line: ${MASK}`);
    expect(masker.mask(`full:\n${key}\n`)).toBe(`full:\n${MASK}\n`);
  });

  it("picks up secrets added later", () => {
    const masker = createMasker();
    expect(masker.mask("late-secret")).toBe("late-secret");
    masker.add("late-secret");
    expect(masker.mask("a late-secret b")).toBe(`a ${MASK} b`);
  });

  it("does not let a masked value re-form another secret containing *", () => {
    const masker = createMasker(["abcd", "x***y"]);
    expect(masker.mask("xabcdy")).toBe(MASK);
  });

  it("never leaves a secret (or its base64) in the output", () => {
    const secretArb = fc.string({
      minLength: 4,
      maxLength: 12,
      unit: fc.constantFrom("a", "b", "*", "=", "+", "%", "é", "\n", "x"),
    });
    fc.assert(
      fc.property(
        fc.array(secretArb, { minLength: 1, maxLength: 5 }),
        fc.array(
          fc.oneof(fc.nat(4), fc.string({ maxLength: 6, unit: fc.constantFrom("a", "b", "*", "x", " ", "=") })),
          { maxLength: 12 },
        ),
        (secrets, pieces) => {
          const text = pieces
            .map((piece) => (typeof piece === "number" ? (secrets[piece % secrets.length] as string) : piece))
            .join("");
          const masked = createMasker(secrets).mask(text);
          for (const secret of secrets.filter((value) => value.trim().length > 0)) {
            expect(masked).not.toContain(secret);
            expect(masked).not.toContain(Buffer.from(secret).toString("base64"));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("stays fast with many secrets and long text", () => {
    const secrets = Array.from(
      { length: 500 },
      (_, index) => `secret-${index}-${"x".repeat(index % 17)}-${index * 7919}`,
    );
    const masker = createMasker(secrets);
    const line = "2025-01-01T00:00:00Z INFO step build: compiling module 42 of 97 (cache hit)\n";
    const text = line.repeat(12_000) + secrets[499];
    const started = performance.now();
    const masked = masker.mask(text);
    const elapsed = performance.now() - started;
    expect(masked.endsWith(MASK)).toBe(true);
    expect(elapsed).toBeLessThan(2_000);
  });
});

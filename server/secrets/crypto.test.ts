import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAppError } from "@/server/http/errors";
import {
  decryptSecret,
  decryptSecretBytes,
  encryptSecret,
  getEnvelopeKeyId,
  rewrapSecret,
  SecretDecryptError,
} from "./crypto";
import { generateMasterKey, loadKeyring } from "./keyring";

const keyA = generateMasterKey();
const keyB = generateMasterKey();
const idOf = (key: string) => key.split(":")[0];
const ringA = loadKeyring({ MICROSTACK_MASTER_KEY: keyA });

function expectDecryptError(fn: () => unknown, reason: SecretDecryptError["reason"]): SecretDecryptError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretDecryptError);
    expect(isAppError(error)).toBe(true);
    expect((error as SecretDecryptError).code).toBe("INTERNAL");
    expect((error as SecretDecryptError).reason).toBe(reason);
    return error as SecretDecryptError;
  }
  throw new Error("expected a SecretDecryptError");
}

describe("encryptSecret / decryptSecret", () => {
  it("round-trips any string and any bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), fc.string({ maxLength: 20 }), (text, aad) => {
        expect(decryptSecret(encryptSecret(text, ringA, aad), ringA, aad)).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const envelope = encryptSecret(Buffer.from(bytes), ringA);
        expect(decryptSecretBytes(envelope, ringA).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it("produces a self-describing envelope that differs every time and hides the plaintext", () => {
    const first = encryptSecret("hunter2-password", ringA);
    const second = encryptSecret("hunter2-password", ringA);
    expect(first).toMatch(new RegExp(`^ms1\\.${idOf(keyA)}\\.[\\w-]{80}\\.[\\w-]{16}\\.[\\w-]+$`));
    expect(first).not.toBe(second);
    expect(first).not.toContain(Buffer.from("hunter2").toString("base64url").slice(0, 8));
    expect(getEnvelopeKeyId(first)).toBe(idOf(keyA));
  });

  it("fails clearly, without the plaintext, on a wrong key, tampering or another context", () => {
    const envelope = encryptSecret("db-password-123", ringA, "project:1:DB_PASSWORD");

    const unknown = expectDecryptError(
      () => decryptSecret(envelope, loadKeyring({ MICROSTACK_MASTER_KEY: keyB })),
      "unknown_key",
    );
    expect(unknown.message).toContain(`"${idOf(keyA)}"`);
    expect(unknown.message).toContain("MICROSTACK_PREVIOUS_MASTER_KEYS");

    const impostor = loadKeyring({ MICROSTACK_MASTER_KEY: `${idOf(keyA)}:${keyB.split(":")[1]}` });
    expectDecryptError(() => decryptSecret(envelope, impostor, "project:1:DB_PASSWORD"), "unwrap_failed");

    const mismatch = expectDecryptError(
      () => decryptSecret(envelope, ringA, "project:2:DB_PASSWORD"),
      "payload_failed",
    );
    expect(mismatch.message).not.toContain("db-password-123");

    const parts = envelope.split(".");
    const payload = Buffer.from(parts[4] as string, "base64url");
    payload[0] = (payload[0] ?? 0) ^ 1;
    const tampered = [...parts.slice(0, 4), payload.toString("base64url")].join(".");
    expectDecryptError(() => decryptSecret(tampered, ringA, "project:1:DB_PASSWORD"), "payload_failed");

    expectDecryptError(() => decryptSecret("ms1.abc.def", ringA), "malformed");
    expectDecryptError(() => decryptSecret(envelope.replace(/^ms1/, "ms9"), ringA), "malformed");
    expectDecryptError(() => decryptSecret(envelope.slice(0, -4), ringA, "project:1:DB_PASSWORD"), "payload_failed");
    expectDecryptError(
      () => decryptSecret(`${parts.slice(0, 2).join(".")}.!!.${parts.slice(3).join(".")}`, ringA),
      "malformed",
    );
  });
});

describe("key rotation", () => {
  it("keeps old envelopes readable through the previous keys and re-wraps them onto the new key", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.string({ maxLength: 10 }), (secret, aad) => {
        const old = encryptSecret(secret, ringA, aad);

        const rotated = loadKeyring({ MICROSTACK_MASTER_KEY: keyB, MICROSTACK_PREVIOUS_MASTER_KEYS: keyA });
        expect(decryptSecret(old, rotated, aad)).toBe(secret);

        const rewrapped = rewrapSecret(old, rotated);
        expect(getEnvelopeKeyId(rewrapped)).toBe(idOf(keyB));
        // The payload (iv and ciphertext) is carried over untouched.
        expect(rewrapped.split(".").slice(3)).toEqual(old.split(".").slice(3));
        expect(rewrapSecret(rewrapped, rotated)).toBe(rewrapped);

        // Once everything is re-wrapped, the old key can be dropped.
        expect(decryptSecret(rewrapped, loadKeyring({ MICROSTACK_MASTER_KEY: keyB }), aad)).toBe(secret);
      }),
      { numRuns: 50 },
    );
  });
});

import "server-only";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "@/server/http/errors";
import type { Keyring, MasterKey } from "./keyring";

/*
 * Envelope format, version 1 (five dot-separated fields, base64url without padding):
 *
 *   ms1.<keyId>.<wrap>.<iv>.<payload>
 *
 *   keyId    id of the master key that wrapped the data key (picks it from the keyring)
 *   wrap     wrapIv(12) || AES-256-GCM(masterKey, dataKey(32)) || tag(16)   = 60 bytes,
 *            with AAD "ms1.wrap.<keyId>"
 *   iv       12 random bytes for the payload
 *   payload  AES-256-GCM(dataKey, plaintext) || tag(16), with AAD "ms1.data." + caller aad
 *
 * Each secret has its own random data key, so rotating a master key only re-wraps 60 bytes
 * per secret (rewrapSecret) and never touches the payload. The caller's aad binds a
 * ciphertext to where it belongs (e.g. "project:<id>:secret:<name>"), so a value copied into
 * another row does not decrypt. All parts are URL- and shell-safe.
 */

const VERSION = "ms1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;
const WRAP_BYTES = IV_BYTES + DATA_KEY_BYTES + TAG_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export type SecretDecryptReason = "malformed" | "unknown_key" | "unwrap_failed" | "payload_failed";

/** Any envelope that cannot be opened. The message names the cause, never the content. */
export class SecretDecryptError extends AppError {
  readonly reason: SecretDecryptReason;

  constructor(reason: SecretDecryptReason, message: string, options: { keyId?: string; cause?: unknown } = {}) {
    // A key that cannot open a stored secret is the server's configuration, not the caller's
    // input: INTERNAL, so the caller sees "Something went wrong" and the log has the detail.
    super("INTERNAL", message, {
      details: { reason, ...(options.keyId ? { keyId: options.keyId } : {}) },
      cause: options.cause,
    });
    this.name = "SecretDecryptError";
    this.reason = reason;
  }
}

interface ParsedEnvelope {
  keyId: string;
  wrap: Buffer;
  iv: Buffer;
  payload: Buffer;
}

export function encryptSecret(plaintext: string | Buffer, keyring: Keyring, aad = ""): string {
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
    cipher.setAAD(payloadAad(aad));
    const data = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext;
    const payload = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    return format({ keyId: keyring.current.id, wrap: wrapKey(dataKey, keyring.current), iv, payload });
  } finally {
    dataKey.fill(0);
  }
}

/** The plaintext as UTF-8 text; use decryptSecretBytes for binary secrets. */
export function decryptSecret(envelope: string, keyring: Keyring, aad = ""): string {
  return decryptSecretBytes(envelope, keyring, aad).toString("utf8");
}

export function decryptSecretBytes(envelope: string, keyring: Keyring, aad = ""): Buffer {
  const parsed = parse(envelope);
  const dataKey = unwrapKey(parsed, keyring);
  try {
    const decipher = createDecipheriv("aes-256-gcm", dataKey, parsed.iv);
    decipher.setAAD(payloadAad(aad));
    decipher.setAuthTag(parsed.payload.subarray(parsed.payload.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(parsed.payload.subarray(0, parsed.payload.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (error) {
    throw new SecretDecryptError(
      "payload_failed",
      "The secret could not be decrypted: its data was altered or it belongs to a different context",
      { keyId: parsed.keyId, cause: error },
    );
  } finally {
    dataKey.fill(0);
  }
}

/**
 * The same secret with its data key wrapped by the keyring's current master key; the payload
 * is carried over byte for byte. Already-current envelopes are returned unchanged.
 */
export function rewrapSecret(envelope: string, keyring: Keyring): string {
  const parsed = parse(envelope);
  if (parsed.keyId === keyring.current.id) return envelope;
  const dataKey = unwrapKey(parsed, keyring);
  try {
    return format({ ...parsed, keyId: keyring.current.id, wrap: wrapKey(dataKey, keyring.current) });
  } finally {
    dataKey.fill(0);
  }
}

/** The master key id an envelope is wrapped with, to find what still needs re-wrapping. */
export function getEnvelopeKeyId(envelope: string): string {
  return parse(envelope).keyId;
}

function payloadAad(aad: string): Buffer {
  return Buffer.from(`${VERSION}.data.${aad}`, "utf8");
}

function wrapAad(keyId: string): Buffer {
  return Buffer.from(`${VERSION}.wrap.${keyId}`, "utf8");
}

function wrapKey(dataKey: Buffer, master: MasterKey): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", master.key, iv);
  cipher.setAAD(wrapAad(master.id));
  return Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
}

function unwrapKey(parsed: ParsedEnvelope, keyring: Keyring): Buffer {
  const master = keyring.keys.get(parsed.keyId);
  if (!master) {
    throw new SecretDecryptError(
      "unknown_key",
      `The secret is encrypted with master key "${parsed.keyId}", which is not configured; ` +
        "add it to MICROSTACK_PREVIOUS_MASTER_KEYS",
      { keyId: parsed.keyId },
    );
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", master.key, parsed.wrap.subarray(0, IV_BYTES));
    decipher.setAAD(wrapAad(master.id));
    decipher.setAuthTag(parsed.wrap.subarray(IV_BYTES + DATA_KEY_BYTES));
    return Buffer.concat([
      decipher.update(parsed.wrap.subarray(IV_BYTES, IV_BYTES + DATA_KEY_BYTES)),
      decipher.final(),
    ]);
  } catch (error) {
    throw new SecretDecryptError(
      "unwrap_failed",
      `The secret's data key could not be unwrapped with master key "${parsed.keyId}": ` +
        "the key under that id is a different key, or the envelope was altered",
      { keyId: parsed.keyId, cause: error },
    );
  }
}

function format(envelope: ParsedEnvelope): string {
  return [
    VERSION,
    envelope.keyId,
    envelope.wrap.toString("base64url"),
    envelope.iv.toString("base64url"),
    envelope.payload.toString("base64url"),
  ].join(".");
}

function parse(envelope: string): ParsedEnvelope {
  const parts = typeof envelope === "string" ? envelope.split(".") : [];
  const [version, keyId, wrap, iv, payload] = parts;
  if (
    parts.length !== 5 ||
    version !== VERSION ||
    !keyId ||
    wrap === undefined ||
    iv === undefined ||
    payload === undefined
  ) {
    throw new SecretDecryptError(
      "malformed",
      `The secret is not a valid ${VERSION} envelope (expected ${VERSION}.<keyId>.<wrap>.<iv>.<payload>)`,
    );
  }
  const decoded = { keyId, wrap: decode(wrap), iv: decode(iv), payload: decode(payload) };
  if (
    decoded.wrap?.length !== WRAP_BYTES ||
    decoded.iv?.length !== IV_BYTES ||
    !decoded.payload ||
    decoded.payload.length < TAG_BYTES
  ) {
    throw new SecretDecryptError("malformed", `The secret envelope is truncated or not base64url-encoded`, { keyId });
  }
  return { keyId, wrap: decoded.wrap, iv: decoded.iv, payload: decoded.payload };
}

function decode(part: string): Buffer | undefined {
  return BASE64URL.test(part) ? Buffer.from(part, "base64url") : undefined;
}

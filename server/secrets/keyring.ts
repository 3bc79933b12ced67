import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EnvError } from "@/server/env";

/** Master keys are AES-256 keys: exactly this many bytes. */
export const MASTER_KEY_BYTES = 32;
export const MASTER_KEY_FILE = "master.key";

// Envelopes are dot-separated, so an id may never contain a dot; short ids keep envelopes small.
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
// Buffer.from(..., "base64") silently skips junk, so the alphabet is checked first
// (standard or URL-safe alphabet, optional padding).
const BASE64_PATTERN = /^[A-Za-z0-9+/_-]+={0,2}$/;

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface Keyring {
  /** New envelopes are wrapped with this key. */
  readonly current: MasterKey;
  /** Every key that may unwrap, the current one included, by id. */
  readonly keys: ReadonlyMap<string, MasterKey>;
}

/** The part of the environment the keyring reads (a subset of `Env`). */
export interface KeyringEnv {
  MICROSTACK_MASTER_KEY?: string;
  MICROSTACK_PREVIOUS_MASTER_KEYS?: string;
}

/** The id derived for a key given without one: stable, so the same bare key always gets the same id. */
export function deriveKeyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/**
 * Parses `<keyId>:<base64 of 32 bytes>` or a bare base64 key. `source` names the variable
 * (or file) in the error; the value itself never appears in a message.
 */
export function parseMasterKey(value: string, source: string): MasterKey {
  const text = value.trim();
  const colon = text.indexOf(":");
  const id = colon === -1 ? undefined : text.slice(0, colon);
  const encoded = colon === -1 ? text : text.slice(colon + 1);
  const expected = `expected "<keyId>:<base64 of ${MASTER_KEY_BYTES} bytes>" or base64 of ${MASTER_KEY_BYTES} bytes`;

  if (id !== undefined && !KEY_ID_PATTERN.test(id)) {
    throw new EnvError([`${source}: key id must be 1-32 characters of A-Z a-z 0-9 _ - (${expected})`]);
  }
  if (encoded === "" || !BASE64_PATTERN.test(encoded)) {
    throw new EnvError([`${source}: the key is not valid base64 (${expected})`]);
  }
  const key = Buffer.from(encoded.replaceAll("-", "+").replaceAll("_", "/"), "base64");
  if (key.length !== MASTER_KEY_BYTES) {
    throw new EnvError([`${source}: the key decodes to ${key.length} bytes (${expected})`]);
  }
  return { id: id ?? deriveKeyId(key), key };
}

/**
 * The keyring from MICROSTACK_MASTER_KEY (current) and MICROSTACK_PREVIOUS_MASTER_KEYS
 * (comma-separated, decryption only), so a key can be rotated without re-encrypting first.
 */
export function loadKeyring(env: KeyringEnv): Keyring {
  if (!env.MICROSTACK_MASTER_KEY?.trim()) {
    throw new EnvError(["MICROSTACK_MASTER_KEY: required to encrypt secrets"]);
  }
  const current = parseMasterKey(env.MICROSTACK_MASTER_KEY, "MICROSTACK_MASTER_KEY");
  const keys = new Map<string, MasterKey>([[current.id, current]]);
  const previous = (env.MICROSTACK_PREVIOUS_MASTER_KEYS ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  previous.forEach((entry, index) => {
    const key = parseMasterKey(entry, `MICROSTACK_PREVIOUS_MASTER_KEYS[${index}]`);
    const known = keys.get(key.id);
    // The same key listed twice is harmless; two different keys under one id would make
    // envelopes ambiguous.
    if (known && !known.key.equals(key.key)) {
      throw new EnvError([
        `MICROSTACK_PREVIOUS_MASTER_KEYS[${index}]: key id "${key.id}" is already used by a different key`,
      ]);
    }
    if (!known) keys.set(key.id, key);
  });
  return { current, keys };
}

/** A fresh master key as `<keyId>:<base64>`, the format MICROSTACK_MASTER_KEY documents. */
export function generateMasterKey(): string {
  const key = randomBytes(MASTER_KEY_BYTES);
  return `${deriveKeyId(key)}:${key.toString("base64")}`;
}

/**
 * The master key to run with: MICROSTACK_MASTER_KEY when set, else `<dataDir>/master.key`,
 * created (0600) on first start so the embedded setup works out of the box. `generated` tells
 * the caller to warn: losing that file loses every secret, and replicas must share one key.
 */
export function ensureMasterKey(options: { dataDir: string; env: KeyringEnv }): {
  key: string;
  generated: boolean;
  path?: string;
} {
  const fromEnv = options.env.MICROSTACK_MASTER_KEY?.trim();
  if (fromEnv) {
    parseMasterKey(fromEnv, "MICROSTACK_MASTER_KEY");
    return { key: fromEnv, generated: false };
  }

  const file = path.join(options.dataDir, MASTER_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing !== undefined) return { key: existing, generated: false, path: file };

  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const key = generateMasterKey();
  try {
    // "wx": two processes starting at once must not overwrite each other's key.
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const winner = readKeyFile(file);
    if (winner !== undefined) return { key: winner, generated: false, path: file };
    throw error;
  }
  return { key, generated: true, path: file };
}

function readKeyFile(file: string): string | undefined {
  let content: string;
  try {
    content = readFileSync(file, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // An empty file is most likely a crash between create and write; refusing is safer than
  // silently generating a new key that cannot open existing secrets.
  parseMasterKey(content, file);
  return content;
}

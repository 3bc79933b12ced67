import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EnvError } from "@/server/env";
import { deriveKeyId, ensureMasterKey, generateMasterKey, loadKeyring, parseMasterKey } from "./keyring";

const KEY_BYTES = Buffer.alloc(32, 7);
const BARE = KEY_BYTES.toString("base64");

describe("parseMasterKey", () => {
  it("accepts <keyId>:<base64> and bare base64 with a derived id", () => {
    expect(parseMasterKey(`k2025:${BARE}`, "X")).toEqual({ id: "k2025", key: KEY_BYTES });
    const bare = parseMasterKey(BARE, "X");
    expect(bare.id).toBe(deriveKeyId(KEY_BYTES));
    expect(bare.id).toMatch(/^[0-9a-f]{8}$/);
    expect(parseMasterKey(KEY_BYTES.toString("base64url"), "X").key).toEqual(KEY_BYTES);
  });

  it("names the variable and the problem without echoing the key", () => {
    const short = Buffer.alloc(16, 1).toString("base64");
    expect(() => parseMasterKey(short, "MICROSTACK_MASTER_KEY")).toThrow(
      /MICROSTACK_MASTER_KEY: the key decodes to 16 bytes/,
    );
    expect(() => parseMasterKey("not*base64!", "MICROSTACK_MASTER_KEY")).toThrow(
      /MICROSTACK_MASTER_KEY: the key is not valid base64/,
    );
    expect(() => parseMasterKey(`bad.id:${BARE}`, "MICROSTACK_MASTER_KEY")).toThrow(/key id must be/);
    try {
      parseMasterKey(`${BARE}AAAA`, "MICROSTACK_MASTER_KEY");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EnvError);
      expect((error as Error).message).not.toContain(BARE);
    }
  });
});

describe("loadKeyring", () => {
  it("uses the current key for new envelopes and keeps previous keys for decryption", () => {
    const current = generateMasterKey();
    const old1 = generateMasterKey();
    const old2 = generateMasterKey();
    const keyring = loadKeyring({
      MICROSTACK_MASTER_KEY: current,
      MICROSTACK_PREVIOUS_MASTER_KEYS: ` ${old1}, ${old2},`,
    });
    expect(keyring.current.id).toBe(current.split(":")[0]);
    expect([...keyring.keys.keys()]).toEqual([current, old1, old2].map((key) => key.split(":")[0]));
  });

  it("requires a master key and points at the broken previous key", () => {
    expect(() => loadKeyring({})).toThrow(/MICROSTACK_MASTER_KEY: required/);
    expect(() =>
      loadKeyring({
        MICROSTACK_MASTER_KEY: generateMasterKey(),
        MICROSTACK_PREVIOUS_MASTER_KEYS: `${generateMasterKey()},oops`,
      }),
    ).toThrow(/MICROSTACK_PREVIOUS_MASTER_KEYS\[1\]/);
  });

  it("rejects two different keys under one id", () => {
    const other = Buffer.alloc(32, 9).toString("base64");
    expect(() =>
      loadKeyring({ MICROSTACK_MASTER_KEY: `k1:${BARE}`, MICROSTACK_PREVIOUS_MASTER_KEYS: `k1:${other}` }),
    ).toThrow(/key id "k1" is already used/);
    expect(
      loadKeyring({ MICROSTACK_MASTER_KEY: `k1:${BARE}`, MICROSTACK_PREVIOUS_MASTER_KEYS: `k1:${BARE}` }).keys.size,
    ).toBe(1);
  });
});

describe("ensureMasterKey", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ms-keyring-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("prefers MICROSTACK_MASTER_KEY and touches no file", () => {
    const dataDir = path.join(tempDir(), "data");
    const key = generateMasterKey();
    expect(ensureMasterKey({ dataDir, env: { MICROSTACK_MASTER_KEY: key } })).toEqual({ key, generated: false });
    expect(() => statSync(dataDir)).toThrow();
  });

  it("creates <dataDir>/master.key once (0600) and reads it back afterwards", () => {
    const dataDir = path.join(tempDir(), "nested", "data");
    const first = ensureMasterKey({ dataDir, env: {} });
    expect(first.generated).toBe(true);
    expect(first.path).toBe(path.join(dataDir, "master.key"));
    expect(statSync(first.path as string).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.path as string, "utf8").trim()).toBe(first.key);
    expect(() => loadKeyring({ MICROSTACK_MASTER_KEY: first.key })).not.toThrow();

    const second = ensureMasterKey({ dataDir, env: {} });
    expect(second).toEqual({ key: first.key, generated: false, path: first.path });
  });

  it("refuses a corrupt key file instead of replacing it", () => {
    const dataDir = tempDir();
    writeFileSync(path.join(dataDir, "master.key"), "not a key!");
    expect(() => ensureMasterKey({ dataDir, env: {} })).toThrow(/master\.key: the key is not valid base64/);
  });
});

import "server-only";
import { getEnv } from "@/server/env";
import { decryptSecret, decryptSecretBytes, encryptSecret, rewrapSecret } from "./crypto";
import { ensureMasterKey, type Keyring, loadKeyring } from "./keyring";

export { SecretDecryptError } from "./crypto";
export { createMasker, type Masker, type MaskerOptions } from "./masking";

let processKeyring: Keyring | undefined;

/**
 * The keyring of this process: MICROSTACK_MASTER_KEY, or the key file in the data dir the boot
 * sequence created (ensureMasterKey reads the same file, so both agree), plus
 * MICROSTACK_PREVIOUS_MASTER_KEYS.
 */
export function getProcessKeyring(): Keyring {
  if (!processKeyring) {
    const env = getEnv();
    const { key, generated, path } = ensureMasterKey({ dataDir: env.dataDir, env });
    if (generated) {
      process.stderr.write(
        `[secrets] generated a master key at ${path}; back it up, every stored secret depends on it ` +
          "(set MICROSTACK_MASTER_KEY for production and multiple replicas)\n",
      );
    }
    processKeyring = loadKeyring({ ...env, MICROSTACK_MASTER_KEY: key });
  }
  return processKeyring;
}

/** For tests and after rotating keys in process.env (with resetEnvCache). */
export function resetProcessKeyring(): void {
  processKeyring = undefined;
}

/** Encrypts a secret value; `aad` names where it is stored, so it only decrypts there. */
export function sealSecret(plaintext: string | Buffer, aad?: string): string {
  return encryptSecret(plaintext, getProcessKeyring(), aad);
}

export function openSecret(envelope: string, aad?: string): string {
  return decryptSecret(envelope, getProcessKeyring(), aad);
}

export function openSecretBytes(envelope: string, aad?: string): Buffer {
  return decryptSecretBytes(envelope, getProcessKeyring(), aad);
}

/** The envelope re-wrapped under the current master key (key rotation). */
export function rewrapSealedSecret(envelope: string): string {
  return rewrapSecret(envelope, getProcessKeyring());
}

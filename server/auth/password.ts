import "server-only";
import { hash, verify } from "@node-rs/argon2";

// OWASP's argon2id recommendation (m=19 MiB, t=2, p=1): about 20-30 ms per hash here, cheap for
// a sign-in and expensive for an offline attack on a leaked table.
// Algorithm is an ambient const enum (unusable under verbatimModuleSyntax): 2 is Argon2id.
const ARGON2ID = 2;
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// Verifying against this when the email is unknown keeps the response time the same, so the
// sign-in form does not reveal which emails have accounts.
let dummyHash: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword("microstack-timing-equalizer");
  await verifyPassword(await dummyHash, password);
}

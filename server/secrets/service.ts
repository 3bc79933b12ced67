import "server-only";
import type { z } from "zod";
import { recordAuditEvent } from "@/server/audit/service";
import type { Actor } from "@/server/auth/schema";
import { assertAuthorized } from "@/server/authz/service";
import { getEnv } from "@/server/env";
import { AppError } from "@/server/http/errors";
import { findProjectRef } from "@/server/projects/service";
import { decryptSecret, decryptSecretBytes, encryptSecret, rewrapSecret } from "./crypto";
import { ensureMasterKey, type Keyring, loadKeyring } from "./keyring";
import { deleteSecretByName, findSecretEnvelopes, listSecretsOfProject, upsertSecret } from "./repo";
import { type PutSecretInput, putSecretInputSchema, type SecretDto, secretNameSchema } from "./schema";

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

// ---- Project secrets ----

/** The AAD of a project secret: its envelope only opens as that secret of that project. */
function secretAad(projectId: string, name: string): string {
  return `project-secret:${projectId}:${name}`;
}

function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw AppError.fromZod(parsed.error, prefix);
  return parsed.data;
}

async function projectFor(actor: Actor, organizationSlug: string, projectSlug: string, action: string) {
  const project = await findProjectRef(organizationSlug, projectSlug);
  if (!project) throw AppError.notFound("The project");
  await assertAuthorized(
    actor,
    action,
    { type: "secret", organizationId: project.organizationId, projectId: project.id },
    "The project",
  );
  return project;
}

function toSecretDto(row: {
  name: string;
  description: string;
  updatedById: string | null;
  updatedByName?: string | null;
  createdAt: Date;
  updatedAt: Date;
}): SecretDto {
  return {
    name: row.name,
    description: row.description,
    updatedBy: row.updatedById ? { id: row.updatedById, name: row.updatedByName ?? "" } : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Names and metadata of a project's secrets; values are never returned. */
export async function listProjectSecrets(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
): Promise<SecretDto[]> {
  const project = await projectFor(actor, organizationSlug, projectSlug, "secret:read");
  return (await listSecretsOfProject(project.id)).map(toSecretDto);
}

/** Creates or replaces a secret (sealed with the master keyring). */
export async function putProjectSecret(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  rawName: unknown,
  raw: PutSecretInput | unknown,
): Promise<SecretDto> {
  const name = parseOrThrow(secretNameSchema, rawName, "name");
  const input = parseOrThrow(putSecretInputSchema, raw);
  const project = await projectFor(actor, organizationSlug, projectSlug, "secret:update");
  const row = await upsertSecret({
    organizationId: project.organizationId,
    projectId: project.id,
    name,
    envelope: sealSecret(input.value, secretAad(project.id, name)),
    description: input.description,
    actorId: actor.id,
  });
  await recordAuditEvent({
    actor: { type: "user", id: actor.id, label: actor.email },
    organizationId: project.organizationId,
    projectId: project.id,
    action: "secrets.secret.put",
    target: { type: "secret", id: `${project.id}/${name}` },
    outcome: "success",
    details: { name },
  });
  return toSecretDto({ ...row, updatedByName: actor.name });
}

export async function deleteProjectSecret(
  actor: Actor,
  organizationSlug: string,
  projectSlug: string,
  rawName: unknown,
): Promise<void> {
  const name = parseOrThrow(secretNameSchema, rawName, "name");
  const project = await projectFor(actor, organizationSlug, projectSlug, "secret:delete");
  if (!(await deleteSecretByName(project.id, name))) throw AppError.notFound(`The secret ${name}`);
  await recordAuditEvent({
    actor: { type: "user", id: actor.id, label: actor.email },
    organizationId: project.organizationId,
    projectId: project.id,
    action: "secrets.secret.delete",
    target: { type: "secret", id: `${project.id}/${name}` },
    outcome: "success",
    details: { name },
  });
}

/**
 * The values of these secrets of a project, for a step about to run (no authorization: the
 * run was authorized when it started). Names without a secret are listed as missing.
 */
export async function resolveProjectSecrets(
  projectId: string,
  names: readonly string[],
): Promise<{ values: Map<string, string>; missing: string[] }> {
  const rows = await findSecretEnvelopes(projectId, names);
  const values = new Map(rows.map((row) => [row.name, openSecret(row.envelope, secretAad(projectId, row.name))]));
  return { values, missing: names.filter((name) => !values.has(name)) };
}

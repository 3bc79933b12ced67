import { z } from "zod";
import { defineOperation } from "@/server/http/operation";
import { slugSchema } from "@/server/projects/schema";

// Isomorphic: project secrets as the API and the settings page see them. Values go in, never out.

export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const secretNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(SECRET_NAME_PATTERN, "must be letters, digits and _, starting with a letter or _");

export const putSecretInputSchema = z.strictObject({
  /** The value, stored sealed; up to 64 KiB. */
  value: z
    .string()
    .min(1, "is empty")
    .max(64 * 1024),
  description: z.string().trim().max(2_000).optional(),
});
export type PutSecretInput = z.infer<typeof putSecretInputSchema>;

export const secretDtoSchema = z.object({
  name: z.string(),
  description: z.string(),
  updatedBy: z.object({ id: z.string(), name: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SecretDto = z.infer<typeof secretDtoSchema>;

// ---- API operations ----

const projectParams = z.object({ org: slugSchema, project: slugSchema });
const secretParams = projectParams.extend({ name: secretNameSchema });

export const secretOperations = {
  listProjectSecrets: defineOperation({
    id: "listProjectSecrets",
    method: "GET",
    route: "/api/v1/organizations/[org]/projects/[project]/secrets",
    summary: "Names and metadata of a project's secrets (never their values)",
    tag: "Secrets",
    params: projectParams,
    response: z.array(secretDtoSchema),
  }),
  putProjectSecret: defineOperation({
    id: "putProjectSecret",
    method: "PUT",
    route: "/api/v1/organizations/[org]/projects/[project]/secrets/[name]",
    summary: "Create or replace a secret; runs read it as ${{ secrets.NAME }}",
    tag: "Secrets",
    params: secretParams,
    body: putSecretInputSchema,
    response: secretDtoSchema,
  }),
  deleteProjectSecret: defineOperation({
    id: "deleteProjectSecret",
    method: "DELETE",
    route: "/api/v1/organizations/[org]/projects/[project]/secrets/[name]",
    summary: "Delete a secret",
    tag: "Secrets",
    params: secretParams,
    successStatus: 204,
  }),
};

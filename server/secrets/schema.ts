import { z } from "zod";

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

import { z } from "zod";

export const LOCALES = ["en", "zh-CN"] as const;
export type Locale = (typeof LOCALES)[number];
export const localeSchema = z.enum(LOCALES);

export const THEMES = ["light", "dark", "system"] as const;
export type ThemePreference = (typeof THEMES)[number];
export const DENSITIES = ["compact", "comfortable"] as const;
export type DensityPreference = (typeof DENSITIES)[number];

export const emailSchema = z.string().trim().toLowerCase().min(3).max(320).email();

export const signInInputSchema = z.object({
  email: emailSchema,
  password: z.string().min(1).max(1024),
});
export type SignInInput = z.infer<typeof signInInputSchema>;

export const preferencesSchema = z.object({
  theme: z.enum(THEMES),
  density: z.enum(DENSITIES),
  locale: localeSchema,
});
export type Preferences = z.infer<typeof preferencesSchema>;

export const updatePreferencesSchema = preferencesSchema
  .partial()
  .refine((value) => Object.keys(value).length > 0, { message: "at least one of theme, density, locale is required" });
export type UpdatePreferencesInput = z.infer<typeof updatePreferencesSchema>;

/** Who is acting: what every service and the authz engine receive. */
export interface Actor {
  type: "user";
  id: string;
  email: string;
  name: string;
  preferences: Preferences;
}

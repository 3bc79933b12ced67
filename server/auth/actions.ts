"use server";
import { cookies } from "next/headers";
import { defineAction } from "@/server/http/action-client";
import { LOCALE_COOKIE } from "@/server/i18n/translator";
import { updatePreferencesSchema } from "./schema";
import { updatePreferences } from "./service";
import { getCurrentActor } from "./session";

const update = defineAction({
  name: "updatePreferences",
  input: updatePreferencesSchema,
  getActor: getCurrentActor,
  handler: async (actor, input) => {
    const preferences = await updatePreferences(actor, input);
    // The sign-in page has no user to read the locale from: remember it in a cookie too.
    (await cookies()).set(LOCALE_COOKIE, preferences.locale, {
      path: "/",
      sameSite: "lax",
      maxAge: 60 * 60 * 24 * 365,
    });
    return preferences;
  },
});

export async function updatePreferencesAction(input: unknown) {
  return update(input);
}

import "server-only";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import type { Actor } from "./schema";
import { getActorById, getSessionUserId } from "./service";

// The Next.js side of sessions, for server components and actions (service.ts stays free of
// next/*). The session cookie is read and verified on every call: a layout check is never the
// security boundary, each page and action asks again.

// cache(): the root layout, the shell layout, the page and generateMetadata all ask during one
// render; the cookie is verified and the user loaded once per request.
export const getCurrentActor = cache(async (): Promise<Actor | null> => {
  const userId = await getSessionUserId((await headers()).get("cookie"));
  return userId ? getActorById(userId) : null;
});

export async function requireActor(): Promise<Actor> {
  const actor = await getCurrentActor();
  if (!actor) redirect("/sign-in");
  return actor;
}

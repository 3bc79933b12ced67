import "server-only";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import type { Actor } from "./schema";
import { getActorById, getSessionUserId } from "./service";

// The Next.js side of sessions, for server components and actions (service.ts stays free of
// next/*). The session cookie is read and verified on every call: a layout check is never the
// security boundary, each page and action asks again.

export async function getCurrentActor(): Promise<Actor | null> {
  const userId = await getSessionUserId((await headers()).get("cookie"));
  return userId ? getActorById(userId) : null;
}

export async function requireActor(): Promise<Actor> {
  const actor = await getCurrentActor();
  if (!actor) redirect("/sign-in");
  return actor;
}

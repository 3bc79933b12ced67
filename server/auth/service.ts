import "server-only";
import { decode } from "next-auth/jwt";
import { recordAuditEvent } from "@/server/audit/service";
import { getAuthSecret } from "@/server/env";
import { AppError } from "@/server/http/errors";
import { burnPasswordCheck, verifyPassword } from "./password";
import { findUserByEmail, findUserById, markUserSignedIn, updateUserPreferences, type UserRecord } from "./repo";
import {
  type Actor,
  type Preferences,
  signInInputSchema,
  type UpdatePreferencesInput,
  updatePreferencesSchema,
} from "./schema";

export type { Actor } from "./schema";

/** The session cookie names next-auth v4 uses (secure prefix behind https). */
export const SESSION_COOKIE_NAMES = ["__Secure-next-auth.session-token", "next-auth.session-token"] as const;

function toActor(user: UserRecord): Actor {
  return { type: "user", id: user.id, email: user.email, name: user.name, preferences: user.preferences };
}

/**
 * Checks an email + password. Returns the user on success, null otherwise; both outcomes are
 * audited. Unknown emails cost the same time as wrong passwords.
 */
export async function authenticateWithPassword(raw: unknown): Promise<Actor | null> {
  const parsed = signInInputSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { email, password } = parsed.data;
  const user = await findUserByEmail(email);
  if (!user?.passwordHash) {
    await burnPasswordCheck(password);
    await auditSignInFailure(email, user ? "no_password" : "unknown_user", user?.id);
    return null;
  }
  if (!(await verifyPassword(user.passwordHash, password))) {
    await auditSignInFailure(email, "bad_password", user.id);
    return null;
  }
  if (!user.isActive) {
    await auditSignInFailure(email, "inactive", user.id);
    return null;
  }
  await markUserSignedIn(user.id);
  return toActor(user);
}

async function auditSignInFailure(email: string, reason: string, userId?: string): Promise<void> {
  await recordAuditEvent({
    actor: { type: "user", id: userId, label: email },
    action: "auth.sign_in",
    outcome: "failure",
    target: userId ? { type: "user", id: userId } : undefined,
    details: { method: "password", reason },
  });
}

async function auditSession(userId: string, action: "auth.sign_in" | "auth.sign_out", details: Record<string, string>) {
  const user = await findUserById(userId);
  await recordAuditEvent({
    actor: { type: "user", id: userId, label: user?.email ?? "" },
    action,
    outcome: "success",
    target: { type: "user", id: userId },
    details,
  });
}

export function auditSignIn(userId: string, method: string): Promise<void> {
  return auditSession(userId, "auth.sign_in", { method });
}

export function auditSignOut(userId: string): Promise<void> {
  return auditSession(userId, "auth.sign_out", {});
}

/** The active user with this id, or null (deleted or deactivated users have no session). */
export async function getActorById(userId: string): Promise<Actor | null> {
  const user = await findUserById(userId);
  return user?.isActive ? toActor(user) : null;
}

function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  const cookies = new Map<string, string>();
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index < 0) continue;
    const key = part.slice(0, index).trim();
    // Only our cookies are decoded, and a malformed one counts as absent: a stray cookie of
    // another app on the same host must not break every page.
    if (key !== name && !key.startsWith(`${name}.`)) continue;
    try {
      cookies.set(key, decodeURIComponent(part.slice(index + 1).trim()));
    } catch {
      // ignore
    }
  }
  const whole = cookies.get(name);
  if (whole) return whole;
  // next-auth splits large tokens into name.0, name.1, ...
  const chunks: string[] = [];
  for (let i = 0; cookies.has(`${name}.${i}`); i++) chunks.push(cookies.get(`${name}.${i}`) ?? "");
  return chunks.length > 0 ? chunks.join("") : undefined;
}

/** The user id in a next-auth session token from a Cookie header, or null. */
export async function getSessionUserId(cookieHeader: string | null): Promise<string | null> {
  for (const name of SESSION_COOKIE_NAMES) {
    const token = readCookie(cookieHeader, name);
    if (!token) continue;
    try {
      const payload = await decode({ token, secret: getAuthSecret() });
      if (payload?.sub) return payload.sub;
    } catch {
      // An expired or forged token is the same as none.
    }
  }
  return null;
}

/** The signed-in actor of a route handler's request (session cookie), or null. */
export async function getActorFromRequest(request: Request): Promise<Actor | null> {
  const userId = await getSessionUserId(request.headers.get("cookie"));
  return userId ? getActorById(userId) : null;
}

export async function updatePreferences(actor: Actor, raw: unknown): Promise<Preferences> {
  const parsed = updatePreferencesSchema.safeParse(raw);
  if (!parsed.success) throw AppError.fromZod(parsed.error);
  const input: UpdatePreferencesInput = parsed.data;
  // Display preferences are not security events: not audited.
  const user = await updateUserPreferences(actor.id, input);
  return user.preferences;
}

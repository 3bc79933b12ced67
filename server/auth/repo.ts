import "server-only";
import { getPrisma, type DbTx } from "@/server/db";
import type { Preferences, UpdatePreferencesInput } from "./schema";

const userSelect = {
  id: true,
  email: true,
  name: true,
  passwordHash: true,
  isActive: true,
  theme: true,
  density: true,
  locale: true,
} as const;

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  passwordHash: string | null;
  isActive: boolean;
  preferences: Preferences;
}

function toRecord(row: {
  id: string;
  email: string;
  name: string;
  passwordHash: string | null;
  isActive: boolean;
  theme: Preferences["theme"];
  density: Preferences["density"];
  locale: string;
}): UserRecord {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    passwordHash: row.passwordHash,
    isActive: row.isActive,
    preferences: {
      theme: row.theme,
      density: row.density,
      locale: row.locale === "zh-CN" ? "zh-CN" : "en",
    },
  };
}

export async function findUserByEmail(email: string, tx?: DbTx): Promise<UserRecord | null> {
  const db = tx ?? (await getPrisma());
  const row = await db.user.findUnique({ where: { email }, select: userSelect });
  return row ? toRecord(row) : null;
}

export async function findUserById(id: string, tx?: DbTx): Promise<UserRecord | null> {
  const db = tx ?? (await getPrisma());
  const row = await db.user.findUnique({ where: { id }, select: userSelect });
  return row ? toRecord(row) : null;
}

export async function markUserSignedIn(id: string, tx?: DbTx): Promise<void> {
  const db = tx ?? (await getPrisma());
  await db.user.update({ where: { id }, data: { lastLoginAt: new Date() } });
}

export async function updateUserPreferences(id: string, input: UpdatePreferencesInput, tx?: DbTx): Promise<UserRecord> {
  const db = tx ?? (await getPrisma());
  const row = await db.user.update({ where: { id }, data: input, select: userSelect });
  return toRecord(row);
}

import "server-only";
import { randomBytes } from "node:crypto";

/**
 * A UUID v7 (time-ordered, like the `uuid(7)` column defaults), for rows written with raw SQL
 * and for ids that must be known before the insert (the audit hash covers its id).
 */
export function uuidV7(): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

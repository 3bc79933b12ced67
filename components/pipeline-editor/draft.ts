// Unsaved studio work in this browser's localStorage: written as you edit, restored when the
// page is opened again (a reload, a crash, the server unreachable at save), cleared on save.

export interface Draft {
  yaml: string;
  /** The version the draft was edited from (null for a new pipeline). */
  baseVersion: number | null;
  savedAt: string;
}

const PREFIX = "microstack:pipeline-draft:";

export function readDraft(key: string): Draft | null {
  try {
    const raw = window.localStorage.getItem(PREFIX + key);
    if (!raw) return null;
    const draft = JSON.parse(raw) as Partial<Draft>;
    return typeof draft.yaml === "string" && typeof draft.savedAt === "string"
      ? {
          yaml: draft.yaml,
          baseVersion: typeof draft.baseVersion === "number" ? draft.baseVersion : null,
          savedAt: draft.savedAt,
        }
      : null;
  } catch {
    return null;
  }
}

export function writeDraft(key: string, draft: Draft): void {
  try {
    window.localStorage.setItem(PREFIX + key, JSON.stringify(draft));
  } catch {
    // Storage full or disabled: the editor still works, only without the safety net.
  }
}

export function clearDraft(key: string): void {
  try {
    window.localStorage.removeItem(PREFIX + key);
  } catch {
    // ignore
  }
}

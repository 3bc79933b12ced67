import "server-only";

export const MASK = "***";

/**
 * Values shorter than this are not masked: a 1-3 character "secret" ("abc", "true", a port)
 * would blank out ordinary words all over the logs and make them unreadable, while
 * protecting nothing that could not be guessed anyway.
 */
export const MIN_SECRET_LENGTH = 4;

export interface MaskerOptions {
  /** Raise the minimum length of masked values; values below MIN_SECRET_LENGTH are never masked. */
  minLength?: number;
}

export interface Masker {
  /** The text with every known secret, and its encoded forms, replaced by `***`. */
  mask(text: string): string;
  add(secret: string): void;
}

/**
 * Replaces known secret values in text (log lines, error messages). Besides the raw value it
 * masks the forms a value commonly takes on its way into a log, as GitHub Actions does: each
 * line of a multi-line secret, URL-encoded (also with `+` for spaces), JSON-string-escaped and
 * base64 (also base64url, and the three byte alignments a value has inside a longer blob such
 * as `Authorization: Basic base64(user:password)`).
 */
export function createMasker(secrets: Iterable<string> = [], options: MaskerOptions = {}): Masker {
  const minLength = Math.max(MIN_SECRET_LENGTH, options.minLength ?? MIN_SECRET_LENGTH);
  const known = new Set<string>();
  const variants = new Set<string>();
  let pattern: RegExp | undefined;
  let hasAsterisk = false;
  // Compiling is deferred to the next mask() so that adding many secrets one by one (a run
  // loading its secrets) compiles once rather than once per secret.
  let isStale = false;

  const rebuild = (): void => {
    isStale = false;
    if (variants.size === 0) {
      pattern = undefined;
      return;
    }
    // Longest first, inside a lookahead: at every position the match is the longest value
    // starting there, and the matches come back for every position even when they overlap.
    // The union of those ranges covers every occurrence of every value, so overlapping
    // secrets are masked whole rather than leaving the tail of one visible.
    const alternatives = [...variants].sort((a, b) => b.length - a.length).map(escapeRegExp);
    pattern = new RegExp(`(?=(${alternatives.join("|")}))`, "g");
    hasAsterisk = [...variants].some((value) => value.includes("*"));
  };

  const addOne = (secret: string): boolean => {
    if (typeof secret !== "string" || known.has(secret)) return false;
    known.add(secret);
    let added = false;
    for (const variant of variantsOf(secret, minLength)) {
      if (!variants.has(variant)) {
        variants.add(variant);
        added = true;
      }
    }
    return added;
  };

  for (const secret of secrets) addOne(secret);
  rebuild();

  return {
    mask(text: string): string {
      if (isStale) rebuild();
      if (!pattern || text.length === 0) return text;
      let masked = maskOnce(text, pattern);
      // Only a secret containing "*" can be re-formed across an inserted mask ("x***y" from
      // "x" + secret + "y"); repeat until stable then. Each pass shortens the text (values are
      // at least 4 characters, the mask is 3), so this ends.
      if (hasAsterisk) {
        let previous: string;
        do {
          previous = masked;
          masked = maskOnce(masked, pattern);
        } while (masked !== previous);
      }
      return masked;
    },
    add(secret: string): void {
      if (addOne(secret)) isStale = true;
    },
  };
}

function maskOnce(text: string, pattern: RegExp): string {
  let out = "";
  let copiedUpTo = 0;
  let start = -1;
  let end = -1;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const from = match.index;
    const to = from + (match[1]?.length ?? 0);
    // Zero-width match: step past it ourselves so the scan moves on.
    pattern.lastIndex = from + 1;
    if (start !== -1 && from <= end) {
      if (to > end) end = to;
      continue;
    }
    if (start !== -1) {
      out += text.slice(copiedUpTo, start) + MASK;
      copiedUpTo = end;
    }
    start = from;
    end = to;
  }
  if (start === -1) return text;
  return out + text.slice(copiedUpTo, start) + MASK + text.slice(end);
}

function variantsOf(secret: string, minLength: number): Set<string> {
  const result = new Set<string>();
  if (!isMaskable(secret, minLength)) return result;
  const add = (value: string | undefined): void => {
    if (value !== undefined && isMaskable(value, minLength)) result.add(value);
  };
  const lines = secret.split(/\r?\n/);
  for (const value of lines.length > 1 ? [secret, ...lines] : [secret]) {
    if (!isMaskable(value, minLength)) continue;
    add(value);
    const uri = tryEncodeUri(value);
    add(uri);
    add(uri?.replaceAll("%20", "+"));
    add(JSON.stringify(value).slice(1, -1));
    for (const encoded of base64Forms(Buffer.from(value, "utf8"))) {
      add(encoded);
      add(encoded.replaceAll("+", "-").replaceAll("/", "_"));
    }
  }
  return result;
}

function isMaskable(value: string, minLength: number): boolean {
  return value.length >= minLength && value.trim() !== "";
}

function tryEncodeUri(value: string): string | undefined {
  try {
    return encodeURIComponent(value);
  } catch {
    return undefined; // lone surrogates cannot be URL-encoded, so they never appear that way
  }
}

/**
 * Base64 of the bytes as they look standalone (padded and unpadded), and the characters that
 * depend on these bytes alone when they sit at offset 0, 1 or 2 of a longer base64 blob:
 * characters shared with neighbouring bytes are dropped at both ends.
 */
function base64Forms(bytes: Buffer): string[] {
  const padded = bytes.toString("base64");
  const forms = [padded, padded.replace(/=+$/, "")];
  const charsToSkip = [0, 2, 3];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes])
      .toString("base64")
      .replace(/=+$/, "");
    const sharesLastChar = (shift + bytes.length) % 3 !== 0;
    forms.push(encoded.slice(charsToSkip[shift], sharesLastChar ? -1 : undefined));
  }
  return forms;
}

function escapeRegExp(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

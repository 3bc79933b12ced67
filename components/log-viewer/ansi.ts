import { LOG_ESCAPE_SOURCE } from "@/server/runs/schema";

// Terminal colours and styles in log lines (ANSI SGR: ESC [ ... m), as segments of text with a
// style. The escape sequences recognised are exactly those the server removes before search
// (LOG_ESCAPE_SOURCE), so search ranges and what is shown are offsets into the same text. Other
// sequences (cursor moves, titles, links) are dropped. Each line starts unstyled: lines are
// shown out of order (a million-line log is loaded page by page), so state cannot carry over.

export type AnsiColor = { kind: "index"; index: number } | { kind: "rgb"; r: number; g: number; b: number };

export interface AnsiStyle {
  fg: AnsiColor | null;
  bg: AnsiColor | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  strike: boolean;
}

export interface AnsiSegment {
  text: string;
  /** Offset of the segment in the line's displayed text (escape sequences removed). */
  start: number;
  /** null: unstyled. */
  style: AnsiStyle | null;
}

const PLAIN: AnsiStyle = {
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
};

const isPlain = (style: AnsiStyle) =>
  style.fg === null &&
  style.bg === null &&
  !style.bold &&
  !style.dim &&
  !style.italic &&
  !style.underline &&
  !style.inverse &&
  !style.strike;

const byte = (value: number | undefined) => Math.max(0, Math.min(255, Math.trunc(value ?? 0)));

/**
 * An extended colour (38/48) from the parameters after the introducer: `5;n` (256 colours) or
 * `2;r;g;b` (truecolour); `2;cs;r;g;b` with colon sub-parameters. Returns the colour (null when
 * malformed) and how many parameters it used.
 */
function extendedColor(
  params: readonly (number | undefined)[],
  at: number,
  colon: boolean,
): [AnsiColor | null, number] {
  const mode = params[at];
  if (mode === 5) {
    const index = params[at + 1];
    return [index === undefined || index > 255 ? null : { kind: "index", index }, 2];
  }
  if (mode === 2) {
    // ITU T.416 (colons) puts a colour-space id before the components: 38:2::r:g:b or 38:2:cs:r:g:b.
    const offset = colon && params.length - at >= 5 ? 1 : 0;
    const [r, g, b] = [params[at + 1 + offset], params[at + 2 + offset], params[at + 3 + offset]];
    if (r === undefined || g === undefined || b === undefined) return [null, 4 + offset];
    return [{ kind: "rgb", r: byte(r), g: byte(g), b: byte(b) }, 4 + offset];
  }
  return [null, 1];
}

/** Applies one SGR sequence's parameters (`1;31`, `38;5;208`, `38:2::255:0:0`, `` = reset). */
export function applySgr(current: AnsiStyle, parameters: string): AnsiStyle {
  const style = { ...current };
  // Colon-separated sub-parameters belong to one code (38:2::r:g:b); semicolons separate codes.
  const groups = parameters.split(";");
  const flat: { value: number | undefined; colon: boolean; group: (number | undefined)[] }[] = [];
  for (const group of groups) {
    const parts = group.split(":").map((part) => (part === "" ? undefined : Number.parseInt(part, 10)));
    flat.push({ value: parts[0], colon: parts.length > 1, group: parts });
  }
  const values = flat.map((entry) => entry.value);
  for (let i = 0; i < flat.length; i++) {
    const entry = flat[i] as (typeof flat)[number];
    const code = entry.value ?? 0;
    if (code === 38 || code === 48) {
      const [color, used] = entry.colon ? extendedColor(entry.group, 1, true) : extendedColor(values, i + 1, false);
      if (color) {
        if (code === 38) style.fg = color;
        else style.bg = color;
      }
      if (!entry.colon) i += used;
      continue;
    }
    if (code === 0) Object.assign(style, PLAIN);
    else if (code === 1) style.bold = true;
    else if (code === 2) style.dim = true;
    else if (code === 3) style.italic = true;
    else if (code === 4 || code === 21) style.underline = entry.group[1] !== 0;
    else if (code === 7) style.inverse = true;
    else if (code === 9) style.strike = true;
    else if (code === 22) {
      style.bold = false;
      style.dim = false;
    } else if (code === 23) style.italic = false;
    else if (code === 24) style.underline = false;
    else if (code === 27) style.inverse = false;
    else if (code === 29) style.strike = false;
    else if (code >= 30 && code <= 37) style.fg = { kind: "index", index: code - 30 };
    else if (code === 39) style.fg = null;
    else if (code >= 40 && code <= 47) style.bg = { kind: "index", index: code - 40 };
    else if (code === 49) style.bg = null;
    else if (code >= 90 && code <= 97) style.fg = { kind: "index", index: code - 90 + 8 };
    else if (code >= 100 && code <= 107) style.bg = { kind: "index", index: code - 100 + 8 };
    // Anything else (blink, fonts, overline...) is ignored.
  }
  return style;
}

/** The line's text split at style changes; every escape sequence removed. */
export function parseAnsi(raw: string): AnsiSegment[] {
  if (!raw.includes("\u001b")) return raw ? [{ text: raw, start: 0, style: null }] : [];
  const escapes = new RegExp(LOG_ESCAPE_SOURCE, "g");
  const segments: AnsiSegment[] = [];
  let style = PLAIN;
  let offset = 0;
  let last = 0;
  const push = (text: string) => {
    if (!text) return;
    const previous = segments[segments.length - 1];
    const styled = isPlain(style) ? null : style;
    if (previous && previous.style === styled) previous.text += text;
    else segments.push({ text, start: offset, style: styled });
    offset += text.length;
  };
  for (const match of raw.matchAll(escapes)) {
    push(raw.slice(last, match.index));
    last = match.index + match[0].length;
    const sequence = match[0];
    if (sequence.startsWith("\u001b[") && sequence.endsWith("m")) {
      const parameters = sequence.slice(2, -1);
      // Private sequences (ESC [ ? ... m, ESC [ > ... m) are not SGR.
      if (!/^[<=>?]/.test(parameters)) style = applySgr(style, parameters);
    }
  }
  push(raw.slice(last));
  return segments;
}

/** The text a line displays. */
export function stripAnsi(raw: string): string {
  return raw.includes("\u001b") ? raw.replace(new RegExp(LOG_ESCAPE_SOURCE, "g"), "") : raw;
}

const CUBE = [0, 95, 135, 175, 215, 255];

/** The RGB of one of the 256 colours above the 16 the theme defines (6x6x6 cube, 24 greys). */
export function rgbOf256(index: number): [number, number, number] {
  if (index >= 232) {
    const grey = 8 + (index - 232) * 10;
    return [grey, grey, grey];
  }
  const cube = index - 16;
  return [CUBE[Math.floor(cube / 36)] as number, CUBE[Math.floor(cube / 6) % 6] as number, CUBE[cube % 6] as number];
}

/** How a style renders: classes for the 16 theme colours and attributes, inline colours otherwise. */
export function styleProps(style: AnsiStyle): { className: string; color?: string; background?: string } {
  const classes: string[] = [];
  const fg = style.inverse ? style.bg : style.fg;
  const bg = style.inverse ? style.fg : style.bg;
  const paint = (value: AnsiColor | null, layer: "fg" | "bg"): string | undefined => {
    if (value === null) {
      if (style.inverse) classes.push(`ansi-${layer}-inverse`);
      return undefined;
    }
    if (value.kind === "index" && value.index < 16) {
      classes.push(`ansi-${layer}-${value.index}`);
      return undefined;
    }
    const [r, g, b] = value.kind === "rgb" ? [value.r, value.g, value.b] : rgbOf256(value.index);
    return `rgb(${r} ${g} ${b})`;
  };
  const color = paint(fg, "fg");
  const background = paint(bg, "bg");
  if (style.bold) classes.push("ansi-bold");
  if (style.dim) classes.push("ansi-dim");
  if (style.italic) classes.push("ansi-italic");
  if (style.underline) classes.push("ansi-underline");
  if (style.strike) classes.push("ansi-strike");
  return { className: classes.join(" "), ...(color ? { color } : {}), ...(background ? { background } : {}) };
}

// Cron expressions and time zones of schedule triggers. Five fields (minute hour day-of-month
// month day-of-week) with *, lists, ranges, steps and JAN-DEC / SUN-SAT names, plus the usual
// @macros; the dialect of pg-boss's scheduler, which runs them. Errors point at the field.
import { closestMatch } from "./diagnostics";

export interface CronIssue {
  start: number;
  end: number;
  message: string;
}

const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: readonly Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  // 7 is Sunday too, as in most crons.
  { name: "day of week", min: 0, max: 7, names: DAYS },
];

function parseValue(text: string, field: Field): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  if (field.names) {
    const index = field.names.indexOf(text.toLowerCase());
    if (index !== -1) return field === FIELDS[3] ? index + 1 : index;
  }
  return null;
}

function checkField(text: string, field: Field): string | null {
  for (const part of text.split(",")) {
    if (part === "") return `empty item in the ${field.name} list`;
    const [range, step, extra] = part.split("/");
    if (extra !== undefined) return `"${part}" has more than one "/"`;
    if (step !== undefined && (!/^\d+$/.test(step) || Number(step) === 0)) {
      return `the step in "${part}" must be a positive number`;
    }
    if (range === "*" || range === undefined) continue;
    const bounds = range.split("-");
    if (bounds.length > 2) return `"${range}" is not a range: write a-b`;
    const values: number[] = [];
    for (const bound of bounds) {
      const value = parseValue(bound, field);
      if (value === null) {
        const names = field.names ? ` or ${field.names.map((name) => name.toUpperCase()).join(", ")}` : "";
        return `"${bound}" is not a valid ${field.name}: use ${field.min}-${field.max}${names}`;
      }
      if (value < field.min || value > field.max) {
        return `${field.name} ${value} is out of range ${field.min}-${field.max}`;
      }
      values.push(value);
    }
    if (values.length === 2 && (values[0] as number) > (values[1] as number)) {
      return `the range "${range}" runs backwards`;
    }
  }
  return null;
}

/** Problems with a cron expression, offsets relative to the string; empty when valid. */
export function checkCron(expression: string): CronIssue[] {
  const trimmed = expression.trim();
  const lead = expression.length - expression.trimStart().length;
  if (trimmed.startsWith("@")) {
    if (MACROS.includes(trimmed.toLowerCase())) return [];
    const guess = closestMatch(trimmed.toLowerCase(), MACROS);
    return [
      {
        start: lead,
        end: lead + trimmed.length,
        message: `unknown cron macro "${trimmed}"${guess ? `; did you mean "${guess}"?` : `: use one of ${MACROS.join(", ")}`}`,
      },
    ];
  }
  const parts: { text: string; start: number }[] = [];
  for (const match of expression.matchAll(/\S+/g)) parts.push({ text: match[0], start: match.index ?? 0 });
  if (parts.length !== FIELDS.length) {
    return [
      {
        start: lead,
        end: lead + Math.max(1, trimmed.length),
        message: `a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has ${parts.length}`,
      },
    ];
  }
  const issues: CronIssue[] = [];
  parts.forEach((part, i) => {
    const message = checkField(part.text, FIELDS[i] as Field);
    if (message !== null) issues.push({ start: part.start, end: part.start + part.text.length, message });
  });
  return issues;
}

let zoneNames: string[] | undefined;

/** Whether Intl knows the IANA zone; the message suggests the closest known zone when not. */
export function checkTimeZone(zone: string): string | null {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return null;
  } catch {
    zoneNames ??= typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const guess = closestMatch(zone, zoneNames);
    return `unknown time zone "${zone}"${guess ? `; did you mean "${guess}"?` : ": use an IANA name such as Europe/Berlin"}`;
  }
}

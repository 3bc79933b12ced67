import "server-only";

export type ConditionErrorCode =
  | "syntax"
  | "unknown_variable"
  | "unknown_field"
  | "type"
  | "invalid_literal"
  | "not_boolean"
  | "unsupported"
  | "too_costly";

/**
 * A condition refused at save time. line and column are 1-based and point into the source the
 * author wrote (columns count UTF-16 code units, as browser editors do); the service layer maps
 * this to an INVALID_INPUT AppError with the position as an invalid param.
 */
export class ConditionError extends Error {
  readonly code: ConditionErrorCode;
  readonly line: number;
  readonly column: number;

  constructor(code: ConditionErrorCode, message: string, position: { line: number; column: number }) {
    super(message);
    this.name = "ConditionError";
    this.code = code;
    this.line = position.line;
    this.column = position.column;
  }

  toJSON(): { code: ConditionErrorCode; message: string; line: number; column: number } {
    return { code: this.code, message: this.message, line: this.line, column: this.column };
  }
}

/** cel-js reports offsets only; the editor wants line and column. */
export function toLineColumn(source: string, offset: number): { line: number; column: number } {
  const end = Math.max(0, Math.min(offset, source.length));
  let line = 1;
  let lineStart = 0;
  for (let index = 0; index < end; index++) {
    if (source.charCodeAt(index) === 10) {
      line++;
      lineStart = index + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

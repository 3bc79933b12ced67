// GitLab CI/CD variable expressions (`rules: - if:`) parsed and translated to CEL. The grammar:
// `$VAR` / `${VAR}`, "strings" and 'strings', /regex/flags, null, `==`, `!=`, `=~`, `!~`, `&&`,
// `||` and parentheses. Variables the pipeline declares become `env.NAME` (or `params.NAME` for
// prefilled variables); GitLab's predefined variables (CI_COMMIT_BRANCH, CI_PIPELINE_SOURCE,
// ...) describe a Git event that Microstack runs do not have, so an expression reading them is
// reported as not evaluable instead of being guessed.
import { celMember } from "./github-expressions";

type GlNode =
  | { type: "var"; name: string; start: number; end: number }
  | { type: "string"; value: string; start: number; end: number }
  | { type: "regex"; pattern: string; flags: string; start: number; end: number }
  | { type: "null"; start: number; end: number }
  | {
      type: "binary";
      op: "==" | "!=" | "=~" | "!~" | "&&" | "||";
      left: GlNode;
      right: GlNode;
      start: number;
      end: number;
    };

type Token =
  | { kind: "var"; name: string; start: number; end: number }
  | { kind: "string"; value: string; start: number; end: number }
  | { kind: "regex"; pattern: string; flags: string; start: number; end: number }
  | { kind: "null"; start: number; end: number }
  | { kind: "op"; value: string; start: number; end: number }
  | { kind: "eof"; start: number; end: number };

export class GlSyntaxError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let previous: Token | undefined;
  while (i < text.length) {
    const char = text[i] as string;
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    let token: Token | undefined;
    const variable = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(text.slice(i));
    if (variable !== null) {
      token = { kind: "var", name: (variable[1] ?? variable[2]) as string, start: i, end: i + variable[0].length };
    } else if (char === '"' || char === "'") {
      let j = i + 1;
      let value = "";
      while (j < text.length && text[j] !== char) {
        if (text[j] === "\\" && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
          continue;
        }
        value += text[j];
        j++;
      }
      if (j >= text.length) throw new GlSyntaxError("unterminated string", i);
      token = { kind: "string", value, start: i, end: j + 1 };
    } else if (char === "/" && (previous === undefined || previous.kind === "op")) {
      let j = i + 1;
      let pattern = "";
      while (j < text.length && text[j] !== "/") {
        if (text[j] === "\\" && text[j + 1] === "/") {
          pattern += "/";
          j += 2;
          continue;
        }
        if (text[j] === "\\" && j + 1 < text.length) {
          pattern += text.slice(j, j + 2);
          j += 2;
          continue;
        }
        pattern += text[j];
        j++;
      }
      if (j >= text.length) throw new GlSyntaxError("unterminated regular expression", i);
      const flags = /^[a-z]*/.exec(text.slice(j + 1))?.[0] ?? "";
      token = { kind: "regex", pattern, flags, start: i, end: j + 1 + flags.length };
    } else if (text.startsWith("null", i) && !/[A-Za-z0-9_]/.test(text[i + 4] ?? "")) {
      token = { kind: "null", start: i, end: i + 4 };
    } else {
      const op = ["==", "!=", "=~", "!~", "&&", "||", "(", ")"].find((candidate) => text.startsWith(candidate, i));
      if (op === undefined) throw new GlSyntaxError(`unexpected "${char}"`, i);
      token = { kind: "op", value: op, start: i, end: i + op.length };
    }
    tokens.push(token);
    previous = token;
    i = token.end;
  }
  tokens.push({ kind: "eof", start: text.length, end: text.length });
  return tokens;
}

class Parser {
  #index = 0;
  constructor(private readonly tokens: Token[]) {}

  get #token(): Token {
    return this.tokens[this.#index] as Token;
  }

  parse(): GlNode {
    const node = this.#or();
    if (this.#token.kind !== "eof") throw new GlSyntaxError("unexpected text after the expression", this.#token.start);
    return node;
  }

  #isOp(...values: string[]): string | null {
    const token = this.#token;
    return token.kind === "op" && values.includes(token.value) ? token.value : null;
  }

  #or(): GlNode {
    let left = this.#and();
    while (this.#isOp("||") !== null) {
      this.#index++;
      const right = this.#and();
      left = { type: "binary", op: "||", left, right, start: left.start, end: right.end };
    }
    return left;
  }

  #and(): GlNode {
    let left = this.#comparison();
    while (this.#isOp("&&") !== null) {
      this.#index++;
      const right = this.#comparison();
      left = { type: "binary", op: "&&", left, right, start: left.start, end: right.end };
    }
    return left;
  }

  #comparison(): GlNode {
    const left = this.#operand();
    const op = this.#isOp("==", "!=", "=~", "!~");
    if (op === null) return left;
    this.#index++;
    const right = this.#operand();
    return { type: "binary", op: op as "==", left, right, start: left.start, end: right.end };
  }

  #operand(): GlNode {
    const token = this.#token;
    if (token.kind === "op" && token.value === "(") {
      this.#index++;
      const inner = this.#or();
      if (this.#isOp(")") === null) throw new GlSyntaxError('expected ")"', this.#token.start);
      this.#index++;
      return inner;
    }
    this.#index++;
    switch (token.kind) {
      case "var":
        return { type: "var", name: token.name, start: token.start, end: token.end };
      case "string":
        return { type: "string", value: token.value, start: token.start, end: token.end };
      case "regex":
        return { type: "regex", pattern: token.pattern, flags: token.flags, start: token.start, end: token.end };
      case "null":
        return { type: "null", start: token.start, end: token.end };
      default:
        throw new GlSyntaxError("expected a variable, a string or a regular expression", token.start);
    }
  }
}

export interface GlScope {
  /** How a variable reads in CEL: env.X, params.X, or null when it is not the pipeline's. */
  variable(name: string): string | null;
}

export type GlTranslation = { ok: true; cel: string } | { ok: false; reason: string };

class Untranslatable extends Error {}

function operandText(node: GlNode, scope: GlScope): string {
  switch (node.type) {
    case "var": {
      const cel = scope.variable(node.name);
      if (cel === null) {
        throw new Untranslatable(
          /^(CI|GITLAB)_/.test(node.name)
            ? `$${node.name} is one of GitLab's predefined variables, which describe a Git event`
            : `$${node.name} is not defined in this file (a project or group variable?)`,
        );
      }
      return cel;
    }
    case "string":
      return JSON.stringify(node.value);
    default:
      throw new Untranslatable("only variables and strings can be compared");
  }
}

function translate(node: GlNode, scope: GlScope): string {
  switch (node.type) {
    case "var":
      return `${operandText(node, scope)} != ""`;
    case "string":
      return String(node.value !== "");
    case "null":
      return "false";
    case "regex":
      throw new Untranslatable("a regular expression on its own");
    case "binary": {
      if (node.op === "&&" || node.op === "||") {
        const left = translate(node.left, scope);
        const right = translate(node.right, scope);
        const wrap = (text: string, inner: GlNode) =>
          inner.type === "binary" &&
          (inner.op === "||" || (inner.op === "&&" && node.op === "||")) &&
          inner.op !== node.op
            ? `(${text})`
            : text;
        return `${wrap(left, node.left)} ${node.op} ${wrap(right, node.right)}`;
      }
      if (node.op === "=~" || node.op === "!~") {
        if (node.right.type !== "regex") throw new Untranslatable("the pattern of =~ must be a /regular expression/");
        const subject = operandText(node.left, scope);
        const flags = node.right.flags.includes("i") ? "(?i)" : "";
        const test = `${subject}.matches(${JSON.stringify(flags + node.right.pattern)})`;
        return node.op === "=~" ? test : `!${test}`;
      }
      // A defined variable is never null here: `$X == null` is false, `$X != null` true.
      if (node.left.type === "null" || node.right.type === "null") {
        const other = node.left.type === "null" ? node.right : node.left;
        if (other.type === "null") return String(node.op === "==");
        operandText(other, scope);
        return String(node.op === "!=");
      }
      return `${operandText(node.left, scope)} ${node.op} ${operandText(node.right, scope)}`;
    }
  }
}

/** Translates a rules: if: expression; untranslatable parts fail the whole expression. */
export function translateGitLabExpression(text: string, scope: GlScope): GlTranslation {
  try {
    const node = new Parser(tokenize(text)).parse();
    return { ok: true, cel: translate(node, scope) };
  } catch (error) {
    if (error instanceof Untranslatable) return { ok: false, reason: error.message };
    if (error instanceof GlSyntaxError) return { ok: false, reason: `syntax error: ${error.message}` };
    throw error;
  }
}

/** `env.NAME` / `params.NAME` in CEL. */
export function celVariable(root: "env" | "params", name: string): string {
  return celMember(root, name);
}

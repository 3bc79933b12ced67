// GitHub Actions expressions (`${{ }}` and `if:`) parsed and translated to CEL. The grammar is
// GitHub's: literals ('single quoted', numbers, true, false, null), context paths with `.`,
// `[ ]` and `*`, `!`, comparisons, `&&`, `||` and a fixed set of functions. Translation follows
// GitHub's semantics where CEL differs: `||`/`&&` return values (so `inputs.x || 'default'`
// becomes a ternary), values are coerced in comparisons (`github.event.inputs.debug == 'true'`
// with a boolean param becomes `params.debug == true`) and truthiness in conditions (`if:
// inputs.tag` becomes `params.tag != ""`). Whatever has no equivalent (the github context,
// hashFiles, toJSON, ...) is reported with the original text, never guessed.

export type GhNode =
  | { type: "literal"; value: string | number | boolean | null; start: number; end: number }
  | { type: "ident"; name: string; start: number; end: number }
  | { type: "member"; object: GhNode; property: string; start: number; end: number }
  | { type: "index"; object: GhNode; index: GhNode; start: number; end: number }
  | { type: "star"; object: GhNode; start: number; end: number }
  | { type: "call"; name: string; args: GhNode[]; start: number; end: number }
  | { type: "not"; operand: GhNode; start: number; end: number }
  | { type: "binary"; op: BinaryOp; left: GhNode; right: GhNode; start: number; end: number };

type BinaryOp = "&&" | "||" | "==" | "!=" | "<" | "<=" | ">" | ">=";

type Token =
  | { kind: "punct"; value: string; start: number; end: number }
  | { kind: "ident"; value: string; start: number; end: number }
  | { kind: "number"; value: number; start: number; end: number }
  | { kind: "string"; value: string; start: number; end: number }
  | { kind: "eof"; start: number; end: number };

export class GhSyntaxError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const PUNCTUATION = ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")", "[", "]", ".", ",", "*"];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] as string;
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    if (char === "'") {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw new GhSyntaxError("unterminated string", i);
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += text[j];
        j++;
      }
      tokens.push({ kind: "string", value, start: i, end: j + 1 });
      i = j + 1;
      continue;
    }
    const number = /^(?:-?0x[0-9a-fA-F]+|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|-?\.\d+)/.exec(text.slice(i));
    if (number !== null && (char !== "-" || /[\d.]/.test(text[i + 1] ?? ""))) {
      const raw = number[0];
      const value = /0x/i.test(raw) ? Number.parseInt(raw, 16) : Number(raw);
      tokens.push({ kind: "number", value, start: i, end: i + raw.length });
      i += raw.length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i));
    if (ident !== null) {
      tokens.push({ kind: "ident", value: ident[0], start: i, end: i + ident[0].length });
      i += ident[0].length;
      continue;
    }
    const punct = PUNCTUATION.find((candidate) => text.startsWith(candidate, i));
    if (punct !== undefined) {
      tokens.push({ kind: "punct", value: punct, start: i, end: i + punct.length });
      i += punct.length;
      continue;
    }
    throw new GhSyntaxError(`unexpected character "${char}"`, i);
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

  #isPunct(value: string): boolean {
    const token = this.#token;
    return token.kind === "punct" && token.value === value;
  }

  #expect(value: string): Token {
    const token = this.#token;
    if (token.kind !== "punct" || token.value !== value) {
      throw new GhSyntaxError(`expected "${value}"`, token.start);
    }
    this.#index++;
    return token;
  }

  parse(): GhNode {
    const node = this.#or();
    if (this.#token.kind !== "eof") throw new GhSyntaxError("unexpected text after the expression", this.#token.start);
    return node;
  }

  #binary(next: () => GhNode, ops: readonly string[]): GhNode {
    let left = next();
    for (;;) {
      const token = this.#token;
      if (token.kind !== "punct" || !ops.includes(token.value)) return left;
      this.#index++;
      const right = next();
      left = { type: "binary", op: token.value as BinaryOp, left, right, start: left.start, end: right.end };
    }
  }

  #or = (): GhNode => this.#binary(this.#and, ["||"]);
  #and = (): GhNode => this.#binary(this.#equality, ["&&"]);
  #equality = (): GhNode => this.#binary(this.#relational, ["==", "!="]);
  #relational = (): GhNode => this.#binary(this.#unary, ["<", "<=", ">", ">="]);

  #unary = (): GhNode => {
    const token = this.#token;
    if (token.kind === "punct" && token.value === "!") {
      this.#index++;
      const operand = this.#unary();
      return { type: "not", operand, start: token.start, end: operand.end };
    }
    return this.#postfix();
  };

  #postfix(): GhNode {
    let node = this.#primary();
    for (;;) {
      if (this.#isPunct(".")) {
        this.#index++;
        const token = this.#token;
        if (token.kind === "punct" && token.value === "*") {
          this.#index++;
          node = { type: "star", object: node, start: node.start, end: token.end };
        } else if (token.kind === "ident") {
          this.#index++;
          node = { type: "member", object: node, property: token.value, start: node.start, end: token.end };
        } else {
          throw new GhSyntaxError('expected a property name after "."', token.start);
        }
      } else if (this.#isPunct("[")) {
        this.#index++;
        if (this.#isPunct("*")) {
          this.#index++;
          const close = this.#expect("]");
          node = { type: "star", object: node, start: node.start, end: close.end };
        } else {
          const index = this.#or();
          const close = this.#expect("]");
          node = { type: "index", object: node, index, start: node.start, end: close.end };
        }
      } else {
        return node;
      }
    }
  }

  #primary(): GhNode {
    const token = this.#token;
    if (token.kind === "string" || token.kind === "number") {
      this.#index++;
      return { type: "literal", value: token.value, start: token.start, end: token.end };
    }
    if (token.kind === "punct" && token.value === "(") {
      this.#index++;
      const inner = this.#or();
      this.#expect(")");
      return inner;
    }
    if (token.kind === "ident") {
      this.#index++;
      switch (token.value) {
        case "true":
        case "false":
          return { type: "literal", value: token.value === "true", start: token.start, end: token.end };
        case "null":
          return { type: "literal", value: null, start: token.start, end: token.end };
        case "NaN":
          return { type: "literal", value: Number.NaN, start: token.start, end: token.end };
        case "Infinity":
          return { type: "literal", value: Number.POSITIVE_INFINITY, start: token.start, end: token.end };
      }
      if (this.#isPunct("(")) {
        this.#index++;
        const args: GhNode[] = [];
        if (!this.#isPunct(")")) {
          for (;;) {
            args.push(this.#or());
            if (this.#isPunct(",")) {
              this.#index++;
              continue;
            }
            break;
          }
        }
        const close = this.#expect(")");
        return { type: "call", name: token.value, args, start: token.start, end: close.end };
      }
      return { type: "ident", name: token.value, start: token.start, end: token.end };
    }
    throw new GhSyntaxError(token.kind === "eof" ? "the expression ends too early" : "unexpected token", token.start);
  }
}

/** Parses a GitHub expression (without the `${{ }}`); throws GhSyntaxError. */
export function parseGitHubExpression(text: string): GhNode {
  return new Parser(tokenize(text)).parse();
}

/** `${{ expr }}` around the whole string, as GitHub accepts it in `if:`; else the string. */
export function unwrapGitHubExpression(text: string): { expression: string; offset: number } {
  const match = /^(\s*\$\{\{)([\s\S]*?)\}\}\s*$/.exec(text);
  if (match !== null && !(match[2] ?? "").includes("}}")) {
    return { expression: match[2] ?? "", offset: (match[1] ?? "").length };
  }
  return { expression: text, offset: 0 };
}

// ---------------------------------------------------------------------------------------------
// Context paths.

export type PathSegment = string | { computed: GhNode } | "*";

/** `needs.build.outputs['x']` -> root needs, segments build, outputs, x; null if not a path. */
export function contextPath(node: GhNode): { root: string; segments: PathSegment[] } | null {
  const segments: PathSegment[] = [];
  let current = node;
  for (;;) {
    if (current.type === "member") {
      segments.push(current.property);
      current = current.object;
    } else if (current.type === "index") {
      const index = current.index;
      if (index.type === "literal" && (typeof index.value === "string" || typeof index.value === "number")) {
        segments.push(String(index.value));
      } else {
        segments.push({ computed: index });
      }
      current = current.object;
    } else if (current.type === "star") {
      segments.push("*");
      current = current.object;
    } else if (current.type === "ident") {
      segments.reverse();
      return { root: current.name, segments };
    } else {
      return null;
    }
  }
}

export function pathText(root: string, segments: readonly PathSegment[]): string {
  let out = root;
  for (const segment of segments) {
    if (segment === "*") out += ".*";
    else if (typeof segment === "string")
      out += /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment) ? `.${segment}` : `['${segment}']`;
    else out += "[…]";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Translation to CEL.

export type CelType = "bool" | "string" | "int" | "double" | "dyn" | "null" | "list";
type ValueKind = "string" | "number" | "boolean";

interface Cel {
  text: string;
  type: CelType;
  /** 1 ternary, 2 ||, 3 &&, 4 relations, 6 unary, 7 atoms and member access. */
  prec: number;
  status: boolean;
  literal?: { value: string | number | boolean | null };
  /** For matrix values: the kinds of values the key takes. */
  kinds?: ReadonlySet<ValueKind>;
  /** For matrix values: the plain access and, when some combinations lack the key, its guard. */
  matrix?: { access: string; guard: string | null };
  /** `secrets.NAME`, which must stand alone in its braces. */
  secret?: string;
}

export interface ParamRef {
  /** The Microstack param name. */
  name: string;
  type: "string" | "integer" | "number" | "boolean";
}

export interface NeedRef {
  stepId: string;
  outputs: ReadonlySet<string>;
}

export interface GhScope {
  /** Status functions are allowed in conditions only. */
  mode: "condition" | "template";
  param(name: string): ParamRef | undefined;
  /** A job named in `needs`: its step, "skipped" when the job was not imported, else undefined. */
  need(job: string): NeedRef | "skipped" | undefined;
  /** The Microstack matrix key of a GitHub matrix path, or why there is none. */
  matrix(
    path: readonly string[],
  ): { key: string; kinds: ReadonlySet<ValueKind>; partial: boolean } | "no-matrix" | "unknown-key";
  /** Whether env.NAME is declared where the expression is evaluated. */
  env(name: string): boolean;
  /** Secrets may stand alone in templates. */
  allowSecrets: boolean;
}

export class Untranslatable extends Error {
  constructor(
    readonly reason: string,
    readonly node: GhNode,
  ) {
    super(reason);
  }
}

const CEL_RESERVED = new Set([
  "as",
  "break",
  "const",
  "continue",
  "else",
  "false",
  "for",
  "function",
  "if",
  "import",
  "in",
  "let",
  "loop",
  "package",
  "namespace",
  "null",
  "return",
  "true",
  "var",
  "void",
  "while",
]);

/** `root.name`, or `root["name"]` when the name is not a CEL identifier (`-`, keywords). */
export function celMember(root: string, name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !CEL_RESERVED.has(name)
    ? `${root}.${name}`
    : `${root}[${JSON.stringify(name)}]`;
}

function celString(value: string): string {
  return JSON.stringify(value);
}

function celNumber(value: number, type: "int" | "double"): string {
  if (!Number.isFinite(value)) throw new Error("not finite");
  if (type === "double") return Number.isInteger(value) ? `${value}.0` : String(value);
  return String(value);
}

function wrap(cel: Cel, min: number): string {
  return cel.prec < min ? `(${cel.text})` : cel.text;
}

function isTruthyLiteral(cel: Cel): boolean {
  const value = cel.literal?.value;
  return value !== undefined && value !== null && value !== "" && value !== 0 && value !== false;
}

const CONTEXT_REASONS: Record<string, string> = {
  github: "the github context (event, ref, sha, actor, ...) does not exist in Microstack runs",
  runner: "the runner context does not exist in Microstack runs",
  job: "the job context (container, services, status) does not exist in Microstack",
  jobs: "the jobs context of reusable workflows does not exist in Microstack",
  steps: "outputs and outcomes of steps inside a job are not visible outside its script",
  strategy: "the strategy context (job-index, job-total) does not exist in Microstack",
  vars: "configuration variables (vars) live in GitHub's settings: declare them as env or params",
};

class Translator {
  constructor(private readonly scope: GhScope) {}

  value(node: GhNode): Cel {
    switch (node.type) {
      case "literal":
        return this.literal(node.value, node);
      case "ident":
        throw new Untranslatable(CONTEXT_REASONS[node.name] ?? `"${node.name}" on its own cannot be translated`, node);
      case "member":
      case "index":
      case "star":
        return this.context(node);
      case "call":
        return this.call(node);
      case "not": {
        const operand = this.bool(node.operand);
        return { text: `!${wrap(operand, 6)}`, type: "bool", prec: 6, status: operand.status };
      }
      case "binary":
        return this.binary(node);
    }
  }

  literal(value: string | number | boolean | null, node: GhNode): Cel {
    if (typeof value === "string")
      return { text: celString(value), type: "string", prec: 7, status: false, literal: { value } };
    if (typeof value === "boolean")
      return { text: String(value), type: "bool", prec: 7, status: false, literal: { value } };
    if (value === null) return { text: "null", type: "null", prec: 7, status: false, literal: { value } };
    if (!Number.isFinite(value)) throw new Untranslatable("NaN and Infinity have no CEL literal", node);
    const type = Number.isInteger(value) ? "int" : "double";
    return { text: celNumber(value, type), type, prec: 7, status: false, literal: { value } };
  }

  /** The value as a condition: GitHub's truthiness ("" , 0, null and false are false). */
  bool(node: GhNode): Cel {
    const cel = this.value(node);
    if (cel.matrix !== undefined && cel.kinds !== undefined) {
      const { access, guard } = cel.matrix;
      const kinds = [...cel.kinds];
      const only = kinds.length === 1 ? kinds[0] : undefined;
      const test = only === "string" ? `${access} != ""` : only === "number" ? `${access} != 0` : access;
      return {
        text: guard === null ? test : `${guard} && ${test}`,
        type: "bool",
        prec: guard === null ? (test === access ? 7 : 4) : 3,
        status: false,
      };
    }
    switch (cel.type) {
      case "bool":
      case "dyn":
        return cel;
      case "string":
        return cel.literal !== undefined
          ? { text: String(cel.literal.value !== ""), type: "bool", prec: 7, status: false }
          : { text: `${wrap(cel, 5)} != ""`, type: "bool", prec: 4, status: cel.status };
      case "int":
        return { text: `${wrap(cel, 5)} != 0`, type: "bool", prec: 4, status: cel.status };
      case "double":
        return { text: `${wrap(cel, 5)} != 0.0`, type: "bool", prec: 4, status: cel.status };
      case "null":
        return { text: "false", type: "bool", prec: 7, status: false };
      case "list":
        throw new Untranslatable("a list used as a condition", node);
    }
  }

  context(node: GhNode): Cel {
    const path = contextPath(node);
    if (path === null) throw new Untranslatable("property access on a computed value", node);
    const { root, segments } = path;
    const names = segments.map((segment) => (typeof segment === "string" ? segment : null));
    const text = pathText(root, segments);
    if (names.some((name) => name === null || name === "*")) {
      throw new Untranslatable(`${text}: computed properties and * filters have no equivalent`, node);
    }
    const plain = names as string[];
    switch (root) {
      case "inputs":
        if (plain.length === 1) return this.param(plain[0] as string, node);
        break;
      case "github":
        if (plain.length === 3 && plain[0] === "event" && plain[1] === "inputs")
          return this.param(plain[2] as string, node);
        break;
      case "needs": {
        const [job, field, output] = plain;
        if (job === undefined) break;
        const need = this.scope.need(job);
        if (need === undefined) throw new Untranslatable(`${text}: "${job}" is not in this job's needs`, node);
        if (need === "skipped") throw new Untranslatable(`${text}: job "${job}" was not imported`, node);
        if (field === "result" && plain.length === 2) {
          return { text: `${celMember("steps", need.stepId)}.outcome`, type: "string", prec: 7, status: false };
        }
        if (field === "outputs" && output !== undefined && plain.length === 3) {
          if (!need.outputs.has(output))
            throw new Untranslatable(`${text}: job "${job}" declares no output "${output}"`, node);
          return {
            text: celMember(`${celMember("steps", need.stepId)}.outputs`, output),
            type: "string",
            prec: 7,
            status: false,
          };
        }
        break;
      }
      case "matrix": {
        if (plain.length === 0) break;
        const found = this.scope.matrix(plain);
        if (found === "no-matrix") throw new Untranslatable(`${text}: this job has no matrix`, node);
        if (found === "unknown-key") throw new Untranslatable(`${text}: not a key of this job's matrix`, node);
        const access = celMember("matrix", found.key);
        // A key only some combinations have (added by include): GitHub reads null elsewhere.
        const guard = found.partial ? `${celString(found.key)} in matrix` : null;
        return {
          text: guard === null ? access : `(${guard} ? ${access} : null)`,
          type: "dyn",
          prec: 7,
          status: false,
          kinds: found.kinds,
          matrix: { access, guard },
        };
      }
      case "env": {
        const [name] = plain;
        if (plain.length === 1 && name !== undefined && this.scope.env(name)) {
          return { text: celMember("env", name), type: "string", prec: 7, status: false };
        }
        if (name !== undefined)
          throw new Untranslatable(`${text}: not declared in the workflow's or the job's env`, node);
        break;
      }
      case "secrets": {
        const [name] = plain;
        if (
          plain.length === 1 &&
          name !== undefined &&
          this.scope.allowSecrets &&
          /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
        ) {
          return { text: `secrets.${name}`, type: "string", prec: 7, status: false, secret: name };
        }
        throw new Untranslatable(
          this.scope.mode === "condition"
            ? `${text}: secrets cannot be read in conditions`
            : `${text}: a secret must stand alone in its braces`,
          node,
        );
      }
    }
    throw new Untranslatable(`${text}: ${CONTEXT_REASONS[root] ?? "no Microstack equivalent"}`, node);
  }

  param(name: string, node: GhNode): Cel {
    const param = this.scope.param(name);
    if (param === undefined) throw new Untranslatable(`input "${name}" is not declared`, node);
    const type: CelType =
      param.type === "boolean"
        ? "bool"
        : param.type === "integer"
          ? "int"
          : param.type === "number"
            ? "double"
            : "string";
    return { text: celMember("params", param.name), type, prec: 7, status: false };
  }

  call(node: Extract<GhNode, { type: "call" }>): Cel {
    const name = node.name.toLowerCase();
    const args = node.args;
    switch (name) {
      case "success":
      case "failure":
      case "always":
      case "cancelled":
        if (args.length !== 0) throw new Untranslatable(`${node.name}() takes no arguments`, node);
        if (this.scope.mode !== "condition") throw new Untranslatable(`${node.name}() is only meaningful in if:`, node);
        return { text: `${name}()`, type: "bool", prec: 7, status: true };
      case "contains":
      case "startswith":
      case "endswith": {
        if (args.length !== 2) throw new Untranslatable(`${node.name}() takes two arguments`, node);
        const [haystackNode, needleNode] = args as [GhNode, GhNode];
        const haystack = this.value(haystackNode);
        const needle = this.value(needleNode);
        if (name === "contains" && haystack.type === "list") {
          return {
            text: `${wrap(needle, 5)} in ${haystack.text}`,
            type: "bool",
            prec: 4,
            status: needle.status,
          };
        }
        const method = name === "contains" ? "contains" : name === "startswith" ? "startsWith" : "endsWith";
        return {
          text: `${this.asString(haystack)}.${method}(${this.asString(needle, false)})`,
          type: "bool",
          prec: 7,
          status: haystack.status || needle.status,
        };
      }
      case "format": {
        const [formatNode, ...rest] = args;
        if (formatNode?.type !== "literal" || typeof formatNode.value !== "string") {
          throw new Untranslatable("format() needs a literal format string", node);
        }
        const values = rest.map((arg) => this.value(arg));
        const parts: string[] = [];
        let literal = "";
        const pattern = formatNode.value;
        for (let i = 0; i < pattern.length; i++) {
          const char = pattern[i];
          if (char === "{" && pattern[i + 1] === "{") {
            literal += "{";
            i++;
          } else if (char === "}" && pattern[i + 1] === "}") {
            literal += "}";
            i++;
          } else if (char === "{") {
            const close = pattern.indexOf("}", i);
            const index = Number(pattern.slice(i + 1, close));
            const value = values[index];
            if (close === -1 || !Number.isInteger(index) || value === undefined) {
              throw new Untranslatable("format() refers to an argument that is not there", node);
            }
            if (literal !== "") parts.push(celString(literal));
            literal = "";
            parts.push(this.asString(value, false));
            i = close;
          } else {
            literal += char;
          }
        }
        if (literal !== "" || parts.length === 0) parts.push(celString(literal));
        return { text: parts.join(" + "), type: "string", prec: 5, status: values.some((value) => value.status) };
      }
      case "fromjson": {
        const [arg] = args;
        if (args.length === 1 && arg?.type === "literal" && typeof arg.value === "string") {
          let parsed: unknown;
          try {
            parsed = JSON.parse(arg.value);
          } catch {
            throw new Untranslatable("fromJSON() of text that is not JSON", node);
          }
          if (
            parsed === null ||
            typeof parsed === "string" ||
            typeof parsed === "number" ||
            typeof parsed === "boolean"
          ) {
            return this.literal(parsed, node);
          }
          if (Array.isArray(parsed) && parsed.every((item) => ["string", "number", "boolean"].includes(typeof item))) {
            return {
              text: `[${parsed.map((item) => (typeof item === "string" ? celString(item) : String(item))).join(", ")}]`,
              type: "list",
              prec: 7,
              status: false,
            };
          }
        }
        throw new Untranslatable("fromJSON() of a value known only at run time", node);
      }
      default:
        throw new Untranslatable(`${node.name}() has no Microstack equivalent`, node);
    }
  }

  /** A string-typed operand: literals as string literals, dyn values through string(). */
  asString(cel: Cel, receiver = true): string {
    if (cel.literal !== undefined) {
      const value = cel.literal.value;
      return celString(value === null ? "" : String(value));
    }
    if (cel.type === "string") return receiver ? wrap(cel, 7) : wrap(cel, 5);
    return `string(${cel.text})`;
  }

  binary(node: Extract<GhNode, { type: "binary" }>): Cel {
    switch (node.op) {
      case "&&":
      case "||":
        return this.logical(node);
      case "==":
      case "!=":
        return this.compare(node.op, node.left, node.right, node);
      default:
        return this.relational(node.op, node.left, node.right, node);
    }
  }

  logical(node: Extract<GhNode, { type: "binary" }>): Cel {
    // `cond && 'a' || 'b'`: GitHub's ternary idiom, in templates and conditions alike.
    if (node.op === "||" && node.left.type === "binary" && node.left.op === "&&") {
      const picked = this.value(node.left.right);
      if (isTruthyLiteral(picked) && this.scope.mode === "template") {
        const condition = this.bool(node.left.left);
        const otherwise = this.value(node.right);
        const [a, b] = this.sameType(picked, otherwise);
        return {
          text: `${wrap(condition, 2)} ? ${a} : ${b}`,
          type: picked.type === otherwise.type ? picked.type : "string",
          prec: 1,
          status: condition.status || otherwise.status,
        };
      }
    }
    if (this.scope.mode === "template") {
      const left = this.value(node.left);
      const right = this.value(node.right);
      if (left.type === "bool" && right.type === "bool") {
        return {
          text: `${wrap(left, node.op === "&&" ? 3 : 2)} ${node.op} ${wrap(right, node.op === "&&" ? 4 : 3)}`,
          type: "bool",
          prec: node.op === "&&" ? 3 : 2,
          status: false,
        };
      }
      // `a || 'default'`: a when it is truthy, else the default.
      const stringLike =
        left.type === "string" || (left.matrix !== undefined && left.kinds?.size === 1 && left.kinds.has("string"));
      if (node.op === "||" && stringLike && left.literal === undefined) {
        const fallback = this.asString(right, false);
        const test = this.bool(node.left);
        const value = left.matrix !== undefined ? left.matrix.access : wrap(left, 2);
        return { text: `${wrap(test, 2)} ? ${value} : ${fallback}`, type: "string", prec: 1, status: false };
      }
      throw new Untranslatable(
        `"${node.op}" returns one of its operands in GitHub; this combination has no CEL equivalent`,
        node,
      );
    }
    const left = this.bool(node.left);
    const right = this.bool(node.right);
    const prec = node.op === "&&" ? 3 : 2;
    return {
      text: `${wrap(left, prec)} ${node.op} ${wrap(right, prec + 1)}`,
      type: "bool",
      prec,
      status: left.status || right.status,
    };
  }

  sameType(a: Cel, b: Cel): [string, string] {
    if (a.type === b.type || a.type === "dyn" || b.type === "dyn") return [wrap(a, 2), wrap(b, 2)];
    return [this.asString(a, false), this.asString(b, false)];
  }

  /** Coerces a literal to the type of the other side, as GitHub's loose comparison does. */
  coerce(literal: Cel, other: Cel, node: GhNode): Cel {
    const value = literal.literal?.value;
    if (value === undefined) return literal;
    let target: CelType = other.type;
    if (target === "dyn" && other.kinds !== undefined && other.kinds.size === 1) {
      const [kind] = [...other.kinds];
      target = kind === "string" ? "string" : kind === "boolean" ? "bool" : "dyn";
      if (kind === "number") {
        if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
          return this.literal(Number(value), node);
        }
        return literal;
      }
    }
    switch (target) {
      case "bool":
        if (typeof value === "string" && /^(true|false)$/i.test(value)) {
          return {
            text: value.toLowerCase(),
            type: "bool",
            prec: 7,
            status: false,
            literal: { value: value.toLowerCase() === "true" },
          };
        }
        if (typeof value === "boolean") return literal;
        throw new Untranslatable(`comparing a boolean with ${JSON.stringify(value)}`, node);
      case "string":
        if (typeof value === "string") return literal;
        if (value === null) return this.literal("", node);
        return this.literal(String(value), node);
      case "int":
      case "double": {
        const number =
          typeof value === "number"
            ? value
            : typeof value === "string" && value.trim() !== ""
              ? Number(value)
              : Number.NaN;
        if (!Number.isFinite(number))
          throw new Untranslatable(`comparing a number with ${JSON.stringify(value)}`, node);
        if (target === "int" && !Number.isInteger(number)) {
          return {
            text: celNumber(number, "double"),
            type: "double",
            prec: 7,
            status: false,
            literal: { value: number },
          };
        }
        return { text: celNumber(number, target), type: target, prec: 7, status: false, literal: { value: number } };
      }
      default:
        return literal;
    }
  }

  compare(op: "==" | "!=", leftNode: GhNode, rightNode: GhNode, node: GhNode): Cel {
    let left = this.value(leftNode);
    let right = this.value(rightNode);
    if (left.literal !== undefined && right.literal === undefined) left = this.coerce(left, right, node);
    else if (right.literal !== undefined && left.literal === undefined) right = this.coerce(right, left, node);
    if (left.type === "null" || right.type === "null") {
      const other = left.type === "null" ? right : left;
      if (other.type !== "string" && other.type !== "null") throw new Untranslatable("comparing with null", node);
      if (other.type === "string") {
        return { text: `${wrap(other, 5)} ${op} ""`, type: "bool", prec: 4, status: other.status };
      }
    }
    const concrete = (cel: Cel) => cel.type !== "dyn";
    if (concrete(left) && concrete(right) && left.type !== right.type) {
      const numeric = (cel: Cel) => cel.type === "int" || cel.type === "double";
      if (numeric(left) && numeric(right)) {
        const l = left.type === "int" ? `double(${left.text})` : wrap(left, 5);
        const r = right.type === "int" ? `double(${right.text})` : wrap(right, 5);
        return { text: `${l} ${op} ${r}`, type: "bool", prec: 4, status: left.status || right.status };
      }
      throw new Untranslatable(`comparing a ${left.type} with a ${right.type}`, node);
    }
    return {
      text: `${wrap(left, 5)} ${op} ${wrap(right, 5)}`,
      type: "bool",
      prec: 4,
      status: left.status || right.status,
    };
  }

  relational(op: string, leftNode: GhNode, rightNode: GhNode, node: GhNode): Cel {
    let left = this.value(leftNode);
    let right = this.value(rightNode);
    const numeric = (cel: Cel) => cel.type === "int" || cel.type === "double" || cel.type === "dyn";
    if (left.literal !== undefined && right.literal === undefined) left = this.coerce(left, right, node);
    else if (right.literal !== undefined && left.literal === undefined) right = this.coerce(right, left, node);
    if (!numeric(left) || !numeric(right)) {
      if (left.type === "string" && right.type === "string") {
        return { text: `${wrap(left, 5)} ${op} ${wrap(right, 5)}`, type: "bool", prec: 4, status: false };
      }
      throw new Untranslatable(`"${op}" compares numbers; these operands are not numbers`, node);
    }
    return {
      text: `${wrap(left, 5)} ${op} ${wrap(right, 5)}`,
      type: "bool",
      prec: 4,
      status: left.status || right.status,
    };
  }
}

export type Translation =
  | { ok: true; cel: string; status: boolean; secret?: string; type: CelType }
  | { ok: false; reason: string; start: number; end: number };

function failure(error: unknown, text: string): Translation {
  if (error instanceof Untranslatable)
    return { ok: false, reason: error.reason, start: error.node.start, end: error.node.end };
  if (error instanceof GhSyntaxError)
    return { ok: false, reason: `syntax error: ${error.message}`, start: error.at, end: text.length };
  throw error;
}

/** A value expression (`${{ }}` in a string). */
export function translateGitHubValue(expression: string, scope: GhScope): Translation {
  try {
    const node = parseGitHubExpression(expression);
    const cel = new Translator(scope).value(node);
    if (cel.secret !== undefined) return { ok: true, cel: cel.text, status: false, secret: cel.secret, type: "string" };
    return { ok: true, cel: cel.text, status: cel.status, type: cel.type };
  } catch (error) {
    return failure(error, expression);
  }
}

/** A parsed node as a value. */
export function translateGitHubValueNode(node: GhNode, scope: GhScope): Translation {
  try {
    const cel = new Translator(scope).value(node);
    if (cel.secret !== undefined) return { ok: true, cel: cel.text, status: false, secret: cel.secret, type: "string" };
    return { ok: true, cel: cel.text, status: cel.status, type: cel.type };
  } catch (error) {
    return failure(error, "");
  }
}

/** A parsed node as a condition (truthiness applied). */
export function translateGitHubConditionNode(node: GhNode, scope: GhScope): Translation {
  try {
    const cel = new Translator(scope).bool(node);
    return { ok: true, cel: cel.text, status: cel.status, type: "bool" };
  } catch (error) {
    return failure(error, "");
  }
}

/** The operands of top-level `&&`s, in order. */
export function conjuncts(node: GhNode): GhNode[] {
  if (node.type === "binary" && node.op === "&&") return [...conjuncts(node.left), ...conjuncts(node.right)];
  return [node];
}

export interface ConditionTranslation {
  /** The CEL condition, or null when nothing of it could be kept. */
  cel: string | null;
  status: boolean;
  /** Conjuncts that were dropped, with the reason and their offsets in the expression. */
  dropped: { text: string; reason: string; start: number; end: number }[];
}

/**
 * An `if:`: split at the top-level `&&`s; each part is translated on its own and a part that
 * cannot be is dropped (reported), so `always() && github.ref == 'refs/heads/main'` keeps
 * `always()`. Dropping a part of an `&&` makes the condition true more often, never less.
 */
export function translateGitHubCondition(source: string, scope: GhScope): ConditionTranslation {
  const { expression, offset } = unwrapGitHubExpression(source);
  let node: GhNode;
  try {
    node = parseGitHubExpression(expression);
  } catch (error) {
    if (!(error instanceof GhSyntaxError)) throw error;
    return {
      cel: null,
      status: false,
      dropped: [
        {
          text: expression.trim(),
          reason: `syntax error: ${error.message}`,
          start: offset,
          end: offset + expression.length,
        },
      ],
    };
  }
  const kept: string[] = [];
  let status = false;
  const dropped: ConditionTranslation["dropped"] = [];
  const parts = conjuncts(node);
  for (const part of parts) {
    const result = translateGitHubConditionNode(part, scope);
    if (result.ok) {
      kept.push(parts.length > 1 && /\|\||\?/.test(result.cel) ? `(${result.cel})` : result.cel);
      status ||= result.status;
    } else {
      dropped.push({
        text: expression.slice(part.start, part.end),
        reason: result.reason,
        start: offset + part.start,
        end: offset + part.end,
      });
    }
  }
  return { cel: kept.length === 0 ? null : kept.join(" && "), status, dropped };
}

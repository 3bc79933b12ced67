import "server-only";
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { gunzip, gzipSync } from "node:zlib";
import { parse as parseYaml } from "yaml";
import packageJson from "@/package.json" with { type: "json" };
import type { Actor } from "@/server/auth/schema";
import { getActorById, getSessionUserId } from "@/server/auth/service";
import { isAppError } from "@/server/http/errors";
import { getLogger } from "@/server/observability/logger";
import { countUnhandledError } from "@/server/observability/metrics";
import { getRequestContext } from "@/server/observability/request-context";
import type { Decision } from "./engine/types";
import {
  type DataValue,
  DEFAULT_DECISION_PATH,
  dataRef,
  decisionLogPath,
  evaluateDataPath,
  explanationDocument,
  explanationLines,
  needsDecision,
  parseDataPath,
} from "./opa";
import { peekSnapshot } from "./runtime";
import { parseAuthzRequest, queryDecision } from "./service";

// The OPA-compatible HTTP API: the subset of OPA's REST API that OPA clients, SDKs and sidecars
// use to ask for decisions, answered by this engine (the documents are described in opa.ts).
// It follows OPA's REST API reference (openpolicyagent.org/docs/rest-api) and, where the
// reference is silent, OPA's server (v1/server/server.go, types/types.go, writer/writer.go):
//
// - "Get a Document" GET /v1/data/{path}?input=<URL-encoded JSON>, "Get a Document (with Input)"
//   POST /v1/data/{path} with {"input": ...}: 200 {"result": ...}; an undefined document is 200
//   without `result`; malformed input is 400. A POST without `input` gets OPA's warning
//   {"code": "api_usage_warning", "message": "'input' key missing from the request"}.
//   Query parameters: pretty, provenance, explain (notes|fails|full|debug), metrics, instrument
//   (implies metrics), strict-builtin-errors (accepted; the engine has no built-in errors to make
//   strict, a condition error already fails closed). `decision_id` when decision logging is on.
// - "Get a Document (Webhook)" POST /v0/data/{path}: the body is the input, the answer is the
//   bare value; undefined is 404 {"code": "undefined_document", "message": "document missing:
//   data.x"} ("document undefined" when the path names a rule that has no value).
// - "Execute a Simple Query" POST /: the body is the input, the answer is the bare value of the
//   default decision (data.microstack.allow, our data.system.main), 404 when undefined. Only a
//   POST / with a JSON (or YAML) content type is ours: GET / is the home page, and Next's server
//   actions, which also POST to pages, carry a Next-Action header.
// - Errors are OPA's ErrorV1, {"code": ..., "message": ..., "errors"?: [...]}, indented as OPA
//   writes them; success bodies are Go's json.Encoder output (compact unless pretty, a trailing
//   newline, <, > and & escaped, object keys of values sorted).
// - "Method not Allowed": other methods on /v1/data and /v0/data answer 405 with no body. The
//   documents are the engine's, so the write half of the Data API (PUT/PATCH/DELETE) is one of
//   them.
// - Authentication (OPA: --authentication=token with --authorization=basic): a bearer token
//   (MICROSTACK_AUTHZ_API_TOKEN, machine clients, may ask about anyone) or the session cookie (a
//   user asks about themselves, or about others with authz:query). Refusals are OPA's 401
//   {"code": "unauthorized", ...}, before anything else is looked at, as OPA's authorizer runs
//   before its router.
// - Request bodies: Content-Type application/json or application/yaml, Content-Encoding gzip;
//   responses are gzipped from 1 KiB when the client accepts gzip (OPA's default min_length).

const log = getLogger("authz-opa");

export const OPA_ROUTE_TEMPLATES = {
  v1: "/v1/data/[...path]",
  v0: "/v0/data/[...path]",
  default: "/",
} as const;

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_GUNZIPPED_BYTES = 8 * 1024 * 1024;
const GZIP_MIN_LENGTH = 1024;

// OPA's messages (server/types/types.go).
const MSG_UNAUTHORIZED = "request rejected by administrative policy";
const MSG_INPUT_KEY_MISSING = "'input' key missing from the request";
const MSG_BODY_TOO_LARGE = "request body too large";
const MSG_GZIP_TOO_LARGE = "compressed request body too large";

export interface OpaRoute {
  kind: "v1" | "v0" | "default";
  template: string;
  /** The data path after /v1/data/ or /v0/data/, still percent-encoded. */
  escapedPath: string;
  query: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Which OPA route a request is, or undefined when it is not one (Next serves it). Cheap: runs on
 * every request the server receives, before the body is read.
 */
export function matchOpaRoute(method: string, url: string, headers: IncomingHttpHeaders): OpaRoute | undefined {
  const queryAt = url.indexOf("?");
  const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? "" : url.slice(queryAt + 1);
  if (pathname === "/") {
    if (method !== "POST" || headers["next-action"] !== undefined) return undefined;
    const contentType = header(headers, "content-type") ?? "";
    if (!contentType.includes("json") && !contentType.includes("yaml")) return undefined;
    return { kind: "default", template: OPA_ROUTE_TEMPLATES.default, escapedPath: "", query };
  }
  for (const kind of ["v1", "v0"] as const) {
    const prefix = `/${kind}/data`;
    if (pathname === prefix || pathname.startsWith(`${prefix}/`)) {
      return { kind, template: OPA_ROUTE_TEMPLATES[kind], escapedPath: pathname.slice(prefix.length + 1), query };
    }
  }
  return undefined;
}

const ALLOWED_METHODS: Record<OpaRoute["kind"], readonly string[]> = {
  v1: ["GET", "POST"],
  v0: ["POST"],
  default: ["POST"],
};

// ---- Query parameters, as OPA's getBoolParam / getExplain read them ----

type ExplainMode = "off" | "notes" | "fails" | "full" | "debug";

class QueryParams {
  private readonly params: URLSearchParams | undefined;

  constructor(raw: string) {
    this.params = raw === "" ? undefined : new URLSearchParams(raw);
  }

  /** A parameter without a value (`?pretty`) counts as true; otherwise any value "true". */
  bool(name: string): boolean {
    const values = this.params?.getAll(name) ?? [];
    if (values.length === 0) return false;
    if (values.length === 1 && values[0] === "") return true;
    return values.some((value) => value.toLowerCase() === "true");
  }

  explain(): ExplainMode {
    for (const value of this.params?.getAll("explain") ?? []) {
      if (value === "notes" || value === "fails" || value === "full" || value === "debug") return value;
    }
    return "off";
  }

  /** The last `input` value, as OPA takes it. */
  input(): string | undefined {
    return this.params?.getAll("input").at(-1);
  }
}

// ---- Responses ----

class OpaError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: { code: string; message: string }[],
  ) {
    super(message);
  }
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;
const HTML_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** JSON as Go's json.Encoder writes it (HTML-safe, newline-terminated); OPA's writer uses it. */
function goJson(value: unknown, indent: boolean): string {
  const text = JSON.stringify(value, null, indent ? 2 : undefined);
  return `${text.replace(HTML_UNSAFE, (c) => HTML_ESCAPES[c] as string)}\n`;
}

/** Go marshals maps with sorted keys: documents come out the same way from here. */
function sortKeys(value: DataValue): DataValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const sorted: { [key: string]: DataValue } = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key] as DataValue);
  return sorted;
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = { "content-type": "application/json", ...extraHeaders };
  let payload: string | Buffer = body;
  if (body.length >= GZIP_MIN_LENGTH && (header(req.headers, "accept-encoding") ?? "").includes("gzip")) {
    payload = gzipSync(body);
    headers["content-encoding"] = "gzip";
    headers.vary = "Accept-Encoding";
  }
  headers["content-length"] = Buffer.byteLength(payload);
  res.writeHead(status, headers);
  res.end(payload);
}

function sendError(req: IncomingMessage, res: ServerResponse, error: OpaError, extra?: Record<string, string>): void {
  const body = {
    code: error.code,
    message: error.message,
    ...(error.errors && error.errors.length > 0 ? { errors: error.errors } : {}),
  };
  // OPA writes errors with json.MarshalIndent: always indented.
  send(req, res, error.status, goJson(body, true), extra);
}

const badRequest = (message: string, errors?: { code: string; message: string }[]) =>
  new OpaError(400, "invalid_parameter", message, errors);

// ---- Authentication ----

type Caller = { actor: Actor | null; trusted: boolean };

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

async function authenticate(
  req: IncomingMessage,
  tokenDigest: Buffer | undefined,
): Promise<Caller | { refused: string }> {
  const authorization = header(req.headers, "authorization");
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    // Compared as digests: constant time whatever the length of what was sent.
    if (match && tokenDigest && timingSafeEqual(digest(match[1] as string), tokenDigest)) {
      return { actor: null, trusted: true };
    }
    return { refused: "invalid bearer token" };
  }
  const userId = await getSessionUserId(header(req.headers, "cookie") ?? null);
  const actor = userId ? await getActorById(userId) : null;
  if (!actor)
    return { refused: "authentication required: sign in, or send the authorization API token as a bearer token" };
  return { actor, trusted: false };
}

// ---- Request bodies ----

function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(header(req.headers, "content-length") ?? Number.NaN);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(badRequest(MSG_BODY_TOO_LARGE));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data");
        req.resume();
        reject(badRequest(MSG_BODY_TOO_LARGE));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once("error", reject);
    // A client that hangs up mid-body gets no answer; this only ends the wait for it.
    req.once("close", () => {
      if (!req.complete) reject(badRequest("request body incomplete"));
    });
  });
}

async function decodedBody(req: IncomingMessage): Promise<Buffer> {
  const body = await readBody(req);
  if (!(header(req.headers, "content-encoding") ?? "").includes("gzip")) return body;
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: MAX_GUNZIPPED_BYTES }, (error, result) => {
      if (!error) resolve(result);
      else if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") reject(badRequest(MSG_GZIP_TOO_LARGE));
      else reject(badRequest(`could not decompress the body: ${error.message}`));
    });
  });
}

type Input = { present: false } | { present: true; value: unknown };
const NO_INPUT: Input = { present: false };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- JSON as OPA decodes it ----
// OPA reads bodies with Go's json.Decoder: it takes the first JSON value and ignores what
// follows, and its syntax errors read "invalid character 'x' looking for beginning of value" or
// "unexpected EOF". The scanner below follows Go's (encoding/json/scanner.go) over the UTF-8
// bytes, so clients see the messages OPA gives, whichever V8 runs this; JSON.parse then reads
// the value it delimited.

class JsonSyntaxError extends Error {}

const GO_MAX_NESTING = 10_000;

/** Go's quoteChar: how a byte appears in its syntax error messages. */
function quoteByte(byte: number): string {
  if (byte === 0x27) return "'\\''";
  if (byte === 0x22) return "'\"'";
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };
  if (named[byte]) return `'${named[byte]}'`;
  if (byte < 0x20 || byte === 0x7f) return `'\\x${byte.toString(16).padStart(2, "0")}'`;
  if ((byte >= 0x80 && byte <= 0xa0) || byte === 0xad) return `'\\u${byte.toString(16).padStart(4, "0")}'`;
  return `'${String.fromCharCode(byte)}'`;
}

const isSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
const isDigit = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x39;
const isHex = (byte: number | undefined) =>
  byte !== undefined && (isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46));

class GoJsonScanner {
  private i = 0;

  constructor(private readonly bytes: Uint8Array) {}

  private fail(context: string): never {
    const byte = this.bytes[this.i];
    if (byte === undefined) throw new JsonSyntaxError("unexpected EOF");
    throw new JsonSyntaxError(`invalid character ${quoteByte(byte)} ${context}`);
  }

  private skipSpace(): void {
    while (isSpace(this.bytes[this.i])) this.i++;
  }

  /** Offset just past the first value, or undefined when there is nothing but whitespace. */
  firstValueEnd(): number | undefined {
    this.skipSpace();
    if (this.i >= this.bytes.length) return undefined;
    this.value(0);
    return this.i;
  }

  /** Whether anything but whitespace follows (OPA's util.UnmarshalJSON refuses it). */
  trailing(): number | undefined {
    this.skipSpace();
    return this.bytes[this.i];
  }

  private value(depth: number): void {
    if (depth > GO_MAX_NESTING) throw new JsonSyntaxError("exceeded max depth");
    const byte = this.bytes[this.i];
    if (byte === 0x7b) this.object(depth + 1);
    else if (byte === 0x5b) this.array(depth + 1);
    else if (byte === 0x22) this.string();
    else if (byte === 0x2d || isDigit(byte)) this.number();
    else if (byte === 0x74) this.literal("true");
    else if (byte === 0x66) this.literal("false");
    else if (byte === 0x6e) this.literal("null");
    else this.fail("looking for beginning of value");
  }

  private object(depth: number): void {
    this.i++;
    this.skipSpace();
    if (this.bytes[this.i] === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      if (this.bytes[this.i] !== 0x22) this.fail("looking for beginning of object key string");
      this.string();
      this.skipSpace();
      if (this.bytes[this.i] !== 0x3a) this.fail("after object key");
      this.i++;
      this.skipSpace();
      this.value(depth);
      this.skipSpace();
      const next = this.bytes[this.i];
      if (next === 0x7d) {
        this.i++;
        return;
      }
      if (next !== 0x2c) this.fail("after object key:value pair");
      this.i++;
      this.skipSpace();
    }
  }

  private array(depth: number): void {
    this.i++;
    this.skipSpace();
    if (this.bytes[this.i] === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth);
      this.skipSpace();
      const next = this.bytes[this.i];
      if (next === 0x5d) {
        this.i++;
        return;
      }
      if (next !== 0x2c) this.fail("after array element");
      this.i++;
      this.skipSpace();
    }
  }

  private string(): void {
    this.i++;
    for (;;) {
      const byte = this.bytes[this.i];
      if (byte === undefined) this.fail("in string literal");
      if (byte === 0x22) {
        this.i++;
        return;
      }
      if (byte < 0x20) this.fail("in string literal");
      if (byte === 0x5c) {
        this.i++;
        const escaped = this.bytes[this.i];
        if (escaped === 0x75) {
          for (let k = 0; k < 4; k++) {
            this.i++;
            if (!isHex(this.bytes[this.i])) this.fail("in \\u hexadecimal character escape");
          }
        } else if (escaped === undefined || !'"\\/bfnrt'.includes(String.fromCharCode(escaped))) {
          this.fail("in string escape code");
        }
      }
      this.i++;
    }
  }

  private digits(): void {
    while (isDigit(this.bytes[this.i])) this.i++;
  }

  private number(): void {
    if (this.bytes[this.i] === 0x2d) {
      this.i++;
      if (!isDigit(this.bytes[this.i])) this.fail("in numeric literal");
    }
    if (this.bytes[this.i] === 0x30) this.i++;
    else this.digits();
    if (this.bytes[this.i] === 0x2e) {
      this.i++;
      if (!isDigit(this.bytes[this.i])) this.fail("after decimal point in numeric literal");
      this.digits();
    }
    const exponent = this.bytes[this.i];
    if (exponent === 0x65 || exponent === 0x45) {
      this.i++;
      const sign = this.bytes[this.i];
      if (sign === 0x2b || sign === 0x2d) this.i++;
      if (!isDigit(this.bytes[this.i])) this.fail("in exponent of numeric literal");
      this.digits();
    }
  }

  private literal(word: string): void {
    for (let k = 0; k < word.length; k++, this.i++) {
      if (this.bytes[this.i] !== word.charCodeAt(k)) this.fail(`in literal ${word} (expecting '${word[k]}')`);
    }
  }
}

/**
 * The first JSON value of `bytes`, as Go's json.Decoder reads it, or no input when there is only
 * whitespace (Decode's io.EOF). `strict`: nothing may follow (OPA's util.UnmarshalJSON).
 */
function decodeGoJson(bytes: Uint8Array, strict = false): Input {
  const scanner = new GoJsonScanner(bytes);
  const end = scanner.firstValueEnd();
  if (end === undefined) {
    if (strict) throw new JsonSyntaxError("EOF");
    return NO_INPUT;
  }
  if (strict) {
    // util.UnmarshalJSON asks the decoder for one more token: a syntax error, or a token that
    // should not be there (printed by its first character here, which is all of a delimiter).
    const next = scanner.trailing();
    if (next !== undefined) {
      const startsValue = '{}[]",:-0123456789tfn'.includes(String.fromCharCode(next));
      throw new JsonSyntaxError(
        startsValue
          ? `error: invalid character ${quoteByte(next)} after top-level value`
          : `invalid character ${quoteByte(next)} looking for beginning of value`,
      );
    }
  }
  return { present: true, value: JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, end).toString("utf8")) };
}

/** The body as one document; an empty body is no document (OPA ignores io.EOF). */
function parseDocument(req: IncomingMessage, body: Buffer): Input {
  if ((header(req.headers, "content-type") ?? "").includes("yaml")) {
    if (body.length === 0) return NO_INPUT;
    try {
      return { present: true, value: parseYaml(body.toString("utf8")) ?? null };
    } catch (error) {
      throw badRequest(`body contains malformed input document: ${errorMessage(error)}`);
    }
  }
  try {
    return decodeGoJson(body);
  } catch (error) {
    throw badRequest(`body contains malformed input document: ${errorMessage(error)}`);
  }
}

/** POST /v1/data: the body is {"input": ...}; a null or absent input is no input. */
function v1PostInput(document: Input): Input {
  if (!document.present || document.value === null) return NO_INPUT;
  const value = document.value;
  if (typeof value !== "object" || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "array" : typeof value;
    throw badRequest(
      `body contains malformed input document: json: cannot unmarshal ${kind} into Go value of type types.DataRequestV1`,
    );
  }
  // Go fills the struct field `input` from a key matching it exactly or case-insensitively; of
  // several such keys the last wins.
  let input: unknown;
  for (const [key, field] of Object.entries(value)) if (key.toLowerCase() === "input") input = field;
  return input === undefined || input === null ? NO_INPUT : { present: true, value: input };
}

// ---- The handler ----

export interface OpaHandlerOptions {
  /** MICROSTACK_AUTHZ_API_TOKEN: the bearer token of machine clients. Unset: sessions only. */
  apiToken?: string;
  /** Decision logging is on: responses carry `decision_id`, as OPA's do only then. */
  decisionLogging: boolean;
}

interface Timers {
  started: bigint;
  inputParseNs: bigint;
  decideNs: bigint | undefined;
  handlerNs: bigint;
}

function metricsDocument(timers: Timers, decision: Decision | undefined): Record<string, number> {
  // Sorted, as Go writes OPA's metrics map. OPA's names where OPA has the measurement.
  return {
    ...(decision ? { counter_authz_index_candidates: decision.candidates } : {}),
    ...(timers.decideNs === undefined ? {} : { timer_authz_decide_ns: Number(timers.decideNs) }),
    timer_rego_input_parse_ns: Number(timers.inputParseNs),
    timer_server_handler_ns: Number(timers.handlerNs),
  };
}

function withCaller(input: unknown, caller: Caller): unknown {
  // "When principal is omitted, it is the authenticated caller."
  if (!caller.actor || input === null || typeof input !== "object" || Array.isArray(input)) return input;
  if ((input as Record<string, unknown>).principal !== undefined) return input;
  const { type, id, email } = caller.actor;
  return { ...input, principal: { type, id, email } };
}

async function decideFor(
  input: unknown,
  caller: Caller,
  segments: readonly string[],
  explain: boolean,
): Promise<{ decision: Decision; decisionId: string }> {
  let request: ReturnType<typeof parseAuthzRequest>;
  try {
    request = parseAuthzRequest(withCaller(input, caller), "input");
  } catch (error) {
    if (isAppError(error) && error.code === "INVALID_INPUT") {
      throw badRequest(
        error.message,
        error.invalidParams.map((param) => ({ code: "invalid_parameter", message: `${param.name}: ${param.reason}` })),
      );
    }
    throw error;
  }
  try {
    return await queryDecision(caller.actor, request, {
      explain,
      path: decisionLogPath(segments),
      trusted: caller.trusted,
    });
  } catch (error) {
    // Asking about someone else without authz:query there: OPA's authorizer answers a refused
    // request 401 "unauthorized". The same answer whether or not the organization exists.
    if (
      isAppError(error) &&
      (error.code === "FORBIDDEN" || error.code === "NOT_FOUND" || error.code === "UNAUTHORIZED")
    ) {
      throw new OpaError(401, "unauthorized", MSG_UNAUTHORIZED);
    }
    throw error;
  }
}

function provenanceDocument(revision: number): Record<string, unknown> {
  // OPA's ProvenanceV1 field order; the rule store's revision plays a bundle's revision.
  return {
    bundles: { [DEFAULT_DECISION_PATH[0] as string]: { revision: String(revision) } },
    version: packageJson.version,
    build_commit: "",
    build_timestamp: "",
    build_hostname: "",
  };
}

async function serve(
  route: OpaRoute,
  req: IncomingMessage,
  res: ServerResponse,
  options: OpaHandlerOptions,
  tokenDigest: Buffer | undefined,
): Promise<void> {
  const started = process.hrtime.bigint();
  const caller = await authenticate(req, tokenDigest);
  if ("refused" in caller) {
    req.resume();
    sendError(req, res, new OpaError(401, "unauthorized", caller.refused), {
      "www-authenticate": 'Bearer realm="microstack"',
    });
    return;
  }
  const context = getRequestContext();
  if (context && caller.actor) context.actorId = caller.actor.id;

  const method = req.method ?? "GET";
  const allowed = ALLOWED_METHODS[route.kind];
  if (!allowed.includes(method)) {
    req.resume();
    res.writeHead(405, { allow: allowed.join(", "), "content-length": 0 });
    res.end();
    return;
  }

  const params = new QueryParams(route.query);
  const pretty = params.bool("pretty");
  const isV1 = route.kind === "v1";
  // v0 and POST / report their errors behind OPA's "unexpected parse error for input: ".
  const inputError = (error: unknown) =>
    !isV1 && error instanceof OpaError && error.code === "invalid_parameter"
      ? badRequest(`unexpected parse error for input: ${error.message}`)
      : error;

  const inputStarted = process.hrtime.bigint();
  let input: Input;
  let isInputKeyMissing = false;
  if (isV1 && method === "GET") {
    req.resume();
    const raw = params.input();
    if (raw === undefined) input = NO_INPUT;
    else {
      try {
        input = decodeGoJson(Buffer.from(raw, "utf8"), true);
      } catch (error) {
        throw badRequest(`parameter contains malformed input document: ${errorMessage(error)}`);
      }
    }
  } else {
    let document: Input;
    try {
      document = parseDocument(req, await decodedBody(req));
      input = isV1 ? v1PostInput(document) : document;
    } catch (error) {
      throw inputError(error);
    }
    isInputKeyMissing = isV1 && !input.present;
  }
  const inputParseNs = process.hrtime.bigint() - inputStarted;

  let segments: readonly string[] = DEFAULT_DECISION_PATH;
  if (route.kind !== "default") {
    const parsed = parseDataPath(route.escapedPath);
    if (!parsed.ok) throw badRequest(parsed.message);
    segments = parsed.segments;
  }

  const explainMode = isV1 ? params.explain() : "off";
  let decision: Decision | undefined;
  let decisionId: string | undefined;
  let decideNs: bigint | undefined;
  if (input.present && needsDecision(segments)) {
    const decideStarted = process.hrtime.bigint();
    ({ decision, decisionId } = await decideFor(input.value, caller, segments, explainMode !== "off"));
    decideNs = process.hrtime.bigint() - decideStarted;
  }
  const evaluation = evaluateDataPath(segments, decision);
  const handlerNs = process.hrtime.bigint() - started;

  if (!isV1) {
    if (!evaluation.defined) {
      const kind = evaluation.kind === "undefined" ? "document undefined" : "document missing";
      throw new OpaError(404, "undefined_document", `${kind}: ${dataRef(segments)}`);
    }
    send(req, res, 200, goJson(sortKeys(evaluation.value), pretty));
    return;
  }

  // OPA's DataResponseV1 field order: provenance, metrics, result, warning, decision_id, explanation.
  const body: Record<string, unknown> = {};
  if (params.bool("provenance")) body.provenance = provenanceDocument(decision?.revision ?? peekSnapshot().revision);
  if (params.bool("metrics") || params.bool("instrument")) {
    body.metrics = metricsDocument({ started, inputParseNs, decideNs, handlerNs }, decision);
  }
  if (evaluation.defined) body.result = sortKeys(evaluation.value);
  if (isInputKeyMissing) body.warning = { code: "api_usage_warning", message: MSG_INPUT_KEY_MISSING };
  if (options.decisionLogging && decisionId) body.decision_id = decisionId;
  if (evaluation.defined && decision?.explanation) {
    body.explanation = pretty
      ? explanationLines(decision, decision.explanation)
      : sortKeys(explanationDocument(decision.explanation));
  }
  send(req, res, 200, goJson(body, pretty));
}

/**
 * A Node request handler for the OPA-compatible API. Returns false, touching nothing, when the
 * request is not an OPA route (the caller hands it to Next); otherwise answers it and returns true.
 */
export function createOpaHandler(options: OpaHandlerOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const tokenDigest = options.apiToken ? digest(options.apiToken) : undefined;
  return (req, res) => {
    const route = matchOpaRoute(req.method ?? "GET", req.url ?? "/", req.headers);
    if (!route) return false;
    serve(route, req, res, options, tokenDigest).catch((error: unknown) => {
      if (error instanceof OpaError) {
        sendError(req, res, error, error.status === 400 && !req.complete ? { connection: "close" } : undefined);
        return;
      }
      const requestId = getRequestContext()?.requestId ?? randomUUID();
      log.error({ err: error, requestId }, "OPA API request failed");
      countUnhandledError("process");
      sendError(req, res, new OpaError(500, "internal_error", `Something went wrong (request ${requestId})`));
    });
    return true;
  };
}

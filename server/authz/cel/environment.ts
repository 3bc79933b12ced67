import "server-only";
import { Environment } from "@marcbachmann/cel-js";
import {
  ATTRIBUTE_FIELDS,
  CEL_DURATION,
  CEL_TIMESTAMP,
  CONDITION_VARIABLES,
  type ConditionInput,
  MAX_ATTRIBUTE_COLLECTION_SIZE,
  MAX_ATTRIBUTE_STRING_LENGTH,
  PRINCIPAL_FIELDS,
  PRINCIPAL_TYPE,
  REQUEST_FIELDS,
  REQUEST_TYPE,
  RESOURCE_FIELDS,
  RESOURCE_TYPE,
} from "./attributes";

/** An attribute value above the bounds the cost estimate assumes; the condition denies. */
export class ConditionInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConditionInputError";
  }
}

/**
 * Checks one attribute value against the bounds the cost model depends on (sizes); types are
 * cel-js's job at access, where a mismatch becomes an evaluation error.
 */
export function assertAttributeWithinBounds(path: string, value: unknown): void {
  if (typeof value === "string") {
    if (value.length > MAX_ATTRIBUTE_STRING_LENGTH) {
      throw new ConditionInputError(`${path} is longer than ${MAX_ATTRIBUTE_STRING_LENGTH} characters`);
    }
  } else if (Array.isArray(value)) {
    if (value.length > MAX_ATTRIBUTE_COLLECTION_SIZE) {
      throw new ConditionInputError(`${path} has more than ${MAX_ATTRIBUTE_COLLECTION_SIZE} items`);
    }
  } else if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    let count = 0;
    for (const key in value) {
      const entry = (value as Record<string, unknown>)[key];
      if (++count > MAX_ATTRIBUTE_COLLECTION_SIZE) {
        throw new ConditionInputError(`${path} has more than ${MAX_ATTRIBUTE_COLLECTION_SIZE} entries`);
      }
      if (
        key.length > MAX_ATTRIBUTE_STRING_LENGTH ||
        (typeof entry === "string" && entry.length > MAX_ATTRIBUTE_STRING_LENGTH)
      ) {
        throw new ConditionInputError(`${path}.${key} is longer than ${MAX_ATTRIBUTE_STRING_LENGTH} characters`);
      }
    }
  }
}

function asRecord(raw: unknown, typeName: string): Record<string, unknown> {
  if (raw === null || typeof raw !== "object") throw new ConditionInputError(`${typeName} must be an object`);
  return raw as Record<string, unknown>;
}

// Own classes rather than cel-js's schema wrappers: cel-js's default wrapper is a lazy Map
// subclass rebuilt on every evaluation, while these have one fixed shape (fast field reads),
// are checked against the bounds once, and can be built once per request and reused by every
// condition of that request (prepareConditionInput). Each checks its fields in the order the
// schema declares them (attributes.ts), so the first value out of bounds is the one reported.
class PrincipalValue {
  id: unknown;
  type: unknown;
  email: unknown;
  roles: unknown;
  teams: unknown;
  mfa: unknown;
  attributes: unknown;
  constructor(input: unknown) {
    this.assign(input);
  }
  assign(input: unknown): void {
    const raw = asRecord(input, "principal");
    this.id = raw.id;
    this.type = raw.type;
    this.email = raw.email;
    this.roles = raw.roles;
    this.teams = raw.teams;
    this.mfa = raw.mfa;
    this.attributes = raw.attributes;
    assertAttributeWithinBounds("principal.id", this.id);
    assertAttributeWithinBounds("principal.type", this.type);
    assertAttributeWithinBounds("principal.email", this.email);
    assertAttributeWithinBounds("principal.roles", this.roles);
    assertAttributeWithinBounds("principal.teams", this.teams);
    assertAttributeWithinBounds("principal.mfa", this.mfa);
    assertAttributeWithinBounds("principal.attributes", this.attributes);
  }
}

class ResourceValue {
  type: unknown;
  id: unknown;
  organizationId: unknown;
  projectId: unknown;
  environment: unknown;
  createdBy: unknown;
  labels: unknown;
  constructor(input: unknown) {
    this.assign(input);
  }
  assign(input: unknown): void {
    const raw = asRecord(input, "resource");
    this.type = raw.type;
    this.id = raw.id;
    this.organizationId = raw.organizationId;
    this.projectId = raw.projectId;
    this.environment = raw.environment;
    this.createdBy = raw.createdBy;
    this.labels = raw.labels;
    assertAttributeWithinBounds("resource.type", this.type);
    assertAttributeWithinBounds("resource.id", this.id);
    assertAttributeWithinBounds("resource.organizationId", this.organizationId);
    assertAttributeWithinBounds("resource.projectId", this.projectId);
    assertAttributeWithinBounds("resource.environment", this.environment);
    assertAttributeWithinBounds("resource.createdBy", this.createdBy);
    assertAttributeWithinBounds("resource.labels", this.labels);
  }
}

class RequestValue {
  time: unknown;
  ip: unknown;
  mfa: unknown;
  userAgent: unknown;
  constructor(input: unknown) {
    this.assign(input);
  }
  assign(input: unknown): void {
    const raw = asRecord(input, "request");
    this.time = raw.time;
    this.ip = raw.ip;
    this.mfa = raw.mfa;
    this.userAgent = raw.userAgent;
    assertAttributeWithinBounds("request.time", this.time);
    assertAttributeWithinBounds("request.ip", this.ip);
    assertAttributeWithinBounds("request.mfa", this.mfa);
    assertAttributeWithinBounds("request.userAgent", this.userAgent);
  }
}

/**
 * Literal parameters of a template (see template.ts) are variables of the shared environment,
 * one family per literal type, so every template of every condition type-checks against the
 * same environment. The `__` prefix is refused in user sources, so no condition can read them.
 */
export const PARAM_PREFIX = "__";
export const PARAM_KINDS = {
  s: "string",
  i: "int",
  d: "double",
  b: "bool",
  ls: "list<string>",
  li: "list<int>",
  ld: "list<double>",
  lb: "list<bool>",
  t: CEL_TIMESTAMP,
  u: CEL_DURATION,
} as const;
export type ParamKind = keyof typeof PARAM_KINDS;
/** Above this many literals of one kind the rest stay inline: correct, just a rarer template. */
export const MAX_PARAMS_PER_KIND = 32;

export function paramName(kind: ParamKind, index: number): string {
  return `${PARAM_PREFIX}${kind}${index}`;
}

/**
 * Templates read `principal.mfa` through a flat variable `__principal_mfa` of the field's type:
 * in cel-js a declared-type field read costs about 90 ns (constructor lookup, field table, value
 * type check) and a plain variable about 15 ns, which halves the three-clause condition.
 * Type checking is unchanged: the flat variable has exactly the field's declared type, and the
 * author's own tree is still checked against the declared record types first.
 */
export function flatAttributeName(root: string, field: string): string {
  return `${PARAM_PREFIX}${root}_${field}`;
}

/** Every flat attribute variable and the record field it reads. */
export const FLAT_ATTRIBUTES: ReadonlyMap<string, { readonly record: string; readonly field: string }> = new Map(
  Object.entries(ATTRIBUTE_FIELDS).flatMap(([record, fields]) =>
    Object.keys(fields).map((field) => [flatAttributeName(record, field), { record, field }] as const),
  ),
);

// Parser limits are a backstop far above what the cost bound lets through (compile.ts reports
// those with a friendlier message); they stop pathological input before a tree is built.
export const PARSER_LIMITS = {
  maxAstNodes: 2_000,
  maxDepth: 48,
  maxListElements: 1_000,
  maxMapEntries: 100,
  maxCallArguments: 8,
} as const;

function createConditionEnvironment(): Environment {
  const convert = <T>(Ctor: new (input: unknown) => T) => ({
    ctor: Ctor,
    convert: (value: unknown) => (value instanceof Ctor ? value : new Ctor(value)),
  });
  const env = new Environment({ limits: PARSER_LIMITS, homogeneousAggregateLiterals: true })
    .registerType(PRINCIPAL_TYPE, { ...convert(PrincipalValue), fields: PRINCIPAL_FIELDS })
    .registerType(RESOURCE_TYPE, { ...convert(ResourceValue), fields: RESOURCE_FIELDS })
    .registerType(REQUEST_TYPE, { ...convert(RequestValue), fields: REQUEST_FIELDS });
  for (const [name, type] of Object.entries(CONDITION_VARIABLES)) env.registerVariable(name, type);
  for (const [root, fields] of Object.entries(ATTRIBUTE_FIELDS)) {
    for (const [field, type] of Object.entries(fields)) env.registerVariable(flatAttributeName(root, field), type);
  }
  for (const [kind, type] of Object.entries(PARAM_KINDS)) {
    for (let index = 0; index < MAX_PARAMS_PER_KIND; index++)
      env.registerVariable(paramName(kind as ParamKind, index), type);
  }
  return env;
}

/** Built once: cel-js environments are expensive to create and safe to share. */
export const conditionEnvironment = createConditionEnvironment();

/**
 * Attribute values wrapped and bounds-checked once per request, shared by its conditions.
 * Every context variable a template can read is a property of this object under the name the
 * template reads (ConditionContext.get looks it up by that name): the records, `action`, and
 * each flat attribute (flatAttributeName: `__principal_mfa` is principal.mfa). Plain fields
 * assigned in one order give every prepared input one hidden class, and building one costs a
 * few dozen stores (a dictionary built from FLAT_ATTRIBUTES cost about 2 us per request).
 * environment.test.ts checks that the fields cover FLAT_ATTRIBUTES exactly.
 */
export class PreparedConditionInput {
  principal: PrincipalValue;
  resource: ResourceValue;
  action: unknown;
  request: RequestValue;
  __principal_id: unknown;
  __principal_type: unknown;
  __principal_email: unknown;
  __principal_roles: unknown;
  __principal_teams: unknown;
  __principal_mfa: unknown;
  __principal_attributes: unknown;
  __resource_type: unknown;
  __resource_id: unknown;
  __resource_organizationId: unknown;
  __resource_projectId: unknown;
  __resource_environment: unknown;
  __resource_createdBy: unknown;
  __resource_labels: unknown;
  __request_time: unknown;
  __request_ip: unknown;
  __request_mfa: unknown;
  __request_userAgent: unknown;

  constructor(input: ConditionInput) {
    this.principal = new PrincipalValue(input.principal);
    this.resource = new ResourceValue(input.resource);
    this.action = input.action;
    this.request = new RequestValue(input.request);
    this.copyAttributes();
  }

  /**
   * Prepares this object again for another request, in place (the engine keeps one per
   * evaluation context, so a decision allocates no input). Throws like the constructor; the
   * object must not be used after a throw until the next refill.
   */
  refill(input: ConditionInput): void {
    this.principal.assign(input.principal);
    this.resource.assign(input.resource);
    this.action = input.action;
    this.request.assign(input.request);
    this.copyAttributes();
  }

  private copyAttributes(): void {
    const { principal, resource, request } = this;
    this.__principal_id = principal.id;
    this.__principal_type = principal.type;
    this.__principal_email = principal.email;
    this.__principal_roles = principal.roles;
    this.__principal_teams = principal.teams;
    this.__principal_mfa = principal.mfa;
    this.__principal_attributes = principal.attributes;
    this.__resource_type = resource.type;
    this.__resource_id = resource.id;
    this.__resource_organizationId = resource.organizationId;
    this.__resource_projectId = resource.projectId;
    this.__resource_environment = resource.environment;
    this.__resource_createdBy = resource.createdBy;
    this.__resource_labels = resource.labels;
    this.__request_time = request.time;
    this.__request_ip = request.ip;
    this.__request_mfa = request.mfa;
    this.__request_userAgent = request.userAgent;
  }
}

/**
 * Wraps and bounds-checks the attribute values once, so evaluating N conditions for one request
 * does not re-wrap them N times. Throws ConditionInputError on values above the bounds; the
 * engine denies the request then. evaluateCondition also accepts the plain input (wrapping it
 * itself, per call, without throwing).
 */
export function prepareConditionInput(input: ConditionInput): PreparedConditionInput {
  return new PreparedConditionInput(input);
}

export type ConditionVars = ConditionInput | PreparedConditionInput;

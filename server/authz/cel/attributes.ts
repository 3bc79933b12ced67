// The attribute schemas ABAC conditions are type-checked against when a rule is saved.
// Pure data on purpose (no cel-js, no server-only): the policy editor can import it for
// completions and the docs can print it, while environment.ts turns it into cel-js types.
// Field types use cel-js's type syntax, which is CEL's (`list<string>`, `map<string, string>`);
// timestamps are spelled by their protobuf name because cel-js has no `timestamp` alias.

export const CEL_TIMESTAMP = "google.protobuf.Timestamp";
export const CEL_DURATION = "google.protobuf.Duration";

export const PRINCIPAL_TYPE = "microstack.authz.Principal";
export const RESOURCE_TYPE = "microstack.authz.Resource";
export const REQUEST_TYPE = "microstack.authz.Request";

export const PRINCIPAL_FIELDS = {
  id: "string",
  type: "string",
  email: "string",
  roles: "list<string>",
  teams: "list<string>",
  mfa: "bool",
  attributes: "map<string, string>",
} as const;

export const RESOURCE_FIELDS = {
  type: "string",
  id: "string",
  organizationId: "string",
  projectId: "string",
  environment: "string",
  createdBy: "string",
  labels: "map<string, string>",
} as const;

export const REQUEST_FIELDS = {
  time: CEL_TIMESTAMP,
  ip: "string",
  mfa: "bool",
  userAgent: "string",
} as const;

/** The only top-level names a condition may use. */
export const CONDITION_VARIABLES = {
  principal: PRINCIPAL_TYPE,
  resource: RESOURCE_TYPE,
  action: "string",
  request: REQUEST_TYPE,
} as const;

export type ConditionVariableName = keyof typeof CONDITION_VARIABLES;

/** The attribute records and their declared fields, by variable name. */
export const ATTRIBUTE_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  principal: PRINCIPAL_FIELDS,
  resource: RESOURCE_FIELDS,
  request: REQUEST_FIELDS,
};

// Maps, not objects: a condition's identifiers must never resolve through Object.prototype, and
// Map lookups with the parser's (non-internalized) substrings are cheaper than Object.hasOwn.
const VARIABLE_NAMES: ReadonlySet<string> = new Set(Object.keys(CONDITION_VARIABLES));
const FIELD_TYPES: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map(
  Object.entries(ATTRIBUTE_FIELDS).map(([record, fields]) => [record, new Map(Object.entries(fields))]),
);

export function isConditionVariable(name: string): name is ConditionVariableName {
  return VARIABLE_NAMES.has(name);
}

export function isAttributeRecord(name: string): boolean {
  return FIELD_TYPES.has(name);
}

/** The declared type of `<record>.<field>`, e.g. `principal.roles` is `list<string>`. */
export function declaredFieldType(record: string, field: string): string | undefined {
  return FIELD_TYPES.get(record)?.get(field);
}

// Runtime bounds on attribute values. cel-js has no evaluation step counter, so the save-time
// cost estimate (cost.ts) assumes these sizes and the value wrappers (environment.ts) refuse
// inputs above them: together they bound the work any accepted condition can do.
export const MAX_ATTRIBUTE_COLLECTION_SIZE = 100;
export const MAX_ATTRIBUTE_STRING_LENGTH = 1024;

/**
 * Values a condition sees. Every declared field must be present: a missing attribute is an
 * evaluation error (the engine denies), never a silent proto3-style default such as "".
 */
export interface PrincipalAttributes {
  id: string;
  type: string;
  email: string;
  roles: readonly string[];
  teams: readonly string[];
  mfa: boolean;
  attributes: Readonly<Record<string, string>>;
}

export interface ResourceAttributes {
  type: string;
  id: string;
  organizationId: string;
  /** "" for organization-level resources. */
  projectId: string;
  /** "" when the resource is not tied to an environment. */
  environment: string;
  createdBy: string;
  labels: Readonly<Record<string, string>>;
}

export interface RequestAttributes {
  time: Date;
  ip: string;
  mfa: boolean;
  userAgent: string;
}

export interface ConditionInput {
  principal: PrincipalAttributes;
  resource: ResourceAttributes;
  action: string;
  request: RequestAttributes;
}

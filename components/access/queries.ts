import { infiniteQueryOptions, queryOptions } from "@tanstack/react-query";
import type { DecisionLogPage } from "@/server/audit/schema";
import type {
  AuthzRequestInput,
  BindingDto,
  BindingInput,
  CustomRoleInput,
  Decision,
  OrganizationDirectory,
  PolicyDto,
  PolicyInput,
  PolicyTestResult,
  RoleDto,
} from "@/server/authz/schema";

export type { OrganizationDirectory };

// The access admin UI's reads (query option factories) and writes (plain functions for
// useMutation), all against /api/v1. Errors arrive as problem+json and become ApiError, whose
// code the UI maps to errors:code.* and whose invalid params go to the form fields.

export { ApiError, type InvalidParam } from "@/components/ui/api-error";
import { apiFetch } from "@/components/ui/api-fetch";

const api = apiFetch;

const orgPath = (org: string) => `/api/v1/organizations/${encodeURIComponent(org)}`;

export const accessKeys = {
  all: (org: string) => ["access", org] as const,
  roles: (org: string) => ["access", org, "roles"] as const,
  bindings: (org: string) => ["access", org, "bindings"] as const,
  policies: (org: string) => ["access", org, "policies"] as const,
  directory: (org: string) => ["access", org, "directory"] as const,
};

export function rolesQuery(org: string) {
  return queryOptions({
    queryKey: accessKeys.roles(org),
    queryFn: ({ signal }) => api<{ items: RoleDto[] }>(`${orgPath(org)}/roles`, { signal }).then((r) => r.items),
  });
}

export function bindingsQuery(org: string) {
  return queryOptions({
    queryKey: accessKeys.bindings(org),
    queryFn: ({ signal }) => api<{ items: BindingDto[] }>(`${orgPath(org)}/bindings`, { signal }).then((r) => r.items),
  });
}

export function policiesQuery(org: string) {
  return queryOptions({
    queryKey: accessKeys.policies(org),
    queryFn: ({ signal }) => api<{ items: PolicyDto[] }>(`${orgPath(org)}/policies`, { signal }).then((r) => r.items),
  });
}

export function directoryQuery(org: string) {
  return queryOptions({
    queryKey: accessKeys.directory(org),
    queryFn: ({ signal }) => api<OrganizationDirectory>(`${orgPath(org)}/directory`, { signal }),
    staleTime: 60_000,
  });
}

export type ConditionCheck = { ok: true } | { ok: false; message: string; line: number; column: number };

/** The live CEL check; key it by the debounced source so each pause in typing asks once. */
export function conditionCheckQuery(source: string) {
  return queryOptions({
    queryKey: ["access", "condition-check", source] as const,
    queryFn: ({ signal }) =>
      api<ConditionCheck>("/api/v1/authz/conditions/check", { method: "POST", json: { source }, signal }),
    enabled: source.trim() !== "",
    staleTime: Number.POSITIVE_INFINITY,
    retry: false,
  });
}

export interface DecisionLogFilters {
  organizationId: string;
  principalId?: string;
  action?: string;
  effect?: "allow" | "deny";
  reasonCode?: string;
  from?: string;
  to?: string;
}

export function decisionLogQuery(filters: DecisionLogFilters) {
  return infiniteQueryOptions({
    queryKey: ["decision-log", filters],
    queryFn: ({ pageParam, signal }) => {
      const params = new URLSearchParams({ limit: "50" });
      for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
      if (pageParam) params.set("cursor", pageParam);
      return api<DecisionLogPage>(`/api/v1/decision-log?${params}`, { signal });
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
}

// ---- Writes (for useMutation) ----

export const createRole = (org: string, input: CustomRoleInput) =>
  api<RoleDto>(`${orgPath(org)}/roles`, { method: "POST", json: input });

export const updateRole = (org: string, roleId: string, input: CustomRoleInput) =>
  api<RoleDto>(`${orgPath(org)}/roles/${encodeURIComponent(roleId)}`, { method: "PUT", json: input });

export const deleteRole = (org: string, roleId: string) =>
  api<void>(`${orgPath(org)}/roles/${encodeURIComponent(roleId)}`, { method: "DELETE" });

export const createBinding = (org: string, input: BindingInput) =>
  api<BindingDto>(`${orgPath(org)}/bindings`, { method: "POST", json: input });

export const deleteBinding = (org: string, bindingId: string) =>
  api<void>(`${orgPath(org)}/bindings/${encodeURIComponent(bindingId)}`, { method: "DELETE" });

export const createPolicy = (org: string, input: PolicyInput) =>
  api<PolicyDto>(`${orgPath(org)}/policies`, { method: "POST", json: input });

export const updatePolicy = (org: string, policyId: string, input: PolicyInput) =>
  api<PolicyDto>(`${orgPath(org)}/policies/${encodeURIComponent(policyId)}`, { method: "PUT", json: input });

export const deletePolicy = (org: string, policyId: string) =>
  api<void>(`${orgPath(org)}/policies/${encodeURIComponent(policyId)}`, { method: "DELETE" });

export interface PolicyTestRun {
  passed: number;
  failed: number;
  results: PolicyTestResult[];
}

export const runPolicyTests = (org: string) => api<PolicyTestRun>(`${orgPath(org)}/policy-tests`, { method: "POST" });

export interface DecisionAnswer {
  decisionId: string;
  decision: Decision;
}

export const askDecision = (request: AuthzRequestInput) =>
  api<DecisionAnswer>("/api/v1/authz/decisions?explain=true", { method: "POST", json: request });

// Every UI string, for the server (one i18next instance per request) and the client (the
// instance in the app's provider). Isomorphic: plain data.
import enAccess from "./en/access.json";
import enApi from "./en/api.json";
import enApprovals from "./en/approvals.json";
import enAudit from "./en/audit.json";
import enRunview from "./en/runview.json";
import enPipelines from "./en/pipelines.json";
import enAuth from "./en/auth.json";
import enCommon from "./en/common.json";
import enErrors from "./en/errors.json";
import enHome from "./en/home.json";
import enLogs from "./en/logs.json";
import enProjects from "./en/projects.json";
import enRuns from "./en/runs.json";
import enSettings from "./en/settings.json";
import enShell from "./en/shell.json";
import zhAccess from "./zh-CN/access.json";
import zhApi from "./zh-CN/api.json";
import zhApprovals from "./zh-CN/approvals.json";
import zhAudit from "./zh-CN/audit.json";
import zhRunview from "./zh-CN/runview.json";
import zhPipelines from "./zh-CN/pipelines.json";
import zhAuth from "./zh-CN/auth.json";
import zhCommon from "./zh-CN/common.json";
import zhErrors from "./zh-CN/errors.json";
import zhHome from "./zh-CN/home.json";
import zhLogs from "./zh-CN/logs.json";
import zhProjects from "./zh-CN/projects.json";
import zhRuns from "./zh-CN/runs.json";
import zhSettings from "./zh-CN/settings.json";
import zhShell from "./zh-CN/shell.json";

export const NAMESPACES = [
  "common",
  "shell",
  "auth",
  "home",
  "projects",
  "audit",
  "access",
  "settings",
  "errors",
  "api",
  "approvals",
  "runs",
  "runview",
  "pipelines",
  "logs",
] as const;
export type Namespace = (typeof NAMESPACES)[number];

export const RESOURCES = {
  en: {
    common: enCommon,
    shell: enShell,
    auth: enAuth,
    home: enHome,
    projects: enProjects,
    audit: enAudit,
    access: enAccess,
    settings: enSettings,
    errors: enErrors,
    api: enApi,
    approvals: enApprovals,
    runs: enRuns,
    runview: enRunview,
    pipelines: enPipelines,
    logs: enLogs,
  },
  "zh-CN": {
    common: zhCommon,
    shell: zhShell,
    auth: zhAuth,
    home: zhHome,
    projects: zhProjects,
    audit: zhAudit,
    access: zhAccess,
    settings: zhSettings,
    errors: zhErrors,
    api: zhApi,
    approvals: zhApprovals,
    runs: zhRuns,
    runview: zhRunview,
    pipelines: zhPipelines,
    logs: zhLogs,
  },
} as const;

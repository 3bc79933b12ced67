// Every UI string, for the server (one i18next instance per request) and the client (the
// instance in the app's provider). Isomorphic: plain data.
import enAccess from "./en/access.json";
import enApi from "./en/api.json";
import enAudit from "./en/audit.json";
import enAuth from "./en/auth.json";
import enCommon from "./en/common.json";
import enErrors from "./en/errors.json";
import enHome from "./en/home.json";
import enProjects from "./en/projects.json";
import enSettings from "./en/settings.json";
import enShell from "./en/shell.json";
import zhAccess from "./zh-CN/access.json";
import zhApi from "./zh-CN/api.json";
import zhAudit from "./zh-CN/audit.json";
import zhAuth from "./zh-CN/auth.json";
import zhCommon from "./zh-CN/common.json";
import zhErrors from "./zh-CN/errors.json";
import zhHome from "./zh-CN/home.json";
import zhProjects from "./zh-CN/projects.json";
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
  },
} as const;

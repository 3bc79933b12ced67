// One entry point for the UI and the API: which CI system a pasted file comes from, and the
// import itself.
import { parseDocument } from "yaml";
import { importGitHubActions } from "./github-actions";
import { importGitLabCi } from "./gitlab-ci";
import type { ImportFormat, ImportOptions, ImportResult } from "./types";

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * "github-actions" or "gitlab-ci" from the file name when it says (`.github/workflows/*.yml`,
 * `.gitlab-ci.yml`), else from the content (jobs with runs-on or steps; jobs with script or
 * stages/include/default); null when neither fits.
 */
export function detectImportFormat(text: string, fileName?: string): ImportFormat | null {
  if (fileName !== undefined) {
    const normalized = fileName.replace(/\\/g, "/").toLowerCase();
    if (/(^|\/)\.gitlab-ci\.ya?ml$/.test(normalized) || /\.gitlab-ci\.ya?ml$/.test(normalized)) return "gitlab-ci";
    if (/(^|\/)\.github\/workflows\/[^/]+\.ya?ml$/.test(normalized)) return "github-actions";
  }
  let data: unknown;
  try {
    // A GitLab file may start with a `spec:` header document.
    const documents = text.split(/^---\s*$/m);
    const body =
      documents.length > 1 && /^\s*spec:/m.test(documents[0] ?? "") ? documents.slice(1).join("---\n") : text;
    const document = parseDocument(body, { merge: true, uniqueKeys: false, prettyErrors: false });
    data = document.toJS({ maxAliasCount: 10_000 });
  } catch {
    return null;
  }
  if (!isRecord(data)) return null;
  const jobs = data.jobs;
  if (
    isRecord(jobs) &&
    ("on" in data ||
      Object.values(jobs).some((job) => isRecord(job) && ("runs-on" in job || "steps" in job || "uses" in job)))
  ) {
    return "github-actions";
  }
  if ("stages" in data || "include" in data || "default" in data) return "gitlab-ci";
  const jobLike = Object.entries(data).some(
    ([key, value]) =>
      isRecord(value) && ("script" in value || "extends" in value || "trigger" in value) && key !== "jobs",
  );
  if (jobLike) return "gitlab-ci";
  return null;
}

/** Imports a workflow of the given (or detected) format. */
export function importPipeline(
  text: string,
  options: ImportOptions & { format?: ImportFormat } = {},
): ImportResult & { format: ImportFormat | null } {
  const format = options.format ?? detectImportFormat(text, options.fileName);
  const rest: ImportOptions = {};
  if (options.name !== undefined) rest.name = options.name;
  if (options.fileName !== undefined) rest.fileName = options.fileName;
  if (format === "github-actions") return { ...importGitHubActions(text, rest), format };
  if (format === "gitlab-ci") return { ...importGitLabCi(text, rest), format };
  return {
    format: null,
    yaml: "",
    pipeline: null,
    notes: [
      {
        severity: "error",
        code: "unknown-format",
        path: "",
        line: 1,
        column: 1,
        message:
          "This is neither a GitHub Actions workflow (jobs: with runs-on and steps) nor a .gitlab-ci.yml (jobs with script:); choose the format explicitly if it is one of them.",
      },
    ],
  };
}

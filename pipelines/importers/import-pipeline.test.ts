import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { detectImportFormat, importPipeline } from "./import-pipeline";

const FIXTURES = path.join(import.meta.dirname, "fixtures");

function files(format: "github" | "gitlab"): string[] {
  return readdirSync(path.join(FIXTURES, format))
    .filter((file) => file.endsWith(".yml"))
    .map((file) => path.join(FIXTURES, format, file));
}

describe("detectImportFormat", () => {
  it.each(files("github"))("recognises %s as GitHub Actions from its content", (file) => {
    expect(detectImportFormat(readFileSync(file, "utf8"))).toBe("github-actions");
  });

  it.each(files("gitlab"))("recognises %s as GitLab CI from its content", (file) => {
    expect(detectImportFormat(readFileSync(file, "utf8"))).toBe("gitlab-ci");
  });

  it("trusts the file name when it says", () => {
    expect(detectImportFormat("foo: bar\n", "repo/.gitlab-ci.yml")).toBe("gitlab-ci");
    expect(detectImportFormat("foo: bar\n", ".github/workflows/ci.yaml")).toBe("github-actions");
  });

  it("says null for anything else", () => {
    expect(detectImportFormat("name: x\nsteps: []\n")).toBeNull();
    expect(detectImportFormat("[unclosed")).toBeNull();
  });
});

describe("importPipeline", () => {
  it("dispatches on the detected format and passes the name on", () => {
    const result = importPipeline("build:\n  script: make\n", { name: "From GitLab" });
    expect(result.format).toBe("gitlab-ci");
    expect(result.pipeline?.name).toBe("From GitLab");
  });

  it("reports a file of neither format", () => {
    const result = importPipeline("hello: world\n");
    expect(result).toMatchObject({ format: null, yaml: "", pipeline: null });
    expect(result.notes[0]?.code).toBe("unknown-format");
  });
});

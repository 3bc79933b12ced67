// Job scripts. A GitHub job is a list of steps, each run by its own shell process; a Microstack
// run step is one script. The steps are put one after the other, each under a `# name` comment,
// with GitHub's error semantics kept: `set -e` (and pipefail where GitHub uses it), a subshell
// around a step that changes shell state (`cd`, `exit`, `export`, ...) so the next step starts
// where GitHub would start it, steps in other shells written to a file and run by that shell,
// and, when steps have status conditions (`if: always()`, `if: failure()`) or
// continue-on-error, a "tracked" script that runs every step in a subshell and remembers whether
// one failed. GitLab's before_script, script and after_script become one script the same way.

export type StepShell =
  | { kind: "bash"; pipefail: boolean }
  | { kind: "sh" }
  | { kind: "pwsh" }
  | { kind: "python" }
  | { kind: "custom"; command: string };

export type HostShell = "bash" | "sh" | "pwsh" | "python";

export interface ScriptSection {
  title: string;
  kind: "run" | "comment" | "fail";
  /** run: the script; comment: text (one comment line per line); fail: the message. */
  body: string;
  shell: StepShell;
  /** A shell test; null runs the section when nothing failed before it. */
  condition: string | null;
  /** The condition decides on its own (it uses a status function): no implied success. */
  conditionHandlesStatus: boolean;
  continueOnError: boolean;
  /** `cd` here first (relative to where the script starts). */
  workingDirectory: string | null;
  /** `export NAME=<word>` inside the section; the word is already shell syntax. */
  exports: [string, string][];
  /** Lines the parent shell runs after the section (loading $GITHUB_ENV, ...). */
  after: string[];
  /** Key of the section's $GITHUB_OUTPUT file and outcome variables, when they are used. */
  index: number;
  /** The step has an id or writes $GITHUB_OUTPUT: it gets its own output file. */
  outputFile: boolean;
}

export interface ScriptOptions {
  /** Lines at the top, after the error-handling line (emulated files, exports). */
  prologue: string[];
  /** Lines at the end (job outputs). */
  epilogue: string[];
  /** Give each section its own $GITHUB_OUTPUT file. */
  stepOutputs: boolean;
  /** Record ms_outcome_N / ms_conclusion_N for conditions that read steps.X.outcome. */
  outcomes: boolean;
}

export interface AssembledScript {
  script: string;
  shell: HostShell;
}

/** `'it'"'"'s'`: a literal word for POSIX shells. */
export function shellQuote(text: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

/** Escapes text for the inside of a double-quoted shell word. */
export function shellDoubleQuoted(text: string): string {
  return text.replace(/[\\"$`]/g, (char) => `\\${char}`);
}

const STATEFUL_LINE =
  /^\s*(?:cd|pushd|popd|exit|return|set|shopt|export|unset|source|\.|alias|unalias|trap|umask|ulimit|exec|eval|declare|typeset|readonly|local)(?:\s|$|;)/;

/** Whether a POSIX script changes its shell's state in a way the next GitHub step would not see. */
export function changesShellState(body: string): boolean {
  return body.split("\n").some((line) => STATEFUL_LINE.test(line) || /(?:^|;|&&|\|\|)\s*(?:cd|exit)\s/.test(line));
}

function isPosix(shell: StepShell): boolean {
  return shell.kind === "bash" || shell.kind === "sh";
}

function heredocTerminator(body: string, base: string): string {
  let terminator = base;
  const lines = new Set(body.split("\n").map((line) => line.trim()));
  while (lines.has(terminator)) terminator = `${terminator}_`;
  return terminator;
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

function trimEnd(text: string): string {
  return text.replace(/\s+$/, "");
}

/** The lines that run a section's body in a POSIX host (embedding other shells as files). */
function bodyLines(section: ScriptSection): string[] {
  if (section.kind === "fail") {
    return [`echo ${shellQuote(section.body)} >&2`, "exit 1"];
  }
  const shell = section.shell;
  if (isPosix(shell)) return [trimEnd(section.body)];
  const terminator = heredocTerminator(section.body, `MS_STEP_${section.index}_EOF`);
  const extension = shell.kind === "pwsh" ? "ps1" : shell.kind === "python" ? "py" : "sh";
  const file = `"$ms_tmp/step-${section.index}.${extension}"`;
  let content = section.body;
  let run: string;
  if (shell.kind === "pwsh") {
    // What GitHub wraps around pwsh steps: stop on errors, exit with the last native exit code.
    content = `$ErrorActionPreference = 'stop'\n${ensureNewline(content)}if ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n`;
    run = `pwsh -NoLogo -NoProfile -NonInteractive -Command ". '$ms_tmp/step-${section.index}.ps1'"`;
  } else if (shell.kind === "python") {
    run = `python ${file}`;
  } else if (shell.kind === "custom") {
    run = shell.command.replaceAll("{0}", file);
  } else {
    run = `sh ${file}`;
  }
  return [`cat > ${file} <<'${terminator}'`, trimEnd(ensureNewline(content)), terminator, run];
}

function commentLine(section: ScriptSection): string {
  return `# ${section.title}: ${section.body.replace(/\s*\n\s*/g, " ")}`.trimEnd();
}

function needsTmp(sections: readonly ScriptSection[]): boolean {
  return sections.some((section) => section.kind === "run" && !isPosix(section.shell));
}

/**
 * Chooses the script's shell: the steps' own shell when they all share it and nothing needs
 * POSIX machinery, else bash (sh when every step was sh), with other shells embedded.
 */
function hostShell(sections: readonly ScriptSection[], options: ScriptOptions): HostShell {
  const runs = sections.filter((section) => section.kind === "run");
  const kinds = new Set(runs.map((section) => section.shell.kind));
  const plain =
    options.prologue.length === 0 &&
    options.epilogue.length === 0 &&
    !options.stepOutputs &&
    !options.outcomes &&
    sections.every(
      (section) =>
        section.kind !== "fail" &&
        section.condition === null &&
        !section.continueOnError &&
        section.workingDirectory === null &&
        section.exports.length === 0 &&
        section.after.length === 0,
    );
  if (kinds.size === 1 && plain) {
    const [only] = [...kinds];
    if (only === "pwsh" || only === "python") return only;
  }
  if (runs.length > 0 && runs.every((section) => section.shell.kind === "sh")) return "sh";
  return "bash";
}

function plainNonPosix(sections: readonly ScriptSection[], shell: "pwsh" | "python"): string {
  const lines: string[] = [];
  if (shell === "pwsh") lines.push("$ErrorActionPreference = 'stop'");
  const runs = sections.filter((section) => section.kind === "run").length;
  for (const section of sections) {
    if (lines.length > 0) lines.push("");
    if (section.kind === "comment") {
      lines.push(commentLine(section));
      continue;
    }
    lines.push(`# ${section.title}`);
    lines.push(trimEnd(section.body));
    if (shell === "pwsh" && runs > 1) {
      lines.push(
        "if ((Test-Path -LiteralPath variable:\\LASTEXITCODE) -and $LASTEXITCODE -ne 0) { exit $LASTEXITCODE }",
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Assembles a GitHub job's steps into one script. */
export function assembleScript(sections: readonly ScriptSection[], options: ScriptOptions): AssembledScript {
  const shell = hostShell(sections, options);
  if (shell === "pwsh" || shell === "python") return { script: plainNonPosix(sections, shell), shell };

  const tracked =
    options.outcomes || sections.some((section) => section.conditionHandlesStatus || section.continueOnError);
  const runSections = sections.filter((section) => section.kind !== "comment");
  const lastRun = runSections[runSections.length - 1];
  const lines: string[] = [];
  const pipefailWanted = (section: ScriptSection) => section.shell.kind === "bash" && section.shell.pipefail;
  let pipefail = false;
  if (tracked) {
    lines.push("# Each step runs in a subshell; the script remembers whether one failed (GitHub's status checks).");
    lines.push("ms_failed=0");
  } else {
    const first = runSections[0];
    pipefail = first !== undefined && pipefailWanted(first);
    lines.push(pipefail ? "set -eo pipefail" : "set -e");
  }
  if (needsTmp(sections) && !options.prologue.some((line) => line.startsWith("ms_tmp="))) {
    lines.push('ms_tmp="$(mktemp -d)"');
  }
  lines.push(...options.prologue);

  for (const section of sections) {
    lines.push("");
    if (section.kind === "comment") {
      lines.push(commentLine(section));
      continue;
    }
    lines.push(`# ${section.title}`);
    const prefix: string[] = [];
    if (section.workingDirectory !== null) prefix.push(`cd ${shellQuote(section.workingDirectory)}`);
    for (const [name, word] of section.exports) prefix.push(`export ${name}=${word}`);
    if (options.stepOutputs && section.outputFile) prefix.push(`export GITHUB_OUTPUT="$ms_outputs/${section.index}"`);
    const body = bodyLines(section);

    if (!tracked) {
      const wanted = pipefailWanted(section);
      if (wanted !== pipefail && shell === "bash") {
        lines.push(wanted ? "set -o pipefail" : "set +o pipefail");
        pipefail = wanted;
      }
      const isolate =
        section.workingDirectory !== null ||
        section.exports.length > 0 ||
        (section !== lastRun && section.kind === "run" && isPosix(section.shell) && changesShellState(section.body));
      if (section.condition !== null) lines.push(`if ${section.condition}; then`);
      // Bodies are never re-indented: a multi-line quoted string or heredoc would change.
      if (isolate) lines.push("(", ...prefix, ...body, ")");
      else lines.push(...prefix, ...body);
      if (section.condition !== null) lines.push("fi");
      lines.push(...section.after);
      continue;
    }

    let condition: string;
    if (section.conditionHandlesStatus) condition = section.condition ?? "true";
    else if (section.condition !== null) condition = `[ "$ms_failed" = 0 ] && { ${section.condition}; }`;
    else condition = `[ "$ms_failed" = 0 ]`;
    const always = condition === "true";
    if (!always) lines.push(`if ${condition}; then`);
    lines.push("(", pipefailWanted(section) ? "set -eo pipefail" : "set -e", ...prefix, ...body, ")");
    lines.push("ms_rc=$?");
    if (section.continueOnError) {
      lines.push(
        `if [ "$ms_rc" != 0 ]; then echo "${shellDoubleQuoted(section.title)} failed (exit $ms_rc); continuing (continue-on-error)" >&2; fi`,
      );
    } else {
      lines.push('if [ "$ms_rc" != 0 ]; then ms_failed=1; fi');
    }
    if (options.outcomes) {
      lines.push(
        `if [ "$ms_rc" = 0 ]; then ms_outcome_${section.index}=success; else ms_outcome_${section.index}=failure; fi`,
        section.continueOnError
          ? `ms_conclusion_${section.index}=success`
          : `ms_conclusion_${section.index}=$ms_outcome_${section.index}`,
      );
      if (!always) lines.push("else", `ms_outcome_${section.index}=skipped`, `ms_conclusion_${section.index}=skipped`);
    }
    if (!always) lines.push("fi");
    lines.push(...section.after);
  }
  if (options.epilogue.length > 0) {
    lines.push("", ...options.epilogue);
  }
  if (tracked) lines.push("", 'exit "$ms_failed"');
  return { script: `${lines.join("\n")}\n`, shell };
}

// ---------------------------------------------------------------------------------------------
// GitLab.

export interface GitLabScriptParts {
  /** `export NAME="..."` lines for variables that reference variables set outside the file. */
  exports: string[];
  beforeScript: string[];
  script: string[];
  afterScript: string[];
  /** Lines after the script (dotenv reports to outputs). */
  epilogue: string[];
}

/**
 * A GitLab job as one script: errexit, and pipefail where the shell has it, as the GitLab
 * runner's generated script does; before_script and script in the same shell; after_script in
 * an EXIT trap, in a subshell started from the project directory, whose failure does not
 * change the job's exit status (GitLab runs it after success and failure alike, in its own
 * shell).
 */
export function assembleGitLabScript(parts: GitLabScriptParts): string {
  const lines: string[] = [
    "# GitLab runs job scripts with errexit, and pipefail where the shell has it.",
    "if set -o | grep -q pipefail; then set -o pipefail; fi",
    "set -e",
  ];
  if (parts.exports.length > 0) lines.push("", ...parts.exports);
  if (parts.afterScript.length > 0) {
    lines.push(
      "",
      "# after_script: runs when the script ends, after success and failure alike; its failure does not fail the job.",
      'ms_project_dir="$PWD"',
      "ms_after_script() {",
      "  ms_rc=$?",
      "  set +e",
      "  (",
      '    cd "$ms_project_dir" || exit 1',
      "    set -e",
      ...parts.afterScript.map((line) => trimEnd(line)),
      "  )",
      '  exit "$ms_rc"',
      "}",
      "trap ms_after_script EXIT",
    );
  }
  if (parts.beforeScript.length > 0) lines.push("", "# before_script", ...parts.beforeScript.map(trimEnd));
  if (parts.script.length > 0) {
    lines.push("");
    if (parts.beforeScript.length > 0 || parts.afterScript.length > 0) lines.push("# script");
    lines.push(...parts.script.map(trimEnd));
  }
  if (parts.epilogue.length > 0) lines.push("", ...parts.epilogue);
  return `${lines.join("\n")}\n`;
}

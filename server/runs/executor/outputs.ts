import "server-only";

// Step outputs, written the way GitHub Actions steps write $GITHUB_OUTPUT: `name=value` lines,
// or a multi-line value between `name<<DELIMITER` and a line holding only DELIMITER.

export const MAX_OUTPUT_BYTES = 1024 * 1024;

export interface ParsedOutputs {
  values: Record<string, string>;
  /** Lines that were not understood, for a warning in the step's log. */
  problems: string[];
}

export function parseOutputFile(text: string): ParsedOutputs {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    const heredoc = /^([A-Za-z_][A-Za-z0-9_-]*)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const body: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delimiter) {
          closed = true;
          break;
        }
        body.push(lines[i] as string);
      }
      if (!closed) problems.push(`output ${name}: no line "${delimiter}" ends its value`);
      values[name] = body.join("\n");
      continue;
    }
    const eq = line.indexOf("=");
    const name = eq > 0 ? line.slice(0, eq) : "";
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
      problems.push(`not an output line (name=value or name<<DELIMITER): ${line.slice(0, 200)}`);
      continue;
    }
    values[name] = line.slice(eq + 1);
  }
  return { values, problems };
}

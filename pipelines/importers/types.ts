// What an importer returns: the Microstack pipeline it could build and a precise list of what
// it could not carry over, each note anchored in the SOURCE document (the workflow the user
// pasted), so the editor can underline the line that needs attention.
import type { Pipeline } from "../spec/schema";

export type ImportFormat = "github-actions" | "gitlab-ci";

export type ImportNoteSeverity = "error" | "warning" | "info";

/**
 * One thing the importer could not carry over, or carried over differently.
 * - error: work of the source is missing from the pipeline (an include that was not fetched, a
 *   reusable workflow, a child pipeline) or the source could not be read at all;
 * - warning: the pipeline runs, but not as the source did (a dropped condition, an action that
 *   fails the script until it is replaced, a service container that is not started);
 * - info: a deliberate, documented mapping the user should know about (runs-on, permissions).
 */
export interface ImportNote {
  severity: ImportNoteSeverity;
  /** Stable, kebab-case; the UI maps codes to help pages. Messages may change, codes do not. */
  code: string;
  /** Where in the SOURCE document: `jobs.build.steps[2].uses`. */
  path: string;
  /** 1-based line and column of the source node (UTF-16 columns). */
  line: number;
  column: number;
  /** Plain English: what was not carried over and what the user should do. */
  message: string;
}

export interface ImportResult {
  /** The Microstack pipeline YAML, with comments; "" when the source could not be read. */
  yaml: string;
  /** The pipeline as parsePipeline typed it; null when the source could not be read. */
  pipeline: Pipeline | null;
  /** Sorted by position in the source. */
  notes: ImportNote[];
}

export interface ImportOptions {
  /** The pipeline's name; by default the workflow's `name:`, else a generic one. */
  name?: string;
  /** The source file name, for the header comment (and format detection). */
  fileName?: string;
}

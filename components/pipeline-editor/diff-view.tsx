"use client";
import { useMemo } from "react";
import { lineDiff } from "./model";

/** A unified line diff of two YAML texts; additions and removals are marked with + and -, not colour alone. */
export function DiffView({
  before,
  after,
  beforeLabel,
  afterLabel,
}: {
  before: string;
  after: string;
  beforeLabel: string;
  afterLabel: string;
}) {
  const lines = useMemo(() => lineDiff(before, after), [before, after]);
  const changed = lines.filter((line) => line.type !== "same").length;
  return (
    <figure className="diff-view">
      <figcaption className="muted">
        − {beforeLabel} · + {afterLabel} · {changed}
      </figcaption>
      <pre>
        {lines.map((line, index) => (
          <div
            // biome-ignore lint/suspicious/noArrayIndexKey: lines of one diff, in order, never reordered
            key={index}
            className={`diff-line ${line.type}`}
          >
            <span className="diff-sign" aria-hidden="true">
              {line.type === "added" ? "+" : line.type === "removed" ? "−" : " "}
            </span>
            <span className="visually-hidden">
              {line.type === "added" ? "added: " : line.type === "removed" ? "removed: " : ""}
            </span>
            {line.text || " "}
          </div>
        ))}
      </pre>
    </figure>
  );
}

"use client";
import {
  autocompletion,
  type CompletionContext,
  type CompletionResult,
  completionKeymap,
} from "@codemirror/autocomplete";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { bracketMatching, indentOnInput, syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { type Diagnostic as CmDiagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Annotation, EditorState } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { forwardRef, useEffect, useImperativeHandle, useRef } from "react";
import type { Diagnostic } from "@/pipelines/spec/diagnostics";
import { PIPELINE_KEY_ORDER, STEP_KEY_ORDER } from "@/pipelines/spec/edit";

// The YAML side of the studio: CodeMirror 6 with the document's diagnostics as lint marks and
// completion of the keys the pipeline schema allows where the cursor is. Undo/redo belong to
// the studio (one history for text and canvas edits), so the editor's keymap hands them up.

export interface YamlEditorHandle {
  focus(): void;
  /** Moves the cursor to a 1-based line and column and scrolls it into view. */
  reveal(line: number, column?: number): void;
}

interface YamlEditorProps {
  value: string;
  onChange(text: string): void;
  diagnostics: readonly Diagnostic[];
  onUndo(): void;
  onRedo(): void;
  onSave(): void;
  ariaLabel: string;
  stepKinds: readonly string[];
}

const External = Annotation.define<boolean>();

/** A keymap command that calls back and reports the key as handled. */
function handled(callback: () => void): boolean {
  callback();
  return true;
}

function completer(stepKinds: readonly string[]) {
  return (context: CompletionContext): CompletionResult | null => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const usesValue = /^\s*(?:-\s+)?uses:\s*(\S*)$/.exec(before);
    if (usesValue) {
      return {
        from: context.pos - (usesValue[1]?.length ?? 0),
        options: stepKinds.map((kind) => ({ label: kind, type: "enum" })),
      };
    }
    const key = /^(\s*)(-\s+)?([A-Za-z-]*)$/.exec(before);
    if (!key) return null;
    const indent = (key[1]?.length ?? 0) + (key[2]?.length ?? 0);
    if (!context.explicit && (key[3]?.length ?? 0) === 0) return null;
    // Inside `steps:` or `handlers:` items: step keys; at the top: the document's keys.
    let section = "";
    for (let n = line.number - 1; n >= 1; n--) {
      const text = context.state.doc.line(n).text;
      const top = /^([A-Za-z-]+):/.exec(text);
      if (top) {
        section = top[1] ?? "";
        break;
      }
    }
    const keys =
      indent === 0 ? PIPELINE_KEY_ORDER : section === "steps" || section === "handlers" ? STEP_KEY_ORDER : [];
    if (keys.length === 0) return null;
    return {
      from: context.pos - (key[3]?.length ?? 0),
      options: keys.map((label) => ({ label, type: "property", apply: `${label}: ` })),
    };
  };
}

function toCmDiagnostics(state: EditorState, diagnostics: readonly Diagnostic[]): CmDiagnostic[] {
  const doc = state.doc;
  const position = (line: number, column: number) => {
    const safeLine = Math.min(Math.max(1, line), doc.lines);
    const info = doc.line(safeLine);
    return Math.min(info.to, info.from + Math.max(0, column - 1));
  };
  return diagnostics.map((diagnostic) => {
    const from = position(diagnostic.line, diagnostic.column);
    const to = Math.max(from, position(diagnostic.endLine, diagnostic.endColumn));
    return {
      from,
      to: to === from ? Math.min(doc.length, from + 1) : to,
      severity: diagnostic.severity === "error" ? "error" : diagnostic.severity === "warning" ? "warning" : "info",
      message: diagnostic.message,
    };
  });
}

export const YamlEditor = forwardRef<YamlEditorHandle, YamlEditorProps>(function YamlEditor(props, ref) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: latest.current.value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightSelectionMatches(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          yaml(),
          lintGutter(),
          autocompletion({ override: [completer(latest.current.stepKinds)] }),
          keymap.of([
            { key: "Mod-z", run: () => handled(latest.current.onUndo), preventDefault: true },
            { key: "Mod-Shift-z", run: () => handled(latest.current.onRedo), preventDefault: true },
            { key: "Mod-y", run: () => handled(latest.current.onRedo), preventDefault: true },
            { key: "Mod-s", run: () => handled(latest.current.onSave), preventDefault: true },
            // Escape leaves the editor (keyboard users must not be trapped by Tab indentation).
            {
              key: "Escape",
              run: (target) => {
                target.contentDOM.blur();
                (document.querySelector(".pipeline-graph") as HTMLElement | null)?.focus();
                return true;
              },
            },
            indentWithTab,
            ...completionKeymap,
            ...searchKeymap,
            ...defaultKeymap,
          ]),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged) return;
            if (update.transactions.some((transaction) => transaction.annotation(External))) return;
            latest.current.onChange(update.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ "aria-label": latest.current.ariaLabel }),
          EditorView.theme({
            "&": { height: "100%", fontSize: "13px", backgroundColor: "var(--surface)", color: "var(--text)" },
            ".cm-scroller": { fontFamily: "var(--font-mono)" },
            ".cm-gutters": { backgroundColor: "var(--surface-2)", color: "var(--text-muted)", border: "none" },
            ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent) 8%, transparent)" },
            ".cm-activeLineGutter": { backgroundColor: "color-mix(in srgb, var(--accent) 14%, transparent)" },
            "&.cm-focused": { outline: "2px solid var(--focus)" },
            ".cm-cursor": { borderLeftColor: "var(--text)" },
          }),
        ],
      }),
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
  }, []);

  // Text from outside (a canvas edit, undo, a restored version) replaces the document.
  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const current = editor.state.doc.toString();
    if (current === props.value) return;
    const head = Math.min(editor.state.selection.main.head, props.value.length);
    editor.dispatch({
      changes: { from: 0, to: current.length, insert: props.value },
      selection: { anchor: head },
      annotations: External.of(true),
    });
  }, [props.value]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    editor.dispatch(setDiagnostics(editor.state, toCmDiagnostics(editor.state, props.diagnostics)));
  }, [props.diagnostics]);

  useImperativeHandle(ref, () => ({
    focus: () => view.current?.focus(),
    reveal: (line, column = 1) => {
      const editor = view.current;
      if (!editor) return;
      const info = editor.state.doc.line(Math.min(Math.max(1, line), editor.state.doc.lines));
      const pos = Math.min(info.to, info.from + column - 1);
      editor.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      editor.focus();
    },
  }));

  return <div className="yaml-editor" ref={host} />;
});

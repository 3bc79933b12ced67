"use client";
import { useRouter } from "next/navigation";
import { type KeyboardEvent, useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { type PageCommand, usePageCommands } from "@/components/command-registry/page-commands";
import {
  type GraphStep,
  PipelineGraph,
  type PipelineGraphHandle,
  type SelectHow,
} from "@/components/pipeline-graph/pipeline-graph";
import { ApiError } from "@/components/ui/api-error";
import { problemDetails } from "@/components/ui/api-fetch";
import { applyEdit, type PipelineEdit, PipelineEditError } from "@/pipelines/spec/edit";
import { stepKinds } from "@/pipelines/spec/schema";
import type { PipelineDetail } from "@/server/pipelines/schema";
import { AddStepPicker } from "./add-step-picker";
import { DiffView } from "./diff-view";
import { clearDraft, readDraft, writeDraft } from "./draft";
import { ImportPanel } from "./import-panel";
import {
  addToSelection,
  copiesOf,
  type DocStep,
  existingSelection,
  extendSelection,
  NO_SELECTION,
  newStep,
  readDocument,
  renameSelected,
  type Selection,
  type StudioDocument,
  selectAll,
  selectedSteps,
  selectOnly,
  stepsFromClipboard,
  stepsToClipboard,
  toggleSelected,
  uniqueId,
} from "./model";
import { createPipelineRequest, loadPipeline, savePipelineRequest } from "./queries";
import { SelectionPanel } from "./selection-panel";
import { StepForm } from "./step-form";
import "./studio.css";
import { VersionsPanel } from "./versions-panel";
import { YamlEditor, type YamlEditorHandle } from "./yaml-editor";

// The pipeline studio: the DAG on a canvas and the YAML side by side, edited from either side,
// one document underneath. Canvas edits are lossless edits of the text; typing in the YAML
// redraws the canvas; both share one undo history. Validation runs as you type (the same parser
// as the server); saving an invalid pipeline is refused with the list of problems; saving over
// a newer version is refused with a diff. Unsaved work is kept in this browser.
// Several steps can be selected (Shift/Ctrl+click, Shift+arrows, a Shift+drag box, Ctrl+A): the
// side panel then lists them and acts on all of them; delete, duplicate, cut, paste and moving
// to a stage are each one edit of the text and one undo step.

const EMPTY_PIPELINE = `name: New pipeline
steps:
  - id: build
    run: echo "build"
`;

interface History {
  past: string[];
  present: string;
  future: string[];
  /** When the last text edit was recorded: typing within a second is one undo step. */
  typedAt: number;
}

type HistoryAction =
  | { type: "commit"; text: string; typing?: boolean }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "reset"; text: string };

const HISTORY_LIMIT = 200;

function historyReducer(state: History, action: HistoryAction): History {
  switch (action.type) {
    case "commit": {
      if (action.text === state.present) return state;
      const now = Date.now();
      if (action.typing && now - state.typedAt < 1_000 && state.past.length > 0) {
        return { ...state, present: action.text, future: [], typedAt: now };
      }
      return {
        past: [...state.past.slice(-HISTORY_LIMIT), state.present],
        present: action.text,
        future: [],
        typedAt: action.typing ? now : 0,
      };
    }
    case "undo": {
      const previous = state.past.at(-1);
      if (previous === undefined) return state;
      return { past: state.past.slice(0, -1), present: previous, future: [state.present, ...state.future], typedAt: 0 };
    }
    case "redo": {
      const next = state.future[0];
      if (next === undefined) return state;
      return { past: [...state.past, state.present], present: next, future: state.future.slice(1), typedAt: 0 };
    }
    case "reset":
      return { past: [], present: action.text, future: [], typedAt: 0 };
  }
}

type SidePanel = "step" | "problems" | "versions" | "import";

export interface StudioProps {
  mode: "create" | "edit";
  organizationSlug: string;
  projectSlug: string;
  pipeline: PipelineDetail | null;
}

export function PipelineStudio({ mode, organizationSlug, projectSlug, pipeline }: StudioProps) {
  const { t } = useTranslation(["pipelines", "errors"]);
  const router = useRouter();
  const initialYaml = pipeline?.yaml ?? EMPTY_PIPELINE;
  const draftKey = pipeline ? `pipeline:${pipeline.id}` : `new:${organizationSlug}/${projectSlug}`;
  const [history, dispatch] = useReducer(historyReducer, { past: [], present: initialYaml, future: [], typedAt: 0 });
  const yaml = history.present;
  const [baseVersion, setBaseVersion] = useState<number | null>(pipeline?.currentVersion ?? null);
  const [savedYaml, setSavedYaml] = useState(initialYaml);
  const [selectionState, setSelection] = useState<Selection>(NO_SELECTION);
  const [newStageRequest, setNewStageRequest] = useState(0);
  const [panel, setPanel] = useState<SidePanel>(mode === "create" ? "import" : "step");
  const [pickerOpen, setPickerOpen] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [draftRestored, setDraftRestored] = useState<{ savedAt: string; stale: boolean } | null>(null);
  const [slug, setSlug] = useState("");
  const [message, setMessage] = useState("");
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<{ text: string; fields?: Record<string, string> } | null>(null);
  const [conflict, setConflict] = useState<{ currentVersion: number; theirs: string } | null>(null);
  const [diffMarks, setDiffMarks] = useState<Map<string, "added" | "removed" | "changed"> | null>(null);
  const editorRef = useRef<YamlEditorHandle>(null);
  const graphRef = useRef<PipelineGraphHandle>(null);
  const dirty = yaml !== savedYaml;

  // The document, re-read as the text changes (debounced for big documents while typing).
  const [readText, setReadText] = useState(yaml);
  useEffect(() => {
    if (yaml.length < 50_000) {
      setReadText(yaml);
      return;
    }
    const timer = setTimeout(() => setReadText(yaml), 200);
    return () => clearTimeout(timer);
  }, [yaml]);
  const doc = useMemo(() => readDocument(readText), [readText]);
  const lastGood = useRef<StudioDocument>(doc);
  if (!doc.broken) lastGood.current = doc;
  const shown = doc.broken ? lastGood.current : doc;

  // Unsaved work survives a reload or a lost connection.
  // Once per pipeline opened: the draft belongs to what was opened, not to later saves.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only when another pipeline is opened
  useEffect(() => {
    const draft = readDraft(draftKey);
    if (draft && draft.yaml !== initialYaml) {
      dispatch({ type: "reset", text: draft.yaml });
      setDraftRestored({
        savedAt: draft.savedAt,
        stale: pipeline !== null && (draft.baseVersion ?? 0) < pipeline.currentVersion,
      });
    }
  }, [draftKey]);
  const hasEdits = history.past.length > 0 || history.future.length > 0;
  useEffect(() => {
    if (!dirty) {
      // Undone back to what is saved: the draft written on the way is no longer unsaved work.
      if (hasEdits) clearDraft(draftKey);
      return;
    }
    const timer = setTimeout(() => writeDraft(draftKey, { yaml, baseVersion, savedAt: new Date().toISOString() }), 300);
    return () => clearTimeout(timer);
  }, [yaml, dirty, hasEdits, draftKey, baseVersion]);
  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (dirty) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const commit = useCallback((text: string) => dispatch({ type: "commit", text }), []);
  /** Edits applied one after the other and committed once: one undo step. */
  const editAll = useCallback(
    (changes: readonly PipelineEdit[]) => {
      try {
        let text = yaml;
        let lossless = true;
        for (const change of changes) {
          const result = applyEdit(text, change);
          text = result.text;
          lossless &&= result.lossless;
        }
        commit(text);
        if (!lossless) setNotice(t("pipelines:studio.reformatted"));
        return true;
      } catch (error) {
        setNotice(error instanceof PipelineEditError ? error.message : String(error));
        return false;
      }
    },
    [yaml, commit, t],
  );
  const edit = useCallback(
    (change: PipelineEdit) => {
      const done = editAll([change]);
      if (done && change.op === "renameStep")
        setSelection((current) => renameSelected(current, change.from, change.to));
      return done;
    },
    [editAll],
  );

  const allSteps = useMemo(() => [...shown.steps, ...shown.handlers], [shown]);
  const ids = useMemo(() => new Set(allSteps.map((step) => step.id)), [allSteps]);
  // What is selected and still there (an undo or typing in the YAML may have removed steps).
  const selection = useMemo(() => existingSelection(selectionState, ids), [selectionState, ids]);
  const selected = selection.active;
  const selectedStep = allSteps.find((step) => step.id === selected) ?? null;
  const chosen = useMemo(() => selectedSteps(selection, allSteps), [selection, allSteps]);
  const setSelected = useCallback((id: string | null) => setSelection(selectOnly(id)), []);

  const addStep = useCallback(
    (kind: Parameters<typeof newStep>[0]) => {
      const base = kind.startsWith("uses:") ? kind.slice(5) : kind;
      const id = uniqueId(base === "run" ? "step" : base, ids);
      const needs = selectedStep && !selectedStep.handler ? [selectedStep.id] : [];
      if (
        edit({
          op: "addStep",
          step: newStep(kind, id, needs),
          ...(selectedStep && !selectedStep.handler ? { after: selectedStep.id } : {}),
        })
      ) {
        setSelected(id);
        setPanel("step");
      }
      setPickerOpen(false);
    },
    [ids, selectedStep, edit, setSelected],
  );

  const pasteSteps = useCallback(
    (text: string) => {
      const steps = stepsFromClipboard(text);
      if (!steps) {
        setNotice(t("pipelines:studio.pasteInvalid"));
        return;
      }
      // Needs among the pasted steps follow their new ids; needs on steps not here are dropped.
      const copies = copiesOf(steps, ids);
      if (!editAll([{ op: "addSteps", steps: copies.steps }])) return;
      const pasted = copies.steps.map((step) => String(step.id));
      setSelection(selectAll(pasted));
      setPanel("step");
      const dropped = copies.dropped.map((drop) => `${drop.step} → ${drop.need}`).join(", ");
      setNotice(
        [
          t("pipelines:studio.pasted", { count: steps.length }),
          copies.dropped.length > 0
            ? t("pipelines:studio.pasteDropped", { count: copies.dropped.length, needs: dropped })
            : "",
        ]
          .filter(Boolean)
          .join(" "),
      );
    },
    [ids, editAll, t],
  );

  const pasteFromClipboard = useCallback(() => {
    const own = readStudioClipboard();
    void (navigator.clipboard?.readText() ?? Promise.resolve(""))
      .catch(() => "")
      // The system clipboard when it holds steps; else what was last copied in this tab.
      .then((text) => pasteSteps(stepsFromClipboard(text) || !own ? text : own));
  }, [pasteSteps]);

  /** The selection to the clipboard (this tab's, and the system's when allowed). */
  const toClipboard = useCallback((steps: readonly DocStep[]) => {
    const text = stepsToClipboard(steps.map((step) => step.raw));
    writeStudioClipboard(text);
    void navigator.clipboard?.writeText(text).catch(() => {});
  }, []);

  const copySelected = useCallback(() => {
    const first = chosen[0];
    if (!first) return;
    toClipboard(chosen);
    setNotice(
      chosen.length === 1
        ? t("pipelines:studio.copied", { id: first.id })
        : t("pipelines:studio.copiedMany", { count: chosen.length }),
    );
  }, [chosen, toClipboard, t]);

  const removeSelected = useCallback(
    (notice: (count: number, id: string) => string) => {
      const first = chosen[0];
      if (!first) return;
      if (edit({ op: "removeSteps", ids: chosen.map((step) => step.id) })) {
        setSelection(NO_SELECTION);
        setNotice(notice(chosen.length, first.id));
      }
    },
    [chosen, edit],
  );

  const deleteSelected = useCallback(
    () =>
      removeSelected((count, id) =>
        count === 1 ? t("pipelines:studio.deleted", { id }) : t("pipelines:studio.deletedMany", { count }),
      ),
    [removeSelected, t],
  );

  const cutSelected = useCallback(() => {
    if (chosen.length === 0) return;
    toClipboard(chosen);
    removeSelected((count) => t("pipelines:studio.cut", { count }));
  }, [chosen, toClipboard, removeSelected, t]);

  const duplicateSelected = useCallback(() => {
    if (chosen.length === 0) return;
    // Copies refer to one another; each section's copies go right after its last selected step.
    const copies = copiesOf(
      chosen.map((step) => step.raw),
      ids,
    );
    const changes: PipelineEdit[] = [];
    for (const section of ["steps", "handlers"] as const) {
      const indexes = chosen.flatMap((step, i) => ((section === "handlers") === step.handler ? [i] : []));
      const last = chosen[indexes.at(-1) ?? -1];
      if (!last) continue;
      changes.push({
        op: "addSteps",
        section,
        steps: indexes.map((i) => copies.steps[i] as Record<string, unknown>),
        after: last.id,
      });
    }
    if (!editAll(changes)) return;
    const made = copies.steps.map((step) => String(step.id));
    const active = (selected && copies.renamed.get(selected)) ?? made[0] ?? null;
    setSelection({ ids: made, active });
    setNotice(t("pipelines:studio.duplicated", { count: made.length }));
  }, [chosen, ids, editAll, selected, t]);

  const moveSelectedToStage = useCallback(
    (stage: string | null) => {
      if (chosen.length === 0) return false;
      if (!edit({ op: "moveStepsToStage", ids: chosen.map((step) => step.id), stage })) return false;
      const name = shown.stages.find((candidate) => candidate.id === stage)?.name ?? stage;
      setNotice(
        stage === null
          ? t("pipelines:studio.unstaged", { count: chosen.length })
          : t("pipelines:studio.moved", { count: chosen.length, stage: name }),
      );
      return true;
    },
    [chosen, edit, shown.stages, t],
  );

  const selectAllSteps = useCallback(() => {
    setSelection((current) =>
      selectAll(
        shown.steps.map((step) => step.id),
        current,
      ),
    );
    setPanel("step");
  }, [shown.steps]);

  const onGraphSelect = useCallback(
    (id: string | null, how: SelectHow = "replace") => {
      setSelection((current) => {
        const base = existingSelection(current, ids);
        if (id === null) return NO_SELECTION;
        if (how === "toggle") return toggleSelected(base, id);
        if (how === "extend") return extendSelection(base, id);
        return selectOnly(id);
      });
      if (id) setPanel("step");
    },
    [ids],
  );

  const onSelectBox = useCallback(
    (boxed: string[]) => {
      setSelection((current) => addToSelection(existingSelection(current, ids), boxed));
      setPanel("step");
    },
    [ids],
  );

  const save = useCallback(async () => {
    if (saving) return;
    setSaveError(null);
    if (doc.errors.length > 0) {
      setPanel("problems");
      setSaveError({ text: t("pipelines:studio.invalidRefused", { count: doc.errors.length }) });
      return;
    }
    setSaving(true);
    try {
      if (mode === "create") {
        const created = await createPipelineRequest(organizationSlug, projectSlug, { slug, yaml, message });
        clearDraft(draftKey);
        setSavedYaml(yaml);
        router.push(`/projects/${organizationSlug}/${projectSlug}/pipelines/${created.slug}/edit`);
        return;
      }
      const saved = await savePipelineRequest((pipeline as PipelineDetail).id, {
        yaml,
        message,
        baseVersion: baseVersion ?? 1,
      });
      clearDraft(draftKey);
      setSavedYaml(yaml);
      setBaseVersion(saved.currentVersion);
      setMessage("");
      setDraftRestored(null);
      setNotice(t("pipelines:studio.saved", { version: saved.currentVersion }));
    } catch (error) {
      if (error instanceof ApiError && error.code === "CONFLICT" && pipeline) {
        const current = await loadPipeline(pipeline.id).catch(() => null);
        const details = problemDetails(error);
        setConflict({
          currentVersion: Number(details.currentVersion ?? current?.currentVersion ?? 0),
          theirs: current?.yaml ?? "",
        });
      } else if (error instanceof ApiError) {
        const fields = Object.fromEntries(
          error.invalidParams.map((param) => [param.name.replace(/^body\./, ""), param.reason]),
        );
        setSaveError({
          text: `${t(`errors:code.${error.code}`, { defaultValue: error.code })} ${error.message}`,
          fields,
        });
      } else {
        setSaveError({ text: t("pipelines:studio.offline") });
      }
    } finally {
      setSaving(false);
    }
  }, [
    saving,
    doc.errors.length,
    mode,
    organizationSlug,
    projectSlug,
    slug,
    yaml,
    message,
    draftKey,
    router,
    pipeline,
    baseVersion,
    t,
  ]);

  const onCanvasKey = useCallback(
    (event: KeyboardEvent<HTMLDivElement>): boolean => {
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (!mod && !event.altKey && key === "a") {
        setPickerOpen(true);
        event.preventDefault();
        return true;
      }
      if (mod && key === "z") {
        dispatch({ type: event.shiftKey ? "redo" : "undo" });
        event.preventDefault();
        return true;
      }
      if (mod && key === "y") {
        dispatch({ type: "redo" });
        event.preventDefault();
        return true;
      }
      if (mod && key === "a") {
        selectAllSteps();
        event.preventDefault();
        return true;
      }
      if (mod && key === "d") {
        duplicateSelected();
        event.preventDefault();
        return true;
      }
      if (mod && key === "c") {
        copySelected();
        event.preventDefault();
        return true;
      }
      if (mod && key === "x") {
        cutSelected();
        event.preventDefault();
        return true;
      }
      if (mod && key === "v") {
        event.preventDefault();
        pasteFromClipboard();
        return true;
      }
      if (mod && key === "s") {
        void save();
        event.preventDefault();
        return true;
      }
      return false;
    },
    [selectAllSteps, duplicateSelected, copySelected, cutSelected, pasteFromClipboard, save],
  );

  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        void save();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [save]);

  const focusSelectionPanel = useCallback(() => {
    setPanel("step");
    requestAnimationFrame(() => (document.querySelector(".selection-title") as HTMLElement | null)?.focus());
  }, []);

  const openStep = useCallback(
    (id: string) => {
      // Enter with several steps selected: to the panel that acts on all of them.
      if (selection.ids.length > 1 && selection.ids.includes(id)) {
        focusSelectionPanel();
        return;
      }
      setSelected(id);
      setPanel("step");
      requestAnimationFrame(() =>
        (
          document.querySelector(".studio-side input, .studio-side textarea, .studio-side select") as HTMLElement | null
        )?.focus(),
      );
    },
    [selection.ids, focusSelectionPanel, setSelected],
  );

  const focusCanvas = useCallback(() => (document.querySelector(".pipeline-graph") as HTMLElement | null)?.focus(), []);

  const graphSteps: GraphStep[] = useMemo(() => {
    const steps = shown.steps.map((step) => ({
      id: step.id,
      needs: step.needs,
      data: {
        label: step.name ?? step.id,
        kind: step.kind,
        detail: step.uses,
        stage: step.stage,
        problems: (shown.problemsByStep.get(step.id) ?? []).filter((p) => p.severity === "error").map((p) => p.message),
        mark: diffMarks?.get(step.id) ?? null,
      },
    }));
    return steps;
  }, [shown, diffMarks]);

  const many = chosen.length > 1;
  const commands: PageCommand[] = [
    { id: "studio.add", label: t("pipelines:command.add"), shortcut: "A", run: () => setPickerOpen(true) },
    { id: "studio.save", label: t("pipelines:command.save"), shortcut: "Ctrl S", run: () => void save() },
    {
      id: "studio.undo",
      label: t("pipelines:command.undo"),
      shortcut: "Ctrl Z",
      disabled: history.past.length === 0,
      run: () => dispatch({ type: "undo" }),
    },
    {
      id: "studio.redo",
      label: t("pipelines:command.redo"),
      shortcut: "Ctrl Shift Z",
      disabled: history.future.length === 0,
      run: () => dispatch({ type: "redo" }),
    },
    {
      id: "studio.selectAll",
      label: t("pipelines:command.selectAll"),
      shortcut: "Ctrl A",
      disabled: shown.steps.length === 0,
      run: selectAllSteps,
    },
    {
      id: "studio.clearSelection",
      label: t("pipelines:command.clearSelection"),
      shortcut: "Esc",
      disabled: chosen.length === 0,
      run: () => setSelection(NO_SELECTION),
    },
    {
      id: "studio.showSelection",
      label: t("pipelines:command.showSelection", { count: chosen.length }),
      disabled: chosen.length < 2,
      run: focusSelectionPanel,
    },
    {
      id: "studio.duplicate",
      label: many ? t("pipelines:command.duplicateMany", { count: chosen.length }) : t("pipelines:command.duplicate"),
      shortcut: "Ctrl D",
      disabled: chosen.length === 0,
      run: duplicateSelected,
    },
    {
      id: "studio.copy",
      label: many ? t("pipelines:command.copyMany", { count: chosen.length }) : t("pipelines:command.copy"),
      shortcut: "Ctrl C",
      disabled: chosen.length === 0,
      run: copySelected,
    },
    {
      id: "studio.cut",
      label: many ? t("pipelines:command.cutMany", { count: chosen.length }) : t("pipelines:command.cut"),
      shortcut: "Ctrl X",
      disabled: chosen.length === 0,
      run: cutSelected,
    },
    {
      id: "studio.paste",
      label: t("pipelines:command.paste"),
      shortcut: "Ctrl V",
      run: pasteFromClipboard,
    },
    {
      id: "studio.delete",
      label: many ? t("pipelines:command.deleteMany", { count: chosen.length }) : t("pipelines:command.delete"),
      shortcut: "Del",
      disabled: chosen.length === 0,
      run: deleteSelected,
    },
    ...shown.stages.map(
      (stage): PageCommand => ({
        id: `studio.moveToStage.${stage.id}`,
        label: t("pipelines:command.moveToStage", { stage: stage.name }),
        keywords: ["stage", stage.id],
        disabled: chosen.length === 0 || chosen.every((step) => step.stage === stage.id),
        run: () => void moveSelectedToStage(stage.id),
      }),
    ),
    {
      id: "studio.moveToNoStage",
      label: t("pipelines:command.moveToNoStage"),
      keywords: ["stage"],
      disabled: chosen.every((step) => step.stage === null),
      run: () => void moveSelectedToStage(null),
    },
    {
      id: "studio.moveToNewStage",
      label: t("pipelines:command.moveToNewStage"),
      keywords: ["stage"],
      disabled: chosen.length < 2,
      run: () => {
        setPanel("step");
        setNewStageRequest((n) => n + 1);
      },
    },
    { id: "studio.problems", label: t("pipelines:command.problems"), run: () => setPanel("problems") },
    {
      id: "studio.versions",
      label: t("pipelines:command.versions"),
      disabled: !pipeline,
      run: () => setPanel("versions"),
    },
    { id: "studio.import", label: t("pipelines:command.import"), run: () => setPanel("import") },
    { id: "studio.yaml", label: t("pipelines:command.yaml"), run: () => editorRef.current?.focus() },
    { id: "studio.canvas", label: t("pipelines:command.canvas"), run: focusCanvas },
    { id: "studio.fit", label: t("pipelines:command.fit"), shortcut: "F", run: () => graphRef.current?.fitView() },
    { id: "studio.zoomIn", label: t("pipelines:command.zoomIn"), shortcut: "+", run: () => graphRef.current?.zoomIn() },
    {
      id: "studio.zoomOut",
      label: t("pipelines:command.zoomOut"),
      shortcut: "-",
      run: () => graphRef.current?.zoomOut(),
    },
  ];
  usePageCommands(commands);

  const problems = doc.parse.diagnostics;
  return (
    <div className="studio">
      <header className="studio-toolbar row">
        <h1>
          {mode === "create"
            ? t("pipelines:studio.newTitle")
            : t("pipelines:studio.editTitle", { name: pipeline?.name })}
        </h1>
        {mode === "create" ? (
          <label className="inline-field">
            {t("pipelines:studio.slug")}
            <input
              value={slug}
              onChange={(event) => setSlug(event.target.value)}
              placeholder="web-delivery"
              aria-invalid={saveError?.fields?.slug ? true : undefined}
              aria-describedby={saveError?.fields?.slug ? "studio-slug-error" : undefined}
            />
            {saveError?.fields?.slug ? (
              <span id="studio-slug-error" className="error-text">
                {saveError.fields.slug}
              </span>
            ) : null}
          </label>
        ) : (
          <span className="muted">{t("pipelines:studio.version", { version: baseVersion })}</span>
        )}
        <span className={doc.errors.length > 0 ? "badge failure" : "badge success"} aria-live="polite">
          {doc.broken
            ? t("pipelines:studio.yamlBroken")
            : doc.errors.length > 0
              ? t("pipelines:studio.problems", { count: doc.errors.length })
              : t("pipelines:studio.valid")}
        </span>
        <span className="spacer" />
        <button type="button" onClick={() => setPickerOpen(true)} aria-keyshortcuts="a">
          {t("pipelines:command.add")}
        </button>
        <button
          type="button"
          onClick={() => dispatch({ type: "undo" })}
          disabled={history.past.length === 0}
          aria-keyshortcuts="Control+Z"
        >
          {t("pipelines:command.undo")}
        </button>
        <button
          type="button"
          onClick={() => dispatch({ type: "redo" })}
          disabled={history.future.length === 0}
          aria-keyshortcuts="Control+Shift+Z"
        >
          {t("pipelines:command.redo")}
        </button>
        <label className="inline-field">
          <span className="visually-hidden">{t("pipelines:studio.message")}</span>
          <input
            value={message}
            onChange={(event) => setMessage(event.target.value)}
            placeholder={t("pipelines:studio.message")}
          />
        </label>
        <button
          type="button"
          className="primary"
          onClick={() => void save()}
          disabled={saving || (!dirty && mode === "edit")}
          aria-keyshortcuts="Control+S"
        >
          {saving
            ? t("pipelines:studio.saving")
            : mode === "create"
              ? t("pipelines:studio.create")
              : t("pipelines:command.save")}
        </button>
      </header>

      {draftRestored ? (
        <div className="notice row" role="status">
          <span>
            {t("pipelines:studio.draftRestored", { when: new Date(draftRestored.savedAt).toLocaleString() })}
            {draftRestored.stale ? ` ${t("pipelines:studio.draftStale")}` : ""}
          </span>
          <button
            type="button"
            onClick={() => {
              clearDraft(draftKey);
              dispatch({ type: "reset", text: initialYaml });
              setDraftRestored(null);
            }}
          >
            {t("pipelines:studio.discardDraft")}
          </button>
        </div>
      ) : null}
      {saveError ? (
        <p role="alert" className="error-text">
          {saveError.text}
        </p>
      ) : null}
      {conflict ? (
        <ConflictPanel
          mine={yaml}
          theirs={conflict.theirs}
          currentVersion={conflict.currentVersion}
          onKeepMine={() => {
            setBaseVersion(conflict.currentVersion);
            setConflict(null);
            setNotice(t("pipelines:studio.conflictKept"));
          }}
          onTakeTheirs={() => {
            dispatch({ type: "reset", text: conflict.theirs });
            setSavedYaml(conflict.theirs);
            setBaseVersion(conflict.currentVersion);
            clearDraft(draftKey);
            setConflict(null);
          }}
        />
      ) : null}
      <p className="studio-notice muted" role="status">
        {notice}
        {notice ? (
          <>
            {" "}
            <button
              type="button"
              className="link-button"
              onClick={() => setNotice(null)}
              aria-label={t("pipelines:studio.dismiss")}
            >
              ✕
            </button>
          </>
        ) : null}
      </p>

      <div className="studio-body">
        <section className="studio-canvas" aria-label={t("pipelines:studio.canvas")}>
          <PipelineGraph
            handleRef={graphRef}
            steps={graphSteps}
            selectedId={selected}
            selectedIds={selection.ids}
            multiSelect
            onSelect={onGraphSelect}
            onSelectBox={onSelectBox}
            onOpen={openStep}
            onConnect={(from, to) => {
              const target = allSteps.find((step) => step.id === to);
              if (target && !target.needs.includes(from))
                edit({ op: "setNeeds", id: to, needs: [...target.needs, from] });
            }}
            onDeleteEdge={(from, to) => {
              const target = allSteps.find((step) => step.id === to);
              if (target) edit({ op: "setNeeds", id: to, needs: target.needs.filter((need) => need !== from) });
            }}
            onDeleteSelection={deleteSelected}
            onKeyDown={onCanvasKey}
            ariaLabel={t("pipelines:studio.canvasLabel")}
            stages={shown.stages}
          />
          {doc.broken ? <p className="studio-overlay">{t("pipelines:studio.yamlBrokenHint")}</p> : null}
        </section>

        <section className="studio-yaml" aria-label={t("pipelines:studio.yaml")}>
          <YamlEditor
            ref={editorRef}
            value={yaml}
            onChange={(text) => dispatch({ type: "commit", text, typing: true })}
            diagnostics={problems}
            onUndo={() => dispatch({ type: "undo" })}
            onRedo={() => dispatch({ type: "redo" })}
            onSave={() => void save()}
            ariaLabel={t("pipelines:studio.yamlLabel")}
            stepKinds={stepKinds.names()}
          />
        </section>

        <aside className="studio-side" aria-label={t("pipelines:studio.side")}>
          <div className="tabs" role="tablist">
            {(["step", "problems", "versions", "import"] as const)
              .filter((name) => name !== "versions" || pipeline)
              .map((name) => (
                <button
                  key={name}
                  type="button"
                  role="tab"
                  aria-selected={panel === name}
                  className={panel === name ? "tab active" : "tab"}
                  onClick={() => setPanel(name)}
                >
                  {name === "step" && many
                    ? t("pipelines:panel.selection", { count: chosen.length })
                    : t(`pipelines:panel.${name}`)}
                  {name === "problems" && problems.length > 0 ? ` (${problems.length})` : ""}
                </button>
              ))}
          </div>
          <div role="tabpanel" className="studio-panel">
            {panel === "step" ? (
              many ? (
                <SelectionPanel
                  steps={chosen}
                  activeId={selected}
                  stages={shown.stages}
                  onFocusStep={(id) => {
                    setSelected(id);
                    focusCanvas();
                  }}
                  onDeselect={(id) => setSelection((current) => toggleSelected(current, id))}
                  onDelete={deleteSelected}
                  onDuplicate={duplicateSelected}
                  onCopy={copySelected}
                  onCut={cutSelected}
                  onMoveToStage={moveSelectedToStage}
                  onClose={focusCanvas}
                  newStageRequest={newStageRequest}
                />
              ) : selectedStep ? (
                <StepForm
                  key={selectedStep.id}
                  step={selectedStep}
                  allIds={shown.steps.map((step) => step.id)}
                  stages={shown.stages}
                  problems={shown.problemsByStep.get(selectedStep.id) ?? []}
                  onEdit={edit}
                  onClose={focusCanvas}
                />
              ) : (
                <p className="muted">{t("pipelines:studio.pickStep")}</p>
              )
            ) : null}
            {panel === "problems" ? (
              problems.length === 0 ? (
                <p className="muted">{t("pipelines:studio.noProblems")}</p>
              ) : (
                <ul className="problems">
                  {problems.map((problem) => {
                    const step = problemStep(problem.path, shown.steps, shown.handlers);
                    return (
                      <li
                        key={`${problem.line}:${problem.column}:${problem.code}:${problem.message}`}
                        className={`problem ${problem.severity}`}
                      >
                        <button
                          type="button"
                          className="link-button"
                          onClick={() => {
                            if (step) {
                              setSelected(step.id);
                              focusCanvas();
                            }
                            editorRef.current?.reveal(problem.line, problem.column);
                          }}
                        >
                          <span className="problem-where">
                            {t("pipelines:studio.lineColumn", { line: problem.line, column: problem.column })}
                            {step ? ` · ${step.id}` : ""}
                          </span>{" "}
                          {problem.message}
                        </button>
                      </li>
                    );
                  })}
                </ul>
              )
            ) : null}
            {panel === "versions" && pipeline ? (
              <VersionsPanel
                pipelineId={pipeline.id}
                currentText={yaml}
                onMarks={setDiffMarks}
                onRestored={(detail) => {
                  dispatch({ type: "reset", text: detail.yaml });
                  setSavedYaml(detail.yaml);
                  setBaseVersion(detail.currentVersion);
                  clearDraft(draftKey);
                  setNotice(t("pipelines:studio.restored", { version: detail.currentVersion }));
                }}
                baseVersion={baseVersion ?? 1}
              />
            ) : null}
            {panel === "import" ? (
              <ImportPanel
                onUse={(text) => {
                  commit(text);
                  setPanel("problems");
                  setNotice(t("pipelines:studio.imported"));
                }}
              />
            ) : null}
          </div>
        </aside>
      </div>

      {pickerOpen ? (
        <AddStepPicker
          onPick={addStep}
          onClose={() => {
            setPickerOpen(false);
            focusCanvas();
          }}
        />
      ) : null}
    </div>
  );
}

// Copied steps, for this tab: pasting into another pipeline works even where the page may not
// read the system clipboard (no permission, another browser's rules).
const CLIPBOARD_KEY = "microstack:studio-clipboard";

function readStudioClipboard(): string | null {
  try {
    return sessionStorage.getItem(CLIPBOARD_KEY);
  } catch {
    return null;
  }
}

function writeStudioClipboard(text: string): void {
  try {
    sessionStorage.setItem(CLIPBOARD_KEY, text);
  } catch {
    // Storage full or refused: the system clipboard still has it.
  }
}

function problemStep(
  path: readonly (string | number)[],
  steps: readonly DocStep[],
  handlers: readonly DocStep[],
): DocStep | null {
  const [section, index] = path;
  if (typeof index !== "number") return null;
  if (section === "steps") return steps.find((step) => step.index === index) ?? null;
  if (section === "handlers") return handlers.find((step) => step.index === index) ?? null;
  return null;
}

function ConflictPanel({
  mine,
  theirs,
  currentVersion,
  onKeepMine,
  onTakeTheirs,
}: {
  mine: string;
  theirs: string;
  currentVersion: number;
  onKeepMine(): void;
  onTakeTheirs(): void;
}) {
  const { t } = useTranslation("pipelines");
  return (
    <section className="conflict card stack" role="alert" aria-labelledby="conflict-title">
      <h2 id="conflict-title">{t("conflict.title", { version: currentVersion })}</h2>
      <p>{t("conflict.body")}</p>
      <DiffView
        before={theirs}
        after={mine}
        beforeLabel={t("conflict.theirs", { version: currentVersion })}
        afterLabel={t("conflict.mine")}
      />
      <div className="row">
        <button type="button" onClick={onKeepMine}>
          {t("conflict.keepMine")}
        </button>
        <button type="button" onClick={onTakeTheirs}>
          {t("conflict.takeTheirs")}
        </button>
      </div>
    </section>
  );
}

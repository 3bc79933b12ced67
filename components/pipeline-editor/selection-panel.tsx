"use client";
import { type FormEvent, type KeyboardEvent, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { STEP_ID_PATTERN } from "@/pipelines/spec/schema";
import type { DocStep } from "./model";

// What the side panel shows when more than one step is selected (instead of one step's
// properties): how many, which (a click narrows the selection to one and opens it), and what
// can be done to all of them at once. Every action is one edit, one undo step.

/** The stage <select>'s "new stage" option: not a valid stage id, so it cannot clash with one. */
const NEW_STAGE = "+new";

export interface SelectionPanelProps {
  /** The selected steps, in document order. */
  steps: readonly DocStep[];
  activeId: string | null;
  stages: readonly { id: string; name: string }[];
  onFocusStep(id: string): void;
  onDeselect(id: string): void;
  onDelete(): void;
  onDuplicate(): void;
  onCopy(): void;
  onCut(): void;
  /** Moves every selected step to `stage` (null: out of their stage); false if refused. */
  onMoveToStage(stage: string | null): boolean;
  /** Where keyboard focus goes back to (Escape). */
  onClose(): void;
  /** Bumped to ask for the new-stage field (the palette's "Move to a new stage…"). */
  newStageRequest?: number;
}

export function SelectionPanel({
  steps,
  activeId,
  stages,
  onFocusStep,
  onDeselect,
  onDelete,
  onDuplicate,
  onCopy,
  onCut,
  onMoveToStage,
  onClose,
  newStageRequest = 0,
}: SelectionPanelProps) {
  const { t } = useTranslation("pipelines");
  const id = useId();
  const shared = steps.every((step) => step.stage === steps[0]?.stage) ? (steps[0]?.stage ?? null) : null;
  const [target, setTarget] = useState<string>(
    () => stages.find((stage) => stage.id !== shared)?.id ?? (stages.length === 0 ? NEW_STAGE : ""),
  );
  const [newStage, setNewStage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const newStageInput = useRef<HTMLInputElement>(null);
  const stageName = (stage: string | null) => stages.find((candidate) => candidate.id === stage)?.name ?? stage;

  useEffect(() => {
    if (newStageRequest === 0) return;
    setTarget(NEW_STAGE);
    requestAnimationFrame(() => newStageInput.current?.focus());
  }, [newStageRequest]);

  const move = (event: FormEvent) => {
    event.preventDefault();
    const stage = target === NEW_STAGE ? newStage.trim() : target || null;
    if (target === NEW_STAGE && (stage === null || !STEP_ID_PATTERN.test(stage))) {
      setError(t("selection.invalidStage"));
      newStageInput.current?.focus();
      return;
    }
    setError(null);
    if (onMoveToStage(stage) && target === NEW_STAGE) {
      setNewStage("");
      setTarget(stage ?? "");
    }
  };

  return (
    <section
      className="selection-panel stack"
      aria-labelledby={`${id}-title`}
      onKeyDown={(event: KeyboardEvent) => {
        if (event.key === "Escape") onClose();
      }}
    >
      <h2 id={`${id}-title`} className="selection-title" tabIndex={-1}>
        {t("selection.title", { count: steps.length })}
      </h2>
      <p className="muted field-help">{t("selection.hint")}</p>
      <fieldset className="selection-actions row">
        <legend className="visually-hidden">{t("selection.actions")}</legend>
        <button type="button" className="button" onClick={onDuplicate} aria-keyshortcuts="Control+D">
          {t("selection.duplicate")}
        </button>
        <button type="button" className="button" onClick={onCopy} aria-keyshortcuts="Control+C">
          {t("selection.copy")}
        </button>
        <button type="button" className="button" onClick={onCut} aria-keyshortcuts="Control+X">
          {t("selection.cut")}
        </button>
        <button type="button" className="button danger" onClick={onDelete} aria-keyshortcuts="Delete">
          {t("selection.delete", { count: steps.length })}
        </button>
      </fieldset>

      <form className="selection-move" onSubmit={move} noValidate>
        <div className="field">
          <label htmlFor={`${id}-stage`}>{t("selection.moveTo")}</label>
          <select id={`${id}-stage`} value={target} onChange={(event) => setTarget(event.target.value)}>
            {stages.map((stage) => (
              <option key={stage.id} value={stage.id}>
                {stage.name}
              </option>
            ))}
            <option value="">{t("form.noStage")}</option>
            <option value={NEW_STAGE}>{t("selection.newStage")}</option>
          </select>
        </div>
        {target === NEW_STAGE ? (
          <div className="field">
            <label htmlFor={`${id}-new-stage`}>{t("selection.newStageId")}</label>
            <input
              id={`${id}-new-stage`}
              ref={newStageInput}
              value={newStage}
              onChange={(event) => setNewStage(event.target.value)}
              placeholder="review"
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${id}-stage-error` : undefined}
              autoComplete="off"
            />
          </div>
        ) : null}
        {error ? (
          <p id={`${id}-stage-error`} className="error-text" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="button">
          {t("selection.move", { count: steps.length })}
        </button>
      </form>

      <ul className="selection-list" aria-label={t("selection.list")}>
        {steps.map((step) => (
          <li key={step.id} className={step.id === activeId ? "active" : undefined}>
            <button
              type="button"
              className="link-button selection-step"
              onClick={() => onFocusStep(step.id)}
              aria-current={step.id === activeId ? "true" : undefined}
              aria-describedby={`${id}-${step.id}-meta`}
            >
              {step.name ?? step.id}
            </button>
            <span id={`${id}-${step.id}-meta`} className="muted selection-meta">
              {[
                step.name ? step.id : null,
                t(`kind.${step.kind}`, { defaultValue: step.kind }),
                step.stage ? stageName(step.stage) : null,
              ]
                .filter(Boolean)
                .join(" · ")}
            </span>
            <button
              type="button"
              className="link-button selection-remove"
              onClick={() => onDeselect(step.id)}
              aria-label={t("selection.deselect", { id: step.id })}
              title={t("selection.deselect", { id: step.id })}
            >
              ✕
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

"use client";
import { Command } from "cmdk";
import { useTranslation } from "react-i18next";
import { stepKinds } from "@/pipelines/spec/schema";
import type { NewStepKind } from "./model";

/** `a` on the canvas: pick what to add by typing (run, approval, gate, manual, any `uses` kind). */
export function AddStepPicker({ onPick, onClose }: { onPick(kind: NewStepKind): void; onClose(): void }) {
  const { t } = useTranslation("pipelines");
  const kinds: { kind: NewStepKind; label: string; description: string }[] = [
    { kind: "run", label: t("add.run"), description: t("add.runHelp") },
    { kind: "approval", label: t("add.approval"), description: t("add.approvalHelp") },
    { kind: "gate", label: t("add.gate"), description: t("add.gateHelp") },
    { kind: "manual", label: t("add.manual"), description: t("add.manualHelp") },
    ...stepKinds
      .list()
      .filter((kind) => kind.name !== "noop")
      .map((kind) => ({
        kind: `uses:${kind.name}` as NewStepKind,
        label: `uses: ${kind.name}`,
        description: kind.description,
      })),
  ];
  return (
    <Command.Dialog
      open
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      label={t("add.title")}
      loop
      aria-describedby={undefined}
    >
      <Command.Input placeholder={t("add.placeholder")} aria-label={t("add.placeholder")} />
      <Command.List>
        <Command.Empty>{t("add.empty")}</Command.Empty>
        {kinds.map((item) => (
          <Command.Item key={item.kind} value={`${item.label} ${item.description}`} onSelect={() => onPick(item.kind)}>
            <span>{item.label}</span>
            <span className="muted">{item.description}</span>
          </Command.Item>
        ))}
      </Command.List>
    </Command.Dialog>
  );
}

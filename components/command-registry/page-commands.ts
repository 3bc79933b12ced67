"use client";
import { useEffect, useRef, useSyncExternalStore } from "react";

// Commands a page offers while it is open (the studio's editing commands, a run's controls),
// listed by the command palette next to the shell's own. Every one is also reachable from the
// page itself; the palette is the keyboard way to find them.

export interface PageCommand {
  id: string;
  label: string;
  /** The shortcut shown next to it, e.g. "Ctrl Z". */
  shortcut?: string;
  keywords?: string[];
  disabled?: boolean;
  run(): void;
}

let commands: readonly PageCommand[] = [];
const listeners = new Set<() => void>();
const owners = new Map<symbol, readonly PageCommand[]>();

function publish(): void {
  commands = [...owners.values()].flat();
  for (const listener of listeners) listener();
}

/** Registers this component's commands while it is mounted (the latest `run` is always called). */
export function usePageCommands(list: readonly PageCommand[]): void {
  const owner = useRef(Symbol("page-commands"));
  const latest = useRef(list);
  latest.current = list;
  const signature = list.map((command) => `${command.id}|${command.label}|${command.disabled ? 1 : 0}`).join("\n");
  // biome-ignore lint/correctness/useExhaustiveDependencies: the signature is what changes the palette
  useEffect(() => {
    const key = owner.current;
    owners.set(
      key,
      latest.current.map((command) => ({
        ...command,
        run: () => latest.current.find((c) => c.id === command.id)?.run(),
      })),
    );
    publish();
    return () => {
      owners.delete(key);
      publish();
    };
  }, [signature]);
}

/** The commands of the open page, for the palette. */
export function usePageCommandList(): readonly PageCommand[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => commands,
    () => commands,
  );
}

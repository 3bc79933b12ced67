"use client";
import { useEffect, useRef } from "react";

const SEQUENCE_TIMEOUT_MS = 1500;

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

/**
 * Global keys: Ctrl/Cmd+K (palette, works everywhere), `?` (shortcut list) and `g` then a letter
 * (go to a section). Plain keys are ignored while typing in a field or inside an open dialog.
 */
export function useShortcuts(handlers: { onPalette(): void; onHelp(): void; onGo(letter: string): boolean }) {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    let pendingG = 0;
    function onKeyDown(event: KeyboardEvent) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        ref.current.onPalette();
        return;
      }
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (isTyping(event.target) || document.querySelector("dialog[open], [cmdk-dialog]")) return;
      if (event.key === "?") {
        event.preventDefault();
        ref.current.onHelp();
        return;
      }
      if (pendingG && Date.now() - pendingG < SEQUENCE_TIMEOUT_MS) {
        pendingG = 0;
        if (ref.current.onGo(event.key.toLowerCase())) event.preventDefault();
        return;
      }
      pendingG = event.key === "g" ? Date.now() : 0;
    }
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
}

"use client";
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  type FitViewOptions,
  Handle,
  MiniMap,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import {
  createContext,
  type KeyboardEvent,
  memo,
  type PointerEvent,
  type Ref,
  useCallback,
  useContext,
  useEffect,
  useImperativeHandle,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";
import { useTranslation } from "react-i18next";
import { type Layout, type LayoutNode, layoutDag, neighbourOf } from "./layout";
import "./pipeline-graph.css";
import { createSelectionStore, type NodeSelectionState, type SelectionStore } from "./selection-store";

// The pipeline's DAG on a React Flow canvas, shared by the studio (editable) and the run view
// (read-only, live statuses). Laid out by layoutDag; operable by keyboard: arrow keys move the
// selection along edges and within a column, Enter opens the selected step, Delete removes it
// (studio), and the selection is always announced. With `multiSelect` (the studio): Shift or
// Ctrl/Cmd+click toggles a step, Shift+arrow extends the selection along edges, and a drag with
// Shift held draws a box whose steps join the selection. A plain drag still pans (React Flow's
// own selection box and selectionOnDrag stay off: the box is drawn here, so that nodes stay
// unselectable for React Flow and the selection never goes through its node objects).

import { STEP_STATUSES, type StepStatus } from "@/pipelines/engine/types";

export { STEP_STATUSES, type StepStatus };

/** A symbol per status, shown with the status text: never colour alone. */
export const STATUS_ICON: Record<StepStatus, string> = {
  queued: "○",
  waiting: "⏸",
  running: "◔",
  succeeded: "✓",
  failed: "✕",
  skipped: "⤼",
  cancelled: "⊘",
  timed_out: "⏱",
};

export interface StepNodeData extends Record<string, unknown> {
  label: string;
  kind: string;
  /** `uses` kind, approval environment, ... shown small under the label. */
  detail?: string | null;
  status?: StepStatus | null;
  statusLabel?: string;
  /** Matrix instances (collapsed into this node) and how many are in each status. */
  instances?: number;
  histogram?: Partial<Record<StepStatus, number>>;
  duration?: string | null;
  problems?: readonly string[];
  stage?: string | null;
  /** Highlighted (critical path, a diff): "critical", "added", "removed", "changed". */
  mark?: "critical" | "added" | "removed" | "changed" | null;
}

export interface GraphStep {
  id: string;
  needs: readonly string[];
  data: StepNodeData;
}

/** How a click or arrow key changes the selection: only that step, in/out of it, or add and move there. */
export type SelectHow = "replace" | "toggle" | "extend";

export interface PipelineGraphProps {
  steps: readonly GraphStep[];
  /** The selected step, or with multi-select the active one (the keyboard's cursor). */
  selectedId: string | null;
  /** With multi-select: every selected step (the active one among them). */
  selectedIds?: readonly string[];
  onSelect(id: string | null, how?: SelectHow): void;
  /** Multi-select: modifier clicks toggle, Shift+arrows extend, Shift+drag draws a box (onSelectBox). */
  multiSelect?: boolean;
  /** The steps inside a box drawn with Shift held (multi-select). */
  onSelectBox?(ids: string[]): void;
  /** Enter on the selected step, or a double click. */
  onOpen?(id: string): void;
  /** Editable graphs: new edges and deletions. */
  onConnect?(from: string, to: string): void;
  onDeleteEdge?(from: string, to: string): void;
  /** Delete or Backspace with a selection (the studio removes every selected step). */
  onDeleteSelection?(): void;
  ariaLabel: string;
  /** Stages to draw as boxes around their steps (steps name theirs in data.stage). */
  stages?: readonly { id: string; name: string }[];
  /** Extra keys the canvas handles first (the studio's shortcuts); return true when handled. */
  onKeyDown?(event: KeyboardEvent<HTMLDivElement>): boolean;
  className?: string;
  /** Zoom commands for the page's palette. */
  handleRef?: Ref<PipelineGraphHandle>;
}

export interface PipelineGraphHandle {
  /** The whole graph in view. */
  fitView(): void;
  zoomIn(): void;
  zoomOut(): void;
}

const NODE_WIDTH = 220;
const NODE_HEIGHT = 64;

const SelectionContext = createContext<SelectionStore | null>(null);

/** This node's selection state, from the store: only this node re-renders when it changes. */
function useNodeSelection(id: string): NodeSelectionState {
  const store = useContext(SelectionContext);
  const subscribe = useCallback((listener: () => void) => store?.subscribe(id, listener) ?? (() => {}), [store, id]);
  return useSyncExternalStore(
    subscribe,
    () => store?.stateOf(id) ?? 0,
    () => 0,
  );
}

/** Step kind names, translated once per graph rather than once per node. */
const KindLabelContext = createContext<(kind: string) => string>((kind) => kind);

const StepNode = memo(function StepNode({ id, data }: NodeProps<Node<StepNodeData>>) {
  const kindLabel = useContext(KindLabelContext);
  const selection = useNodeSelection(id);
  const histogram = data.histogram
    ? STEP_STATUSES.filter((status) => (data.histogram?.[status] ?? 0) > 0).map((status) => ({
        status,
        count: data.histogram?.[status] ?? 0,
      }))
    : [];
  return (
    <div
      className={[
        "step-node",
        `kind-${data.kind}`,
        data.status ? `status-${data.status}` : "",
        data.problems && data.problems.length > 0 ? "invalid" : "",
        data.mark ? `mark-${data.mark}` : "",
        selection > 0 ? "selected" : "",
        selection === 2 ? "active" : "",
      ].join(" ")}
      title={data.problems?.join("\n")}
    >
      <Handle type="target" position={Position.Left} />
      <div className="step-node-title">
        {data.status ? (
          <span className="step-node-status" aria-hidden="true">
            {STATUS_ICON[data.status]}
          </span>
        ) : null}
        <span className="step-node-label">{data.label}</span>
        {data.instances && data.instances > 1 ? <span className="step-node-count">×{data.instances}</span> : null}
      </div>
      <div className="step-node-meta">
        <span>{data.detail ?? kindLabel(data.kind)}</span>
        {data.statusLabel ? <span className="step-node-status-text">{data.statusLabel}</span> : null}
        {data.duration ? <span>{data.duration}</span> : null}
      </div>
      {histogram.length > 1 ? (
        <div
          className="step-node-histogram"
          role="img"
          aria-label={histogram.map((h) => `${h.count} ${h.status}`).join(", ")}
        >
          {histogram.map((h) => (
            <span key={h.status} className={`bar status-${h.status}`} style={{ flexGrow: h.count }} />
          ))}
        </div>
      ) : null}
      {data.problems && data.problems.length > 0 ? <div className="step-node-problem">⚠ {data.problems[0]}</div> : null}
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

interface StageNodeData extends Record<string, unknown> {
  label: string;
}

/** A stage drawn as a box behind its steps (stages group for display; order comes from needs). */
const StageNode = memo(function StageNode({ data }: NodeProps<Node<StageNodeData>>) {
  return (
    <div className="stage-node" aria-hidden="true">
      <span className="stage-node-label">{data.label}</span>
    </div>
  );
});

const NODE_TYPES = { step: StepNode, stage: StageNode };
/** Where a Shift+drag does not start a box: on a step (that is a Shift+click), the controls, an edge. */
const BOX_EXCLUDED =
  ".react-flow__node-step, .react-flow__controls, .react-flow__minimap, .react-flow__handle, .react-flow__edge";
const STAGE_PADDING = 14;
/** Above this many steps only what is in view is rendered, and the graph opens on its start. */
const LARGE_GRAPH = 200;
/** How many steps a large graph opens on (its first columns), at a readable zoom. */
const OPENING_STEPS = 40;
const FIT_ALL = { padding: 0.15, maxZoom: 1.2, duration: 200 };

/** The nodes a graph opens on: all of a small one; the first columns of a large one (at a zoom
 * where the labels can be read; the minimap and "zoom to fit" show the rest). */
function openingView(layout: Layout, count: number): FitViewOptions {
  if (count <= LARGE_GRAPH) return { padding: 0.15, maxZoom: 1.2 };
  const nodes: { id: string }[] = [];
  for (const rank of layout.ranks) {
    for (const id of rank) nodes.push({ id });
    if (nodes.length >= OPENING_STEPS) break;
  }
  return { padding: 0.1, maxZoom: 1, minZoom: 0.5, nodes };
}

/** Under this many pixels a Shift+drag is a Shift+click, not a box. */
const BOX_THRESHOLD = 4;

function GraphCanvas(props: PipelineGraphProps) {
  const { steps, selectedId, selectedIds, onSelect, onOpen, onConnect, onDeleteEdge, onDeleteSelection } = props;
  const multiSelect = props.multiSelect === true;
  const editable = onConnect !== undefined;
  const flow = useReactFlow();
  const { t } = useTranslation("pipelines");
  const kindLabel = useCallback((kind: string) => t(`kind.${kind}`, { defaultValue: kind }), [t]);
  const layoutInput: LayoutNode[] = useMemo(() => steps.map((step) => ({ id: step.id, needs: step.needs })), [steps]);
  const layout = useMemo(
    () => layoutDag(layoutInput, { nodeWidth: NODE_WIDTH, nodeHeight: NODE_HEIGHT }),
    [layoutInput],
  );
  const stageNodes: Node<StageNodeData>[] = useMemo(() => {
    const boxes = new Map<string, { x0: number; y0: number; x1: number; y1: number }>();
    for (const step of steps) {
      const stage = step.data.stage;
      const position = layout.positions.get(step.id);
      if (!stage || !position) continue;
      const box = boxes.get(stage) ?? { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
      box.x0 = Math.min(box.x0, position.x);
      box.y0 = Math.min(box.y0, position.y);
      box.x1 = Math.max(box.x1, position.x + NODE_WIDTH);
      box.y1 = Math.max(box.y1, position.y + NODE_HEIGHT);
      boxes.set(stage, box);
    }
    return [...boxes].map(([stage, box]) => ({
      id: `stage:${stage}`,
      type: "stage",
      position: { x: box.x0 - STAGE_PADDING, y: box.y0 - STAGE_PADDING - 18 },
      data: { label: props.stages?.find((candidate) => candidate.id === stage)?.name ?? stage },
      width: box.x1 - box.x0 + 2 * STAGE_PADDING,
      height: box.y1 - box.y0 + 2 * STAGE_PADDING + 18,
      style: { width: box.x1 - box.x0 + 2 * STAGE_PADDING, height: box.y1 - box.y0 + 2 * STAGE_PADDING + 18 },
      zIndex: -1,
      selectable: false,
      draggable: false,
      connectable: false,
      focusable: false,
    }));
  }, [steps, layout, props.stages]);
  // The nodes do not depend on the selection: a click must not hand React Flow (and the minimap)
  // thousands of new node objects.
  const nodes: Node[] = useMemo(
    () => [
      ...stageNodes,
      ...steps.map((step) => {
        const position = layout.positions.get(step.id) ?? { x: 0, y: 0 };
        return {
          id: step.id,
          type: "step",
          position: { x: position.x, y: position.y },
          data: step.data,
          selectable: false,
          draggable: false,
          connectable: editable,
          ariaLabel: [step.data.label, step.data.statusLabel, ...(step.data.problems ?? [])].filter(Boolean).join(", "),
          width: NODE_WIDTH,
          height: NODE_HEIGHT,
        };
      }),
    ],
    [steps, stageNodes, layout, editable],
  );
  const edges: Edge[] = useMemo(() => {
    const byId = new Map(steps.map((step) => [step.id, step]));
    return steps.flatMap((step) =>
      step.needs
        .filter((need) => byId.has(need))
        .map((need) => ({
          id: `${need}->${step.id}`,
          source: need,
          target: step.id,
          className: step.data.mark === "critical" && byId.get(need)?.data.mark === "critical" ? "critical" : undefined,
          deletable: editable,
        })),
    );
  }, [steps, editable]);
  useImperativeHandle(
    props.handleRef,
    () => ({
      fitView: () => void flow.fitView(FIT_ALL),
      zoomIn: () => void flow.zoomIn({ duration: 150 }),
      zoomOut: () => void flow.zoomOut({ duration: 150 }),
    }),
    [flow],
  );
  // Computed once per graph shape: a re-layout after an edit keeps the user's viewport.
  const opening = useMemo(() => openingView(layout, steps.length), [layout, steps.length]);
  // The selection reaches the nodes through a store each node watches for its own id, so a
  // change re-renders the two nodes concerned, not the graph.
  const [selection] = useState(createSelectionStore);
  useLayoutEffect(
    () => selection.set(selectedIds ?? (selectedId === null ? [] : [selectedId]), selectedId),
    [selection, selectedIds, selectedId],
  );

  // Keep the selected step in view as the selection moves by keyboard.
  const lastCentered = useRef<string | null>(null);
  useEffect(() => {
    if (!selectedId || selectedId === lastCentered.current) return;
    lastCentered.current = selectedId;
    const position = layout.positions.get(selectedId);
    if (!position) return;
    const viewport = flow.getViewport();
    const bounds = document.querySelector(".pipeline-graph")?.getBoundingClientRect();
    if (!bounds) return;
    const x = position.x * viewport.zoom + viewport.x;
    const y = position.y * viewport.zoom + viewport.y;
    if (
      x < 0 ||
      y < 0 ||
      x + NODE_WIDTH * viewport.zoom > bounds.width ||
      y + NODE_HEIGHT * viewport.zoom > bounds.height
    ) {
      void flow.setCenter(position.x + NODE_WIDTH / 2, position.y + NODE_HEIGHT / 2, {
        zoom: viewport.zoom,
        duration: 150,
      });
    }
  }, [selectedId, layout, flow]);

  const onKeyDown = useCallback(
    (event: KeyboardEvent<HTMLDivElement>) => {
      if (props.onKeyDown?.(event)) return;
      const target = event.target as HTMLElement;
      if (target.closest("input, textarea, select, [contenteditable=true]")) return;
      if (
        event.key === "ArrowLeft" ||
        event.key === "ArrowRight" ||
        event.key === "ArrowUp" ||
        event.key === "ArrowDown"
      ) {
        const from = selectedId ?? layout.ranks[0]?.[0] ?? null;
        if (!from) return;
        const next = selectedId ? neighbourOf(layout, layoutInput, from, event.key) : from;
        // Shift+arrow: the next step joins the selection (multi-select).
        if (next) onSelect(next, multiSelect && event.shiftKey && selectedId ? "extend" : "replace");
        event.preventDefault();
      } else if (event.key === "Enter" && selectedId) {
        onOpen?.(selectedId);
        event.preventDefault();
      } else if ((event.key === "Delete" || event.key === "Backspace") && selectedId && onDeleteSelection) {
        onDeleteSelection();
        event.preventDefault();
      } else if (event.key === "Escape") {
        onSelect(null);
      } else if (!event.ctrlKey && !event.metaKey && !event.altKey && (event.key === "f" || event.key === "F")) {
        void flow.fitView(FIT_ALL);
        event.preventDefault();
      } else if (!event.ctrlKey && !event.metaKey && (event.key === "+" || event.key === "=")) {
        void flow.zoomIn({ duration: 150 });
        event.preventDefault();
      } else if (!event.ctrlKey && !event.metaKey && event.key === "-") {
        void flow.zoomOut({ duration: 150 });
        event.preventDefault();
      }
    },
    [props.onKeyDown, selectedId, layout, layoutInput, onSelect, onOpen, onDeleteSelection, flow, multiSelect],
  );

  // The Shift+drag box: drawn straight into the DOM while it moves (no React render per
  // pointer move), its steps computed from the layout when it is let go.
  const box = useRef<{ x: number; y: number; pointerId: number } | null>(null);
  const boxElement = useRef<HTMLDivElement>(null);
  const onSelectBox = props.onSelectBox;
  const drawBox = (event: PointerEvent<HTMLDivElement>) => {
    const start = box.current;
    const element = boxElement.current;
    if (!start || !element) return;
    const bounds = event.currentTarget.getBoundingClientRect();
    element.style.display = "block";
    element.style.left = `${Math.min(start.x, event.clientX) - bounds.left}px`;
    element.style.top = `${Math.min(start.y, event.clientY) - bounds.top}px`;
    element.style.width = `${Math.abs(event.clientX - start.x)}px`;
    element.style.height = `${Math.abs(event.clientY - start.y)}px`;
  };
  const onBoxStart = (event: PointerEvent<HTMLDivElement>) => {
    if (!multiSelect || !onSelectBox || !event.shiftKey || event.button !== 0 || !event.isPrimary) return;
    const target = event.target as HTMLElement;
    if (!target.closest(".react-flow") || target.closest(BOX_EXCLUDED)) return;
    // Before React Flow's panning sees it: a Shift+drag selects, a plain drag pans.
    event.preventDefault();
    event.stopPropagation();
    event.currentTarget.setPointerCapture(event.pointerId);
    box.current = { x: event.clientX, y: event.clientY, pointerId: event.pointerId };
  };
  const onBoxEnd = (event: PointerEvent<HTMLDivElement>) => {
    const start = box.current;
    if (!start || start.pointerId !== event.pointerId) return;
    box.current = null;
    if (boxElement.current) boxElement.current.style.display = "none";
    event.currentTarget.releasePointerCapture(event.pointerId);
    if (Math.hypot(event.clientX - start.x, event.clientY - start.y) < BOX_THRESHOLD) return;
    const a = flow.screenToFlowPosition({ x: start.x, y: start.y });
    const b = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    const [x0, x1] = [Math.min(a.x, b.x), Math.max(a.x, b.x)];
    const [y0, y1] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
    // Every step the box touches, in layout order (column by column).
    const inside = layout.ranks.flat().filter((id) => {
      const position = layout.positions.get(id);
      return (
        position !== undefined &&
        position.x < x1 &&
        position.x + NODE_WIDTH > x0 &&
        position.y < y1 &&
        position.y + NODE_HEIGHT > y0
      );
    });
    if (inside.length > 0) onSelectBox?.(inside);
  };

  const selected = useMemo(() => steps.find((step) => step.id === selectedId), [steps, selectedId]);
  const count = selectedIds?.length ?? (selectedId ? 1 : 0);
  const label = selected ? [selected.data.label, selected.data.statusLabel].filter(Boolean).join(", ") : "";
  return (
    <div
      className={`pipeline-graph ${props.className ?? ""}`}
      onKeyDown={onKeyDown}
      onPointerDownCapture={onBoxStart}
      onPointerMove={drawBox}
      onPointerUp={onBoxEnd}
      onPointerCancel={onBoxEnd}
      role="application"
      aria-label={props.ariaLabel}
      aria-roledescription="graph"
      // biome-ignore lint/a11y/noNoninteractiveTabindex: keyboard users navigate the graph from here
      tabIndex={0}
    >
      <div className="visually-hidden" aria-live="polite">
        {count > 1 ? t("graph.selection", { count, label }) : label}
      </div>
      <div ref={boxElement} className="selection-box" aria-hidden="true" />
      <KindLabelContext.Provider value={kindLabel}>
        <SelectionContext.Provider value={selection}>
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            fitView
            fitViewOptions={opening}
            minZoom={0.05}
            maxZoom={2}
            onlyRenderVisibleElements={steps.length > LARGE_GRAPH}
            nodesDraggable={false}
            nodesConnectable={editable}
            elementsSelectable
            deleteKeyCode={null}
            selectionKeyCode={null}
            multiSelectionKeyCode={null}
            onNodeClick={(event, node) => {
              if (node.type !== "step") return;
              const toggle = multiSelect && (event.shiftKey || event.ctrlKey || event.metaKey);
              onSelect(node.id, toggle ? "toggle" : "replace");
            }}
            onNodeDoubleClick={(_event, node) => {
              if (node.type === "step") onOpen?.(node.id);
            }}
            onPaneClick={(event) => {
              // A Shift/Ctrl+click beside the steps keeps the selection (it is how a box starts).
              if (!(multiSelect && (event.shiftKey || event.ctrlKey || event.metaKey))) onSelect(null);
            }}
            onConnect={(connection: Connection) => {
              if (connection.source && connection.target && connection.source !== connection.target) {
                onConnect?.(connection.source, connection.target);
              }
            }}
            onEdgesDelete={(deleted) => {
              for (const edge of deleted) onDeleteEdge?.(edge.source, edge.target);
            }}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={24} size={1} />
            <Controls showInteractive={false} fitViewOptions={FIT_ALL} />
            {steps.length > 8 ? <MiniMap pannable zoomable ariaLabel={props.ariaLabel} /> : null}
          </ReactFlow>
        </SelectionContext.Provider>
      </KindLabelContext.Provider>
    </div>
  );
}

export function PipelineGraph(props: PipelineGraphProps) {
  return (
    <ReactFlowProvider>
      <GraphCanvas {...props} />
    </ReactFlowProvider>
  );
}

/**
 * What one Node's status says about node-doctor on it: the state of each of
 * our conditions, the worst reason, and whether the agent is still writing.
 * Pure: the fleet commands feed it Nodes from the API server, tests feed it
 * fixtures.
 */
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { CONDITION_TYPES, type ConditionStatus, type ConditionType } from "../types.js";

/** How a node looks from the fleet's side, worst first. */
export const NODE_STATES = ["sick", "agent silent", "unknown", "healthy", "not covered"] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface ConditionCell {
  status: ConditionStatus;
  reason: string;
  message: string;
  lastHeartbeatMs?: number;
  lastTransitionMs?: number;
}

export interface NodeSummary {
  name: string;
  state: NodeState;
  conditions: Partial<Record<ConditionType, ConditionCell>>;
  /** The reason of the worst of our conditions (True before Unknown), or "" when all are False. */
  worstReason: string;
  worstCondition?: ConditionType;
  /** node-doctor's newest heartbeat on this node (ms since the epoch); undefined when not covered. */
  lastHeartbeatMs?: number;
  /** kubelet's own Ready condition, for context. */
  ready?: ConditionStatus;
}

export interface SummaryOptions {
  nowMs: number;
  /** The agents' heartbeat period; a node silent for more than 3 of them is flagged. */
  heartbeatSeconds: number;
}

const OURS = new Set<string>(CONDITION_TYPES);

function timeMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function asStatus(value: string): ConditionStatus {
  return value === "True" || value === "False" ? value : "Unknown";
}

function cellOf(condition: NodeCondition): ConditionCell {
  const heartbeat = timeMs(condition.lastHeartbeatTime);
  const transition = timeMs(condition.lastTransitionTime);
  return {
    status: asStatus(condition.status),
    reason: condition.reason ?? "",
    message: condition.message ?? "",
    ...(heartbeat !== undefined ? { lastHeartbeatMs: heartbeat } : {}),
    ...(transition !== undefined ? { lastTransitionMs: transition } : {}),
  };
}

export function summariseNode(node: Node, options: SummaryOptions): NodeSummary {
  const name = node.metadata?.name ?? "";
  const conditions: Partial<Record<ConditionType, ConditionCell>> = {};
  let ready: ConditionStatus | undefined;
  let newestHeartbeat: number | undefined;
  for (const condition of node.status?.conditions ?? []) {
    if (condition.type === "Ready") ready = asStatus(condition.status);
    if (!OURS.has(condition.type)) continue;
    const cell = cellOf(condition);
    conditions[condition.type as ConditionType] = cell;
    const beat = cell.lastHeartbeatMs ?? cell.lastTransitionMs;
    if (beat !== undefined && (newestHeartbeat === undefined || beat > newestHeartbeat)) newestHeartbeat = beat;
  }
  const summary: NodeSummary = { name, state: "not covered", conditions, worstReason: "", ...(ready ? { ready } : {}) };
  const present = CONDITION_TYPES.filter((type) => conditions[type]);
  if (present.length === 0) return summary;

  const worst = present.find((type) => conditions[type]?.status === "True") ?? present.find((type) => conditions[type]?.status === "Unknown");
  if (worst) {
    summary.worstCondition = worst;
    summary.worstReason = conditions[worst]?.reason ?? "";
  }
  if (newestHeartbeat !== undefined) summary.lastHeartbeatMs = newestHeartbeat;
  const silent = newestHeartbeat === undefined || options.nowMs - newestHeartbeat > 3 * options.heartbeatSeconds * 1000;
  if (silent) summary.state = "agent silent";
  else if (present.some((type) => conditions[type]?.status === "True")) summary.state = "sick";
  else if (worst) summary.state = "unknown";
  else summary.state = "healthy";
  return summary;
}

export interface FleetTotals {
  nodes: number;
  sick: number;
  /** Nodes with each condition True. */
  sickBy: Partial<Record<ConditionType, number>>;
  unknown: number;
  silent: number;
  notCovered: number;
  healthy: number;
}

/** Accumulates totals page by page, so a 5,000-node fleet never needs every row at once. */
export class FleetTally {
  readonly totals: FleetTotals = { nodes: 0, sick: 0, sickBy: {}, unknown: 0, silent: 0, notCovered: 0, healthy: 0 };

  add(summary: NodeSummary): void {
    const t = this.totals;
    t.nodes++;
    if (summary.state === "sick") t.sick++;
    else if (summary.state === "unknown") t.unknown++;
    else if (summary.state === "agent silent") t.silent++;
    else if (summary.state === "not covered") t.notCovered++;
    else t.healthy++;
    if (summary.state === "agent silent") return;
    for (const type of CONDITION_TYPES) {
      if (summary.conditions[type]?.status === "True") t.sickBy[type] = (t.sickBy[type] ?? 0) + 1;
    }
  }
}

export function describeTotals(t: FleetTotals): string {
  const by = CONDITION_TYPES.filter((type) => t.sickBy[type]).map((type) => `${type} ${t.sickBy[type]}`);
  const parts = [
    `${t.nodes} node${t.nodes === 1 ? "" : "s"}`,
    `${t.sick} sick${by.length ? ` (${by.join(", ")})` : ""}`,
    `${t.unknown} unknown`,
    `${t.silent} agent${t.silent === 1 ? "" : "s"} silent`,
    `${t.notCovered} not covered`,
  ];
  return parts.join(", ");
}

/**
 * What one Node's status says about node-doctor on it: the state of each of
 * our conditions, the worst reason, and whether the agent is still writing.
 * Pure: the fleet commands feed it Nodes from the API server, tests feed it
 * fixtures.
 *
 * Our conditions are the built-in types, and the custom checks' types
 * (`checks.custom`, configured per cluster): a type of no built-in name that
 * node-doctor's field manager added to the Node, as its managedFields say.
 * A Node without managedFields shows the built-in types only: a name alone
 * cannot tell a configured type from another agent's.
 */
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { conditionOwners, FIELD_MANAGER } from "../kube/ownership.js";
import {
  CONDITION_TYPES,
  customConditionType,
  customConditionTypeProblem,
  type ConditionStatus,
  type ConditionType,
  type CustomConditionType,
} from "../types.js";

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
  /** The custom checks' condition types on this Node (node-doctor added them), sorted. */
  custom: CustomConditionType[];
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

/** The condition types node-doctor's field manager added to `node` that no built-in check feeds: the custom checks'. */
function customTypesOf(node: Node): Set<string> {
  const custom = new Set<string>();
  for (const [type, holders] of conditionOwners(node)) {
    if (OURS.has(type) || customConditionTypeProblem(type)) continue;
    if (holders.some((h) => h.manager === FIELD_MANAGER && h.added)) custom.add(type);
  }
  return custom;
}

/** Every condition type of ours in a summary, the built-in ones first (in their order), then the custom ones. */
export function conditionTypesOf(summary: Pick<NodeSummary, "conditions" | "custom">): ConditionType[] {
  return [...CONDITION_TYPES.filter((type) => summary.conditions[type]), ...summary.custom];
}

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
  const customTypes = customTypesOf(node);
  const custom: CustomConditionType[] = [];
  for (const condition of node.status?.conditions ?? []) {
    if (condition.type === "Ready") ready = asStatus(condition.status);
    const cell = cellOf(condition);
    if (OURS.has(condition.type)) conditions[condition.type as ConditionType] = cell;
    else if (customTypes.has(condition.type)) {
      const type = customConditionType(condition.type);
      conditions[type] = cell;
      custom.push(type);
    } else continue;
    const beat = cell.lastHeartbeatMs ?? cell.lastTransitionMs;
    if (beat !== undefined && (newestHeartbeat === undefined || beat > newestHeartbeat)) newestHeartbeat = beat;
  }
  custom.sort();
  const summary: NodeSummary = { name, state: "not covered", conditions, custom, worstReason: "", ...(ready ? { ready } : {}) };
  const present = conditionTypesOf(summary);
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
  /** Every custom condition type seen on any node: the table's extra columns. */
  private readonly custom = new Set<CustomConditionType>();

  customTypes(): CustomConditionType[] {
    return [...this.custom].sort();
  }

  add(summary: NodeSummary): void {
    const t = this.totals;
    t.nodes++;
    if (summary.state === "sick") t.sick++;
    else if (summary.state === "unknown") t.unknown++;
    else if (summary.state === "agent silent") t.silent++;
    else if (summary.state === "not covered") t.notCovered++;
    else t.healthy++;
    for (const type of summary.custom) this.custom.add(type);
    if (summary.state === "agent silent") return;
    for (const type of conditionTypesOf(summary)) {
      if (summary.conditions[type]?.status === "True") t.sickBy[type] = (t.sickBy[type] ?? 0) + 1;
    }
  }
}

export function describeTotals(t: FleetTotals): string {
  const custom = Object.keys(t.sickBy)
    .filter((type) => !OURS.has(type))
    .sort();
  const by = [...CONDITION_TYPES, ...custom].filter((type) => t.sickBy[type as ConditionType]).map((type) => `${type} ${t.sickBy[type as ConditionType]}`);
  const parts = [
    `${t.nodes} node${t.nodes === 1 ? "" : "s"}`,
    `${t.sick} sick${by.length ? ` (${by.join(", ")})` : ""}`,
    `${t.unknown} unknown`,
    `${t.silent} agent${t.silent === 1 ? "" : "s"} silent`,
    `${t.notCovered} not covered`,
  ];
  return parts.join(", ");
}

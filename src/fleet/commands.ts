/**
 * The fleet commands behind `kubectl node-doctor`: status (every node at a
 * glance), describe (one node in full) and cleanup (remove our conditions
 * fleet-wide). Each returns its output and exit code; the entry point owns
 * the terminal.
 */
import type { Event as CoreEvent, Node } from "kubernetes-types/core/v1.js";
import { renderText } from "../sinks/text.js";
import { CONDITION_TYPES, type ConditionType } from "../types.js";
import type { FleetApi } from "./fleet-api.js";
import { conditionTypesOf, FleetTally, summariseNode, type NodeSummary } from "./node-summary.js";
import { formatAge, renderStatusJson, renderStatusTable } from "./render-status.js";
import { errorText } from "../text/format.js";

/** Nodes per list request: the API server's usual page size for kubectl. */
export const PAGE_SIZE = 500;

export interface CommandResult {
  /** Printed in order; an iterable lets large output stream instead of being built whole. */
  output: string | Iterable<string>;
  exitCode: number;
}

export interface StatusOptions {
  labelSelector?: string;
  output: "table" | "wide" | "json";
  colour: boolean;
  heartbeatSeconds: number;
  nowMs: number;
  signal: AbortSignal;
  pageSize?: number;
}

/** Walks every node page by page; only the summaries are kept, never the pages. */
async function forEachNodePage(
  api: FleetApi,
  options: { labelSelector?: string; pageSize?: number; signal: AbortSignal },
  visit: (items: Node[]) => void | Promise<void>,
): Promise<void> {
  let token: string | undefined;
  do {
    const page = await api.listNodes(
      {
        ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
        limit: options.pageSize ?? PAGE_SIZE,
        ...(token ? { continue: token } : {}),
      },
      options.signal,
    );
    await visit(page.items);
    token = page.continue || undefined;
  } while (token);
}

export async function fleetStatus(api: FleetApi, options: StatusOptions): Promise<CommandResult> {
  const tally = new FleetTally();
  const rows: NodeSummary[] = [];
  await forEachNodePage(api, options, (items) => {
    for (const node of items) {
      const summary = summariseNode(node, { nowMs: options.nowMs, heartbeatSeconds: options.heartbeatSeconds });
      tally.add(summary);
      rows.push(summary);
    }
  });
  rows.sort((a, b) => a.name.localeCompare(b.name));
  const output =
    options.output === "json"
      ? renderStatusJson(rows, tally.totals)
      : renderStatusTable(rows, tally.totals, {
          wide: options.output === "wide",
          colour: options.colour,
          nowMs: options.nowMs,
          customTypes: tally.customTypes(),
        });
  return { output, exitCode: 0 };
}

export interface DescribeOptions {
  colour: boolean;
  heartbeatSeconds: number;
  nowMs: number;
  signal: AbortSignal;
  width?: number;
}

function eventTimeMs(event: CoreEvent): number | undefined {
  const stamp = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp;
  const ms = stamp ? Date.parse(stamp) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

export async function fleetDescribe(api: FleetApi, name: string, options: DescribeOptions): Promise<CommandResult> {
  const node = await api.getNode(name, options.signal);
  if (!node) return { output: `node-doctor: node "${name}" not found\n`, exitCode: 1 };
  const summary = summariseNode(node, { nowMs: options.nowMs, heartbeatSeconds: options.heartbeatSeconds });
  const out: string[] = [`Node:       ${name}`, `State:      ${summary.state}`];
  if (summary.ready) out.push(`Ready:      ${summary.ready} (kubelet)`);
  out.push(`Heartbeat:  ${summary.lastHeartbeatMs === undefined ? "none" : `${formatAge(options.nowMs - summary.lastHeartbeatMs)} ago`}`, "", "Conditions:");
  const present = conditionTypesOf(summary);
  if (present.length === 0) out.push("  none: node-doctor does not run on this node (or has never written)");
  for (const type of present) {
    const cell = summary.conditions[type];
    if (!cell) continue;
    const since = cell.lastTransitionMs === undefined ? "" : `, since ${formatAge(options.nowMs - cell.lastTransitionMs)}`;
    out.push(`  ${type}=${cell.status}  ${cell.reason}${since}`);
    if (cell.message) out.push(`    ${cell.message}`);
  }

  out.push("", "Events:");
  const events = await api.listNodeEvents(name, options.signal);
  if (events.length === 0) out.push("  none");
  for (const event of events.slice(-20)) {
    const at = eventTimeMs(event);
    const age = at === undefined ? "-" : formatAge(options.nowMs - at);
    const count = event.count && event.count > 1 ? ` (x${event.count})` : "";
    out.push(`  ${(event.type ?? "").padEnd(7)} ${(event.reason ?? "").padEnd(28)} ${age.padStart(4)} ago${count}  ${event.message ?? ""}`);
  }

  out.push("", "Live findings:");
  const live = await api.agentFindings(name, options.signal);
  if ("unavailable" in live) out.push(`  unavailable: ${live.unavailable}`);
  else {
    const report = renderText(live.findings, { colour: options.colour, width: options.width ?? 100 });
    out.push(
      ...report
        .trimEnd()
        .split("\n")
        .map((line) => (line ? `  ${line}` : line)),
    );
  }
  return { output: out.join("\n") + "\n", exitCode: 0 };
}

export interface CleanupOptions {
  labelSelector?: string;
  dryRun: boolean;
  signal: AbortSignal;
  /** Asked once, with the count, before anything is removed; absent = no prompt (non-interactive). */
  confirm?: (question: string) => Promise<boolean>;
  /** Concurrent PATCHes: gentle on the API server. */
  concurrency?: number;
  pageSize?: number;
}

export async function fleetCleanup(api: FleetApi, options: CleanupOptions): Promise<CommandResult> {
  const targets: { name: string; types: ConditionType[] }[] = [];
  await forEachNodePage(api, options, (items) => {
    for (const node of items) {
      const ours = CONDITION_TYPES.filter((type) => node.status?.conditions?.some((c) => c.type === type));
      if (ours.length > 0 && node.metadata?.name) targets.push({ name: node.metadata.name, types: ours });
    }
  });
  targets.sort((a, b) => a.name.localeCompare(b.name));
  if (targets.length === 0) return { output: "no node carries node-doctor conditions; nothing to do\n", exitCode: 0 };
  const plan = targets.map((t) => `  ${t.name}: ${t.types.join(", ")}`);
  if (options.dryRun) {
    return { output: [`would remove node-doctor conditions from ${targets.length} node(s):`, ...plan, ""].join("\n"), exitCode: 0 };
  }
  if (options.confirm && !(await options.confirm(`Remove node-doctor conditions from ${targets.length} node(s)? [y/N] `))) {
    return { output: "aborted; nothing removed\n", exitCode: 1 };
  }
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const target = targets[next++];
      if (!target) break;
      try {
        await api.removeConditions(target.name, options.signal);
      } catch (error) {
        failures.push(`  ${target.name}: ${errorText(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 5, targets.length) }, worker));
  const removed = targets.length - failures.length;
  const out = [`removed node-doctor conditions from ${removed} of ${targets.length} node(s)`];
  if (failures.length) out.push("failed:", ...failures.sort());
  return { output: out.join("\n") + "\n", exitCode: failures.length ? 1 : 0 };
}

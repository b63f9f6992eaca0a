/**
 * `kubectl node-doctor status` output: a kubectl-style table (colour only on a
 * TTY), a wide variant with kubelet's Ready and the worst message, and JSON.
 */
import { CONDITION_TYPES, type BuiltinConditionType, type ConditionType, type CustomConditionType } from "../types.js";
import { conditionTypesOf, describeTotals, type FleetTotals, type NodeState, type NodeSummary } from "./node-summary.js";
import { isoTimeMs } from "../text/format.js";

/** Column headings for our conditions, short enough for an 80-column terminal. */
export const CONDITION_COLUMNS: Record<BuiltinConditionType, string> = {
  KubeletUnhealthy: "KUBELET",
  KubeletConfigInvalid: "CONFIG",
  KubeletCertificateInvalid: "CERT",
  ClockSkewed: "CLOCK",
  DiskSpaceLow: "DISK",
  ContainerRuntimeUnhealthy: "RUNTIME",
  NodeNetworkUnhealthy: "NETWORK",
  KernelUnhealthy: "KERNEL",
  FilesystemErrors: "FS",
  HardwareErrors: "HW",
  NodeResourceExhausted: "EXHAUST",
};

const RED = "\x1b[31m";
const YELLOW = "\x1b[33m";
const MAGENTA = "\x1b[35m";
const GREEN = "\x1b[32m";
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

const STATE_COLOUR: Record<NodeState, string> = {
  sick: RED,
  "agent silent": YELLOW,
  unknown: MAGENTA,
  healthy: GREEN,
  "not covered": DIM,
};

/** "45s", "12m", "3h", "2d": kubectl's AGE style. */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function cellText(summary: NodeSummary, type: ConditionType): string {
  const status = summary.conditions[type]?.status;
  if (!status) return "-";
  return status === "False" ? "ok" : status === "True" ? "FAIL" : "unknown";
}

export interface TableOptions {
  wide: boolean;
  colour: boolean;
  nowMs: number;
  /** The custom checks' condition types found on the nodes: a column each, after the built-in ones, headed by the type. */
  customTypes?: readonly CustomConditionType[];
}

export function renderStatusTable(rows: readonly NodeSummary[], totals: FleetTotals, options: TableOptions): string {
  const custom = options.customTypes ?? [];
  const columns: ConditionType[] = [...CONDITION_TYPES, ...custom];
  const headers = ["NODE", "STATE", ...CONDITION_TYPES.map((t) => CONDITION_COLUMNS[t]), ...custom, "REASON", "HEARTBEAT"];
  if (options.wide) headers.push("READY", "MESSAGE");
  const table = rows.map((row) => {
    const cells = [
      row.name,
      row.state,
      ...columns.map((t) => cellText(row, t)),
      row.worstReason || "-",
      formatAge(row.lastHeartbeatMs === undefined ? undefined : Math.max(0, options.nowMs - row.lastHeartbeatMs)),
    ];
    if (options.wide) {
      const message = row.worstCondition ? (row.conditions[row.worstCondition]?.message ?? "") : "";
      cells.push(row.ready ?? "-", message.replace(/\s+/g, " ") || "-");
    }
    return cells;
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i]?.length ?? 0)));
  const line = (cells: readonly string[], paint?: (i: number, text: string) => string) =>
    cells
      .map((cell, i) => {
        // The last column is not padded: no trailing spaces.
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        return paint ? paint(i, padded) : padded;
      })
      .join("   ");
  const out = [line(headers)];
  for (let r = 0; r < table.length; r++) {
    const row = rows[r];
    const cells = table[r];
    if (!row || !cells) continue;
    out.push(
      line(cells, (i, text) => {
        if (!options.colour) return text;
        if (i === 1) return `${STATE_COLOUR[row.state]}${text}${RESET}`;
        const trimmed = text.trim();
        if (trimmed === "FAIL") return `${RED}${text}${RESET}`;
        if (trimmed === "unknown") return `${MAGENTA}${text}${RESET}`;
        return text;
      }),
    );
  }
  out.push("", describeTotals(totals));
  return out.join("\n") + "\n";
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : isoTimeMs(ms));

/**
 * JSON for scripts: absolute times (RFC 3339), not ages, so the output means
 * the same whenever it is read. Yielded a node at a time, so a large fleet is
 * never one giant string.
 */
export function* renderStatusJson(rows: readonly NodeSummary[], totals: FleetTotals): Generator<string> {
  yield '{\n  "nodes": [';
  let first = true;
  for (const row of rows) {
    const node = {
      name: row.name,
      state: row.state,
      worstCondition: row.worstCondition ?? null,
      worstReason: row.worstReason,
      lastHeartbeatTime: iso(row.lastHeartbeatMs) ?? null,
      ready: row.ready ?? null,
      conditions: Object.fromEntries(
        conditionTypesOf(row).map((type) => {
          const cell = row.conditions[type];
          return [
            type,
            {
              status: cell?.status,
              reason: cell?.reason,
              message: cell?.message,
              lastHeartbeatTime: iso(cell?.lastHeartbeatMs) ?? null,
              lastTransitionTime: iso(cell?.lastTransitionMs) ?? null,
            },
          ];
        }),
      ),
    };
    yield `${first ? "" : ","}\n    ${JSON.stringify(node, null, 2).replace(/\n/g, "\n    ")}`;
    first = false;
  }
  yield `\n  ],\n  "totals": ${JSON.stringify(totals, null, 2).replace(/\n/g, "\n  ")}\n}\n`;
}

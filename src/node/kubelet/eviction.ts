/**
 * kubelet's filesystem eviction thresholds: parsing them the way kubelet does
 * (KubeletConfiguration evictionHard/evictionSoft maps, --eviction-hard and
 * --eviction-soft flags) and knowing its defaults.
 *
 * Defaults are kubelet's on Linux. A configured evictionHard map replaces the
 * defaults rather than merging with them (kubelet's defaulting only fills a
 * nil map), unless `mergeDefaultEvictionSettings: true` (newer kubelets).
 */
import { formatBytes } from "../../text/format.js";

export const FILESYSTEM_SIGNALS = ["nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree"] as const;
export type FilesystemSignal = (typeof FILESYSTEM_SIGNALS)[number];

/** Signals kubelet knows that are not about filesystems; accepted and ignored here. */
const OTHER_SIGNALS = new Set(["memory.available", "allocatableMemory.available", "pid.available", "containerfs.available", "containerfs.inodesFree"]);

export type Threshold = { kind: "percent"; value: number } | { kind: "absolute"; value: number };

export const DEFAULT_EVICTION_HARD: Readonly<Record<FilesystemSignal, Threshold>> = {
  "nodefs.available": { kind: "percent", value: 10 },
  "nodefs.inodesFree": { kind: "percent", value: 5 },
  "imagefs.available": { kind: "percent", value: 15 },
  "imagefs.inodesFree": { kind: "percent", value: 5 },
};

const BINARY = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 } as const;
const DECIMAL = { m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 } as const;

/** A Kubernetes resource quantity ("1Gi", "500M", "1e9", "2048") as a number; undefined when malformed. */
export function parseQuantity(text: string): number | undefined {
  const match = /^\s*([+]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(m|k|M|G|T|P|E))?\s*$/.exec(text);
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[2]) return base * BINARY[match[2] as keyof typeof BINARY];
  if (match[3]) return base * 10 ** Number(match[3].slice(1));
  return base * DECIMAL[(match[4] ?? "") as keyof typeof DECIMAL];
}

/** "10%" or a quantity; a problem string when neither. */
export function parseThreshold(text: string): Threshold | string {
  const trimmed = text.trim();
  if (trimmed.endsWith("%")) {
    const value = Number(trimmed.slice(0, -1));
    if (trimmed.length === 1 || !Number.isFinite(value) || value < 0 || value > 100) {
      return `${JSON.stringify(text)} is not a percentage between 0% and 100%`;
    }
    return { kind: "percent", value };
  }
  const quantity = parseQuantity(trimmed);
  if (quantity === undefined || quantity < 0) {
    return `${JSON.stringify(text)} is not a percentage (e.g. 10%) or a quantity (e.g. 1Gi, 500000)`;
  }
  return { kind: "absolute", value: quantity };
}

export function isFilesystemSignal(signal: string): signal is FilesystemSignal {
  return (FILESYSTEM_SIGNALS as readonly string[]).includes(signal);
}

/** For config validation: a problem when `signal` is not one kubelet knows. */
export function checkSignalName(signal: string): string | undefined {
  if (isFilesystemSignal(signal) || OTHER_SIGNALS.has(signal)) return undefined;
  return `unknown eviction signal; kubelet's filesystem signals are ${FILESYSTEM_SIGNALS.join(", ")}`;
}

export interface ParsedThresholds {
  thresholds: Partial<Record<FilesystemSignal, Threshold>>;
  /** pid.available, which the exhaustion check judges (src/node/kubelet/pids.ts). */
  pidAvailable?: Threshold;
  /** Entries kubelet itself would reject, each naming where it came from. */
  problems: string[];
}

/** A KubeletConfiguration map such as evictionHard. */
export function thresholdsFromMap(value: unknown, origin: string): ParsedThresholds {
  const out: ParsedThresholds = { thresholds: {}, problems: [] };
  if (value === undefined || value === null) return out;
  if (typeof value !== "object" || Array.isArray(value)) {
    out.problems.push(`${origin} is ${Array.isArray(value) ? "a list" : `a ${typeof value}`}, expected a mapping of signal to threshold`);
    return out;
  }
  for (const [signal, raw] of Object.entries(value as Record<string, unknown>)) {
    const problem = checkSignalName(signal);
    if (problem) {
      out.problems.push(`${origin}.${signal}: ${problem}`);
      continue;
    }
    if (typeof raw !== "string") {
      out.problems.push(`${origin}.${signal}: expected a string such as "10%", got ${typeof raw}`);
      continue;
    }
    const threshold = parseThreshold(raw);
    if (typeof threshold === "string") out.problems.push(`${origin}.${signal}: ${threshold}`);
    else if (isFilesystemSignal(signal)) out.thresholds[signal] = threshold;
    else if (signal === "pid.available") out.pidAvailable = threshold;
  }
  return out;
}

/** A flag value such as "memory.available<100Mi,nodefs.available<10%". */
export function thresholdsFromFlag(value: string, origin: string): ParsedThresholds {
  const out: ParsedThresholds = { thresholds: {}, problems: [] };
  for (const entry of value
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z.]+)\s*<\s*(.+)$/.exec(entry);
    if (!match) {
      out.problems.push(`${origin}: ${JSON.stringify(entry)} is not of the form signal<threshold`);
      continue;
    }
    const parsed = thresholdsFromMap({ [match[1] as string]: match[2] }, origin);
    Object.assign(out.thresholds, parsed.thresholds);
    if (parsed.pidAvailable) out.pidAvailable = parsed.pidAvailable;
    out.problems.push(...parsed.problems);
  }
  return out;
}

export interface EffectiveThresholds {
  hard: Partial<Record<FilesystemSignal, Threshold>>;
  soft: Partial<Record<FilesystemSignal, Threshold>>;
  /** Where the hard thresholds came from, for messages. */
  source: string;
  problems: string[];
}

/**
 * kubelet's effective filesystem thresholds from its config and flags (flags
 * win, as in kubelet), with node-doctor's own overrides on top.
 */
export function effectiveThresholds(input: {
  config?: Record<string, unknown>;
  configPath?: string;
  flags?: ReadonlyMap<string, string>;
  overrides?: Partial<Record<FilesystemSignal, Threshold>>;
}): EffectiveThresholds {
  const problems: string[] = [];
  let hard: Partial<Record<FilesystemSignal, Threshold>> | undefined;
  let source = "kubelet's defaults";
  let soft: Partial<Record<FilesystemSignal, Threshold>> = {};
  const configHard = input.config?.["evictionHard"];
  if (configHard !== undefined && configHard !== null) {
    const parsed = thresholdsFromMap(configHard, `${input.configPath ?? "config"} evictionHard`);
    problems.push(...parsed.problems);
    hard = parsed.thresholds;
    source = `evictionHard in ${input.configPath ?? "kubelet's config"}`;
    if (input.config?.["mergeDefaultEvictionSettings"] === true) hard = { ...DEFAULT_EVICTION_HARD, ...hard };
  }
  const configSoft = input.config?.["evictionSoft"];
  if (configSoft !== undefined && configSoft !== null) {
    const parsed = thresholdsFromMap(configSoft, `${input.configPath ?? "config"} evictionSoft`);
    problems.push(...parsed.problems);
    soft = parsed.thresholds;
  }
  const hardFlag = input.flags?.get("eviction-hard");
  if (hardFlag !== undefined) {
    const parsed = thresholdsFromFlag(hardFlag, "--eviction-hard");
    problems.push(...parsed.problems);
    hard = parsed.thresholds;
    source = "kubelet's --eviction-hard flag";
  }
  const softFlag = input.flags?.get("eviction-soft");
  if (softFlag !== undefined) {
    const parsed = thresholdsFromFlag(softFlag, "--eviction-soft");
    problems.push(...parsed.problems);
    soft = parsed.thresholds;
  }
  hard ??= { ...DEFAULT_EVICTION_HARD };
  if (input.overrides && Object.keys(input.overrides).length > 0) {
    hard = { ...hard, ...input.overrides };
    source = "node-doctor's checks.disk.evictionHard";
  }
  return { hard, soft, source, problems };
}

export function formatThreshold(threshold: Threshold, unit: "bytes" | "inodes"): string {
  if (threshold.kind === "percent") return `${threshold.value}%`;
  return unit === "bytes" ? formatBytes(threshold.value) : `${threshold.value} inodes`;
}

/** Absolute amount a threshold stands for on a filesystem of `total` bytes or inodes. */
export function thresholdAmount(threshold: Threshold, total: number): number {
  return threshold.kind === "percent" ? (total * threshold.value) / 100 : threshold.value;
}

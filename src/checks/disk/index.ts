/**
 * Disk space and inodes on the filesystems kubelet cares about, judged
 * against kubelet's own eviction thresholds (from its config or flags; its
 * defaults otherwise). Critical at or past a hard threshold (kubelet is
 * evicting: DiskPressure), warning within a headroom above it or past a soft
 * threshold. A kubelet filesystem remounted read-only is critical.
 *
 * Gather (gather.ts: statfs, /proc/1/mountinfo, kubelet's config) then judge
 * (judge.ts, pure).
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, type Infer, list, number, optional, record, string, withDefault } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import type { Check } from "../../types.js";
import {
  checkSignalName,
  effectiveThresholds,
  type FilesystemSignal,
  isFilesystemSignal,
  parseThreshold,
  type Threshold,
} from "../../node/kubelet/eviction.js";
import { REASONS } from "./reasons.js";
import { defineCheck } from "../define.js";
import { gatherDisk } from "./gather.js";
import { filesystemMetrics } from "./metrics.js";
import { judgeDisk } from "./judge.js";

export const DISK_REASONS = REASONS.names;

function thresholdSyntax(value: string): string | undefined {
  const parsed = parseThreshold(value);
  return typeof parsed === "string" ? parsed : undefined;
}

export const diskSettings = checkSettings(
  { intervalSeconds: 30, timeoutSeconds: 10 },
  {
    /** Warn when free space or inodes are within this many percent of the filesystem above a hard threshold. */
    warningHeadroomPercent: withDefault(number({ min: 0, max: 50 }), 5),
    /** More mount points to watch, judged with the nodefs thresholds. */
    extraMounts: withDefault(list(string({ check: absolutePath }), { maxItems: 64 }), []),
    /** Where container runtimes keep images; the first that exists is the image filesystem. */
    runtimeRootDirs: withDefault(list(string({ check: absolutePath }), { maxItems: 16 }), [
      "/var/lib/containerd",
      "/var/lib/containers/storage",
      "/var/lib/docker",
    ]),
    /** Overrides kubelet's hard thresholds, e.g. {"nodefs.available": "15%"}. */
    evictionHard: optional(record(string({ check: thresholdSyntax }), checkSignalName)),
  },
);

export type DiskSettings = Infer<typeof diskSettings>;

export interface DiskCheckDeps {
  kubelet: KubeletLocator;
}

export function createDiskCheck(settings: DiskSettings, deps: DiskCheckDeps): Check {
  const overrides: Partial<Record<FilesystemSignal, Threshold>> = {};
  for (const [signal, text] of Object.entries(settings.evictionHard ?? {})) {
    const parsed = parseThreshold(text);
    if (typeof parsed !== "string" && isFilesystemSignal(signal)) overrides[signal] = parsed;
  }
  return {
    name: "disk",
    conditions: ["DiskSpaceLow"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const kubelet = await deps.kubelet.locate(ctx.signal);
      const thresholds = effectiveThresholds({
        ...(kubelet.config?.ok ? { config: kubelet.config.value } : {}),
        ...(kubelet.configPath ? { configPath: kubelet.configPath } : {}),
        flags: kubelet.flags.values,
        overrides,
      });
      if (kubelet.config && !kubelet.config.ok) thresholds.problems.unshift(kubelet.config.problem);
      const filesystems = await gatherDisk(ctx, settings, kubelet.rootDir);
      return judgeDisk(filesystems, thresholds, settings);
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const diskCheck = defineCheck({ settings: diskSettings, create: createDiskCheck, reasons: REASONS, metrics: filesystemMetrics });

/**
 * The disk verdict, pure: the filesystems gather.ts saw (statfs, mounts, the
 * kernel's word on their devices) and kubelet's eviction thresholds in;
 * findings (with the filesystem evidence metrics.ts reads) out.
 */
import { type Finding, type FsStats, type KernelFilesystemReport, type Severity, severityRank } from "../../types.js";
import { type EffectiveThresholds, type FilesystemSignal, formatThreshold, type Threshold, thresholdAmount } from "../../node/kubelet/eviction.js";
import { sh } from "../../text/shell.js";
import { formatBytes } from "../../text/format.js";
import { REASONS } from "./reasons.js";

const DISK_REASONS = REASONS.names;

export type FilesystemRole = "nodefs" | "imagefs" | "root" | "extra";

export interface ObservedFilesystem {
  /** Node paths on this filesystem, by role. */
  paths: Array<{ role: FilesystemRole; path: string }>;
  mountPoint: string;
  fsType?: string;
  source?: string;
  readOnly: boolean;
  /** Why it refuses writes when its mount still says rw: ext4's emergency_ro or shutdown, or the kernel's report of it. */
  readOnlyWhy?: "emergency_ro" | "shutdown" | "kernel";
  /** The kernel's name of its block device. */
  blockDevice?: string;
  /** ext4's /sys/fs/ext4/<dev>/errors_count: errors recorded since the last fsck. */
  errorsCount?: number;
  /** What the kernel check last read about it (an ext4 error, an XFS shutdown). */
  kernel?: KernelFilesystemReport;
  stats?: FsStats;
  /** Why stats are missing. */
  error?: string;
}

/** Evidence on every disk finding; the metrics sink reads it. */
export type FilesystemEvidence = {
  mountPoint: string;
  roles: FilesystemRole[];
  availableBytes?: number;
  sizeBytes?: number;
  filesFree?: number;
  files?: number;
  readOnly: boolean;
  readOnlyWhy?: string;
  errorsCount?: number;
  kernelReason?: string;
};

export function isFilesystemEvidence(value: unknown): value is FilesystemEvidence {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as FilesystemEvidence).mountPoint === "string" &&
    Array.isArray((value as FilesystemEvidence).roles)
  );
}

interface Rule {
  signal: FilesystemSignal;
  measure: "bytes" | "inodes";
  reason: string;
}

/** Filesystems kubelet does not judge: held to the nodefs numbers, which is what operators expect of "/". */
const NOT_KUBELETS: Rule[] = [
  { signal: "nodefs.available", measure: "bytes", reason: DISK_REASONS.FilesystemAvailableLow },
  { signal: "nodefs.inodesFree", measure: "inodes", reason: DISK_REASONS.FilesystemInodesLow },
];

const RULES: Record<FilesystemRole, Rule[]> = {
  nodefs: [
    { signal: "nodefs.available", measure: "bytes", reason: DISK_REASONS.NodeFsAvailableLow },
    { signal: "nodefs.inodesFree", measure: "inodes", reason: DISK_REASONS.NodeFsInodesLow },
  ],
  imagefs: [
    { signal: "imagefs.available", measure: "bytes", reason: DISK_REASONS.ImageFsAvailableLow },
    { signal: "imagefs.inodesFree", measure: "inodes", reason: DISK_REASONS.ImageFsInodesLow },
  ],
  root: NOT_KUBELETS,
  extra: NOT_KUBELETS,
};

const ROLE_ORDER: FilesystemRole[] = ["nodefs", "imagefs", "root", "extra"];

function percent(part: number, total: number): string {
  return total > 0 ? `${((100 * part) / total).toFixed(1)}%` : "n/a";
}

function describeFilesystem(fs: ObservedFilesystem): string {
  const paths = fs.paths.map((p) => p.path).filter((p) => p !== fs.mountPoint);
  const holding = paths.length > 0 ? ` (holding ${[...new Set(paths)].join(", ")})` : "";
  return `filesystem ${fs.mountPoint}${holding}`;
}

function remedyFor(rule: Rule, fs: ObservedFilesystem): string {
  const where = fs.mountPoint;
  if (rule.measure === "inodes") {
    return (
      `Find the directories with the most files: \`${sh`find ${where} -xdev -printf`} '%h\\n' | sort | uniq -c | sort -n | tail\`. ` +
      "Usual causes: a pod writing many small files into an emptyDir (/var/lib/kubelet/pods/*/volumes), unrotated container logs (/var/log/pods), or leftover image layers (`crictl rmi --prune`)."
    );
  }
  if (rule.signal.startsWith("imagefs")) {
    return (
      "Remove unused images: `crictl rmi --prune`; list the largest with `crictl images`. " +
      "kubelet's image GC starts at imageGCHighThresholdPercent (default 85%); if it cannot keep up, lower that or enlarge the disk. " +
      `Look at what else fills it: \`${sh`du -xh --max-depth=3 ${where}`} | sort -h | tail\`.`
    );
  }
  return (
    `Find what fills it: \`${sh`du -xh --max-depth=3 ${where}`} | sort -h | tail\`. ` +
    "Usual causes: container logs under /var/log/pods (set containerLogMaxSize/containerLogMaxFiles), emptyDir volumes under /var/lib/kubelet/pods, " +
    "unused images (`crictl rmi --prune`), and journal files (`journalctl --vacuum-size=500M`)."
  );
}

/** Judges observed filesystems against thresholds. Pure. */
export function judgeDisk(
  filesystems: readonly ObservedFilesystem[],
  thresholds: EffectiveThresholds,
  settings: { warningHeadroomPercent: number },
  checkName = "disk",
): Finding[] {
  const findings: Finding[] = [];
  const base = { check: checkName, condition: "DiskSpaceLow" as const };

  if (thresholds.problems.length > 0) {
    findings.push({
      ...base,
      severity: "warning",
      reason: DISK_REASONS.EvictionThresholdsUnreadable,
      message: `Could not read kubelet's eviction thresholds (${thresholds.problems.join("; ")}); judging disk space against ${thresholds.source}.`,
      remedy: "Fix the named key in kubelet's configuration (kubelet itself will refuse it at its next restart), then `systemctl restart kubelet`.",
      evidence: { problems: thresholds.problems },
    });
  }

  for (const fs of filesystems) {
    const roles = ROLE_ORDER.filter((role) => fs.paths.some((p) => p.role === role));
    const evidence: FilesystemEvidence = {
      mountPoint: fs.mountPoint,
      roles,
      readOnly: fs.readOnly,
      ...(fs.readOnlyWhy ? { readOnlyWhy: fs.readOnlyWhy } : {}),
      ...(fs.errorsCount !== undefined ? { errorsCount: fs.errorsCount } : {}),
      ...(fs.kernel ? { kernelReason: fs.kernel.reason } : {}),
      ...(fs.stats ? { availableBytes: fs.stats.availableBytes, sizeBytes: fs.stats.sizeBytes, filesFree: fs.stats.filesFree, files: fs.stats.files } : {}),
    };
    const kubeletOwned = roles.includes("nodefs") || roles.includes("imagefs");
    const problems: Finding[] = [];

    if (!fs.stats) {
      problems.push({
        ...base,
        severity: "unknown",
        reason: DISK_REASONS.FilesystemUnreadable,
        message: `Could not measure ${describeFilesystem(fs)}: ${fs.error ?? "statfs failed"}.`,
        remedy:
          "Check that the path is mounted into the node-doctor pod (the chart mounts the node's / unless hostRootFsMount.enabled is false; then its hostPaths) and that the mount is not hung (`timeout 5 stat -f <path>` on the node).",
        evidence,
      });
    }

    const recorded =
      fs.errorsCount !== undefined && fs.errorsCount > 0
        ? ` ext4 recorded ${fs.errorsCount} error(s) since its last fsck (/sys/fs/ext4/${fs.blockDevice ?? "<dev>"}/errors_count).`
        : "";
    const kernelSaid = fs.kernel ? ` The kernel logged at ${new Date(fs.kernel.atMs).toISOString()}: ${fs.kernel.line}` : "";
    if (fs.readOnly) {
      const device = fs.source ? ` (${fs.source}${fs.fsType ? `, ${fs.fsType}` : ""})` : "";
      const how =
        fs.readOnlyWhy === "emergency_ro"
          ? `refuses writes${device}: after an error the kernel marked its superblock emergency_ro (errors=remount-ro; the mount still says rw, so statvfs shows it writable)`
          : fs.readOnlyWhy === "shutdown"
            ? `refuses writes${device}: the filesystem was shut down (superblock option shutdown; the mount still says rw)`
            : fs.readOnlyWhy === "kernel"
              ? `refuses writes${device}: the kernel reported ${fs.kernel?.reason ?? "an error"} on it (the mount still says rw)`
              : `is mounted read-only${device}`;
      problems.push({
        ...base,
        severity: kubeletOwned ? "critical" : "warning",
        reason: DISK_REASONS.FilesystemReadOnly,
        message: `${describeFilesystem(fs)} ${how}${kubeletOwned ? "; kubelet and the container runtime cannot write to it" : ""}.${recorded}${kernelSaid}`,
        remedy:
          "The kernel usually remounts a filesystem read-only after I/O errors: look at `dmesg | grep -iE 'remount|I/O error|EXT4-fs error'`. " +
          "Drain the node (`kubectl drain <node> --ignore-daemonsets`), repair the filesystem (fsck) or replace the disk, then reboot.",
        evidence,
      });
    }

    if (!fs.readOnly && (recorded || fs.kernel)) {
      problems.push({
        ...base,
        severity: "warning",
        reason: DISK_REASONS.FilesystemErrorsRecorded,
        message: `${describeFilesystem(fs)} is writable but has errors:${recorded}${kernelSaid}`,
        remedy:
          "Schedule a check: drain the node (`kubectl drain <node> --ignore-daemonsets`), unmount the filesystem and `fsck.ext4 -f` it (or `xfs_repair`); look at the device's health (`smartctl -a`) first.",
        evidence,
      });
    }

    if (fs.stats) {
      const bestByMeasure = new Map<string, Finding>();
      for (const role of roles) {
        for (const rule of RULES[role]) {
          if (role !== "nodefs" && role !== "imagefs" && kubeletOwned) continue; // kubelet's own rules cover it
          const finding = judgeRule(rule, fs, fs.stats, thresholds, settings.warningHeadroomPercent, base, evidence);
          if (!finding) continue;
          const current = bestByMeasure.get(rule.measure);
          if (!current || severityRank(finding.severity) > severityRank(current.severity)) bestByMeasure.set(rule.measure, finding);
        }
      }
      problems.push(...bestByMeasure.values());
    }

    if (problems.length > 0) findings.push(...problems);
    else if (fs.stats) {
      findings.push({
        ...base,
        severity: "ok",
        reason: DISK_REASONS.FilesystemOk,
        message:
          `${describeFilesystem(fs)}: ${formatBytes(fs.stats.availableBytes)} available of ${formatBytes(fs.stats.sizeBytes)} (${percent(fs.stats.availableBytes, fs.stats.sizeBytes)})` +
          (fs.stats.files > 0 ? `, ${fs.stats.filesFree} of ${fs.stats.files} inodes free (${percent(fs.stats.filesFree, fs.stats.files)})` : "") +
          ".",
        evidence,
      });
    }
  }
  return findings;
}

function judgeRule(
  rule: Rule,
  fs: ObservedFilesystem,
  stats: FsStats,
  thresholds: EffectiveThresholds,
  headroomPercent: number,
  base: Pick<Finding, "check" | "condition">,
  evidence: FilesystemEvidence,
): Finding | undefined {
  const hard: Threshold | undefined = thresholds.hard[rule.signal];
  const soft: Threshold | undefined = thresholds.soft[rule.signal];
  const amount = rule.measure === "bytes" ? stats.availableBytes : stats.filesFree;
  const total = rule.measure === "bytes" ? stats.sizeBytes : stats.files;
  // Filesystems without inode accounting (btrfs, some FUSE) report 0 inodes.
  if (total <= 0) return undefined;
  const headroom = (total * headroomPercent) / 100;
  const have =
    rule.measure === "bytes"
      ? `${formatBytes(amount)} available of ${formatBytes(total)} (${percent(amount, total)})`
      : `${amount} of ${total} inodes free (${percent(amount, total)})`;

  let severity: Severity | undefined;
  let why = "";
  if (hard && amount < thresholdAmount(hard, total)) {
    severity = "critical";
    why = `below kubelet's hard eviction threshold ${rule.signal}<${formatThreshold(hard, rule.measure)} (${thresholds.source}): kubelet reports DiskPressure and evicts pods`;
  } else if (soft && amount < thresholdAmount(soft, total)) {
    severity = "warning";
    why = `below kubelet's soft eviction threshold ${rule.signal}<${formatThreshold(soft, rule.measure)}: kubelet evicts pods once its grace period passes`;
  } else if (hard && amount < thresholdAmount(hard, total) + headroom) {
    severity = "warning";
    why = `within ${headroomPercent}% of kubelet's hard eviction threshold ${rule.signal}<${formatThreshold(hard, rule.measure)} (${thresholds.source})`;
  }
  if (!severity) return undefined;
  if (rule.reason.startsWith("Filesystem")) why = why.replace(/kubelet's (hard|soft) eviction threshold /, "the $1 threshold ").replace(/: kubelet .*$/, "");
  return {
    ...base,
    severity,
    reason: rule.reason,
    message: `${describeFilesystem(fs)} has ${have}, ${why}.`,
    remedy: remedyFor(rule, fs),
    evidence: { ...evidence, signal: rule.signal },
  };
}

/**
 * Reading the kernel's messages: the shared log engine (src/node/logs/) on
 * the journal's `_TRANSPORT=kernel` (a subscriber of the agent's one
 * journalctl child) and, when enabled, /dev/kmsg. Besides the engine's
 * per-signature state it keeps the OOM killer's last few victims, each
 * attributed to its pod and container through the report's `task_memcg`.
 */
import { KERNEL_MATCH, type JournalReader } from "../../node/journal.js";
import { cgroupOwner } from "../../node/cgroup-path.js";
import { KmsgSource } from "../../node/logs/kmsg.js";
import type { ActiveSignature, MatcherCounters } from "../../node/logs/matcher.js";
import type { Signature } from "../../node/logs/signatures.js";
import { asPlainText, LogWatch, type ReadReport } from "../../node/logs/watch.js";
import type { CheckContext, KernelFilesystemReport } from "../../types.js";
import { KERNEL_REASONS, NOISE } from "./signatures.js";
import type { KernelSettings } from "./index.js";

export type OomKind = "global" | "memcg";

export interface OomKill {
  kind: OomKind;
  timeMs: number;
  task: string;
  pid: string;
  /** From the report's task_memcg, when the summary line came with it. */
  memcg?: string;
  podUid?: string;
  containerId?: string;
}

export interface OomSnapshot {
  /** Kills since the check started, by kind. */
  kills: Record<OomKind, number>;
  /** The latest kills, newest last (at most MAX_RECENT_KILLS). */
  recent: OomKill[];
}

const MAX_RECENT_KILLS = 16;
/** The summary line and the kill line are printed together; a summary older than this belongs to another report. */
const SUMMARY_MAX_AGE_MS = 10_000;

/** Follows the OOM killer's two-line report (summary, then the kill) through the engine's onMatch hook. */
export class OomTracker {
  private summary?: { constraint: string; memcg: string; pid: string; timeMs: number };
  private readonly kills: Record<OomKind, number> = { global: 0, memcg: 0 };
  private readonly recent: OomKill[] = [];

  onMatch(signature: Signature, groups: Readonly<Record<string, string | undefined>>, timeMs: number): void {
    if (signature.id === "oom-summary") {
      this.summary = { constraint: groups["constraint"] ?? "", memcg: groups["taskMemcg"] ?? "", pid: groups["pid"] ?? "", timeMs };
      return;
    }
    if (signature.id !== "oom-memcg" && signature.id !== "oom-global") return;
    const pid = groups["pid"] ?? "";
    const summary = this.summary && this.summary.pid === pid && Math.abs(timeMs - this.summary.timeMs) <= SUMMARY_MAX_AGE_MS ? this.summary : undefined;
    // The kill line says which; the summary's constraint agrees (CONSTRAINT_MEMCG for a cgroup's limit).
    const kind: OomKind = signature.id === "oom-memcg" || summary?.constraint === "CONSTRAINT_MEMCG" ? "memcg" : "global";
    this.kills[kind]++;
    // A flood is thousands a minute: keep the raw facts; the pod and container are read from the path only for the few kept (snapshot).
    const kill: OomKill = { kind, timeMs, task: groups["task"] ?? "", pid, ...(summary?.memcg ? { memcg: summary.memcg } : {}) };
    if (this.recent.length >= MAX_RECENT_KILLS) this.recent.shift();
    this.recent.push(kill);
  }

  /** Kill lines counted from their bytes in a flood (the signature's tally): counted, not kept as victims. */
  onTally(signature: Signature, lines: number): void {
    if (signature.id === "oom-memcg") this.kills.memcg += lines;
  }

  snapshot(): OomSnapshot {
    return {
      kills: { ...this.kills },
      recent: this.recent.map((k) => {
        if (!k.memcg) return { ...k };
        const owner = cgroupOwner(k.memcg);
        return { ...k, ...(owner.podUid ? { podUid: owner.podUid } : {}), ...(owner.containerId ? { containerId: owner.containerId } : {}) };
      }),
    };
  }
}

/** The filesystem signatures, by what they mean for writes. */
const FILESYSTEM_SIGNATURES: Readonly<Record<string, { reason: string; refusesWrites: boolean }>> = {
  "ext4-error": { reason: KERNEL_REASONS.Ext4Error, refusesWrites: false },
  "ext4-journal-abort": { reason: KERNEL_REASONS.Ext4JournalAborted, refusesWrites: true },
  "ext4-remount-ro": { reason: KERNEL_REASONS.FilesystemRemountedReadOnly, refusesWrites: true },
  "xfs-shutdown": { reason: KERNEL_REASONS.XfsShutdown, refusesWrites: true },
  "xfs-corruption": { reason: KERNEL_REASONS.XfsCorruption, refusesWrites: false },
};
/** As the filesystem signatures' windows: a report older than this no longer feeds the disk check. */
const FILESYSTEM_REPORT_MS = 60 * 60_000;
const MAX_FILESYSTEM_DEVICES = 64;

/** The latest kernel report per block device, for the disk check's FilesystemReadOnly (SharedFacts.kernelFilesystems). */
export class FilesystemTracker {
  private readonly devices = new Map<string, KernelFilesystemReport>();

  onMatch(signature: Signature, groups: Readonly<Record<string, string | undefined>>, timeMs: number, text: string): void {
    const kind = FILESYSTEM_SIGNATURES[signature.id];
    if (!kind) return;
    // jbd2 names the journal "<dev>-<inode>" ("sdb1-8").
    const device = groups["device"] ?? groups["journal"]?.replace(/-\d+$/, "");
    if (!device || !/^[\w.:-]{1,64}$/.test(device)) return;
    const previous = this.devices.get(device);
    // A write-stopping report is not replaced by a later plain error on the same device.
    if (previous && previous.refusesWrites && !kind.refusesWrites && timeMs - previous.atMs < FILESYSTEM_REPORT_MS) return;
    this.devices.delete(device);
    this.devices.set(device, {
      reason: kind.reason,
      line: text.length > 300 ? `${text.slice(0, 300)}…` : text,
      atMs: timeMs,
      refusesWrites: kind.refusesWrites,
    });
    if (this.devices.size > MAX_FILESYSTEM_DEVICES) this.devices.delete(this.devices.keys().next().value as string);
  }

  /** Reports within the window at `nowMs`. */
  current(nowMs: number): Record<string, KernelFilesystemReport> {
    const out: Record<string, KernelFilesystemReport> = Object.create(null) as Record<string, KernelFilesystemReport>;
    for (const [device, report] of this.devices) {
      if (nowMs - report.atMs > FILESYSTEM_REPORT_MS) this.devices.delete(device);
      else out[device] = { ...report };
    }
    return out;
  }
}

/** What reading the kernel's messages needs of the check's settings (inferred from their schema). */
export type KernelReadSettings = Pick<KernelSettings, "lookbackMinutes" | "journal" | "kmsg" | "samplesPerSecond" | "timeoutSeconds">;

export interface KernelObservation {
  active: ActiveSignature[];
  report: ReadReport;
  counters: MatcherCounters;
  oom: OomSnapshot;
  /** The latest filesystem report per block device within the window. */
  filesystems: Record<string, KernelFilesystemReport>;
  /** /dev/kmsg's records lost to the ring buffer wrapping, and records that did not parse. */
  kmsg?: { lost: number; malformed: number };
  journalDirectory?: string;
}

export class KernelReader {
  readonly oom = new OomTracker();
  readonly filesystems = new FilesystemTracker();
  private readonly watch: LogWatch;
  private kmsg?: KmsgSource;

  constructor(
    private readonly settings: KernelReadSettings,
    journal: JournalReader,
    signatures: readonly Signature[],
  ) {
    this.watch = new LogWatch({
      signatures,
      noise: NOISE,
      samplesPerSecond: settings.samplesPerSecond,
      sources: ["journal", "kmsg"],
      onMatch: (signature, groups, timeMs, text) => {
        this.oom.onMatch(signature, groups, timeMs);
        this.filesystems.onMatch(signature, groups, timeMs, text);
      },
      onTally: (signature, lines) => this.oom.onTally(signature, lines),
      parse: asPlainText,
      ...(settings.journal.enabled
        ? { journal: { reader: journal, match: KERNEL_MATCH, label: "the kernel's messages", component: () => "kernel", parse: asPlainText } }
        : {}),
    });
  }

  async read(ctx: CheckContext): Promise<KernelObservation> {
    const { kmsg } = this.settings;
    const report = await this.watch.read(ctx, {
      sinceMs: ctx.clock.now() - this.settings.lookbackMinutes * 60_000,
      pull: kmsg.enabled
        ? [
            {
              label: kmsg.path,
              create: () => (this.kmsg = new KmsgSource(ctx.host, { path: kmsg.path, maxRecordsPerPoll: kmsg.maxRecordsPerRun })),
            },
          ]
        : [],
      component: "kernel",
      // As the other log readers: reading stops at 40% of the timeout and goes on next run.
      readBudgetMs: this.settings.timeoutSeconds * 400,
      firstWaitMs: Math.min(1500, this.settings.timeoutSeconds * 300),
    });
    const now = ctx.clock.now();
    const journalDirectory = this.watch.journalDirectory;
    return {
      active: this.watch.active(now),
      report,
      counters: this.watch.counters(),
      oom: this.oom.snapshot(),
      filesystems: this.filesystems.current(now),
      ...(this.kmsg ? { kmsg: { lost: this.kmsg.lost, malformed: this.kmsg.malformed } } : {}),
      ...(journalDirectory !== undefined ? { journalDirectory } : {}),
    };
  }

  close(): Promise<void> {
    return this.watch.close();
  }
}

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
import type { CheckContext } from "../../types.js";
import { NOISE } from "./signatures.js";

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
    const kill: OomKill = { kind, timeMs, task: groups["task"] ?? "", pid };
    if (summary?.memcg) {
      kill.memcg = summary.memcg;
      const owner = cgroupOwner(summary.memcg);
      if (owner.podUid) kill.podUid = owner.podUid;
      if (owner.containerId) kill.containerId = owner.containerId;
    }
    this.kills[kind]++;
    this.recent.push(kill);
    if (this.recent.length > MAX_RECENT_KILLS) this.recent.shift();
  }

  snapshot(): OomSnapshot {
    return { kills: { ...this.kills }, recent: this.recent.map((k) => ({ ...k })) };
  }
}

export interface KernelReadSettings {
  lookbackMinutes: number;
  journal: { enabled: boolean };
  kmsg: { enabled: boolean; path: string; maxRecordsPerRun: number };
  samplesPerSecond: number;
  timeoutSeconds: number;
}

export interface KernelObservation {
  active: ActiveSignature[];
  report: ReadReport;
  counters: MatcherCounters;
  oom: OomSnapshot;
  /** /dev/kmsg's records lost to the ring buffer wrapping, and records that did not parse. */
  kmsg?: { lost: number; malformed: number };
  journalDirectory?: string;
}

export class KernelReader {
  readonly oom = new OomTracker();
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
      onMatch: (signature, groups, timeMs) => this.oom.onMatch(signature, groups, timeMs),
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
      ...(this.kmsg ? { kmsg: { lost: this.kmsg.lost, malformed: this.kmsg.malformed } } : {}),
      ...(journalDirectory !== undefined ? { journalDirectory } : {}),
    };
  }

  close(): Promise<void> {
    return this.watch.close();
  }
}

/**
 * The kernel's own reports: OOM kills, hung tasks, lockups and stalls,
 * oopses and panics, stuck network devices, full conntrack and TCP memory,
 * pids limits, ext4/XFS errors, block I/O errors, machine checks and NVIDIA
 * GPU Xids (signatures.ts), each feeding KernelUnhealthy, FilesystemErrors
 * or HardwareErrors.
 *
 * Sources (gather.ts): the journal's `_TRANSPORT=kernel` through the agent's
 * one journal reader (no privilege needed), and /dev/kmsg as an opt-in for
 * hosts without journald; both start `lookbackMinutes` back. Reading,
 * matching, windows and clear-when are the shared log engine's; a container
 * killed at its own memory limit is a warning (an Event and a counter), not
 * a node problem.
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, boolean, number, object, string, withDefault, type Infer } from "../../config/schema.js";
import type { JournalReader } from "../../node/journal.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { isMatcherCounters, type MatcherCounters } from "../../node/logs/matcher.js";
import type { Signature } from "../../node/logs/signatures.js";
import { lineTotals } from "../../node/logs/watch.js";
import type { Check } from "../../types.js";
import { defineCheck } from "../define.js";
import { KernelReader, type OomSnapshot } from "./gather.js";
import { judgeKernel } from "./judge.js";
import { kernelMetrics } from "./metrics.js";
import { REASONS } from "./reasons.js";
import { KERNEL_REASONS, SIGNATURES } from "./signatures.js";

export const kernelSettings = checkSettings(
  { intervalSeconds: 15, timeoutSeconds: 10 },
  {
    /** Start reading this far back when the agent starts (never the whole history). */
    lookbackMinutes: withDefault(number({ min: 0, max: 24 * 60 }), 10),
    journal: object({
      /** The kernel's messages from the journal (`_TRANSPORT=kernel`). */
      enabled: withDefault(boolean(), true),
    }),
    kmsg: object({
      /** Read /dev/kmsg too: for hosts without journald. Needs CAP_SYSLOG where kernel.dmesg_restrict=1, and the device mounted. */
      enabled: withDefault(boolean(), false),
      path: withDefault(string({ check: absolutePath }), "/dev/kmsg"),
      /** Most records read per run; the rest wait for the next run. */
      maxRecordsPerRun: withDefault(number({ min: 100, max: 1_000_000, integer: true }), 50_000),
    }),
    /**
     * Per signature, how many matches per second refresh its sample (the rest only count); for the
     * OOM killer's lines also how many a second are read in full, the rest counted from their bytes.
     * 2, not the log checks' 10: in a storm of 4,500 lines a minute the eight more a second read in
     * full cost 0.6 millicores and named no more pods than a run shows (bench/kernel-flood.ts).
     */
    samplesPerSecond: withDefault(number({ min: 1, max: 1000, integer: true }), 2),
  },
);

export type KernelSettings = Infer<typeof kernelSettings>;

export interface KernelDeps {
  kubelet: KubeletLocator;
  /** The agent's one journal reader. */
  journal: JournalReader;
}

/** Evidence on the KernelMessagesRead finding; the metrics read the counters. */
export interface KernelReadEvidence {
  kernelCounters: MatcherCounters;
  oom: OomSnapshot;
  sources: string[];
  kmsgLost?: number;
}

export function isKernelReadEvidence(value: unknown): value is KernelReadEvidence {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { kernelCounters?: unknown; oom?: { kills?: unknown } };
  return isMatcherCounters(v.kernelCounters) && typeof v.oom?.kills === "object" && v.oom.kills !== null;
}

export function createKernelCheck(settings: KernelSettings, deps: KernelDeps, signatures: readonly Signature[] = SIGNATURES): Check {
  const name = "kernel";
  const reader = new KernelReader(settings, deps.journal, signatures);
  return {
    name,
    conditions: ["KernelUnhealthy", "FilesystemErrors", "HardwareErrors"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const seen = await reader.read(ctx);
      // Single writer of this fact; the disk check's FilesystemReadOnly reads it at its next run.
      ctx.facts.kernelFilesystems = { devices: seen.filesystems, measuredAtMonotonicMs: ctx.clock.monotonic() };
      const runtimeFindings = [...ctx.peerFindings("runtime"), ...ctx.peerFindings("kubelet-logs")].filter(
        (f) => f.condition === "ContainerRuntimeUnhealthy" && f.severity !== "ok" && f.severity !== "unknown",
      );
      const findings = judgeKernel(seen.active, { oom: seen.oom, runtimeFindings }, name);
      const { report } = seen;
      const evidence: KernelReadEvidence = {
        kernelCounters: seen.counters,
        oom: seen.oom,
        sources: report.sources,
        ...(seen.kmsg ? { kmsgLost: seen.kmsg.lost } : {}),
      };
      if (report.sources.length === 0) {
        const kubelet = await deps.kubelet.locate(ctx.signal);
        // No kubelet, no journal, no /dev/kmsg: not a node (a copy of a node's files); nothing to say.
        if (!kubelet.process && seen.journalDirectory === undefined && report.problems.length === 0) return findings;
        const tried = [
          !settings.journal.enabled
            ? "the journal is disabled"
            : seen.journalDirectory !== undefined
              ? `the journal in ${seen.journalDirectory} could not be read`
              : `no journal in ${deps.journal.directories.join(" or ")}`,
          settings.kmsg.enabled ? `${settings.kmsg.path} could not be read` : "/dev/kmsg is off (checks.kernel.kmsg.enabled)",
          ...report.problems,
        ];
        findings.push({
          check: name,
          condition: "KernelUnhealthy",
          severity: "unknown",
          reason: KERNEL_REASONS.KernelMessagesUnreadable,
          message: `Found no kernel messages to read: ${tried.join("; ")}.`,
          remedy:
            "Mount the node's /var/log/journal and /run/log/journal into the node-doctor pod read-only, or set checks.kernel.kmsg.enabled and mount /dev/kmsg (reading it needs CAP_SYSLOG where kernel.dmesg_restrict=1).",
          evidence: { ...evidence },
        });
        return findings;
      }
      const totals = lineTotals(seen.counters);
      const active = findings.map((f) => (f.evidence as { signature?: string } | undefined)?.signature).filter(Boolean);
      const lost = seen.kmsg && seen.kmsg.lost > 0 ? `; ${seen.kmsg.lost} /dev/kmsg records were overwritten before they could be read` : "";
      const shed = totals.dropped > 0 ? `; shed ${totals.dropped} lines in floods` : "";
      findings.push({
        check: name,
        condition: "KernelUnhealthy",
        severity: "ok",
        reason: KERNEL_REASONS.KernelMessagesRead,
        message:
          `Read ${totals.lines} kernel messages from ${report.sources.join(" and ")}: ` +
          (active.length > 0 ? `${active.length} signature(s) active (${active.join(", ")})` : "no problem signature active") +
          `, ${totals.noise} known-noise lines ignored, OOM kills since start: ${seen.oom.kills.global} system, ${seen.oom.kills.memcg} at a container's limit${lost}${shed}` +
          `${report.problems.length > 0 ? `; could not read ${report.problems.join("; ")}` : ""}.`,
        evidence: { ...evidence },
      });
      return findings;
    },
    async close() {
      await reader.close();
    },
  };
}

export const kernelCheck = defineCheck({ settings: kernelSettings, create: createKernelCheck, reasons: REASONS, metrics: kernelMetrics });

/**
 * Reads kubelet's and the container runtime's logs continuously and turns
 * known signatures (signatures.ts) into findings, correlated with what other
 * checks know (judge.ts); cAdvisor's noise never fires.
 *
 * Sources: the host's journal (kubelet's and the runtime's units, through
 * the agent's one journal reader) and plain files from kubelet's
 * --log-file/--log-dir plus configured paths, each starting
 * `lookbackMinutes` back (or at kubelet's start, when that is earlier but
 * within `sinceKubeletStartMaxHours`). Reading, matching, windows and
 * clear-when are the shared log engine's (src/node/logs/); only
 * per-signature state is kept, so memory is bounded whatever the log does.
 *
 * This check corroborates the conditions other checks own (it is
 * `secondary`): when it cannot find a log, its unknown does not hide their
 * verdicts.
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, boolean, list, number, object, string, withDefault, type Infer } from "../../config/schema.js";
import { unitsMatch, type JournalReader } from "../../node/journal.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { signatureConditions, type Signature } from "../../node/logs/signatures.js";
import { FileSource, LogWatch, lineTotals } from "../../node/logs/watch.js";
import type { Check, ConditionType, Finding } from "../../types.js";
import { judgeLogs, type LogReadEvidence } from "./judge.js";
import { LOG_REASONS, NOISE, SIGNATURES, type LogComponent } from "./signatures.js";
import { defineCheck } from "../define.js";
import { REASONS } from "./reasons.js";
import { logMetrics } from "./metrics.js";

export { renderTemplate } from "../../node/logs/render.js";
export type { LogReadEvidence } from "./judge.js";
export const KUBELET_LOGS_REASONS = LOG_REASONS;

export const kubeletLogsSettings = checkSettings(
  { intervalSeconds: 15, timeoutSeconds: 10 },
  {
    /** Start reading this far back when the agent starts. */
    lookbackMinutes: withDefault(number({ min: 0, max: 24 * 60 }), 10),
    /**
     * When kubelet started earlier than the lookback but within this many
     * hours, read from its start instead: some causes are logged once per
     * start (the unregistered node, docs/incidents.md), and the agent is often installed after the node
     * broke. 0 turns this off.
     */
    sinceKubeletStartMaxHours: withDefault(number({ min: 0, max: 24 * 7 }), 24),
    journal: object({
      enabled: withDefault(boolean(), true),
      kubeletUnits: withDefault(list(string({ nonEmpty: true, check: unitName }), { maxItems: 8 }), ["kubelet.service"]),
      runtimeUnits: withDefault(list(string({ nonEmpty: true, check: unitName }), { maxItems: 8 }), ["containerd.service", "crio.service", "docker.service"]),
    }),
    /** Plain kubelet log files to follow besides --log-file and <--log-dir>/kubelet.INFO. */
    files: withDefault(list(string({ check: absolutePath }), { maxItems: 16 }), ["/var/log/kubelet.log"]),
    /** Lines longer than this are cut (and still matched on their head). */
    maxLineBytes: withDefault(number({ min: 1024, max: 1024 * 1024, integer: true }), 64 * 1024),
    /** Most bytes read from one file per run; more is skipped and reported. */
    maxBytesPerRun: withDefault(number({ min: 64 * 1024, max: 1024 * 1024 * 1024, integer: true }), 64 * 1024 * 1024),
    /** Per signature, how many matches per second refresh its sample (the rest only count). */
    samplesPerSecond: withDefault(number({ min: 1, max: 1000, integer: true }), 10),
  },
);

/** A systemd unit name as journalctl matches it: no spaces or `=`. */
function unitName(value: string): string | undefined {
  return /^[\w@:.\\-]+$/.test(value) ? undefined : `${JSON.stringify(value)} is not a systemd unit name`;
}

export type KubeletLogsSettings = Infer<typeof kubeletLogsSettings>;

/** Which plain files kubelet writes, from its flags (klog's --log-file, or --log-dir's kubelet.INFO symlink). */
export function kubeletLogFiles(flags: ReadonlyMap<string, string>, extra: readonly string[]): string[] {
  const files: string[] = [];
  const logFile = flags.get("log-file");
  if (logFile && logFile.startsWith("/")) files.push(logFile);
  const logDir = flags.get("log-dir");
  if (logDir && logDir.startsWith("/")) files.push(`${logDir.replace(/\/+$/, "")}/kubelet.INFO`);
  for (const file of extra) if (!files.includes(file)) files.push(file);
  return files;
}

/** Where reading starts: the lookback, or kubelet's start when that is earlier but recent enough. */
export function readingSince(
  nowMs: number,
  settings: Pick<KubeletLogsSettings, "lookbackMinutes" | "sinceKubeletStartMaxHours">,
  kubeletStartMs?: number,
): number {
  const lookback = nowMs - settings.lookbackMinutes * 60_000;
  if (kubeletStartMs === undefined || kubeletStartMs >= lookback) return lookback;
  if (kubeletStartMs < nowMs - settings.sinceKubeletStartMaxHours * 3_600_000) return lookback;
  return kubeletStartMs - 60_000; // its first lines may carry a slightly earlier time
}

export interface KubeletLogsDeps {
  kubelet: KubeletLocator;
  /** The agent's one journal reader. */
  journal: JournalReader;
}

const ALL_CONDITIONS: readonly ConditionType[] = [
  "KubeletUnhealthy",
  "KubeletCertificateInvalid",
  "ContainerRuntimeUnhealthy",
  "KubeletConfigInvalid",
  "DiskSpaceLow",
];

export function createKubeletLogsCheck(settings: KubeletLogsSettings, deps: KubeletLogsDeps, signatures: readonly Signature[] = SIGNATURES): Check {
  const name = "kubelet-logs";
  const { kubeletUnits, runtimeUnits } = settings.journal;
  const componentOf = (unit: string | undefined): LogComponent => (unit && !kubeletUnits.includes(unit) ? "runtime" : "kubelet");
  const watch = new LogWatch({
    signatures,
    noise: NOISE,
    samplesPerSecond: settings.samplesPerSecond,
    sources: ["journal", "file"],
    ...(settings.journal.enabled
      ? {
          journal: {
            reader: deps.journal,
            match: unitsMatch([...kubeletUnits, ...runtimeUnits]),
            label: [...kubeletUnits, ...runtimeUnits].join(", "),
            component: (entry) => componentOf(entry.fields.UNIT && entry.fields._PID === "1" ? entry.fields.UNIT : entry.unit),
          },
        }
      : {}),
  });
  return {
    name,
    conditions: signatureConditions(signatures, ALL_CONDITIONS, ["KubeletUnhealthy"]),
    secondary: true,
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const kubelet = await deps.kubelet.locate(ctx.signal);
      const files = kubeletLogFiles(kubelet.flags.values, settings.files);
      const report = await watch.read(ctx, {
        sinceMs: readingSince(ctx.clock.now(), settings, kubelet.process?.startTimeMs),
        pull: files.map((path) => ({ label: path, create: () => new FileSource(ctx.host, path, settings) })),
        component: "kubelet",
        readBudgetMs: settings.timeoutSeconds * 400,
        firstWaitMs: Math.min(1500, settings.timeoutSeconds * 300),
      });
      const now = ctx.clock.now();
      const nonOk = (check: string) => ctx.peerFindings(check).filter((f) => f.severity !== "ok");
      const findings = judgeLogs(
        watch.active(now),
        { nowMs: now, flags: kubelet.flags.values, certificateFindings: nonOk("certificates"), clockFindings: nonOk("clock") },
        name,
      );
      const counters = watch.counters();
      const evidence: LogReadEvidence = { logCounters: counters, sources: report.sources };
      const journalDir = watch.journalDirectory;
      if (report.sources.length === 0) {
        // No kubelet, no journal, no log file: not a node (a laptop, a copy of a disk check's files); nothing to say.
        if (!kubelet.process && !journalDir && report.problems.length === 0) return findings;
        const tried = [
          !settings.journal.enabled
            ? "the journal is disabled"
            : journalDir
              ? `the journal in ${journalDir} could not be read`
              : `no journal in ${deps.journal.directories.join(" or ")}`,
          `no readable file among ${files.join(", ") || "(none configured)"}`,
          ...report.problems,
        ];
        findings.push({
          check: name,
          condition: "KubeletUnhealthy",
          severity: "unknown",
          reason: LOG_REASONS.LogSourceMissing,
          message: `Found no kubelet log to read: ${tried.join("; ")}.`,
          remedy:
            "Mount the node's /var/log/journal (and /run/log/journal) into the node-doctor pod read-only and install journalctl in its image, or point checks.kubelet-logs.files at kubelet's log file (kubelet's --log-file).",
          evidence: { ...evidence },
        });
        return findings;
      }
      const totals = lineTotals(counters);
      const active = findings.map((f) => (f.evidence as { signature?: string } | undefined)?.signature).filter(Boolean);
      const shed = totals.dropped + report.skipped > 0 ? `; shed ${totals.dropped} lines and skipped ${report.skipped} bytes in floods` : "";
      const behind = report.behind > 0 ? `; ${report.behind} bytes not read yet (reading stops at 40% of the check's timeout and goes on next run)` : "";
      findings.push({
        check: name,
        condition: "KubeletUnhealthy",
        severity: "ok",
        reason: LOG_REASONS.LogsRead,
        message:
          `Read ${totals.lines} log lines from ${report.sources.join(" and ")}: ` +
          (active.length > 0 ? `${active.length} failure signature(s) active (${active.join(", ")})` : "no failure signature active") +
          `, ${totals.noise} known-noise lines ignored${shed}${behind}${report.problems.length > 0 ? `; could not read ${report.problems.join("; ")}` : ""}.`,
        evidence: { ...evidence },
      });
      return findings;
    },
    async close() {
      await watch.close();
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const kubeletLogsCheck = defineCheck({ settings: kubeletLogsSettings, create: createKubeletLogsCheck, reasons: REASONS, metrics: logMetrics });

/**
 * Reads kubelet's and the container runtime's logs continuously and turns
 * known signatures (src/checks/log-signatures.ts) into findings, correlated
 * with what other checks know: an `Unauthorized` loop names the client
 * certificate the certificates check found not yet valid (the certificate from the
 * future, docs/incidents.md); a "No api server defined" names the kubelet
 * flag that caused it (the unregistered node); cAdvisor's noise never fires.
 *
 * Sources: the host's journal (one supervised journalctl child) and plain
 * files from kubelet's --log-file/--log-dir plus configured paths, each
 * starting `lookbackMinutes` back (or at kubelet's start, when that is
 * earlier but within `sinceKubeletStartMaxHours`). Lines are matched as they are read; only
 * per-signature state is kept, so memory is bounded whatever the log does.
 *
 * This check corroborates the conditions other checks own (it is
 * `secondary`): when it cannot find a log, its unknown does not hide their
 * verdicts.
 */
import { checkSettings, type CommonCheckSettings } from "../../config/config.js";
import { absolutePath, boolean, list, number, object, string, withDefault } from "../../config/schema.js";
import { JournalFollower } from "../../node/journal.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { looksBinary, parseLogLine, recordFromJournal, type JournalEntry } from "../../node/log-line.js";
import { FileFollower } from "../../node/log-follower.js";
import type { Check, CheckContext, ConditionType, Finding, Log } from "../../types.js";
import { SignatureMatcher, type ActiveSignature, type LineSource, type MatcherCounters } from "./matcher.js";
import { LOG_REASONS, NOISE, SIGNATURES, type LogComponent, type Signature } from "./signatures.js";

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
      /** The first that exists is followed (journald's persistent, then volatile storage). */
      directories: withDefault(list(string({ check: absolutePath }), { maxItems: 8 }), ["/var/log/journal", "/run/log/journal"]),
      kubeletUnits: withDefault(list(string({ nonEmpty: true }), { maxItems: 8 }), ["kubelet.service"]),
      runtimeUnits: withDefault(list(string({ nonEmpty: true }), { maxItems: 8 }), ["containerd.service", "crio.service", "docker.service"]),
      journalctl: withDefault(string({ nonEmpty: true }), "journalctl"),
      /** Lines parsed per second before shedding lines that cannot match a signature. */
      maxLinesPerSecond: withDefault(number({ min: 100, max: 1_000_000, integer: true }), 20_000),
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

export type KubeletLogsSettings = CommonCheckSettings & {
  lookbackMinutes: number;
  sinceKubeletStartMaxHours: number;
  journal: { enabled: boolean; directories: string[]; kubeletUnits: string[]; runtimeUnits: string[]; journalctl: string; maxLinesPerSecond: number };
  files: string[];
  maxLineBytes: number;
  maxBytesPerRun: number;
  samplesPerSecond: number;
};

/** Evidence on the LogsRead/LogSourceMissing finding; the metrics sink reads the counters. */
export interface LogReadEvidence {
  logCounters: MatcherCounters;
  sources: string[];
}

export function isLogReadEvidence(value: unknown): value is LogReadEvidence {
  if (typeof value !== "object" || value === null) return false;
  const counters = (value as { logCounters?: unknown }).logCounters;
  return (
    typeof counters === "object" &&
    counters !== null &&
    typeof (counters as MatcherCounters).lines === "object" &&
    typeof (counters as MatcherCounters).matches === "object"
  );
}

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

export interface JudgeContext {
  nowMs: number;
  flags: ReadonlyMap<string, string>;
  /** Non-ok findings of the certificates and clock checks, for cross-checks. */
  certificateFindings: readonly Finding[];
  clockFindings: readonly Finding[];
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function formatWindow(ms: number): string {
  return ms >= 3_600_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 60_000)} min`;
}

/** Fills `{name}` and `{name?text}` (text only when name has a value). */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)(?:\?([^}]*))?\}/g, (_, name: string, conditional: string | undefined) => {
    const value = values[name] ?? "";
    if (conditional !== undefined) return value ? conditional : "";
    return value;
  });
}

function valuesFor(active: ActiveSignature): Record<string, string> {
  const { signature } = active;
  return {
    ...active.captures,
    count: active.atLeast ? `more than ${active.count}` : String(active.count),
    window: formatWindow(signature.windowMs),
    last: formatTime(active.lastMs),
    sample: active.sample,
  };
}

/** Turns active signatures into findings, with the cross-checks. Pure. */
export function judgeLogs(actives: readonly ActiveSignature[], context: JudgeContext, checkName = "kubelet-logs"): Finding[] {
  const findings: Finding[] = [];
  for (const active of actives) {
    const { signature } = active;
    const values = valuesFor(active);
    let message = renderTemplate(signature.message, values);
    let remedy = renderTemplate(signature.remedy, values);
    const evidence: Record<string, unknown> = {
      signature: signature.id,
      count: active.count,
      lastMatchAt: formatTime(active.lastMs),
      sample: active.sample,
      ...(Object.keys(active.captures).length > 0 ? { captures: active.captures } : {}),
    };

    if (signature.id === "no-api-server") {
      const kubeconfig = context.flags.get("kubeconfig");
      if (kubeconfig && context.flags.get("require-kubeconfig") !== "true" && !context.flags.has("api-servers")) {
        message += ` kubelet runs with --kubeconfig=${kubeconfig} but without --require-kubeconfig, so kubelet 1.5-1.7 ignores that kubeconfig's server.`;
        remedy = `Add --require-kubeconfig to kubelet's flags (its systemd drop-in under /etc/systemd/system/kubelet.service.d/ or /etc/default/kubelet) so it uses the server in ${kubeconfig}, or upgrade kubelet (1.8+ always does); then \`systemctl daemon-reload && systemctl restart kubelet\`.`;
        evidence["kubeconfig"] = kubeconfig;
      } else if (!kubeconfig && context.flags.size > 0) {
        message += " kubelet runs without --kubeconfig.";
        remedy =
          "Add --kubeconfig=/etc/kubernetes/kubelet.conf (a kubeconfig naming the API server and kubelet's credentials) to kubelet's flags, then `systemctl daemon-reload && systemctl restart kubelet`.";
      }
      if (context.flags.get("logtostderr") === "false") evidence["logtostderr"] = false;
    }

    if (signature.condition === "KubeletCertificateInvalid" && signature.id === "unauthorized") {
      const cert =
        context.certificateFindings.find((f) => f.reason === "ClientCertificateNotYetValid") ??
        context.certificateFindings.find((f) => f.condition === "KubeletCertificateInvalid" && /^ClientCertificate/.test(f.reason));
      if (cert) {
        message += ` The certificates check knows why (${cert.reason}): ${cert.message}`;
        if (cert.remedy) remedy = cert.remedy;
        evidence["certificateReason"] = cert.reason;
      }
    }

    if (signature.id === "x509-not-yet-valid" || signature.id === "x509-expired") {
      const clock = context.clockFindings.find((f) => f.condition === "ClockSkewed");
      if (clock) {
        message += ` The clock check agrees the node's clock is off (${clock.reason}): ${clock.message}`;
        if (clock.remedy) remedy = clock.remedy;
        evidence["clockReason"] = clock.reason;
      }
    }

    findings.push({ check: checkName, condition: signature.condition, severity: signature.severity, reason: signature.reason, message, remedy, evidence });
  }
  return findings;
}

export interface KubeletLogsDeps {
  kubelet: KubeletLocator;
}

function componentOfUnit(unit: string | undefined, kubeletUnits: readonly string[]): LogComponent {
  return unit && kubeletUnits.includes(unit) ? "kubelet" : unit ? "runtime" : "kubelet";
}

/** The check's long-lived reading state: followers and the matcher. */
class LogReader {
  readonly matcher: SignatureMatcher;
  private readonly files = new Map<string, FileFollower>();
  private journal?: JournalFollower;
  private journalDir?: string;
  private waited = false;
  /** Lines written before this are stale: set at the first run. */
  private sinceMs?: number;
  readonly problems: string[] = [];
  skippedBytes = 0;

  constructor(
    private readonly settings: KubeletLogsSettings,
    signatures: readonly Signature[],
  ) {
    this.matcher = new SignatureMatcher(signatures, NOISE, { samplesPerSecond: settings.samplesPerSecond });
  }

  /** A cut line (over maxLineBytes) is still matched on its head. */
  private feedLine(line: string, component: LogComponent, source: LineSource, nowMs: number, lookbackFromMs: number): void {
    if (line.length === 0) return;
    if (looksBinary(line)) {
      this.matcher.count(source, "binary");
      return;
    }
    const record = parseLogLine(line, nowMs);
    const at = record.timeMs ?? nowMs;
    if (at < lookbackFromMs) {
      this.matcher.count(source, "stale");
      return;
    }
    this.matcher.feed(record, component, source, Math.min(at, nowMs + 60_000));
  }

  private onJournalEntry(entry: JournalEntry, ctxClockNow: () => number, log: Log): void {
    const now = ctxClockNow();
    const component = componentOfUnit(entry.unit, this.settings.journal.kubeletUnits);
    if (looksBinary(entry.message)) {
      this.matcher.count("journal", "binary");
      return;
    }
    const record = recordFromJournal(entry, now);
    const at = record.timeMs ?? now;
    if (this.sinceMs !== undefined && at < this.sinceMs) {
      this.matcher.count("journal", "stale");
      return;
    }
    try {
      this.matcher.feed(record, component, "journal", Math.min(at, now + 60_000));
    } catch (error) {
      log.warn({ err: String(error) }, "journal line could not be matched");
    }
  }

  /** Starts the journal follower when a non-empty journal directory exists. */
  private async ensureJournal(ctx: CheckContext): Promise<void> {
    const { journal } = this.settings;
    if (!journal.enabled || this.journal) return;
    for (const dir of journal.directories) {
      let entries: string[] = [];
      try {
        entries = await ctx.host.list(dir);
      } catch {
        continue;
      }
      if (entries.length === 0) continue;
      this.journalDir = dir;
      break;
    }
    if (!this.journalDir) return;
    const clock = ctx.clock;
    const log = ctx.log;
    this.journal = new JournalFollower({
      directory: ctx.host.local(this.journalDir),
      units: [...journal.kubeletUnits, ...journal.runtimeUnits],
      sinceMs: this.sinceMs ?? clock.now() - this.settings.lookbackMinutes * 60_000,
      clock,
      log,
      journalctl: journal.journalctl,
      maxLineBytes: this.settings.maxLineBytes,
      maxLinesPerSecond: journal.maxLinesPerSecond,
      keep: [...this.matcher.needles(), ...NOISE.flatMap((n) => n.needles)],
      onEntry: (entry) => this.onJournalEntry(entry, () => clock.now(), log),
      onDropped: (n) => this.matcher.count("journal", "dropped", n),
      onUnparseable: () => this.matcher.count("journal", "unparseable"),
      onUninteresting: () => this.matcher.count("journal", "unmatched"),
    });
    this.journal.start();
  }

  /** Where reading starts: the lookback, or kubelet's start when that is earlier but recent enough. */
  static since(nowMs: number, settings: Pick<KubeletLogsSettings, "lookbackMinutes" | "sinceKubeletStartMaxHours">, kubeletStartMs?: number): number {
    const lookback = nowMs - settings.lookbackMinutes * 60_000;
    if (kubeletStartMs === undefined || kubeletStartMs >= lookback) return lookback;
    if (kubeletStartMs < nowMs - settings.sinceKubeletStartMaxHours * 3_600_000) return lookback;
    return kubeletStartMs - 60_000; // its first lines may carry a slightly earlier time
  }

  async read(ctx: CheckContext, files: readonly string[], kubeletStartMs?: number): Promise<string[]> {
    const now = ctx.clock.now();
    this.sinceMs ??= LogReader.since(now, this.settings, kubeletStartMs);
    const lookbackFromMs = this.sinceMs;
    const sources: string[] = [];
    this.problems.length = 0;

    await this.ensureJournal(ctx);
    if (this.journal) {
      // On the first run, wait (bounded by the timeout) for journalctl to print the lookback.
      await this.waitCaughtUp(ctx);
      const status = this.journal.status();
      if (status.running || status.caughtUp)
        sources.push(`the journal in ${this.journalDir} (${[...this.settings.journal.kubeletUnits, ...this.settings.journal.runtimeUnits].join(", ")})`);
      else if (status.lastError) this.problems.push(`journal ${this.journalDir}: ${status.lastError}`);
    }

    for (const [path, follower] of this.files) {
      if (!files.includes(path)) {
        await follower.close();
        this.files.delete(path);
      }
    }
    for (const path of files) {
      let follower = this.files.get(path);
      if (!follower) {
        follower = new FileFollower(ctx.host, path, { maxLineBytes: this.settings.maxLineBytes, budgetBytes: this.settings.maxBytesPerRun });
        this.files.set(path, follower);
      }
      const readAt = ctx.clock.now();
      const result = await follower.poll((line) => this.feedLine(line, "kubelet", "file", readAt, lookbackFromMs), ctx.signal);
      if (result.open) sources.push(path);
      else if (result.error && !/does not exist$/.test(result.error)) this.problems.push(result.error);
      this.skippedBytes += result.skippedBytes;
    }
    return sources;
  }

  /** Only the first run waits: a journalctl that keeps failing must not slow every run. */
  private async waitCaughtUp(ctx: CheckContext): Promise<void> {
    const journal = this.journal;
    if (!journal || this.waited || journal.status().caughtUp) return;
    this.waited = true;
    let timer: ReturnType<CheckContext["clock"]["setTimeout"]> | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      journal.settled(),
      new Promise<void>((resolve) => {
        // Short: the first diagnosis should come within 2 s; what is not read yet is judged next run.
        timer = ctx.clock.setTimeout(resolve, Math.min(1500, this.settings.timeoutSeconds * 500));
        onAbort = () => resolve();
        ctx.signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
    if (timer) ctx.clock.clearTimeout(timer);
    if (onAbort) ctx.signal.removeEventListener("abort", onAbort);
  }

  /** The journal directory found (node path), if any. */
  get journalDirectory(): string | undefined {
    return this.journalDir;
  }

  async close(): Promise<void> {
    await this.journal?.close();
    for (const follower of this.files.values()) await follower.close();
    this.files.clear();
  }
}

const ALL_CONDITIONS: readonly ConditionType[] = [
  "KubeletUnhealthy",
  "KubeletCertificateInvalid",
  "ContainerRuntimeUnhealthy",
  "KubeletConfigInvalid",
  "DiskSpaceLow",
];

/** Every condition some signature feeds: the check's `conditions`. */
export function signatureConditions(signatures: readonly Signature[]): ConditionType[] {
  const used = new Set<ConditionType>(["KubeletUnhealthy"]);
  for (const s of signatures) if (s.kind === "problem") used.add(s.condition);
  return ALL_CONDITIONS.filter((c) => used.has(c));
}

export function createKubeletLogsCheck(settings: KubeletLogsSettings, deps: KubeletLogsDeps, signatures: readonly Signature[] = SIGNATURES): Check {
  let reader: LogReader | undefined;
  const name = "kubelet-logs";
  return {
    name,
    conditions: signatureConditions(signatures),
    secondary: true,
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      reader ??= new LogReader(settings, signatures);
      const kubelet = await deps.kubelet.locate(ctx.signal);
      const files = kubeletLogFiles(kubelet.flags.values, settings.files);
      const sources = await reader.read(ctx, files, kubelet.process?.startTimeMs);
      const now = ctx.clock.now();
      reader.matcher.prune(now);
      const nonOk = (check: string) => ctx.peerFindings(check).filter((f) => f.severity !== "ok");
      const findings = judgeLogs(
        reader.matcher.active(now),
        {
          nowMs: now,
          flags: kubelet.flags.values,
          certificateFindings: nonOk("certificates"),
          clockFindings: nonOk("clock"),
        },
        name,
      );
      const counters = reader.matcher.snapshot();
      const evidence: LogReadEvidence = { logCounters: counters, sources };
      if (sources.length === 0) {
        // No kubelet, no journal, no log file: not a node (a laptop, a copy of a disk check's files); nothing to say.
        if (!kubelet.process && !reader.journalDirectory && reader.problems.length === 0) return findings;
        const tried = [
          !settings.journal.enabled
            ? "the journal is disabled"
            : reader.journalDirectory
              ? `the journal in ${reader.journalDirectory} could not be read`
              : `no journal in ${settings.journal.directories.join(" or ")}`,
          `no readable file among ${files.join(", ") || "(none configured)"}`,
          ...reader.problems,
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
      const totals = { matched: 0, noise: 0, lines: 0, dropped: 0 };
      for (const source of Object.values(counters.lines)) {
        for (const [result, n] of Object.entries(source)) {
          totals.lines += n;
          if (result === "matched") totals.matched += n;
          if (result === "noise") totals.noise += n;
          if (result === "dropped") totals.dropped += n;
        }
      }
      const active = findings.map((f) => (f.evidence as { signature?: string } | undefined)?.signature).filter(Boolean);
      const shed = totals.dropped + reader.skippedBytes > 0 ? `; shed ${totals.dropped} lines and skipped ${reader.skippedBytes} bytes in floods` : "";
      findings.push({
        check: name,
        condition: "KubeletUnhealthy",
        severity: "ok",
        reason: LOG_REASONS.LogsRead,
        message:
          `Read ${totals.lines} log lines from ${sources.join(" and ")}: ` +
          (active.length > 0 ? `${active.length} failure signature(s) active (${active.join(", ")})` : "no failure signature active") +
          `, ${totals.noise} known-noise lines ignored${shed}${reader.problems.length > 0 ? `; could not read ${reader.problems.join("; ")}` : ""}.`,
        evidence: { ...evidence },
      });
      return findings;
    },
    async close() {
      await reader?.close();
    },
  };
}

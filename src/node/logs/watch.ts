/**
 * The log-signature engine every log-reading check uses (kubelet-logs,
 * kernel, custom `log` probes): it reads lines from the host's journal
 * (through the agent's one JournalReader), from plain files (followed
 * across rotation and truncation) and from other pull sources (/dev/kmsg),
 * matches them against a signature catalogue and keeps only per-signature
 * state. A check asks it, once per run, to read what is new, then judges
 * `active()`.
 *
 * Bounded whatever the log does:
 * - look-back: the first read fixes `since`; older lines are counted
 *   `stale`, and no source reads further back than its own bound (the
 *   journal reader's maxLookbackMs, a file's initial bytes);
 * - bytes: at most maxBytesPerRun per file per run, the oldest skipped and
 *   reported;
 * - time: reading pull sources stops after `readBudgetMs` (a share of the
 *   check's timeout) and goes on from there next run. A run therefore always
 *   finishes and reports what it counted: before this bound, a file flood
 *   whose reading outlasted the timeout failed every run, so the check
 *   counted nothing for as long as the flood lasted — or counted it all,
 *   depending on how fast the machine was that day.
 */
import type { CheckContext, Clock } from "../../types.js";
import type { JournalEntry } from "../log-line.js";
import { looksBinary, parseLogLine, recordFromJournal, type LogRecord } from "../log-line.js";
import { FileFollower } from "../log-follower.js";
import type { JournalMatch, JournalReader, JournalSubscription } from "../journal.js";
import { DEFAULT_SAMPLES_PER_SECOND, SignatureMatcher, type ActiveSignature, type MatchHook, type MatcherCounters, type TallyHook } from "./matcher.js";
import type { NoisePattern, Signature } from "./signatures.js";

/** Lines stamped this far ahead of our clock are taken as written now. */
const FUTURE_CAP_MS = 60_000;

/** How a source's raw text becomes a record: kubelet's formats, or text as it is (the kernel). */
export type RecordParser = (text: string, nowMs: number) => LogRecord;

export const asPlainText: RecordParser = (text) => ({ format: "text", text });

/** A source the engine polls each run (a file, /dev/kmsg). */
export interface PullSource {
  /** The counters' source label ("file", "kmsg"). */
  readonly source: string;
  /** How it is named in findings: a path. */
  readonly label: string;
  /**
   * Reads what is new, calling `feed` per line; stops early when `stop()`
   * says so (its next poll goes on from there). Never throws for the node's
   * reasons: a problem is returned, naming the path.
   */
  poll(feed: (text: string, timeMs?: number) => void, ctx: CheckContext, stop: () => boolean): Promise<PullResult>;
  close(): Promise<void>;
}

export interface PullResult {
  open: boolean;
  /** Why it could not be read (absent when it simply does not exist). */
  problem?: string;
  /** Bytes or records skipped because more was waiting than one run may read, or lost (a ring buffer overwritten). */
  skipped?: number;
  /** Left unread when the time budget ran out. */
  behind?: number;
}

export interface LogWatchOptions {
  signatures: readonly Signature[];
  noise: readonly NoisePattern[];
  /** Per signature, how many matches per second refresh its sample (the rest only count). */
  samplesPerSecond?: number;
  onMatch?: MatchHook;
  onTally?: TallyHook;
  journal?: {
    reader: JournalReader;
    match: JournalMatch;
    /** How findings name what is read ("kubelet.service, containerd.service", "the kernel's messages"). */
    label: string;
    /** Which catalogue component an entry belongs to. */
    component(entry: JournalEntry): string;
    parse?: RecordParser;
  };
  /** How file lines become records (default: kubelet's formats). */
  parse?: RecordParser;
  /** Every source label the counters start with. */
  sources: readonly string[];
}

/** A pull source by its label, made on first use and kept across runs. */
export interface PullSpec {
  label: string;
  create(): PullSource;
}

export interface ReadRequest {
  /** Where reading starts, fixed at the first read. */
  sinceMs: number;
  /** Pull sources to poll this run (files the check follows, /dev/kmsg); ones no longer named are closed. */
  pull: readonly PullSpec[];
  /** The catalogue component of pull sources' lines. */
  component: string;
  /** Longest time spent polling pull sources this run. */
  readBudgetMs: number;
  /** How long the first run waits for the journal's look-back. */
  firstWaitMs: number;
}

export interface ReadReport {
  /** What was read, as findings name it. */
  sources: string[];
  /** Sources that exist but could not be read, each naming the path and why. */
  problems: string[];
  /** Cumulative bytes (or records) skipped in floods or lost. */
  skipped: number;
  /** Left unread this run because the time budget ran out. */
  behind: number;
}

export class LogWatch {
  readonly matcher: SignatureMatcher;
  private readonly subscription?: JournalSubscription;
  private readonly pulls = new Map<string, PullSource>();
  private sinceMs?: number;
  private waited = false;
  private skipped = 0;
  /** The checks' clock, from the first read (journal entries arrive only after it). */
  private clock?: Clock;

  constructor(private readonly options: LogWatchOptions) {
    this.matcher = new SignatureMatcher(options.signatures, options.noise, options.sources, {
      ...(options.samplesPerSecond !== undefined ? { samplesPerSecond: options.samplesPerSecond } : {}),
      ...(options.onMatch ? { onMatch: options.onMatch } : {}),
      ...(options.onTally ? { onTally: options.onTally } : {}),
    });
    const journal = options.journal;
    if (journal) {
      const tallied = options.signatures.filter((s): s is Signature & { tally: string } => s.kind !== "recovery" && s.tally !== undefined);
      // Registered now, when the check is built, so the one journalctl starts with every subscriber's match.
      this.subscription = journal.reader.subscribe({
        match: journal.match,
        keep: this.matcher.needles(),
        onEntry: (entry) => this.onJournalEntry(entry),
        onSkipped: (result, n) => this.matcher.count("journal", result, n),
        ...(tallied.length > 0
          ? {
              tally: {
                markers: tallied.map((s) => s.tally),
                perSecond: options.samplesPerSecond ?? DEFAULT_SAMPLES_PER_SECOND,
                // Counted as it is read: within the reader's 500 ms batching of the line's time.
                onTally: (index, n) => this.clock && this.matcher.tally(tallied[index] as Signature, "journal", n, this.clock.now()),
              },
            }
          : {}),
      });
    }
  }

  /** Where reading started (after the first read). */
  get since(): number | undefined {
    return this.sinceMs;
  }

  /** The journal directory found (node path), if any. */
  get journalDirectory(): string | undefined {
    return this.subscription?.status().directory;
  }

  private onJournalEntry(entry: JournalEntry): void {
    const journal = this.options.journal;
    if (!journal) return;
    const now = (this.clock as Clock).now();
    if (looksBinary(entry.message)) {
      this.matcher.count("journal", "binary");
      return;
    }
    const record = journal.parse ? journal.parse(entry.message, now) : recordFromJournal(entry, now);
    if (entry.realtimeMs !== undefined) record.timeMs = entry.realtimeMs;
    const at = record.timeMs ?? now;
    if (this.sinceMs !== undefined && at < this.sinceMs) {
      this.matcher.count("journal", "stale");
      return;
    }
    this.matcher.feed(record, journal.component(entry), "journal", Math.min(at, now + FUTURE_CAP_MS));
  }

  private feedPulled(source: string, text: string, component: string, nowMs: number, timeMs: number | undefined): void {
    if (text.length === 0) return;
    if (looksBinary(text)) {
      this.matcher.count(source, "binary");
      return;
    }
    const record = (this.options.parse ?? parseLogLine)(text, nowMs);
    if (timeMs !== undefined) record.timeMs = timeMs;
    const at = record.timeMs ?? nowMs;
    if (at < (this.sinceMs as number)) {
      this.matcher.count(source, "stale");
      return;
    }
    this.matcher.feed(record, component, source, Math.min(at, nowMs + FUTURE_CAP_MS));
  }

  /** Reads what is new in every source; never throws for a source's own problems. */
  async read(ctx: CheckContext, request: ReadRequest): Promise<ReadReport> {
    this.sinceMs ??= request.sinceMs;
    this.clock ??= ctx.clock;
    const report: ReadReport = { sources: [], problems: [], skipped: 0, behind: 0 };

    const subscription = this.subscription;
    if (subscription) {
      await subscription.open(this.sinceMs);
      if (!this.waited) {
        this.waited = true;
        // Only the first run waits, and briefly: the first diagnosis should come within 2 s; what is not read yet is judged next run.
        await waitAtMost(ctx, subscription.settled(), request.firstWaitMs);
      }
      const status = subscription.status();
      if (status.directory !== undefined && (status.running || status.caughtUp))
        report.sources.push(`the journal in ${status.directory} (${this.options.journal?.label})`);
      else if (status.directory !== undefined && status.lastError) report.problems.push(`journal ${status.directory}: ${status.lastError}`);
    }

    const wanted = new Set(request.pull.map((p) => p.label));
    for (const [label, pull] of this.pulls) {
      if (!wanted.has(label)) {
        await pull.close();
        this.pulls.delete(label);
      }
    }
    const stopAt = ctx.clock.monotonic() + request.readBudgetMs;
    const stop = () => ctx.clock.monotonic() >= stopAt;
    for (const spec of request.pull) {
      let pull = this.pulls.get(spec.label);
      if (!pull) {
        pull = spec.create();
        this.pulls.set(spec.label, pull);
      }
      const readAt = ctx.clock.now();
      const source = pull.source;
      const result = await pull.poll((text, timeMs) => this.feedPulled(source, text, request.component, readAt, timeMs), ctx, stop);
      if (result.open) report.sources.push(pull.label);
      else if (result.problem) report.problems.push(result.problem);
      this.skipped += result.skipped ?? 0;
      report.behind += result.behind ?? 0;
    }
    report.skipped = this.skipped;
    return report;
  }

  active(nowMs: number): ActiveSignature[] {
    this.matcher.prune(nowMs);
    return this.matcher.active(nowMs);
  }

  counters(): MatcherCounters {
    return this.matcher.snapshot();
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    for (const pull of this.pulls.values()) await pull.close();
    this.pulls.clear();
  }
}

/** Waits for `promise`, at most `ms` on the context's clock or until the run is aborted. */
async function waitAtMost(ctx: CheckContext, promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<CheckContext["clock"]["setTimeout"]> | undefined;
  let onAbort: (() => void) | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = ctx.clock.setTimeout(resolve, ms);
      onAbort = () => resolve();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    }),
  ]);
  if (timer) ctx.clock.clearTimeout(timer);
  if (onAbort) ctx.signal.removeEventListener("abort", onAbort);
}

/** A followed plain file as a pull source. */
export class FileSource implements PullSource {
  readonly source = "file";
  private readonly follower: FileFollower;

  constructor(
    host: CheckContext["host"],
    readonly label: string,
    options: { maxLineBytes: number; maxBytesPerRun: number },
  ) {
    this.follower = new FileFollower(host, label, { maxLineBytes: options.maxLineBytes, budgetBytes: options.maxBytesPerRun });
  }

  async poll(feed: (text: string) => void, ctx: CheckContext, stop: () => boolean): Promise<PullResult> {
    const result = await this.follower.poll((line) => feed(line), { signal: ctx.signal, stop });
    return {
      open: result.open,
      ...(result.error && !/does not exist$/.test(result.error) ? { problem: result.error } : {}),
      skipped: result.skippedBytes,
      behind: result.behindBytes,
    };
  }

  close(): Promise<void> {
    return this.follower.close();
  }
}

/** Lines read, matched, noise and dropped, summed over sources. */
export function lineTotals(counters: MatcherCounters): { lines: number; matched: number; noise: number; dropped: number } {
  const totals = { lines: 0, matched: 0, noise: 0, dropped: 0 };
  for (const source of Object.values(counters.lines)) {
    for (const [result, n] of Object.entries(source)) {
      totals.lines += n;
      if (result === "matched") totals.matched += n;
      if (result === "noise") totals.noise += n;
      if (result === "dropped") totals.dropped += n;
    }
  }
  return totals;
}

/**
 * Follows the host's journal for a few units with one long-lived
 * `journalctl --directory <host>/var/log/journal -u … -o json -f` child —
 * the agent's one allowed long-lived child process — supervised here:
 *
 * - restarted with exponential backoff (and jitter-free, on the injected
 *   clock) when it exits or cannot start, resuming after the last cursor it
 *   printed so nothing is read twice;
 * - its output is split with a bounded line buffer and handed on line by
 *   line as it arrives (nothing queues in between);
 * - only lines that contain one of the `keep` needles become strings and are
 *   parsed: one case-insensitive scan per chunk read from the pipe finds
 *   them, and every other line is counted from its bytes alone: in a flood
 *   of ordinary lines the follower allocates per read, not per line
 *   (docs/performance.md has what a flood costs);
 * - a per-second line budget sheds load in a flood: lines over the budget
 *   are counted and dropped unless they contain one of the `keep` needles,
 *   so the decisive line survives a flood of noise. When the event loop is
 *   busy the pipe fills and journalctl blocks: the kernel's back-pressure.
 *
 * No journal-reading library fits: the few on npm bind libsystemd natively
 * (a build step and a native crash domain in the agent) or parse the
 * on-disk format themselves (large, and the format moves). journalctl reads
 * the files the way journald wrote them, including compressed entries.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Clock, Log, TimerHandle } from "../types.js";
import { parseJournalJson, type JournalEntry } from "./log-line.js";
import { LineSplitter, type LineRangeHandler } from "./log-follower.js";

export interface JournalOptions {
  /** Local path of the journal directory (e.g. <host root>/var/log/journal). */
  directory: string;
  units: readonly string[];
  /** Start from this wall-clock time (ms) on the first start. */
  sinceMs: number;
  clock: Clock;
  log: Log;
  onEntry(entry: JournalEntry): void;
  /** Lines over the budget and without a needle: counted, not parsed. */
  onDropped?(lines: number): void;
  /** journalctl printed a line that is not a journal JSON object. */
  onUnparseable?(line: string): void;
  /** A line without any `keep` needle, counted without being parsed. */
  onUninteresting?(): void;
  journalctl?: string;
  maxLineBytes?: number;
  /** Most lines parsed per second before shedding (default 20,000). */
  maxLinesPerSecond?: number;
  /**
   * Lowercase ASCII substrings (no quotes or backslashes, so JSON escaping
   * cannot hide them). When given, a line containing none is not parsed at
   * all — it cannot match — and is never shed as "dropped" beyond the
   * budget either way. This keeps a flood of ordinary lines cheap.
   */
  keep?: readonly string[];
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export interface JournalStatus {
  running: boolean;
  starts: number;
  /** Why the last child ended or could not start. */
  lastError?: string;
  lastCursor?: string;
  droppedLines: number;
  /** The lookback has been read (the first, non-following journalctl finished). */
  caughtUp: boolean;
}

/**
 * The first child reads the lookback and exits (so a one-shot `node-doctor
 * check` knows when it has seen it all); later children follow from the
 * last cursor.
 */
export function journalctlArgs(options: { directory: string; units: readonly string[]; follow: boolean; sinceMs?: number; afterCursor?: string }): string[] {
  const args = ["--directory", options.directory, "--output", "json", "--no-pager", "--quiet"];
  if (options.follow) args.push("--follow", "--lines", "all");
  for (const unit of options.units) args.push("--unit", unit);
  if (options.afterCursor) args.push("--after-cursor", options.afterCursor);
  else if (options.sinceMs !== undefined) args.push("--since", `@${Math.floor(options.sinceMs / 1000)}`);
  // Only what we read: journalctl always adds the cursor and timestamps.
  args.push("--output-fields", "MESSAGE,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER,_PID,PRIORITY");
  return args;
}

const CURSOR = /"__CURSOR":"([^"\\]+)"/;

export class JournalFollower {
  private child?: ChildProcess;
  private timer?: TimerHandle;
  private closed = false;
  private backoffMs: number;
  private readonly status_: JournalStatus = { running: false, starts: 0, droppedLines: 0, caughtUp: false };
  private resolveCaughtUp!: () => void;
  private readonly caughtUpPromise = new Promise<void>((resolve) => (this.resolveCaughtUp = resolve));
  private resolveFirstFailure!: () => void;
  private readonly firstFailure = new Promise<void>((resolve) => (this.resolveFirstFailure = resolve));
  private windowStartMs = 0;
  private linesThisWindow = 0;
  private startedAtMonotonic = 0;
  /** One case-insensitive alternation of the needles, searched from `lastIndex`. */
  private readonly keep?: RegExp;
  /** The chunk being split, and where needle matches in it end, ascending. */
  private chunk?: Buffer;
  private readonly needleEnds: number[] = [];
  private needleIndex = 0;
  /** The last line skipped unparsed (a reused buffer): its cursor is read only when a restart needs it. */
  private lastSkipped?: Buffer;
  private lastSkippedBytes = 0;
  /** The last skipped line of the current chunk, copied once when the chunk is done. */
  private skippedInChunkStart = -1;
  private skippedInChunkEnd = 0;
  private readonly onLineRange: LineRangeHandler = (bytes, start, end) => this.onLine(bytes, start, end);

  constructor(private readonly options: JournalOptions) {
    this.backoffMs = options.backoffInitialMs ?? 1000;
    const needles = (options.keep ?? []).filter((n) => n.length > 0);
    if (needles.length > 0) this.keep = new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "gi");
  }

  /** The cursor of the last line read, parsed or skipped. */
  private syncCursor(): void {
    if (this.lastSkippedBytes === 0 || !this.lastSkipped) return;
    const cursor = CURSOR.exec(this.lastSkipped.toString("utf8", 0, this.lastSkippedBytes));
    if (cursor) this.status_.lastCursor = cursor[1] as string;
    this.lastSkippedBytes = 0;
  }

  status(): Readonly<JournalStatus> {
    this.syncCursor();
    return this.status_;
  }

  /** Resolves once the lookback has been read. */
  caughtUp(): Promise<void> {
    return this.caughtUpPromise;
  }

  /** Resolves when the first journalctl has read the lookback or failed. */
  settled(): Promise<void> {
    return Promise.race([this.caughtUpPromise, this.firstFailure]);
  }

  start(): void {
    if (this.closed || this.child || this.timer) return;
    const { options } = this;
    this.syncCursor();
    const args = journalctlArgs({
      directory: options.directory,
      units: options.units,
      follow: this.status_.caughtUp,
      sinceMs: options.sinceMs,
      ...(this.status_.lastCursor ? { afterCursor: this.status_.lastCursor } : {}),
    });
    this.status_.starts++;
    this.startedAtMonotonic = options.clock.monotonic();
    let child: ChildProcess;
    try {
      child = spawn(options.journalctl ?? "journalctl", args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      this.onExit(`could not start journalctl: ${String(error)}`);
      return;
    }
    this.child = child;
    this.status_.running = true;
    const splitter = new LineSplitter(options.maxLineBytes);
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      this.startChunk(chunk);
      splitter.push(chunk, this.onLineRange);
      this.endChunk();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 2048) stderr += chunk.toString("utf8");
    });
    child.on("error", (error) => {
      // spawn failures (ENOENT: journalctl not installed) arrive here.
      if (this.child === child)
        this.onExit(`journalctl: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "not installed (no journalctl on PATH)" : error.message}`);
    });
    child.on("close", (code, sig) => {
      if (this.child !== child) return;
      if (!this.status_.caughtUp && code === 0) {
        splitter.flush(this.onLineRange);
        delete this.child;
        this.status_.caughtUp = true;
        this.resolveCaughtUp();
        this.start();
        return;
      }
      const detail = stderr.trim().split("\n")[0];
      this.onExit(`journalctl exited (${sig ?? `code ${code}`})${detail ? `: ${detail}` : ""}`);
    });
  }

  /**
   * Judges the per-second budget (one clock read per read from the pipe)
   * and finds every needle in the chunk with one search of its latin1 text
   * (one char per byte, so positions are byte offsets). The text is dropped
   * before any line is parsed: V8 promotes whatever is alive when a young
   * collection runs, and a 64 KiB string alive while lines are parsed went
   * to the old generation in a flood, growing it by megabytes a minute.
   */
  private startChunk(chunk: Buffer): void {
    const now = this.options.clock.monotonic();
    if (now - this.windowStartMs >= 1000) {
      this.windowStartMs = now;
      this.linesThisWindow = 0;
    }
    this.chunk = chunk;
    this.needleEnds.length = 0;
    this.needleIndex = 0;
    const keep = this.keep;
    if (!keep) return;
    const text = chunk.toString("latin1");
    keep.lastIndex = 0;
    while (keep.test(text)) this.needleEnds.push(keep.lastIndex);
  }

  private endChunk(): void {
    if (this.chunk && this.skippedInChunkStart >= 0) this.rememberSkipped(this.chunk, this.skippedInChunkStart, this.skippedInChunkEnd);
    this.skippedInChunkStart = -1;
    delete this.chunk;
  }

  /**
   * Whether `bytes[start, end)` contains a needle. Lines of the current
   * chunk come in order and use the matches found by startChunk; a line
   * joined from two chunks (one or two per chunk) is searched on its own.
   */
  private hasNeedle(keep: RegExp, bytes: Buffer, start: number, end: number): boolean {
    if (bytes !== this.chunk) {
      keep.lastIndex = 0;
      return keep.test(bytes.toString("latin1", start, end));
    }
    // Needles hold no newline, so a match that ends inside this line began in it.
    const ends = this.needleEnds;
    while (this.needleIndex < ends.length && (ends[this.needleIndex] as number) <= start) this.needleIndex++;
    return this.needleIndex < ends.length && (ends[this.needleIndex] as number) <= end;
  }

  /** Keeps a copy of the last skipped line in one reused buffer (split bytes are only lent). */
  private rememberSkipped(bytes: Buffer, start: number, end: number): void {
    this.skippedInChunkStart = -1;
    const length = end - start;
    if (!this.lastSkipped || this.lastSkipped.length < length) this.lastSkipped = Buffer.allocUnsafeSlow(Math.max(length, 1024));
    bytes.copy(this.lastSkipped, 0, start, end);
    this.lastSkippedBytes = length;
  }

  private onLine(bytes: Buffer, start: number, end: number): void {
    if (end === start) return;
    const { options } = this;
    const overBudget = ++this.linesThisWindow > (options.maxLinesPerSecond ?? 20_000);
    if (this.keep && !this.hasNeedle(this.keep, bytes, start, end)) {
      if (bytes === this.chunk) {
        this.skippedInChunkStart = start;
        this.skippedInChunkEnd = end;
      } else this.rememberSkipped(bytes, start, end);
      if (overBudget) {
        this.status_.droppedLines++;
        options.onDropped?.(1);
      } else if (bytes[start] !== 0x7b) options.onUnparseable?.(bytes.toString("utf8", start, end));
      else options.onUninteresting?.();
      return;
    }
    const line = bytes.toString("utf8", start, end);
    const entry = parseJournalJson(line);
    if (!entry) {
      options.onUnparseable?.(line);
      return;
    }
    if (entry.cursor) {
      this.status_.lastCursor = entry.cursor;
      this.lastSkippedBytes = 0;
      this.skippedInChunkStart = -1;
    }
    options.onEntry(entry);
  }

  private onExit(reason: string): void {
    const { options } = this;
    delete this.child;
    this.status_.running = false;
    this.status_.lastError = reason;
    this.resolveFirstFailure();
    if (this.closed) return;
    // A child that ran a good while was healthy: start the backoff over.
    if (options.clock.monotonic() - this.startedAtMonotonic > 60_000) this.backoffMs = options.backoffInitialMs ?? 1000;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, options.backoffMaxMs ?? 300_000);
    options.log.warn({ err: reason, retryInMs: delay }, "journal follower stopped; restarting");
    this.timer = options.clock.setTimeout(() => {
      delete this.timer;
      this.start();
    }, delay);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.resolveCaughtUp();
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    delete this.timer;
    const child = this.child;
    delete this.child;
    this.status_.running = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => {
        child.kill("SIGKILL");
        resolve();
      }, 2000);
      child.once("close", () => {
        clearTimeout(done);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
}

/**
 * The host's journal, read by one long-lived `journalctl --directory
 * <host>/var/log/journal -o json` child — the agent's one allowed
 * long-lived child process — for every reader that wants journal lines
 * (kubelet-logs' units, the kernel's `_TRANSPORT=kernel`, custom log
 * probes). Each subscriber names its journal match; the child reads the OR
 * of them (`_SYSTEMD_UNIT=kubelet.service + _TRANSPORT=kernel`), and each
 * line goes to the subscribers whose match it satisfies.
 *
 * - Bounded look-back: the first child starts at the earliest subscriber's
 *   `since`, never further back than `maxLookbackMs`, and exits at the end
 *   of what is there (so a one-shot `node-doctor check` knows it has seen
 *   it all); later children follow from the last cursor.
 * - Supervised: restarted with exponential backoff on the injected clock
 *   when it exits or cannot start, resuming after the last cursor it
 *   printed so nothing is read twice.
 * - Cheap in a flood: only lines that contain a subscriber's needle become
 *   strings and are parsed; one case-insensitive scan per chunk read from
 *   the pipe finds them, and every other line is counted from its bytes
 *   alone (and attributed to its subscriber by its `"FIELD":"value"` bytes),
 *   so a flood of ordinary lines allocates per read, not per line
 *   (docs/performance.md).
 * - A per-second line budget sheds load: lines over the budget without a
 *   needle are counted `dropped`, so the decisive line survives a flood.
 *   When the event loop is busy the pipe fills and journalctl blocks: the
 *   kernel's back-pressure.
 *
 * Subscribers register when their check is built and open when it first
 * runs; the child starts once every registered subscriber has opened (or
 * `joinWaitMs` after the first did). One that opens later restarts the
 * child with the wider match from the last cursor, without a look-back of
 * its own (logged).
 *
 * No journal-reading library fits: the few on npm bind libsystemd natively
 * (a build step and a native crash domain in the agent) or parse the
 * on-disk format themselves (large, and the format moves). journalctl reads
 * the files the way journald wrote them, including compressed entries.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { JournalSettings } from "../config/config.js";
import type { Clock, Host, Log, TimerHandle } from "../types.js";
import { JOURNAL_MATCH_FIELDS, parseJournalJson, type JournalEntry, type JournalMatchField } from "./log-line.js";
import { LineSplitter, type LineRangeHandler } from "./log-follower.js";
import { within } from "../time/deadline.js";
import { shutdownClock } from "../time/clock.js";

/** One group of a match: every term must hold (distinct fields). */
export type JournalMatchGroup = Readonly<Partial<Record<JournalMatchField, string>>>;
/** A journal match: the OR of its groups. */
export type JournalMatch = readonly JournalMatchGroup[];

/** What `journalctl -u UNIT` reads of a unit: its processes' lines and systemd's lines about it. */
export function unitsMatch(units: readonly string[]): JournalMatch {
  return units.flatMap((unit) => [{ _SYSTEMD_UNIT: unit }, { UNIT: unit, _PID: "1" }]);
}

/** The kernel's own messages (journald's kmsg transport). */
export const KERNEL_MATCH: JournalMatch = [{ _TRANSPORT: "kernel" }];

export function entryMatches(entry: JournalEntry, match: JournalMatch): boolean {
  return match.some((group) => Object.entries(group).every(([field, value]) => entry.fields[field as JournalMatchField] === value));
}

/** journalctl's positional matches: terms of a group side by side, groups joined by `+`. */
export function matchArgs(match: JournalMatch): string[] {
  const args: string[] = [];
  for (const group of match) {
    if (args.length > 0) args.push("+");
    for (const [field, value] of Object.entries(group)) args.push(`${field}=${value}`);
  }
  return args;
}

const OUTPUT_FIELDS = ["MESSAGE", ...JOURNAL_MATCH_FIELDS, "PRIORITY"].join(",");

export function journalctlArgs(options: { directory: string; match: JournalMatch; follow: boolean; sinceMs?: number; afterCursor?: string }): string[] {
  const args = ["--directory", options.directory, "--output", "json", "--no-pager", "--quiet"];
  if (options.follow) args.push("--follow", "--lines", "all");
  if (options.afterCursor) args.push("--after-cursor", options.afterCursor);
  else if (options.sinceMs !== undefined) args.push("--since", `@${Math.floor(options.sinceMs / 1000)}`);
  // Only what we read (journalctl always adds the cursor and timestamps); the match fields route each line.
  args.push("--output-fields", OUTPUT_FIELDS);
  args.push(...matchArgs(options.match));
  return args;
}

/**
 * While following, after a read smaller than FOLLOW_BATCH_BYTES the pipe is read again only this
 * long after: 2 s, the kernel holding what journalctl writes meanwhile (a child's stdio is a socket
 * pair: its send buffer, 208 KiB by default, less a few hundred bytes a write; when it is full
 * journalctl waits, and the large read that follows is read on at once). The log checks judge every
 * 10–15 s, so a line is late to nothing; each wake-up saved is about 0.25 ms of CPU
 * (docs/performance.md).
 */
export const FOLLOW_BATCH_MS = 2000;
const FOLLOW_BATCH_BYTES = 16 * 1024;

export type SkippedResult = "unmatched" | "dropped" | "unparseable";

export interface JournalSubscriberSpec {
  match: JournalMatch;
  /**
   * Lowercase ASCII substrings (no quotes or backslashes, so JSON escaping
   * cannot hide them). A line containing none of any subscriber's needles is
   * not parsed — it cannot match — and is counted through onSkipped. Absent:
   * every line of this match is parsed.
   */
  keep?: readonly string[];
  onEntry(entry: JournalEntry): void;
  /** Lines of this match counted without being parsed: no needle (unmatched), over the budget (dropped), or not JSON. */
  onSkipped?(result: SkippedResult, lines: number): void;
  /**
   * Rate-limited lines: past `perSecond` lines a second carrying `markers[i]`
   * (verbatim ASCII, no quotes or backslashes), further ones are counted
   * through onTally(i, lines) instead of being parsed.
   */
  tally?: { markers: readonly string[]; perSecond: number; onTally(index: number, lines: number): void };
}

export interface JournalStatus {
  /** The journal directory followed (node path), once found. */
  directory?: string;
  running: boolean;
  starts: number;
  /** Why the last child ended or could not start, or why there is no journal. */
  lastError?: string;
  lastCursor?: string;
  droppedLines: number;
  /** The look-back has been read (the first, non-following journalctl finished). */
  caughtUp: boolean;
}

export interface JournalSubscription {
  /** Starts reading (idempotent): the first call sets where this subscriber's look-back starts. Resolves once a journal directory was looked for. */
  open(sinceMs: number): Promise<void>;
  /** Resolves when the look-back has been read, reading failed, or there is no journal. */
  settled(): Promise<void>;
  status(): Readonly<JournalStatus> & { joinedLate: boolean };
  close(): Promise<void>;
}

export interface JournalReaderOptions {
  host: Host;
  clock: Clock;
  log: Log;
  /** Node paths; the first that holds files is followed (journald's persistent, then volatile storage). */
  directories: readonly string[];
  journalctl: string;
  /** Most lines parsed per second before shedding. */
  maxLinesPerSecond: number;
  /** The look-back at start never reaches further back than this. */
  maxLookbackMs: number;
  maxLineBytes?: number;
  /** How long the first subscriber to open waits for the other registered ones (default 2 s). */
  joinWaitMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

const CURSOR = /"__CURSOR":"([^"\\]+)"/;

interface Subscriber {
  spec: JournalSubscriberSpec;
  sinceMs?: number;
  /** In the running child's match. */
  inChild: boolean;
  joinedLate: boolean;
  /** Per group, the `"FIELD":"value"` byte strings that must all be in a line of this subscriber. */
  markers: Buffer[][];
  /** The same per group as indexes of the reader's route marks, when the chunk's search finds them. */
  routes?: number[][];
  /**
   * The tally's markers as bytes, lines of each parsed in the current second, the per-second
   * share, and lines counted but not yet handed over (once per read, not once per line).
   */
  tally?: { markers: Buffer[]; byMarker: ReadonlyMap<string, number>; parsed: number[]; perSecond: number; pending: number[] };
}

function markersOf(match: JournalMatch): Buffer[][] {
  return match.map((group) => Object.entries(group).map(([field, value]) => Buffer.from(`${JSON.stringify(field)}:${JSON.stringify(value)}`)));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Fixed strings (needles, tally markers, route markers) found with one regex
 * search of a chunk's latin1 text (one char per byte, so positions are byte
 * offsets), then given to the chunk's lines, which ask in order. Searching
 * each line's bytes instead (a Buffer.includes per string and subscriber)
 * was a third of the reader's CPU in a flood of 75 kill lines a second, and
 * with kubelet-logs reading beside the kernel check, testing each kernel line
 * against kubelet-logs' unit markers that way was two thirds of the reader's
 * profiled time (docs/performance.md). Only where a match ends and
 * which string it was are kept, not the match, which would hold the text.
 * No string holds a newline, so a match that ends inside a line began in it.
 */
class ChunkMarks {
  private readonly search: RegExp;
  private readonly ends: number[] = [];
  private readonly which: number[] = [];
  private next = 0;

  /** `names` non-empty; ignoring case, which one matched is not told (first() gives 0). */
  constructor(
    readonly names: readonly string[],
    private readonly ignoreCase = false,
  ) {
    const longestFirst = [...names].sort((a, b) => b.length - a.length);
    this.search = new RegExp(longestFirst.map(escapeRegExp).join("|"), ignoreCase ? "gi" : "g");
  }

  /**
   * Whether one search finds every name where it is: none inside another (the longer match would
   * hide it). Two `"FIELD":"value"` markers cannot overlap either: journalctl escapes a quote
   * inside a string, so each `"` of its JSON is a key's or a value's, never both.
   */
  static distinct(names: readonly string[]): boolean {
    return names.every((a) => names.every((b) => a === b || !a.includes(b)));
  }

  /** Finds the matches of a chunk's text: every one, or a line's first only (the search goes on from the next line). */
  scan(text: string, firstPerLine: boolean): void {
    this.clear();
    const { search } = this;
    search.lastIndex = 0;
    for (;;) {
      let found: number;
      if (this.ignoreCase) {
        if (!search.test(text)) break;
        found = 0;
      } else {
        const match = search.exec(text);
        if (!match) break;
        found = this.names.indexOf(match[0]);
      }
      this.ends.push(search.lastIndex);
      this.which.push(found);
      if (!firstPerLine) continue;
      const newline = text.indexOf("\n", search.lastIndex);
      if (newline < 0) break;
      search.lastIndex = newline + 1;
    }
  }

  clear(): void {
    this.ends.length = 0;
    this.which.length = 0;
    this.next = 0;
  }

  /** Whether a text (a line not in a scanned chunk) holds a name. */
  in(text: string): boolean {
    this.search.lastIndex = 0;
    return this.search.test(text);
  }

  /** The first name in the chunk's bytes [start, end) (its index; -1: none). */
  first(start: number, end: number): number {
    const { ends } = this;
    while (this.next < ends.length && (ends[this.next] as number) <= start) this.next++;
    return this.next < ends.length && (ends[this.next] as number) <= end ? (this.which[this.next] as number) : -1;
  }

  /** Every name in the chunk's bytes [start, end): `seen[index] = stamp`. */
  mark(start: number, end: number, seen: Int32Array, stamp: number): void {
    const { ends } = this;
    while (this.next < ends.length && (ends[this.next] as number) <= start) this.next++;
    for (let i = this.next; i < ends.length && (ends[i] as number) <= end; i++) seen[this.which[i] as number] = stamp;
  }
}

/** The reader's options from the agent's `journal` settings. */
export function journalReaderOptions(
  settings: JournalSettings,
): Pick<JournalReaderOptions, "directories" | "journalctl" | "maxLinesPerSecond" | "maxLookbackMs"> {
  return {
    directories: settings.directories,
    journalctl: settings.journalctl,
    maxLinesPerSecond: settings.maxLinesPerSecond,
    maxLookbackMs: settings.maxLookbackHours * 3_600_000,
  };
}

export class JournalReader {
  private readonly subscribers: Subscriber[] = [];
  private child?: ChildProcess;
  private timer?: TimerHandle;
  private joinTimer?: TimerHandle;
  private closed = false;
  private started = false;
  private backoffMs: number;
  private readonly status_: JournalStatus = { running: false, starts: 0, droppedLines: 0, caughtUp: false };
  private resolveCaughtUp!: () => void;
  private readonly caughtUpPromise = new Promise<void>((resolve) => (this.resolveCaughtUp = resolve));
  private resolveFirstFailure!: () => void;
  private readonly firstFailure = new Promise<void>((resolve) => (this.resolveFirstFailure = resolve));
  private looking?: Promise<void>;
  private windowStartMs = 0;
  private linesThisWindow = 0;
  private startedAtMonotonic = 0;
  /** Lines parsed whatever their needles: some subscriber gave none. */
  private parseAll = false;
  /** Every subscriber's needles, case-insensitive: a line's first. */
  private keep?: ChunkMarks;
  /** The chunk being split. */
  private chunk?: Buffer;
  /**
   * The child reads for one subscriber: every line it prints is that subscriber's (its match is
   * the child's), so no line is searched for the subscriber's markers.
   */
  private single = false;
  /** The tally markers: a line's first. */
  private tallyMarks?: ChunkMarks;
  /**
   * Reading for several subscribers, every one's `"FIELD":"value"` markers: all of a line's,
   * stamped into routeSeen (a line's stamp is routeStamp) to tell whose the line is.
   */
  private routeMarks?: ChunkMarks;
  private routeSeen = new Int32Array(0);
  private routeStamp = 0;
  /** The last line skipped unparsed (a reused buffer): its cursor is read only when a restart needs it. */
  private lastSkipped?: Buffer;
  private lastSkippedBytes = 0;
  /** The last skipped line of the current chunk, copied once when the chunk is done. */
  private skippedInChunkStart = -1;
  private skippedInChunkEnd = 0;
  /** Some subscriber counts rate-limited lines from their bytes (JournalSubscriberSpec.tally). */
  private tallies = false;
  /** The subscribers that counted the current line from its bytes. */
  private readonly talliedBy: Subscriber[] = [];
  private readonly onLineRange: LineRangeHandler = (bytes, start, end) => this.onLine(bytes, start, end);

  constructor(private readonly options: JournalReaderOptions) {
    this.backoffMs = options.backoffInitialMs ?? 1000;
  }

  /** The configured journal directories (node paths), for messages. */
  get directories(): readonly string[] {
    return this.options.directories;
  }

  /** Registers a subscriber; it reads nothing until it opens. */
  subscribe(spec: JournalSubscriberSpec): JournalSubscription {
    const subscriber: Subscriber = { spec, inChild: false, joinedLate: false, markers: markersOf(spec.match) };
    if (spec.tally)
      subscriber.tally = {
        markers: spec.tally.markers.map((m) => Buffer.from(m, "latin1")),
        byMarker: new Map(spec.tally.markers.map((m, i) => [m, i])),
        parsed: spec.tally.markers.map(() => 0),
        perSecond: spec.tally.perSecond,
        pending: spec.tally.markers.map(() => 0),
      };
    this.subscribers.push(subscriber);
    return {
      open: (sinceMs) => this.open(subscriber, sinceMs),
      settled: () => this.settled(),
      status: () => ({ ...this.status(), joinedLate: subscriber.joinedLate }),
      close: () => this.unsubscribe(subscriber),
    };
  }

  status(): Readonly<JournalStatus> {
    this.syncCursor();
    return this.status_;
  }

  /** Resolves when the look-back has been read, the first child failed, or there is no journal to read. */
  settled(): Promise<void> {
    if (this.closed || (this.status_.directory === undefined && this.looking === undefined)) return Promise.resolve();
    return (async () => {
      await this.looking;
      if (this.status_.directory === undefined) return;
      await Promise.race([this.caughtUpPromise, this.firstFailure]);
    })();
  }

  private async open(subscriber: Subscriber, sinceMs: number): Promise<void> {
    if (this.closed || !this.subscribers.includes(subscriber)) return;
    subscriber.sinceMs ??= sinceMs;
    await this.findDirectory();
    if (this.status_.directory === undefined) return;
    if (this.started) {
      if (!subscriber.inChild) {
        subscriber.joinedLate = true;
        this.options.log.info(
          { match: matchArgs(subscriber.spec.match).join(" ") },
          "journal subscriber joined after the look-back was read: restarting journalctl with its match, no look-back of its own",
        );
        this.restart();
      }
      return;
    }
    if (this.subscribers.every((s) => s.sinceMs !== undefined)) this.begin();
    else this.joinTimer ??= this.options.clock.setTimeout(() => this.begin(), this.options.joinWaitMs ?? 2000);
  }

  /** The first of the configured directories that holds files, looked for until one does. */
  private findDirectory(): Promise<void> {
    if (this.status_.directory !== undefined) return Promise.resolve();
    this.looking ??= (async () => {
      for (const dir of this.options.directories) {
        let entries: string[] = [];
        try {
          entries = await this.options.host.list(dir);
        } catch {
          continue;
        }
        if (entries.length === 0) continue;
        this.status_.directory = dir;
        delete this.status_.lastError;
        return;
      }
      this.status_.lastError = `no journal in ${this.options.directories.join(" or ")}`;
    })().finally(() => delete this.looking);
    return this.looking;
  }

  private begin(): void {
    if (this.joinTimer) this.options.clock.clearTimeout(this.joinTimer);
    delete this.joinTimer;
    if (this.started || this.closed) return;
    this.started = true;
    this.spawnChild();
  }

  /** A subscriber joined: end the child; its close starts the next one with the wider match, at once. */
  private restart(): void {
    const child = this.child;
    if (this.timer) {
      this.options.clock.clearTimeout(this.timer);
      delete this.timer;
    }
    if (!child) {
      this.spawnChild();
      return;
    }
    delete this.child;
    child.removeAllListeners("close");
    child.once("close", () => this.spawnChild());
    // As in close(): its output is no longer wanted, and an unread pipe would hold "close" back.
    child.stdout?.destroy();
    child.kill("SIGTERM");
  }

  private async unsubscribe(subscriber: Subscriber): Promise<void> {
    const index = this.subscribers.indexOf(subscriber);
    if (index >= 0) this.subscribers.splice(index, 1);
    if (this.subscribers.length === 0) await this.close();
    else if (!this.started && this.subscribers.every((s) => s.sinceMs !== undefined) && this.status_.directory !== undefined) this.begin();
  }

  /** The subscribers the next child reads for, and the needles and match it reads with. */
  private prepare(): { match: JournalMatch; sinceMs: number } | undefined {
    const readers = this.subscribers.filter((s) => s.sinceMs !== undefined);
    if (readers.length === 0) return undefined;
    const seen = new Set<string>();
    const match: JournalMatchGroup[] = [];
    for (const s of readers) {
      s.inChild = true;
      for (const group of s.spec.match) {
        const key = JSON.stringify(Object.entries(group).sort());
        if (!seen.has(key)) {
          seen.add(key);
          match.push(group);
        }
      }
    }
    this.parseAll = readers.some((s) => s.spec.keep === undefined);
    this.tallies = readers.some((s) => s.tally !== undefined);
    this.single = readers.length === 1;
    const tallyNames = [...new Set(readers.flatMap((s) => s.spec.tally?.markers ?? []))].filter((m) => m.length > 0);
    if (tallyNames.length > 0) this.tallyMarks = new ChunkMarks(tallyNames);
    else delete this.tallyMarks;
    const needles = [...new Set(readers.flatMap((s) => s.spec.keep ?? []))].filter((n) => n.length > 0);
    if (needles.length > 0 && !this.parseAll) this.keep = new ChunkMarks(needles, true);
    else delete this.keep;
    this.prepareRoutes(readers);
    const earliest = Math.min(...readers.map((s) => s.sinceMs as number));
    const floor = this.options.clock.now() - this.options.maxLookbackMs;
    return { match, sinceMs: Math.max(earliest, floor) };
  }

  /** The route marks of several subscribers (none: one subscriber, or markers one search cannot tell apart). */
  private prepareRoutes(readers: Subscriber[]): void {
    for (const s of this.subscribers) delete s.routes;
    delete this.routeMarks;
    if (this.single) return;
    const names = [...new Set(readers.flatMap((s) => s.markers.flat().map((m) => m.toString("latin1"))))];
    if (names.length === 0 || !ChunkMarks.distinct(names)) return;
    this.routeMarks = new ChunkMarks(names);
    this.routeSeen = new Int32Array(names.length);
    this.routeStamp = 0;
    for (const s of readers) s.routes = s.markers.map((group) => group.map((m) => names.indexOf(m.toString("latin1"))));
  }

  private spawnChild(): void {
    if (this.closed || this.child || this.timer) return;
    const { options } = this;
    const plan = this.prepare();
    const directory = this.status_.directory;
    if (!plan || directory === undefined) return;
    this.syncCursor();
    const args = journalctlArgs({
      directory: options.host.local(directory),
      match: plan.match,
      follow: this.status_.caughtUp,
      sinceMs: plan.sinceMs,
      ...(this.status_.lastCursor ? { afterCursor: this.status_.lastCursor } : {}),
    });
    this.status_.starts++;
    this.startedAtMonotonic = options.clock.monotonic();
    let child: ChildProcess;
    try {
      child = spawn(options.journalctl, args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      this.onExit(`could not start journalctl: ${String(error)}`);
      return;
    }
    this.child = child;
    this.status_.running = true;
    const splitter = new LineSplitter(options.maxLineBytes);
    let stderr = "";
    const stdout = child.stdout;
    // Following, journalctl writes each entry as it comes: a steady trickle (an OOM storm's 75 lines/s)
    // woke the agent per entry, and a wake-up of this process costs about 0.25 ms of CPU on the
    // reference VM whatever it reads (docs/performance.md). After a small read the pipe is left to
    // gather for FOLLOW_BATCH_MS, the kernel holding what journalctl writes meanwhile, then read whole;
    // a large read means a backlog, read on at once.
    const pipe = readControl(stdout);
    let holding = false;
    const drain = () => {
      let bytes = 0;
      for (let chunk: unknown; this.child === child && stdout && (chunk = stdout.read()) !== null;) {
        if (!Buffer.isBuffer(chunk)) continue;
        bytes += chunk.length;
        this.startChunk(chunk);
        splitter.push(chunk, this.onLineRange);
        this.endChunk();
      }
      if (this.child !== child || !this.status_.caughtUp || bytes === 0 || bytes >= FOLLOW_BATCH_BYTES) return;
      holding = true;
      pipe?.stop();
      options.clock.setTimeout(() => {
        holding = false;
        // Read on even for a child no longer ours: its end of file is what lets it close.
        pipe?.start();
        if (this.child === child) drain();
      }, FOLLOW_BATCH_MS);
    };
    stdout?.on("readable", () => {
      if (!holding) drain();
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
        this.handOverTallies();
        delete this.child;
        this.status_.caughtUp = true;
        this.resolveCaughtUp();
        this.spawnChild();
        return;
      }
      const detail = stderr.trim().split("\n")[0];
      this.onExit(`journalctl exited (${sig ?? `code ${code}`})${detail ? `: ${detail}` : ""}`);
    });
  }

  /** The cursor of the last line read, parsed or skipped. */
  private syncCursor(): void {
    if (this.lastSkippedBytes === 0 || !this.lastSkipped) return;
    const cursor = CURSOR.exec(this.lastSkipped.toString("utf8", 0, this.lastSkippedBytes));
    if (cursor) this.status_.lastCursor = cursor[1] as string;
    this.lastSkippedBytes = 0;
  }

  /**
   * Judges the per-second budget (one clock read per read from the pipe)
   * and finds the needles, tally and route markers with one search each of
   * the chunk's latin1 text. The text is dropped before any line is parsed:
   * V8 promotes whatever is alive when a young collection runs, and a 64 KiB
   * string alive while lines are parsed went to the old generation in a
   * flood, growing it by megabytes a minute.
   */
  private startChunk(chunk: Buffer): void {
    const now = this.options.clock.monotonic();
    if (now - this.windowStartMs >= 1000) {
      this.windowStartMs = now;
      this.linesThisWindow = 0;
      for (const s of this.subscribers) s.tally?.parsed.fill(0);
    }
    this.chunk = chunk;
    const { keep, tallyMarks, routeMarks } = this;
    if (!keep && !tallyMarks && !routeMarks) return;
    const text = chunk.toString("latin1");
    // A line's first needle is all it takes (twice as fast over an OOM storm's lines, whose needle
    // comes first and a long cgroup path after it); routing needs every marker of a line.
    keep?.scan(text, true);
    tallyMarks?.scan(text, true);
    routeMarks?.scan(text, false);
  }

  private endChunk(): void {
    if (this.chunk && this.skippedInChunkStart >= 0) this.rememberSkipped(this.chunk, this.skippedInChunkStart, this.skippedInChunkEnd);
    this.skippedInChunkStart = -1;
    delete this.chunk;
    for (const marks of [this.keep, this.tallyMarks, this.routeMarks]) marks?.clear();
    this.handOverTallies();
  }

  /** Lines counted from their bytes since the last hand-over, one call per marker. */
  private handOverTallies(): void {
    if (!this.tallies) return;
    for (const s of this.subscribers) {
      const pending = s.tally?.pending;
      if (!pending) continue;
      for (let i = 0; i < pending.length; i++) {
        const n = pending[i] as number;
        if (n === 0) continue;
        pending[i] = 0;
        s.spec.tally?.onTally(i, n);
      }
    }
  }

  /** Whether `bytes[start, end)` contains a needle: a line joined from two chunks (one or two per chunk) is searched on its own. */
  private hasNeedle(keep: ChunkMarks, bytes: Buffer, start: number, end: number): boolean {
    return bytes === this.chunk ? keep.first(start, end) >= 0 : keep.in(bytes.toString("latin1", start, end));
  }

  /** Keeps a copy of the last skipped line in one reused buffer (split bytes are only lent). */
  private rememberSkipped(bytes: Buffer, start: number, end: number): void {
    this.skippedInChunkStart = -1;
    const length = end - start;
    if (!this.lastSkipped || this.lastSkipped.length < length) this.lastSkipped = Buffer.allocUnsafeSlow(Math.max(length, 1024));
    bytes.copy(this.lastSkipped, 0, start, end);
    this.lastSkippedBytes = length;
  }

  /**
   * Readies isFor() for a line. A line of the chunk has its route markers stamped from the chunk's
   * search; any other (joined from two reads, or markers one search cannot tell apart) is given
   * back as a view of just its bytes, searched by carries(). Nothing with one subscriber.
   */
  private route(bytes: Buffer, start: number, end: number): Buffer | undefined {
    if (this.single) return undefined;
    if (!this.routeMarks || bytes !== this.chunk) return bytes.subarray(start, end);
    if (++this.routeStamp === 0x7fffffff) {
      this.routeSeen.fill(0);
      this.routeStamp = 1;
    }
    this.routeMarks.mark(start, end, this.routeSeen, this.routeStamp);
    return undefined;
  }

  /** Whether the line readied by route() is the subscriber's: it carries every term of one of its groups. */
  private isFor(subscriber: Subscriber, view: Buffer | undefined): boolean {
    if (this.single) return true;
    if (view) return JournalReader.carries(subscriber, view);
    const { routeSeen: seen, routeStamp: stamp } = this;
    for (const group of subscriber.routes ?? []) {
      let all = true;
      for (const id of group)
        if (seen[id] !== stamp) {
          all = false;
          break;
        }
      if (all) return true;
    }
    return false;
  }

  /**
   * Whether a line (as printed by journalctl) carries every term of one of the subscriber's
   * groups. Searched in a view of just the line: a search of the chunk from the line's start ran on
   * through every later line, 5.5 µs a line of a 64 KiB chunk for a subscriber the line is not
   * for (kubelet-logs in a kernel flood) against 0.6.
   */
  private static carries(subscriber: Subscriber, line: Buffer): boolean {
    return subscriber.markers.some((group) => group.every((marker) => line.includes(marker)));
  }

  /**
   * Counts a rate-limited line for the subscribers it is for that have
   * parsed their share this second; true when none is left to parse it for.
   */
  private tallied(bytes: Buffer, start: number, end: number): boolean {
    let parse = false;
    const counted = this.talliedBy;
    const inChunk = bytes === this.chunk;
    const found = inChunk && this.tallyMarks ? this.tallyMarks.first(start, end) : -1;
    const marker = found >= 0 ? this.tallyMarks?.names[found] : undefined;
    const view = this.route(bytes, start, end);
    const joined = inChunk ? undefined : (view ?? bytes.subarray(start, end));
    for (const s of this.subscribers) {
      if (!s.inChild || !this.isFor(s, view)) continue;
      const index = !s.tally
        ? -1
        : joined
          ? s.tally.markers.findIndex((m) => joined.includes(m))
          : marker === undefined
            ? -1
            : (s.tally.byMarker.get(marker) ?? -1);
      if (!s.tally || index < 0 || (s.tally.parsed[index] as number) < s.tally.perSecond) {
        if (s.tally && index >= 0) (s.tally.parsed[index] as number)++;
        parse = true;
        continue;
      }
      (s.tally.pending[index] as number)++;
      counted.push(s);
    }
    return counted.length > 0 && !parse;
  }

  private skipped(result: SkippedResult, bytes: Buffer, start: number, end: number): void {
    // Not JSON: no markers to tell whose it is, so every subscriber's.
    const all = result === "unparseable";
    const view = all ? undefined : this.route(bytes, start, end);
    for (const s of this.subscribers) {
      if (!s.inChild || !s.spec.onSkipped) continue;
      if (all || this.isFor(s, view)) s.spec.onSkipped(result, 1);
    }
  }

  /** A line not parsed: its cursor is kept (copied once per chunk) for a restart. */
  private passOver(bytes: Buffer, start: number, end: number): void {
    if (bytes === this.chunk) {
      this.skippedInChunkStart = start;
      this.skippedInChunkEnd = end;
    } else this.rememberSkipped(bytes, start, end);
  }

  private onLine(bytes: Buffer, start: number, end: number): void {
    if (end === start) return;
    const { options } = this;
    const overBudget = ++this.linesThisWindow > options.maxLinesPerSecond;
    if (!this.parseAll && (!this.keep || !this.hasNeedle(this.keep, bytes, start, end))) {
      this.passOver(bytes, start, end);
      if (overBudget) this.status_.droppedLines++;
      this.skipped(overBudget ? "dropped" : bytes[start] !== 0x7b ? "unparseable" : "unmatched", bytes, start, end);
      return;
    }
    this.talliedBy.length = 0;
    if (this.tallies && this.tallied(bytes, start, end)) {
      this.passOver(bytes, start, end);
      return;
    }
    const line = bytes.toString("utf8", start, end);
    const entry = parseJournalJson(line);
    if (!entry) {
      this.skipped("unparseable", bytes, start, end);
      return;
    }
    if (entry.cursor) {
      this.status_.lastCursor = entry.cursor;
      this.lastSkippedBytes = 0;
      this.skippedInChunkStart = -1;
    }
    for (const s of this.subscribers) if (s.inChild && entryMatches(entry, s.spec.match) && !this.talliedBy.includes(s)) s.spec.onEntry(entry);
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
    options.log.warn({ err: reason, retryInMs: delay }, "journal reader stopped; restarting");
    this.timer = options.clock.setTimeout(() => {
      delete this.timer;
      this.spawnChild();
    }, delay);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.resolveCaughtUp();
    for (const timer of [this.timer, this.joinTimer]) if (timer) this.options.clock.clearTimeout(timer);
    delete this.timer;
    delete this.joinTimer;
    const child = this.child;
    delete this.child;
    this.status_.running = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<true>((resolve) => child.once("close", () => resolve(true)));
    // Its output is no longer wanted, and a pipe left unread while batching would hold "close" back.
    child.stdout?.destroy();
    child.kill("SIGTERM");
    // Real time, whatever clock drives the reader: a child that ignores SIGTERM is a process, not a simulation.
    if (!(await within(shutdownClock, 2000, closed))) child.kill("SIGKILL");
  }
}

/**
 * Stops and restarts the kernel reads under a child's stdout. A paused
 * stream goes on reading into its buffer (up to 16 KiB for a child's
 * stdout) — a wake-up per write; only sockets made with `onread` stop reading on pause(), and a
 * child's stdio cannot be made so. This does what net.Socket.pause() does
 * for those, on the pipe's libuv handle (the `reading` flag keeps the
 * stream's own read-start logic in step). Absent (another runtime, or a
 * Node that moved it), reading is not stopped: correct, only costlier.
 */
export function readControl(stream: unknown): { stop(): void; start(): void } | undefined {
  const handle: unknown = typeof stream === "object" && stream !== null ? (stream as { _handle?: unknown })._handle : undefined;
  if (!isReadHandle(handle)) return undefined;
  return {
    stop() {
      if (!handle.reading) return;
      handle.reading = false;
      handle.readStop();
    },
    start() {
      if (handle.reading) return;
      handle.reading = true;
      handle.readStart();
    },
  };
}

interface ReadHandle {
  reading: boolean;
  readStop(): number;
  readStart(): number;
}

function isReadHandle(value: unknown): value is ReadHandle {
  if (typeof value !== "object" || value === null) return false;
  const h = value as Partial<Record<keyof ReadHandle, unknown>>;
  return typeof h.reading === "boolean" && typeof h.readStop === "function" && typeof h.readStart === "function";
}

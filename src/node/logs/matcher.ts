/**
 * Matches parsed log records against a signature catalogue and keeps, per
 * signature, only what judging needs: the times of its last few matches
 * (enough for minCount), the latest sample and captures, and counters. Its
 * memory does not grow with the log: a flood costs CPU, never heap.
 *
 * Rate limit: a signature's sample and captures are refreshed at most
 * samplesPerSecond times per second; further matches only count (onMatch
 * still sees every one).
 */
import type { LogRecord } from "../log-line.js";
import type { NoisePattern, ProblemSignature, Signature } from "./signatures.js";
import { printable } from "../../text/format.js";

export type LineResult = "matched" | "recovery" | "noise" | "unmatched" | "unparseable" | "binary" | "stale" | "dropped";
export const LINE_RESULTS: readonly LineResult[] = ["matched", "recovery", "noise", "unmatched", "unparseable", "binary", "stale", "dropped"];

export const MAX_SAMPLE_CHARS = 400;

interface SignatureState {
  /** Times of the latest matches, oldest first, at most KEEP_TIMES of them. */
  times: number[];
  lastMs: number;
  /** A recovery line after this time clears earlier matches. */
  clearedAtMs: number;
  total: number;
  sample?: string;
  captures: Record<string, string>;
  sampleWindowStartMs: number;
  samplesInWindow: number;
}

export interface ActiveSignature {
  signature: ProblemSignature;
  /** Matches within the window (after the last clear), capped by what is kept. */
  count: number;
  /** More matches happened than are kept: count is a lower bound. */
  atLeast: boolean;
  /** The signature's severity, or critical once criticalCount is reached. */
  severity: "warning" | "critical";
  lastMs: number;
  sample: string;
  captures: Record<string, string>;
}

/** Cumulative counts by source and line result, and matches by signature id. */
export interface MatcherCounters {
  lines: Record<string, Record<LineResult, number>>;
  matches: Record<string, number>;
}

export function isMatcherCounters(value: unknown): value is MatcherCounters {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as MatcherCounters).lines === "object" &&
    (value as MatcherCounters).lines !== null &&
    typeof (value as MatcherCounters).matches === "object" &&
    (value as MatcherCounters).matches !== null
  );
}

function emptyResults(): Record<LineResult, number> {
  return Object.fromEntries(LINE_RESULTS.map((r) => [r, 0])) as Record<LineResult, number>;
}

/** A signature's sample is refreshed at most this often a second unless the check says otherwise. */
export const DEFAULT_SAMPLES_PER_SECOND = 10;

/** How many matches to remember per signature: enough for minCount, and a few more for the message's count. */
const KEEP_TIMES = 32;
/** Lines stamped a little ahead of our clock (another writer's clock, rounding) still count. */
const FUTURE_SLACK_MS = 5 * 60_000;

/** Keeps the latest KEEP_TIMES match times, sorted: lines may arrive slightly out of order across sources. */
function insertTime(times: number[], timeMs: number): void {
  let i = times.length;
  while (i > 0 && (times[i - 1] as number) > timeMs) i--;
  times.splice(i, 0, timeMs);
  if (times.length > KEEP_TIMES) times.shift();
}

/** Called for every problem or context match, before rate limiting. */
export type MatchHook = (signature: Signature, groups: Readonly<Record<string, string | undefined>>, timeMs: number, text: string) => void;

/** Called for lines of a signature counted from their bytes (Signature's `tally`): no captures, no text. */
export type TallyHook = (signature: Signature, lines: number, timeMs: number) => void;

export interface MatcherOptions {
  samplesPerSecond?: number;
  onMatch?: MatchHook;
  onTally?: TallyHook;
}

export class SignatureMatcher {
  private readonly state = new Map<string, SignatureState>();
  private readonly counters: MatcherCounters;

  constructor(
    private readonly signatures: readonly Signature[],
    private readonly noise: readonly NoisePattern[],
    /** The sources lines come from ("journal", "file", "kmsg"): the counters' first key. */
    sources: readonly string[],
    private readonly options: MatcherOptions = {},
  ) {
    this.counters = { lines: Object.fromEntries(sources.map((s) => [s, emptyResults()])), matches: {} };
    for (const s of signatures) this.counters.matches[s.id] = 0;
  }

  /** Every lowercase needle of the signatures and the noise list: what a reader keeps when it sheds load. */
  needles(): string[] {
    return [...new Set([...this.signatures.flatMap((s) => s.needles), ...this.noise.flatMap((n) => n.needles)])];
  }

  count(source: string, result: LineResult, n = 1): void {
    (this.counters.lines[source] ??= emptyResults())[result] += n;
  }

  /** Cumulative counters since this matcher was made (metrics turn them into counter increments). */
  snapshot(): MatcherCounters {
    return {
      lines: Object.fromEntries(Object.entries(this.counters.lines).map(([source, results]) => [source, { ...results }])),
      matches: { ...this.counters.matches },
    };
  }

  /**
   * Classifies one record and records a match. `timeMs` is when it was
   * written (the record's own time, else when it was read).
   */
  feed(record: LogRecord, component: string, source: string, timeMs: number): LineResult {
    const result = this.classify(record, component, timeMs);
    this.count(source, result);
    return result;
  }

  /** Records `lines` matches of a signature counted from their bytes at `timeMs`: counts and times, not the sample. */
  tally(signature: Signature, source: string, lines: number, timeMs: number): void {
    this.count(source, "matched", lines);
    this.counters.matches[signature.id] = (this.counters.matches[signature.id] ?? 0) + lines;
    this.options.onTally?.(signature, lines, timeMs);
    if (signature.kind !== "problem") return;
    const state = this.stateFor(signature.id);
    state.total += lines;
    for (let i = 0; i < Math.min(lines, KEEP_TIMES); i++) insertTime(state.times, timeMs);
    state.lastMs = Math.max(state.lastMs, timeMs);
  }

  private classify(record: LogRecord, component: string, timeMs: number): LineResult {
    const text = record.text;
    const lower = text.toLowerCase();
    for (const noise of this.noise) {
      if (noise.needles.some((n) => lower.includes(n)) && noise.pattern.test(text)) return "noise";
    }
    for (const signature of this.signatures) {
      if (!signature.components.includes(component)) continue;
      if (!signature.needles.some((n) => lower.includes(n))) continue;
      const match = signature.pattern.exec(text);
      if (!match) continue;
      this.counters.matches[signature.id] = (this.counters.matches[signature.id] ?? 0) + 1;
      if (signature.kind === "recovery") {
        for (const id of signature.clears) this.stateFor(id).clearedAtMs = Math.max(this.stateFor(id).clearedAtMs, timeMs);
        return "recovery";
      }
      this.options.onMatch?.(signature, match.groups ?? {}, timeMs, text);
      if (signature.kind === "problem") this.record(signature, match, text, timeMs);
      return "matched";
    }
    return record.format === "plain" ? "unparseable" : "unmatched";
  }

  private stateFor(id: string): SignatureState {
    let state = this.state.get(id);
    if (!state) {
      state = { times: [], lastMs: 0, clearedAtMs: 0, total: 0, captures: {}, sampleWindowStartMs: 0, samplesInWindow: 0 };
      this.state.set(id, state);
    }
    return state;
  }

  private record(signature: ProblemSignature, match: RegExpExecArray, text: string, timeMs: number): void {
    const state = this.stateFor(signature.id);
    state.total++;
    insertTime(state.times, timeMs);
    if (timeMs < state.lastMs) return;
    state.lastMs = timeMs;
    if (timeMs - state.sampleWindowStartMs >= 1000) {
      state.sampleWindowStartMs = timeMs;
      state.samplesInWindow = 0;
    }
    if (++state.samplesInWindow > (this.options.samplesPerSecond ?? DEFAULT_SAMPLES_PER_SECOND)) return;
    state.sample = printable(text.length > MAX_SAMPLE_CHARS ? `${text.slice(0, MAX_SAMPLE_CHARS)}…` : text);
    const captures: Record<string, string> = {};
    for (const [key, value] of Object.entries(match.groups ?? {})) {
      if (value !== undefined) captures[key] = printable(value.length > 200 ? `${value.slice(0, 200)}…` : value);
    }
    state.captures = captures;
  }

  /** Problem signatures firing at `nowMs`: at least minCount matches within the window, none cleared since. */
  active(nowMs: number): ActiveSignature[] {
    const out: ActiveSignature[] = [];
    for (const signature of this.signatures) {
      if (signature.kind !== "problem") continue;
      const state = this.state.get(signature.id);
      if (!state) continue;
      // A line at or after the clearing line's time came from the new state of things
      // (kubelet logs its start banner before the failure that follows it).
      const recent = state.times.filter((t) => t > nowMs - signature.windowMs && t >= state.clearedAtMs && t <= nowMs + FUTURE_SLACK_MS);
      if (recent.length < signature.minCount) continue;
      const atLeast = recent.length === KEEP_TIMES;
      const severity = signature.criticalCount !== undefined && recent.length >= signature.criticalCount ? "critical" : signature.severity;
      out.push({ signature, count: recent.length, atLeast, severity, lastMs: state.lastMs, sample: state.sample ?? "", captures: state.captures });
    }
    return out;
  }

  /** Forgets matches older than every window, so long-quiet signatures hold no state. */
  prune(nowMs: number): void {
    for (const signature of this.signatures) {
      if (signature.kind !== "problem") continue;
      const state = this.state.get(signature.id);
      if (!state) continue;
      state.times = state.times.filter((t) => t > nowMs - signature.windowMs);
    }
  }
}

/**
 * The vocabulary of log signatures, shared by every reader of logs
 * (kubelet-logs, kernel, custom `log` probes): what a signature is, how it
 * fires and how it clears. Catalogues are data in each check's folder;
 * matching lives in matcher.ts, reading in watch.ts.
 *
 * A problem fires when at least `minCount` of its lines fall within
 * `windowMs`, and clears when the window passes without one (or at once when
 * a recovery line that `clears` it is read). Lines are matched on their
 * readable text: needles (lowercase substrings) first, the pattern only on
 * lines that contain one.
 */
import type { ConditionType } from "../../types.js";

export interface ProblemSignature {
  kind: "problem";
  /** Stable id; a metric label. */
  id: string;
  /** Which writers' lines it applies to ("kubelet", "runtime", "kernel", …). */
  components: readonly string[];
  /** Lowercase substrings; a line must contain one before the pattern runs (the hot path). */
  needles: readonly string[];
  /** Run on the line's readable text; named groups feed the templates. */
  pattern: RegExp;
  severity: "warning" | "critical";
  condition: ConditionType;
  reason: string;
  /** One sentence; {name} takes a named group, or {count}, {window}, {last}, {sample}. */
  message: string;
  remedy: string;
  /** A finding needs minCount matches within windowMs, and clears when the window passes without one. */
  windowMs: number;
  minCount: number;
  /** With `severity: "warning"`: critical once this many matches fall within the window (a repeat is worse than one). */
  criticalCount?: number;
  /** Verbatim text that names the line on its own: past samplesPerSecond a second, counted from its bytes (see Signature). */
  tally?: string;
}

export interface RecoverySignature {
  kind: "recovery";
  id: string;
  components: readonly string[];
  needles: readonly string[];
  pattern: RegExp;
  /** Problem ids whose earlier matches this line clears. */
  clears: readonly string[];
}

/**
 * A line that carries facts for the problem line after it (the kernel's
 * `oom-kill:constraint=…` summary before `Killed process …`): matched and
 * counted, handed to the reader's onMatch, never a finding of its own.
 */
export interface ContextSignature {
  kind: "context";
  id: string;
  components: readonly string[];
  needles: readonly string[];
  pattern: RegExp;
  /** Verbatim text that names the line on its own: past samplesPerSecond a second, counted from its bytes (see Signature). */
  tally?: string;
}

/*
 * `tally` (problem and context signatures): text the writer prints verbatim
 * that names the line on its own ("Memory cgroup out of memory: Kill"),
 * ASCII without quotes or backslashes so JSON cannot escape it. Past
 * samplesPerSecond such lines a second, the journal reader counts them from
 * their bytes instead of parsing and matching them: an OOM storm of 75 lines
 * a second cost 28 µs a line parsed (bench/kernel-flood.ts). Their counts,
 * times and the onTally hook are kept; their sample and captures are not.
 */
export type Signature = ProblemSignature | RecoverySignature | ContextSignature;

export interface NoisePattern {
  id: string;
  needles: readonly string[];
  pattern: RegExp;
  /** Why it is benign; the check's docs render these. */
  why: string;
}

/** Every condition some problem signature feeds, in `order`. */
export function signatureConditions<C extends ConditionType>(signatures: readonly Signature[], order: readonly C[], always: readonly C[] = []): C[] {
  const used = new Set<ConditionType>(always);
  for (const s of signatures) if (s.kind === "problem") used.add(s.condition);
  return order.filter((c) => used.has(c));
}

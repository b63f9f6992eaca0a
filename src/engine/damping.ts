/**
 * Flap damping for one condition: sinks should see transitions, not noise.
 *
 * - A new (severity, reason) is accepted once it holds for `consecutiveRuns`
 *   runs in a row or for `holdMs`, whichever comes first. Message-only changes
 *   are always taken at once: they never cause a transition.
 * - When the raw signal changes `flapTransitions` times within `flapWindowMs`
 *   the condition is flapping: it is held at the worst state seen in the
 *   window (an intermittent failure is still a failure) and stays there until
 *   the window calms down. So a check that flips every run costs at most one
 *   transition into the flapping state and one out of it.
 *
 * Pure: the caller passes time in; nothing here reads a clock.
 */
import { severityRank, type Severity } from "../types.js";

export interface DampingSettings {
  consecutiveRuns: number;
  holdMs: number;
  flapTransitions: number;
  flapWindowMs: number;
}

export interface Candidate<T> {
  severity: Severity;
  reason: string;
  /** Whatever the caller attaches (findings, message): refreshed without a transition. */
  payload: T;
}

function signature(candidate: { severity: Severity; reason: string }): string {
  return `${candidate.severity}/${candidate.reason}`;
}

export interface Accepted<T> extends Candidate<T> {
  sinceMs: number;
  flapping: boolean;
}

export class ConditionDamper<T> {
  private accepted?: Accepted<T>;
  private pending?: { signature: string; firstSeenMs: number; runs: number };
  private lastRawSignature?: string;
  private readonly rawChangesMs: number[] = [];
  /** Latest candidate per signature seen within the flap window (a handful at most). */
  private readonly seen = new Map<string, { candidate: Candidate<T>; atMs: number }>();

  constructor(private readonly settings: DampingSettings) {}

  get current(): Accepted<T> | undefined {
    return this.accepted;
  }

  /** Feeds one observation; returns the previous accepted state when this step is a transition. */
  step(candidate: Candidate<T>, nowMs: number): { transition: boolean; previous?: Accepted<T> } {
    const sig = signature(candidate);
    this.prune(nowMs);
    if (this.lastRawSignature !== undefined && this.lastRawSignature !== sig) this.rawChangesMs.push(nowMs);
    this.lastRawSignature = sig;
    this.seen.set(sig, { candidate, atMs: nowMs });

    const flapping = this.rawChangesMs.length >= this.settings.flapTransitions;
    const target = flapping ? this.worstSeen() : candidate;
    const targetSig = signature(target);

    if (!this.accepted) {
      this.accepted = { ...target, sinceMs: nowMs, flapping };
      return { transition: true };
    }
    if (signature(this.accepted) === targetSig) {
      this.pending = undefined;
      this.accepted = { ...target, sinceMs: this.accepted.sinceMs, flapping };
      return { transition: false };
    }
    if (!flapping) {
      if (this.pending?.signature === targetSig) this.pending.runs++;
      else this.pending = { signature: targetSig, firstSeenMs: nowMs, runs: 1 };
      const held = this.pending.runs >= this.settings.consecutiveRuns || nowMs - this.pending.firstSeenMs >= this.settings.holdMs;
      if (!held) return { transition: false };
    }
    // Flapping targets are already damped (the window's worst): take them at once.
    const previous = this.accepted;
    this.pending = undefined;
    this.accepted = { ...target, sinceMs: nowMs, flapping };
    return { transition: true, previous };
  }

  private prune(nowMs: number): void {
    const horizon = nowMs - this.settings.flapWindowMs;
    while (this.rawChangesMs.length > 0 && (this.rawChangesMs[0] as number) <= horizon) this.rawChangesMs.shift();
    for (const [sig, entry] of this.seen) if (entry.atMs <= horizon) this.seen.delete(sig);
  }

  private worstSeen(): Candidate<T> {
    let worst: { candidate: Candidate<T>; atMs: number } | undefined;
    for (const entry of this.seen.values()) {
      const rank = severityRank(entry.candidate.severity);
      if (!worst || rank > severityRank(worst.candidate.severity) || (rank === severityRank(worst.candidate.severity) && entry.atMs > worst.atMs)) {
        worst = entry;
      }
    }
    // `seen` always holds at least the candidate just stepped.
    return (worst as { candidate: Candidate<T> }).candidate;
  }
}

/**
 * Runs every check on its own interval, isolated from the others.
 *
 * - The next run is scheduled when the previous one ends (no setInterval),
 *   with jitter, so a check never overlaps itself and nodes do not align.
 * - Each run gets an AbortSignal that fires at the check's timeout; the run is
 *   cut there whether or not the check honours the signal. A check still busy
 *   from an earlier run (it ignored its signal) is reported, not restarted.
 * - A throw or timeout becomes an `unknown` finding on each condition the
 *   check feeds; the other checks go on.
 */
import type { Check, CheckContext, CheckRun, Clock, ClusterReader, Finding, Host, Log, RepairClass, SharedFacts, TimerHandle, TrustedTime } from "../types.js";
import type { NodeState } from "./state.js";
import { REASONS } from "./reasons.js";
import { errorText, formatDuration, formatLimit } from "../text/format.js";
import { deadline, DeadlineError, within } from "../time/deadline.js";
import { shutdownClock } from "../time/clock.js";
import { capFindings, MAX_FINDINGS_PER_CHECK } from "./cap.js";

/** A clock estimate older than this is not trusted to correct "now". */
export const CLOCK_ESTIMATE_MAX_AGE_MS = 15 * 60 * 1000;

export const ENGINE_REASONS = REASONS.names;

export interface SchedulerOptions {
  host: Host;
  clock: Clock;
  state: NodeState;
  log: Log;
  /** Child logger per check. */
  logFor(check: string): Log;
  cluster?: ClusterReader;
  jitterRatio: number;
  /** Deterministic in tests. */
  random?: () => number;
  /** A check's reason's repair class (its reasons.ts), stamped into every finding's evidence as `repair`; "none" when absent. */
  repairClass?: (check: string, reason: string) => RepairClass;
}

export function trustedNowFrom(clock: Clock, facts: SharedFacts): TrustedTime {
  const estimate = facts.clockOffset;
  const now = clock.now();
  if (estimate && clock.monotonic() - estimate.measuredAtMonotonicMs <= CLOCK_ESTIMATE_MAX_AGE_MS) {
    return { nowMs: now + estimate.offsetMs, source: estimate.source, offsetMs: estimate.offsetMs, uncertaintyMs: estimate.uncertaintyMs };
  }
  return { nowMs: now, source: "local", offsetMs: 0, uncertaintyMs: 0 };
}

/** How long the first round waits for fact-writing checks before the others start without their facts. */
export const FACTS_FIRST_WAIT_MS = 1000;

interface Slot {
  check: Check;
  timer?: TimerHandle;
  inFlight?: { promise: Promise<Finding[]>; startedMonotonicMs: number };
}

export class Scheduler {
  readonly facts: SharedFacts = {};
  private readonly slots: Slot[];
  private stopped = false;
  private readonly shutdown = new AbortController();

  constructor(
    checks: readonly Check[],
    private readonly options: SchedulerOptions,
  ) {
    this.slots = checks.map((check) => ({ check }));
  }

  /** Runs every check now, then on its interval. Resolves when the first round is done. */
  async start(): Promise<void> {
    await this.firstRound((slot) => this.runAndReschedule(slot));
  }

  /** Runs every check once (the CLI's `check`); no rescheduling. */
  async runOnce(): Promise<CheckRun[]> {
    return this.firstRound((slot) => this.runSlot(slot));
  }

  /**
   * Starts the checks that write shared facts first and gives them up to
   * FACTS_FIRST_WAIT_MS (real time: it is I/O they wait for) before starting
   * the rest, so a certificate is judged against the clock check's trusted
   * time on the very first diagnosis, not the local clock. Results keep the
   * checks' order.
   */
  private async firstRound<T>(run: (slot: Slot) => Promise<T>): Promise<T[]> {
    const results = new Array<Promise<T>>(this.slots.length);
    const writers = this.slots.flatMap((slot, i) => (slot.check.writesFacts ? [i] : []));
    for (const i of writers) results[i] = run(this.slots[i] as Slot);
    if (writers.length > 0) {
      await within(this.options.clock, FACTS_FIRST_WAIT_MS, Promise.allSettled(writers.map((i) => results[i])));
    }
    this.slots.forEach((slot, i) => {
      results[i] ??= run(slot);
    });
    return Promise.all(results);
  }

  /** Checks whose current run has outlived its timeout (they ignore their signal). */
  stuckChecks(): string[] {
    const now = this.options.clock.monotonic();
    return this.slots.filter((slot) => slot.inFlight && now - slot.inFlight.startedMonotonicMs > slot.check.timeoutMs + 1000).map((slot) => slot.check.name);
  }

  private inFlightRuns(): Promise<unknown>[] {
    return this.slots.flatMap((slot) => (slot.inFlight ? [slot.inFlight.promise.catch(() => undefined)] : []));
  }

  /** Resolves when no run is in flight: lets a simulated clock wait for real I/O before time moves on. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlightRuns());
  }

  /** Stops scheduling, aborts in-flight runs, waits for them (bounded) and closes checks. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    this.shutdown.abort(new Error("node-doctor is shutting down"));
    for (const slot of this.slots) if (slot.timer) this.options.clock.clearTimeout(slot.timer);
    const inFlight = this.inFlightRuns();
    // Shutdown grace is real time (the kubelet's grace period), whatever clock drives the checks.
    await within(shutdownClock, graceMs, Promise.all(inFlight));
    await Promise.all(
      this.slots.map(async (slot) => {
        try {
          await slot.check.close?.();
        } catch (error) {
          this.options.log.warn({ check: slot.check.name, err: String(error) }, "check did not close cleanly");
        }
      }),
    );
  }

  private async runAndReschedule(slot: Slot): Promise<void> {
    if (this.stopped) return;
    await this.runSlot(slot);
    if (this.stopped) return;
    const { jitterRatio, random = Math.random } = this.options;
    const delay = slot.check.intervalMs * (1 + jitterRatio * (2 * random() - 1));
    slot.timer = this.options.clock.setTimeout(
      () => {
        delete slot.timer;
        void this.runAndReschedule(slot);
      },
      Math.max(0, delay),
    );
  }

  private context(check: Check, signal: AbortSignal): CheckContext {
    const { host, clock, cluster, state } = this.options;
    return {
      host,
      signal,
      clock,
      trustedNow: () => trustedNowFrom(clock, this.facts),
      facts: this.facts,
      ...(cluster ? { cluster } : {}),
      log: this.options.logFor(check.name),
      peerFindings: (name) => state.lastRun(name)?.findings ?? [],
    };
  }

  /** The finding with its reason's repair class in its evidence: Events, metrics, /findings and the repair sink read it there. */
  private withRepairClass(finding: Finding): Finding {
    const engine = Object.hasOwn(REASONS.reasons, finding.reason) ? REASONS.reasons[finding.reason as keyof typeof REASONS.reasons].repair : undefined;
    const repair = engine ?? this.options.repairClass?.(finding.check, finding.reason) ?? "none";
    return { ...finding, evidence: { ...finding.evidence, repair } };
  }

  private unknownFindings(check: Check, reason: string, message: string): Finding[] {
    return check.conditions.map((condition) => ({
      check: check.name,
      condition,
      severity: "unknown" as const,
      reason,
      message,
      remedy: `See the agent's log for the ${check.name} check (kubectl logs on the node-doctor pod of this node).`,
    }));
  }

  private async runSlot(slot: Slot): Promise<CheckRun> {
    const { check } = slot;
    const { clock, state } = this.options;
    const startedAtMs = clock.now();
    const startedMonotonic = clock.monotonic();
    const finish = (run: Omit<CheckRun, "check" | "startedAtMs" | "durationMs">): CheckRun => {
      const findings = capFindings(run.findings, MAX_FINDINGS_PER_CHECK, ENGINE_REASONS.FindingsCapped).map((f) => this.withRepairClass(f));
      const record: CheckRun = { check: check.name, startedAtMs, durationMs: clock.monotonic() - startedMonotonic, ...run, findings };
      state.record(record, clock.now());
      return record;
    };

    if (slot.inFlight) {
      const since = formatDuration(clock.monotonic() - slot.inFlight.startedMonotonicMs);
      const error = `the previous run is still going after ${since}; it did not stop at its timeout`;
      return finish({
        outcome: "overrun",
        error,
        findings: this.unknownFindings(check, ENGINE_REASONS.CheckOverrun, `The ${check.name} check could not look: ${error}.`),
      });
    }

    // The check's signal aborts at its timeout or at shutdown; only the timeout ends the run at once.
    const limit = deadline(clock, check.timeoutMs, this.shutdown.signal);
    const timedOut = new Promise<never>((_, reject) => {
      limit.signal.addEventListener("abort", () => limit.signal.reason instanceof DeadlineError && reject(limit.signal.reason), { once: true });
    });
    const promise = (async () => check.run(this.context(check, limit.signal)))();
    slot.inFlight = { promise, startedMonotonicMs: startedMonotonic };
    // Clear the slot when the check really ends, even if that is after its timeout.
    promise
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        if (slot.inFlight?.promise === promise) delete slot.inFlight;
      });

    try {
      const findings = await Promise.race([promise, timedOut]);
      return finish({ outcome: "ok", findings: findings.map((f) => ({ ...f, check: check.name })) });
    } catch (error) {
      if (error instanceof DeadlineError) {
        const text = `did not finish within ${formatLimit(error.ms)}`;
        const message = `The ${check.name} check could not look: it ${text}.`;
        return finish({ outcome: "timeout", error: text, findings: this.unknownFindings(check, ENGINE_REASONS.CheckTimedOut, message) });
      }
      const detail = errorText(error);
      this.options.logFor(check.name).warn({ err: detail }, "check could not look");
      const message = `The ${check.name} check could not look: ${detail}.`.replace(/\.\.$/, ".");
      return finish({ outcome: "error", error: detail, findings: this.unknownFindings(check, ENGINE_REASONS.CheckFailed, message) });
    } finally {
      limit.clear();
    }
  }
}

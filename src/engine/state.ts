/**
 * The engine's state: the latest run of every check, and each condition as
 * accepted after flap damping. Check runs go in; sinks are told about runs
 * and transitions. The only place that decides a condition's status.
 */
import {
  healthyCondition,
  severityRank,
  type Check,
  type CheckRun,
  type ConditionState,
  type ConditionStatus,
  type ConditionType,
  type Finding,
  type Log,
  type Severity,
  type Sink,
  type StateView,
  type Transition,
} from "../types.js";
import { ConditionDamper, type DampingSettings } from "./damping.js";
import { errorText } from "../text/format.js";

export function statusFor(severity: Severity): ConditionStatus {
  if (severity === "critical") return "True";
  if (severity === "unknown") return "Unknown";
  return "False";
}

/** Worst first; among equals, the order the checks reported them. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => severityRank(b.finding.severity) - severityRank(a.finding.severity) || a.index - b.index)
    .map((entry) => entry.finding);
}

interface Payload {
  message: string;
  remedy?: string;
  findings: Finding[];
}

export class NodeState implements StateView {
  private readonly lastRuns = new Map<string, CheckRun>();
  private readonly dampers = new Map<ConditionType, ConditionDamper<Payload>>();
  private readonly states = new Map<ConditionType, ConditionState>();
  /** Which checks feed each condition; a condition waits for all of them before its first state. */
  private readonly feeders = new Map<ConditionType, string[]>();

  constructor(
    private readonly checks: readonly Check[],
    private readonly sinks: readonly Sink[],
    private readonly damping: DampingSettings,
    private readonly log: Log,
  ) {
    for (const check of checks) {
      for (const condition of check.conditions) {
        const list = this.feeders.get(condition) ?? [];
        list.push(check.name);
        this.feeders.set(condition, list);
      }
    }
  }

  /** Records one run, steps the dampers of the conditions it feeds, and notifies sinks. */
  record(run: CheckRun, nowMs: number): Transition[] {
    this.lastRuns.set(run.check, run);
    const check = this.checks.find((c) => c.name === run.check);
    const transitions: Transition[] = [];
    for (const condition of check?.conditions ?? []) {
      const transition = this.stepCondition(condition, nowMs);
      if (transition) transitions.push(transition);
    }
    for (const sink of this.sinks) this.notify(sink, () => sink.onCheckRun?.(run, this));
    if (transitions.length > 0) {
      for (const sink of this.sinks) this.notify(sink, () => sink.onTransitions?.(transitions, this));
    }
    return transitions;
  }

  /** A sink that throws must not stop the others or the engine. */
  private notify(sink: Sink, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log.error({ sink: sink.name, err: errorText(error) }, "sink failed");
    }
  }

  private stepCondition(condition: ConditionType, nowMs: number): Transition | undefined {
    const feeders = this.feeders.get(condition) ?? [];
    const runs = feeders.map((name) => this.lastRuns.get(name));
    if (runs.some((run) => run === undefined)) return undefined;
    // A secondary check's unknown (it could not look) yields to a primary feeder that could.
    const secondary = new Set(this.checks.filter((c) => c.secondary).map((c) => c.name));
    const looked = (run: CheckRun) => run.outcome === "ok" && !run.findings.some((f) => f.condition === condition && f.severity === "unknown");
    const primaryLooked = runs.some((run) => !secondary.has((run as CheckRun).check) && looked(run as CheckRun));
    const findings = sortFindings(
      runs.flatMap((run) =>
        (run as CheckRun).findings.filter(
          (f) => f.condition === condition && !(primaryLooked && f.severity === "unknown" && secondary.has((run as CheckRun).check)),
        ),
      ),
    );
    const worst = findings[0];
    const healthy = !worst || worst.severity === "ok";
    const healthyText = healthyCondition(condition, findings);
    const candidate = {
      severity: worst?.severity ?? "ok",
      reason: healthy ? healthyText.reason : worst.reason,
      payload: healthy
        ? { message: healthyText.message, findings }
        : { message: summarize(findings), ...(worst.remedy ? { remedy: worst.remedy } : {}), findings },
    } satisfies { severity: Severity; reason: string; payload: Payload };

    let damper = this.dampers.get(condition);
    if (!damper) {
      damper = new ConditionDamper<Payload>(this.damping);
      this.dampers.set(condition, damper);
    }
    const step = damper.step(candidate, nowMs);
    const accepted = damper.current;
    if (!accepted) return undefined;
    const previous = this.states.get(condition);
    const status = statusFor(accepted.severity);
    const state: ConditionState = {
      type: condition,
      status,
      severity: accepted.severity,
      reason: accepted.reason,
      message: accepted.payload.message,
      ...(accepted.payload.remedy ? { remedy: accepted.payload.remedy } : {}),
      sinceMs: previous && previous.status === status ? previous.sinceMs : nowMs,
      flapping: accepted.flapping,
      findings: accepted.payload.findings,
    };
    this.states.set(condition, state);
    if (!step.transition) return undefined;
    return { condition, ...(previous ? { from: previous } : {}), to: state, atMs: nowMs };
  }

  conditions(): readonly ConditionState[] {
    return [...this.states.values()];
  }

  condition(type: ConditionType): ConditionState | undefined {
    return this.states.get(type);
  }

  lastRun(check: string): CheckRun | undefined {
    return this.lastRuns.get(check);
  }

  runs(): readonly CheckRun[] {
    return [...this.lastRuns.values()];
  }

  firstRoundDone(): boolean {
    return this.checks.every((check) => this.lastRuns.has(check.name));
  }
}

/** The worst finding's message, and how many other problems ride along. */
function summarize(findings: readonly Finding[]): string {
  const [worst, ...rest] = findings;
  if (!worst) return "";
  const others = rest.filter((f) => f.severity !== "ok");
  if (others.length === 0) return worst.message;
  const reasons = [...new Set(others.map((f) => f.reason))];
  return `${worst.message} (and ${others.length} more: ${reasons.join(", ")})`;
}

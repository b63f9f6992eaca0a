/**
 * The metrics sink: turns check runs and condition states into series.
 * Everything is set when state changes; /metrics only serialises (no I/O at
 * scrape time). Documented series: docs/metrics.md.
 */
import { Counter, Gauge, Histogram, type Registry } from "../../telemetry/prometheus.js";
import { findingRepairClass, type CheckRun, type Sink, type StateView, type Transition } from "../../types.js";
import { registerProcessMetrics } from "./process.js";
import { createRegistry, type CheckMetrics, type CheckMetricsFactory } from "../../telemetry/registry.js";
import { checkMetricsFactory } from "../../checks/index.js";
import { errorText } from "../../text/format.js";

export interface MetricsSink extends Sink {
  readonly registry: Registry;
}

const STATUSES = ["True", "False", "Unknown"] as const;

function whose(check: string, error: unknown): Error {
  return new Error(`the ${check} check's metrics: ${errorText(error)}`, { cause: error });
}

export function createMetricsSink(options: {
  nodeName: string;
  version: string;
  checkNames: readonly string[];
  /** Where a check's series come from (tests inject their own). */
  metricsOf?: (check: string) => CheckMetricsFactory | undefined;
}): MetricsSink {
  const metricsOf = options.metricsOf ?? checkMetricsFactory;
  const registry = createRegistry(options.nodeName);
  const processMetrics = registerProcessMetrics(registry, { version: options.version });

  const duration = new Histogram({
    name: "node_doctor_check_duration_seconds",
    help: "How long each run of a check took.",
    labelNames: ["check"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const errors = new Counter({
    name: "node_doctor_check_errors_total",
    help: "Runs of a check that could not look, by outcome (error, timeout, overrun).",
    labelNames: ["check", "outcome"],
    registers: [registry],
  });
  const lastRun = new Gauge({
    name: "node_doctor_check_last_run_timestamp_seconds",
    help: "When each check last finished, in seconds since the epoch.",
    labelNames: ["check"],
    registers: [registry],
  });
  const success = new Gauge({
    name: "node_doctor_check_success",
    help: "1 when the check's last run could look (its findings may still be problems), 0 when it failed or timed out.",
    labelNames: ["check"],
    registers: [registry],
  });
  const condition = new Gauge({
    name: "node_doctor_condition",
    help: "node-doctor's NodeConditions: 1 for the condition's current status, 0 for the others (True means a problem).",
    labelNames: ["condition", "status"],
    registers: [registry],
  });
  const conditionReason = new Gauge({
    name: "node_doctor_condition_reason",
    help: "Always 1; the reason label carries each condition's current reason.",
    labelNames: ["condition", "reason"],
    registers: [registry],
  });
  const findings = new Gauge({
    name: "node_doctor_findings",
    help: "Current findings that are not ok, by check, condition, reason, severity and the reason's repair class (docs/remediation.md).",
    labelNames: ["check", "condition", "reason", "severity", "repair"],
    registers: [registry],
  });

  for (const check of options.checkNames) {
    errors.inc({ check, outcome: "error" }, 0);
    errors.inc({ check, outcome: "timeout" }, 0);
    errors.inc({ check, outcome: "overrun" }, 0);
  }
  // Each check owns its series (its folder's metrics.ts); only enabled checks register theirs,
  // so a disabled check's zero-initialised series never say "read nothing".
  // The entries of a list kind (custom/a, custom/b) share their kind's series: registered once.
  const perCheck = new Map<string, CheckMetrics>();
  const registered = new Map<CheckMetricsFactory, CheckMetrics>();
  for (const check of options.checkNames) {
    const factory = metricsOf(check);
    if (!factory) continue;
    try {
      const metrics = registered.get(factory) ?? factory(registry);
      registered.set(factory, metrics);
      perCheck.set(check, metrics);
    } catch (error) {
      throw whose(check, error); // prom-client refuses an invalid name or label at construction: at start-up
    }
  }
  const findingLabels = new Map<string, Set<string>>(); // check -> label keys, to drop stale ones

  function updateConditions(state: StateView): void {
    condition.reset();
    conditionReason.reset();
    for (const c of state.conditions()) {
      for (const status of STATUSES) condition.set({ condition: c.type, status }, c.status === status ? 1 : 0);
      conditionReason.set({ condition: c.type, reason: c.reason }, 1);
    }
  }

  return {
    name: "metrics",
    registry,
    onCheckRun(run: CheckRun, state: StateView) {
      const labels = { check: run.check };
      duration.observe(labels, run.durationMs / 1000);
      lastRun.set(labels, Math.round((run.startedAtMs + run.durationMs) / 1000));
      success.set(labels, run.outcome === "ok" ? 1 : 0);
      if (run.outcome !== "ok") errors.inc({ check: run.check, outcome: run.outcome });

      for (const key of findingLabels.get(run.check) ?? []) findings.remove(JSON.parse(key) as Record<string, string>);
      const counts = new Map<string, number>();
      for (const f of run.findings) {
        if (f.severity === "ok") continue;
        const key = JSON.stringify({ check: run.check, condition: f.condition, reason: f.reason, severity: f.severity, repair: findingRepairClass(f) });
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, count] of counts) findings.set(JSON.parse(key) as Record<string, string>, count);
      findingLabels.set(run.check, new Set(counts.keys()));

      if (state.conditions().length) updateConditions(state);
      // Last: a value prom-client refuses (not a number) costs only this check's series, and the engine logs it.
      if (run.outcome !== "ok") return;
      try {
        perCheck.get(run.check)?.update(run.findings);
      } catch (error) {
        throw whose(run.check, error);
      }
    },
    onTransitions(_transitions: readonly Transition[], state: StateView) {
      updateConditions(state);
    },
    async close() {
      processMetrics.stop();
    },
  };
}

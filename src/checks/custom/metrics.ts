/**
 * The processes the custom checks start: only `npd-plugin` probes do, and
 * it is the one place the agent spawns on an interval (docs/security.md).
 * Each such check reports its cumulative count in its findings' evidence;
 * the counter adds the difference at each run, so a run that timed out is
 * counted at the next one.
 */
import { Counter, type Registry } from "../../telemetry/prometheus.js";
import type { CheckMetrics } from "../../telemetry/registry.js";
import type { Finding } from "../../types.js";

export interface SpawnEvidence {
  processesSpawned: number;
}

export function isSpawnEvidence(value: unknown): value is SpawnEvidence {
  return typeof value === "object" && value !== null && typeof (value as Record<string, unknown>)["processesSpawned"] === "number";
}

export function customMetrics(registry: Registry): CheckMetrics {
  const spawned = new Counter({
    name: "node_doctor_custom_processes_spawned_total",
    help: "Processes node-doctor started for each npd-plugin check: the only processes it starts on an interval.",
    labelNames: ["check"],
    registers: [registry],
  });
  const last = new Map<string, number>();
  return {
    update(findings: readonly Finding[]) {
      for (const finding of findings) {
        if (!isSpawnEvidence(finding.evidence)) continue;
        const total = finding.evidence.processesSpawned;
        const previous = last.get(finding.check) ?? 0;
        const delta = total >= previous ? total - previous : total;
        spawned.inc({ check: finding.check }, delta);
        last.set(finding.check, total);
      }
    },
  };
}

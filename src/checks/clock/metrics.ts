/** Clock series from the clock check's evidence. */
import { Gauge, type Registry } from "../../telemetry/prometheus.js";
import { isOffsetEvidence, isSyncEvidence } from "./judge.js";
import type { Finding } from "../../types.js";
import type { CheckMetrics } from "../../telemetry/registry.js";

export function clockMetrics(registry: Registry): CheckMetrics {
  const offset = new Gauge({
    name: "node_doctor_clock_offset_seconds",
    help: "Reference clock minus the node's clock, by source (apiserver, ntp): positive when the node's clock is behind.",
    labelNames: ["source"],
    registers: [registry],
  });
  const uncertainty = new Gauge({
    name: "node_doctor_clock_offset_uncertainty_seconds",
    help: "Half-width of the interval the true offset lies in, by source.",
    labelNames: ["source"],
    registers: [registry],
  });
  const synchronized = new Gauge({
    name: "node_doctor_clock_synchronized",
    help: '1 when the node\'s time service reports the clock synchronised, 0 when it does not or none runs (service="none"); absent when its state is not readable.',
    labelNames: ["service"],
    registers: [registry],
  });
  return {
    update(findings: readonly Finding[]) {
      offset.reset(); // a source that went away must not linger
      uncertainty.reset();
      synchronized.reset();
      for (const finding of findings) {
        const e = finding.evidence;
        if (isOffsetEvidence(e)) {
          offset.set({ source: e.source }, e.offsetSeconds);
          uncertainty.set({ source: e.source }, e.uncertaintySeconds);
        } else if (isSyncEvidence(e) && e.synchronized !== undefined && e.reportedBy !== undefined) {
          synchronized.set({ service: e.reportedBy }, e.synchronized ? 1 : 0);
        }
      }
    },
  };
}

/**
 * Log-reading series from the kubelet-logs check's evidence. The check
 * reports cumulative counts since it started; these counters add the
 * difference at each run, so they behave like counters the check owned.
 */
import { Counter, cumulativeCounters, type Registry } from "../../telemetry/prometheus.js";
import { isLogReadEvidence } from "./judge.js";
import { LINE_RESULTS } from "../../node/logs/matcher.js";
import { SIGNATURES } from "./signatures.js";
import type { Finding } from "../../types.js";
import type { CheckMetrics } from "../../telemetry/registry.js";

export function logMetrics(registry: Registry): CheckMetrics {
  const matches = new Counter({
    name: "node_doctor_log_matches_total",
    help: "Log lines that matched each signature of the kubelet-logs catalogue (problem and recovery signatures).",
    labelNames: ["signature"],
    registers: [registry],
  });
  const lines = new Counter({
    name: "node_doctor_log_lines_total",
    help: "Log lines the kubelet-logs check read, by source (journal, file) and result (matched, recovery, noise, unmatched, unparseable, binary, stale, dropped).",
    labelNames: ["source", "result"],
    registers: [registry],
  });
  // Known label sets start at 0, so rate() works from the first scrape.
  for (const s of SIGNATURES) matches.inc({ signature: s.id }, 0);
  for (const source of ["journal", "file"]) for (const result of LINE_RESULTS) lines.inc({ source, result }, 0);
  const add = cumulativeCounters();

  return {
    update(findings: readonly Finding[]) {
      for (const finding of findings) {
        const evidence: unknown = finding.evidence;
        if (!isLogReadEvidence(evidence)) continue;
        for (const [signature, total] of Object.entries(evidence.logCounters.matches)) add(matches, { signature }, total);
        for (const [source, results] of Object.entries(evidence.logCounters.lines)) {
          for (const [result, total] of Object.entries(results)) add(lines, { source, result }, total);
        }
        return;
      }
    },
  };
}

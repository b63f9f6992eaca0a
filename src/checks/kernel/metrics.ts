/**
 * The kernel check's series, from its KernelMessagesRead evidence. The check
 * reports cumulative counts since it started; these counters add the
 * difference at each run, so they behave like counters the check owned.
 */
import { Counter, cumulativeCounters, type Registry } from "../../telemetry/prometheus.js";
import type { CheckMetrics } from "../../telemetry/registry.js";
import { LINE_RESULTS } from "../../node/logs/matcher.js";
import type { Finding } from "../../types.js";
import { isKernelReadEvidence } from "./index.js";
import { SIGNATURES } from "./signatures.js";

/** Each problem signature's reason: several signatures may share one (the Xid buckets do not; the OOM lines do not). */
const REASON_OF = new Map(SIGNATURES.flatMap((s) => (s.kind === "problem" ? [[s.id, s.reason] as const] : [])));

export function kernelMetrics(registry: Registry): CheckMetrics {
  const events = new Counter({
    name: "node_doctor_kernel_events_total",
    help: "Kernel messages that matched a problem signature of the kernel check, by its reason (ContainerOOMKilled, NodeOutOfMemory, TaskHung, Ext4Error, GpuXidNeedsReset, …).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const ooms = new Counter({
    name: "node_doctor_kernel_oom_kills_total",
    help: "Processes the kernel's OOM killer killed, by kind: memcg (a cgroup at its own memory limit) or global (the node out of memory).",
    labelNames: ["kind"],
    registers: [registry],
  });
  const messages = new Counter({
    name: "node_doctor_kernel_messages_total",
    help: "Kernel messages the kernel check read, by source (journal, kmsg) and result (matched, noise, unmatched, stale, dropped, …).",
    labelNames: ["source", "result"],
    registers: [registry],
  });
  const lost = new Counter({
    name: "node_doctor_kernel_kmsg_lost_total",
    help: "/dev/kmsg records overwritten in the ring buffer before the kernel check read them (sequence-number gaps).",
    registers: [registry],
  });
  // Known label sets start at 0, so rate() works from the first scrape.
  for (const reason of new Set(REASON_OF.values())) events.inc({ reason }, 0);
  for (const kind of ["global", "memcg"]) ooms.inc({ kind }, 0);
  for (const source of ["journal", "kmsg"]) for (const result of LINE_RESULTS) messages.inc({ source, result }, 0);
  lost.inc(0);
  const add = cumulativeCounters();

  return {
    update(findings: readonly Finding[]) {
      for (const finding of findings) {
        const evidence: unknown = finding.evidence;
        if (!isKernelReadEvidence(evidence)) continue;
        const byReason = new Map<string, number>();
        for (const [id, total] of Object.entries(evidence.kernelCounters.matches)) {
          const reason = REASON_OF.get(id);
          if (reason) byReason.set(reason, (byReason.get(reason) ?? 0) + total);
        }
        for (const [reason, total] of byReason) add(events, { reason }, total);
        for (const [kind, total] of Object.entries(evidence.oom.kills)) add(ooms, { kind }, total);
        for (const [source, results] of Object.entries(evidence.kernelCounters.lines)) {
          for (const [result, total] of Object.entries(results)) add(messages, { source, result }, total);
        }
        add(lost, {}, evidence.kmsgLost ?? 0);
        return;
      }
    },
  };
}

/** The exhaustion check's series, from the evidence on the first finding of each run (judge.ts ExhaustionEvidence). */
import { Counter, Gauge, type Registry } from "../../telemetry/prometheus.js";
import type { CheckMetrics } from "../../telemetry/registry.js";
import type { Finding } from "../../types.js";
import { CONNTRACK_EVENTS, isExhaustionEvidence } from "./judge.js";

/** Follows a kernel counter: grows by what the kernel counted since the last look (all of it the first time, or after it went back). */
function follower(counter: Counter<string>) {
  const last = new Map<string, number>();
  return (labels: Record<string, string>, value: number) => {
    const key = Object.values(labels).join("\0");
    const before = last.get(key);
    counter.inc(labels, before === undefined || value < before ? value : value - before);
    last.set(key, value);
  };
}

export function exhaustionMetrics(registry: Registry): CheckMetrics {
  const threads = new Gauge({
    name: "node_doctor_threads",
    help: "Tasks (processes and threads, kernel threads included) on the node, from /proc/loadavg.",
    registers: [registry],
  });
  const threadsMax = new Gauge({
    name: "node_doctor_threads_max",
    help: "Tasks the kernel allows: the smaller of kernel.pid_max and kernel.threads-max.",
    registers: [registry],
  });
  const threadsLimit = new Gauge({
    name: "node_doctor_threads_limit",
    help: "Each sysctl that limits tasks (kernel.pid_max, kernel.threads-max); node_doctor_threads_max is the smaller.",
    labelNames: ["sysctl"],
    registers: [registry],
  });
  const conntrackEntries = new Gauge({
    name: "node_doctor_conntrack_entries",
    help: "Entries in the host network namespace's conntrack table (net.netfilter.nf_conntrack_count); absent when nf_conntrack is not loaded or node-doctor is not in the host's namespace.",
    registers: [registry],
  });
  const conntrackMax = new Gauge({
    name: "node_doctor_conntrack_entries_max",
    help: "The conntrack table's limit, net.netfilter.nf_conntrack_max.",
    registers: [registry],
  });
  const conntrackEvents = new Counter({
    name: "node_doctor_conntrack_events_total",
    help: "conntrack's per-CPU counters summed over CPUs, from /proc/net/stat/nf_conntrack: drop (no room in the table), early_drop (an entry evicted for room), insert_failed (the NAT race behind 5 s DNS timeouts).",
    labelNames: ["event"],
    registers: [registry],
  });
  const fileHandles = new Gauge({
    name: "node_doctor_file_handles_allocated",
    help: "File handles allocated on the node, from /proc/sys/fs/file-nr.",
    registers: [registry],
  });
  const fileHandlesMax = new Gauge({
    name: "node_doctor_file_handles_max",
    help: "The node's limit of file handles, fs.file-max.",
    registers: [registry],
  });
  const inotify = new Gauge({
    name: "node_doctor_file_handles_inotify_limit",
    help: "inotify limits per user: fs.inotify.max_user_instances and fs.inotify.max_user_watches (the use is not counted: that takes a walk of every process's descriptors).",
    labelNames: ["limit"],
    registers: [registry],
  });
  const pressure = new Gauge({
    name: "node_doctor_pressure_stall_ratio",
    help: 'Share of time tasks stalled on the resource (cpu, memory, io), from /proc/pressure: kind "some" (at least one task) or "full" (every non-idle task), averaged over window 60s or 300s.',
    labelNames: ["resource", "kind", "window"],
    registers: [registry],
  });
  const stalled = new Counter({
    name: "node_doctor_pressure_stalled_seconds_total",
    help: "Time tasks stalled on the resource since boot, by kind as node_doctor_pressure_stall_ratio.",
    labelNames: ["resource", "kind"],
    registers: [registry],
  });
  const followEvents = follower(conntrackEvents);
  const followStalled = follower(stalled);

  return {
    update(findings: readonly Finding[]) {
      const e = findings.map((f) => f.evidence).find(isExhaustionEvidence);
      if (!e) return;
      threads.set(e.threads);
      threadsMax.set(e.threadsMax);
      threadsLimit.set({ sysctl: "kernel.pid_max" }, e.pidMax);
      threadsLimit.set({ sysctl: "kernel.threads-max" }, e.threadsMaxSysctl);
      conntrackEntries.reset();
      conntrackMax.reset();
      if (e.conntrack) {
        conntrackEntries.set(e.conntrack.entries);
        conntrackMax.set(e.conntrack.max);
        for (const event of CONNTRACK_EVENTS) {
          const value = e.conntrack.totals[event];
          if (value !== undefined) followEvents({ event }, value);
        }
      }
      fileHandles.set(e.fileHandles.allocated);
      fileHandlesMax.set(e.fileHandles.max);
      inotify.reset();
      if (e.inotify.maxUserInstances !== undefined) inotify.set({ limit: "max_user_instances" }, e.inotify.maxUserInstances);
      if (e.inotify.maxUserWatches !== undefined) inotify.set({ limit: "max_user_watches" }, e.inotify.maxUserWatches);
      pressure.reset();
      for (const [resource, p] of Object.entries(e.pressure)) {
        for (const [kind, line] of [
          ["some", p.some],
          ["full", p.full],
        ] as const) {
          if (!line) continue;
          // The kernel gives two decimals of a percent: four of a ratio, without float noise.
          pressure.set({ resource, kind, window: "60s" }, Number((line.avg60 / 100).toFixed(4)));
          pressure.set({ resource, kind, window: "300s" }, Number((line.avg300 / 100).toFixed(4)));
          followStalled({ resource, kind }, line.totalUs / 1e6);
        }
      }
    },
  };
}

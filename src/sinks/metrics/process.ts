/**
 * The agent's own process metrics, read at scrape time from in-memory
 * counters (no I/O), under names `promtool check metrics` accepts (the
 * common Node.js client's defaults include gauges ending in `_total`, which
 * it rejects).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Gauge, Counter, type Registry } from "../../telemetry/prometheus.js";

/** monitorEventLoopDelay's sampling interval: each sample is a timer wake-up (0.4 millicores at 250 ms, 0.1 at 1 s). */
const LAG_RESOLUTION_MS = 1000;

export function registerProcessMetrics(registry: Registry, info: { version: string }): { stop(): void } {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const loop = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  loop.enable();

  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since the Unix epoch in seconds.",
    registers: [registry],
    collect() {
      this.set(startSeconds);
    },
  });
  let reportedCpu = 0;
  new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers: [registry],
    collect() {
      const usage = process.cpuUsage();
      const seconds = (usage.user + usage.system) / 1e6;
      this.inc(Math.max(0, seconds - reportedCpu));
      reportedCpu = seconds;
    },
  });
  new Gauge({
    name: "nodejs_heap_used_bytes",
    help: "V8 heap in use, in bytes.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: "nodejs_eventloop_lag_p99_seconds",
    help: "99th percentile of event-loop delay since the previous scrape, in seconds.",
    registers: [registry],
    collect() {
      // The histogram holds whole sampling intervals (an idle loop reads the resolution): the lag is what exceeds it.
      this.set(loop.count > 0 ? Math.max(0, loop.percentile(99) / 1e6 - LAG_RESOLUTION_MS) / 1000 : 0);
      loop.reset();
    },
  });
  new Gauge({
    name: "node_doctor_build_info",
    help: "Always 1; labels carry node-doctor's version and the Node.js runtime.",
    labelNames: ["version", "nodejs"],
    registers: [registry],
  }).set({ version: info.version, nodejs: process.version }, 1);

  return { stop: () => loop.disable() };
}

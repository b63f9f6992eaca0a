/**
 * The agent's own process series: prom-client's default collectors, those an
 * operator looks for (CPU, resident memory, open file descriptors against
 * the limit, V8 heap; the runtime version is on node_doctor_build_info), under prom-client's names. Left out,
 * deliberately: the active handles/requests/resources gauges (named `_total`,
 * which `promtool check metrics` rejects for a gauge, and enumerated at every
 * scrape), per-heap-space sizes (V8 internals, 15 series), the GC histogram
 * (an observer on every collection), and prom-client's event-loop monitor:
 * it samples every 10 ms, and each sample is a timer wake-up (sampling every
 * 20 ms measured 4.5 millicores idle here, over twice the agent's budget).
 * The agent samples once a second instead (0.1 millicore).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import registerCpu from "prom-client/lib/metrics/processCpuTotal.js";
import registerStartTime from "prom-client/lib/metrics/processStartTime.js";
import registerMemory from "prom-client/lib/metrics/osMemoryHeap.js";
import registerOpenFds from "prom-client/lib/metrics/processOpenFileDescriptors.js";
import registerMaxFds from "prom-client/lib/metrics/processMaxFileDescriptors.js";
import registerHeap from "prom-client/lib/metrics/heapSizeAndUsed.js";
import { Gauge, type Registry } from "../../telemetry/prometheus.js";

/** monitorEventLoopDelay's sampling interval: each sample is a timer wake-up (0.4 millicores at 250 ms, 0.1 at 1 s). */
const LAG_RESOLUTION_MS = 1000;

export function registerProcessMetrics(registry: Registry, info: { version: string }): { stop(): void } {
  for (const register of [registerCpu, registerStartTime, registerMemory, registerOpenFds, registerMaxFds, registerHeap]) register(registry);
  const loop = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  loop.enable();
  new Gauge({
    name: "nodejs_eventloop_lag_p99_seconds",
    help: "99th percentile of event-loop delay since the previous scrape, beyond the 1 s sampling interval, in seconds.",
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

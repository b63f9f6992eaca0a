/** Container runtime series from the runtime check's evidence. */
import { Counter, Gauge, Histogram, type Registry } from "../../telemetry/prometheus.js";
import { isRuntimeEvidence } from "./judge.js";
import type { Finding } from "../../types.js";
import type { CheckMetrics } from "../../telemetry/registry.js";

/** Only kubelet's required conditions: a runtime may report any type, labels must stay bounded. */
const CONDITION_TYPES = ["RuntimeReady", "NetworkReady"] as const;

export function runtimeMetrics(registry: Registry): CheckMetrics {
  const up = new Gauge({
    name: "node_doctor_runtime_up",
    help: "1 when the container runtime answered CRI Status at the runtime check's last look, 0 when it did not.",
    registers: [registry],
  });
  const condition = new Gauge({
    name: "node_doctor_runtime_condition",
    help: "The runtime's CRI conditions RuntimeReady and NetworkReady: 1 true, 0 false or not reported.",
    labelNames: ["type"],
    registers: [registry],
  });
  const info = new Gauge({
    name: "node_doctor_runtime_info",
    help: "Always 1; labels carry the runtime's name, version and CRI API version from CRI Version.",
    labelNames: ["runtime", "version", "api_version"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "node_doctor_runtime_request_duration_seconds",
    help: "Duration of the CRI calls the runtime check makes, by method (Version, Status, ListContainers, ImageFsInfo).",
    labelNames: ["method"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const failures = new Counter({
    name: "node_doctor_runtime_request_failures_total",
    help: "CRI calls that failed, by method and outcome (timeout, refused, missing, protocol, closed, invalid_reply, or a gRPC status name).",
    labelNames: ["method", "outcome"],
    registers: [registry],
  });
  const running = new Gauge({
    name: "node_doctor_runtime_containers_running",
    help: "Containers the runtime reports RUNNING (CRI ListContainers), at the runtime check's last look.",
    registers: [registry],
  });
  const imageFsUsed = new Gauge({
    name: "node_doctor_runtime_imagefs_used_bytes",
    help: "Bytes the runtime reports its images use (CRI ImageFsInfo), by image filesystem mount point.",
    labelNames: ["mountpoint"],
    registers: [registry],
  });
  const imageFsInodes = new Gauge({
    name: "node_doctor_runtime_imagefs_inodes_used",
    help: "Inodes the runtime reports its images use (CRI ImageFsInfo), by image filesystem mount point.",
    labelNames: ["mountpoint"],
    registers: [registry],
  });

  return {
    update(findings: readonly Finding[]) {
      const evidence = findings.map((f) => f.evidence).find(isRuntimeEvidence);
      if (!evidence) return;
      up.set(evidence.up ? 1 : 0);
      condition.reset();
      for (const type of CONDITION_TYPES) {
        const reported = evidence.conditions.find((c) => c.type === type);
        condition.set({ type }, reported?.status ? 1 : 0);
      }
      if (evidence.runningContainers !== undefined) running.set(evidence.runningContainers);
      else running.reset();
      info.reset(); // an upgraded runtime must not leave its old version behind
      if (evidence.runtimeName) {
        info.set({ runtime: evidence.runtimeName, version: evidence.runtimeVersion ?? "", api_version: evidence.runtimeApiVersion ?? "" }, 1);
      }
      for (const request of evidence.requests) {
        duration.observe({ method: request.method }, request.seconds);
        if (request.outcome !== "OK") failures.inc({ method: request.method, outcome: request.outcome });
      }
      imageFsUsed.reset();
      imageFsInodes.reset();
      if (evidence.imageFs) {
        const labels = { mountpoint: evidence.imageFs.mountpoint };
        if (evidence.imageFs.usedBytes !== undefined) imageFsUsed.set(labels, evidence.imageFs.usedBytes);
        if (evidence.imageFs.inodesUsed !== undefined) imageFsInodes.set(labels, evidence.imageFs.inodesUsed);
      }
    },
  };
}

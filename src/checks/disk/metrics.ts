/** Filesystem series from the disk check's evidence. */
import { Gauge, type Registry } from "../../telemetry/prometheus.js";
import { isFilesystemEvidence } from "./judge.js";
import type { Finding } from "../../types.js";
import type { CheckMetrics } from "../../telemetry/registry.js";

export function filesystemMetrics(registry: Registry): CheckMetrics {
  const labelNames = ["mountpoint"] as const;
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers: [registry] });
  const avail = gauge("node_doctor_filesystem_avail_bytes", "Bytes available to non-root users on a filesystem kubelet uses (statfs f_bavail).");
  const size = gauge("node_doctor_filesystem_size_bytes", "Size of the filesystem in bytes.");
  const filesFree = gauge("node_doctor_filesystem_files_free", "Free inodes on the filesystem.");
  const files = gauge("node_doctor_filesystem_files", "Total inodes on the filesystem.");
  const readonly = gauge("node_doctor_filesystem_readonly", "1 when the filesystem is mounted read-only.");
  const all = [avail, size, filesFree, files, readonly];
  return {
    update(findings: readonly Finding[]) {
      for (const g of all) g.reset(); // a filesystem that went away must not linger
      for (const finding of findings) {
        const e = finding.evidence;
        if (!isFilesystemEvidence(e)) continue;
        const labels = { mountpoint: e.mountPoint };
        readonly.set(labels, e.readOnly ? 1 : 0);
        if (e.availableBytes === undefined) continue;
        avail.set(labels, e.availableBytes);
        size.set(labels, e.sizeBytes ?? 0);
        filesFree.set(labels, e.filesFree ?? 0);
        files.set(labels, e.files ?? 0);
      }
    },
  };
}

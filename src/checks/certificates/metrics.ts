/** Certificate series from the certificates check's evidence. */
import { Gauge, type Registry } from "../../telemetry/prometheus.js";
import { isCertificateEvidence } from "./evidence.js";
import type { Finding } from "../../types.js";
import type { CheckMetrics } from "../../telemetry/registry.js";

export function certificateMetrics(registry: Registry): CheckMetrics {
  const labelNames = ["path", "role"] as const;
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers: [registry] });
  const notBefore = gauge("node_doctor_certificate_not_before_timestamp_seconds", "NotBefore of a certificate kubelet uses, in seconds since the epoch.");
  const notAfter = gauge("node_doctor_certificate_not_after_timestamp_seconds", "NotAfter of a certificate kubelet uses, in seconds since the epoch.");
  const valid = gauge(
    "node_doctor_certificate_valid",
    "1 when the certificate is readable, valid at the trusted time, issued by the cluster CA and matches its key; 0 otherwise.",
  );
  const all = [notBefore, notAfter, valid];
  return {
    update(findings: readonly Finding[]) {
      for (const g of all) g.reset(); // a certificate no longer configured must not linger
      const validity = new Map<string, { labels: { path: string; role: string }; valid: boolean }>();
      for (const finding of findings) {
        const e = finding.evidence;
        if (!isCertificateEvidence(e)) continue;
        const labels = { path: e.path, role: e.role };
        const key = `${e.role}\0${e.path}`;
        // Several findings may describe one certificate: it is valid only if all say so.
        validity.set(key, { labels, valid: (validity.get(key)?.valid ?? true) && e.valid });
        if (e.notBeforeSeconds !== undefined) notBefore.set(labels, e.notBeforeSeconds);
        if (e.notAfterSeconds !== undefined) notAfter.set(labels, e.notAfterSeconds);
      }
      for (const { labels, valid: ok } of validity.values()) valid.set(labels, ok ? 1 : 0);
    },
  };
}

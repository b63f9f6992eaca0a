/**
 * The machine-readable facts on every certificate finding. The metrics sink
 * turns them into node_doctor_certificate_* series, so the check never knows
 * about Prometheus.
 */
export type CertificateRole = "client" | "serving" | "ca";

export type CertificateEvidence = {
  /** The path as kubelet is configured with it (bounded: one per role), or the kubeconfig key for inline data. */
  path: string;
  role: CertificateRole;
  /** Where the path's symlinks lead (kubelet-client-current.pem → kubelet-client-<time>.pem). */
  resolved?: string;
  notBeforeSeconds?: number;
  notAfterSeconds?: number;
  subject?: string;
  issuer?: string;
  /**
   * For a bad `kubelet-<role>-current.pem`: the newest rotated certificate beside
   * it that is valid now (node path), which the remedy names and the local
   * repair points it at.
   */
  replacement?: string;
  /** Readable, within its validity at the trusted time, issued by the CA and matching its key (where those apply). */
  valid: boolean;
};

export function isCertificateEvidence(value: unknown): value is CertificateEvidence {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Partial<CertificateEvidence>;
  return typeof e.path === "string" && (e.role === "client" || e.role === "serving" || e.role === "ca") && typeof e.valid === "boolean";
}

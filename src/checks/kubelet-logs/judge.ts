/**
 * Active signatures into findings, with the cross-checks that make them
 * name a cause: an `Unauthorized` loop names the client certificate the
 * certificates check found not yet valid (the certificate from the future,
 * docs/incidents.md); a "No api server defined" names the kubelet flag that
 * caused it (the unregistered node); an x509 time error quotes the clock
 * check. Pure.
 */
import { isMatcherCounters, type ActiveSignature, type MatcherCounters } from "../../node/logs/matcher.js";
import { renderActive } from "../../node/logs/render.js";
import type { Finding } from "../../types.js";
import { boolFlag } from "../../node/kubelet/flags.js";

/** Evidence on the LogsRead/LogSourceMissing finding; the metrics read the counters. */
export interface LogReadEvidence {
  logCounters: MatcherCounters;
  sources: string[];
}

export function isLogReadEvidence(value: unknown): value is LogReadEvidence {
  return typeof value === "object" && value !== null && isMatcherCounters((value as { logCounters?: unknown }).logCounters);
}

export interface JudgeContext {
  nowMs: number;
  flags: ReadonlyMap<string, string>;
  /** Non-ok findings of the certificates and clock checks, for cross-checks. */
  certificateFindings: readonly Finding[];
  clockFindings: readonly Finding[];
}

export function judgeLogs(actives: readonly ActiveSignature[], context: JudgeContext, checkName = "kubelet-logs"): Finding[] {
  const findings: Finding[] = [];
  for (const active of actives) {
    const { signature } = active;
    const rendered = renderActive(active);
    let { message, remedy } = rendered;
    const evidence = rendered.evidence;

    if (signature.id === "no-api-server") {
      const kubeconfig = context.flags.get("kubeconfig");
      if (kubeconfig && boolFlag({ values: context.flags }, "require-kubeconfig") !== true && !context.flags.has("api-servers")) {
        message += ` kubelet runs with --kubeconfig=${kubeconfig} but without --require-kubeconfig, so kubelet 1.5-1.7 ignores that kubeconfig's server.`;
        remedy = `Add --require-kubeconfig to kubelet's flags (its systemd drop-in under /etc/systemd/system/kubelet.service.d/ or /etc/default/kubelet) so it uses the server in ${kubeconfig}, or upgrade kubelet (1.8+ always does); then \`systemctl daemon-reload && systemctl restart kubelet\`.`;
        evidence["kubeconfig"] = kubeconfig;
      } else if (!kubeconfig && context.flags.size > 0) {
        message += " kubelet runs without --kubeconfig.";
        remedy =
          "Add --kubeconfig=/etc/kubernetes/kubelet.conf (a kubeconfig naming the API server and kubelet's credentials) to kubelet's flags, then `systemctl daemon-reload && systemctl restart kubelet`.";
      }
      if (boolFlag({ values: context.flags }, "logtostderr") === false) evidence["logtostderr"] = false;
    }

    if (signature.condition === "KubeletCertificateInvalid" && signature.id === "unauthorized") {
      const cert =
        context.certificateFindings.find((f) => f.reason === "ClientCertificateNotYetValid") ??
        context.certificateFindings.find((f) => f.condition === "KubeletCertificateInvalid" && /^ClientCertificate/.test(f.reason));
      if (cert) {
        message += ` The certificates check knows why (${cert.reason}): ${cert.message}`;
        if (cert.remedy) remedy = cert.remedy;
        evidence["certificateReason"] = cert.reason;
      }
    }

    if (signature.id === "x509-not-yet-valid" || signature.id === "x509-expired") {
      const clock = context.clockFindings.find((f) => f.condition === "ClockSkewed");
      if (clock) {
        message += ` The clock check agrees the node's clock is off (${clock.reason}): ${clock.message}`;
        if (clock.remedy) remedy = clock.remedy;
        evidence["clockReason"] = clock.reason;
      }
    }

    findings.push({ check: checkName, condition: signature.condition, severity: active.severity, reason: signature.reason, message, remedy, evidence });
  }
  return findings;
}

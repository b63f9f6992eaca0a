/**
 * Judges kubelet's certificates against a trusted time. Pure: the check
 * gathers files and hands them here as plain values.
 *
 * Each certificate gets the same tests (readable, NotBefore, NotAfter,
 * issuer, key, identity); the reason names the role and the test
 * ("ClientCertificateNotYetValid"). When kubelet's rotating
 * `kubelet-client-current.pem` is bad, the remedy names the newest rotated
 * certificate beside it that would work now.
 */
import type { KeyObject } from "node:crypto";
import * as path from "node:path";
import type { Finding, Severity, TrustedTime } from "../../types.js";
import type { CertificateEvidence, CertificateRole } from "./evidence.js";
import type { CertificateInfo, LoadedPemFile } from "./files.js";
import { sh } from "../../text/shell.js";
import { REASONS } from "./reasons.js";
import { formatDuration, isoTime } from "../../text/format.js";

export const CERTIFICATE_REASONS = REASONS.names;

type Test = "NotYetValid" | "Expired" | "ExpiresSoon" | "Missing" | "Malformed" | "WrongIssuer" | "KeyMismatch" | "WrongIdentity";

const PREFIX: Record<CertificateRole, string> = { client: "ClientCertificate", serving: "ServingCertificate", ca: "ClusterCACertificate" };

const DAY_MS = 86_400_000;

export interface ObservedCertificate {
  role: CertificateRole;
  file: LoadedPemFile;
  /** A separate key file (or inline key data); absent when the key shares the certificate's file. */
  key?: LoadedPemFile;
  /** Where kubelet got this path from, for messages ("the kubeconfig /etc/kubernetes/kubelet.conf"). */
  origin: string;
  /** A symlink whose target lies outside the cert dir (kubelet only ever links within it). */
  linkOutside?: { target: string; certDir: string };
  /** kubelet renews it itself. */
  rotation: boolean;
  selfSigned?: boolean;
  /** Identity is checked for client certificates and for serving certificates kubelet obtained from the cluster. */
  checkIdentity: boolean;
}

export interface CertificateJudgeInput {
  client?: ObservedCertificate;
  serving?: ObservedCertificate;
  ca?: ObservedCertificate;
  /**
   * The CA that signs kubelet's client certificate when it is not the cluster CA the kubeconfig trusts:
   * k3s and RKE2 sign client certificates with their client CA and serve the API with their server CA.
   */
  clientCa?: LoadedPemFile;
  kubeconfigPath?: string;
  kubeconfigProblem?: string;
  bootstrapKubeconfigPath: string;
  kubeletConfigPath?: string;
  /** The node's name when known for certain (API server, --hostname-override). */
  nodeName?: string;
  /** Rotated siblings of a bad `kubelet-<role>-current.pem`, by role, already loaded. */
  candidates?: Partial<Record<"client" | "serving", LoadedPemFile[]>>;
  kubeletRunning: boolean;
  /** How kubelet is restarted on this distribution ("systemctl restart k3s-agent"); kubeadm's by default. */
  restartKubelet?: string;
}

export interface CertificateThresholds {
  warningDays: number;
  criticalDays: number;
}

interface Problem {
  test: Test;
  severity: Severity;
  message: string;
}

/** "the trusted time … (…)": the reader must know whether the local clock was corrected. */
export function describeTime(time: TrustedTime): string {
  if (time.source === "local") return `${isoTime(time.nowMs)} (the local clock: no API server or NTP measurement of it was available)`;
  return `${isoTime(time.nowMs)} (${clockName(time)})`;
}

function clockName(time: TrustedTime): string {
  if (time.source === "local") return "the local clock";
  const sign = time.offsetMs >= 0 ? "+" : "-";
  return `the local clock corrected by ${sign}${formatDuration(time.offsetMs)} to agree with ${time.source === "apiserver" ? "the API server" : "NTP"}`;
}

function describePath(file: LoadedPemFile): string {
  return file.resolved && file.resolved !== file.path ? `${file.path} (-> ${file.resolved})` : file.path;
}

/** The certificate that signed `leaf`, among `cas`, verified by signature, not just by name. */
export function issuedBy(leaf: CertificateInfo, cas: readonly CertificateInfo[]): CertificateInfo | undefined {
  return cas.find((ca) => {
    try {
      return leaf.x509.checkIssued(ca.x509) && leaf.x509.verify(ca.x509.publicKey);
    } catch {
      return false;
    }
  });
}

/** Whether `key` is the private half of the certificate's public key (a key of another type is simply not). */
function keyMatches(leaf: CertificateInfo, keys: readonly KeyObject[]): boolean {
  return keys.some((key) => {
    try {
      return leaf.x509.checkPrivateKey(key);
    } catch {
      return false;
    }
  });
}

function timeProblems(
  role: CertificateRole,
  cert: CertificateInfo,
  time: TrustedTime,
  thresholds: CertificateThresholds,
  obs: ObservedCertificate,
  where: string,
): Problem[] {
  const now = time.nowMs;
  if (cert.notBeforeMs > now) {
    return [
      {
        test: "NotYetValid",
        severity: "critical",
        message: `${where} is not valid until ${isoTime(cert.notBeforeMs)}, ${formatDuration(cert.notBeforeMs - now)} after the trusted time ${describeTime(time)}`,
      },
    ];
  }
  if (cert.notAfterMs <= now) {
    return [
      {
        test: "Expired",
        severity: "critical",
        message: `${where} expired at ${isoTime(cert.notAfterMs)}, ${formatDuration(now - cert.notAfterMs)} before the trusted time ${describeTime(time)}`,
      },
    ];
  }
  const left = cert.notAfterMs - now;
  if (left <= thresholds.warningDays * DAY_MS) {
    // Nothing renews a certificate without rotation: the warning window is already the last call.
    const critical = left <= thresholds.criticalDays * DAY_MS || (!obs.rotation && role !== "ca");
    const why =
      role === "ca"
        ? "; every certificate it signed stops working with it"
        : obs.rotation
          ? `; kubelet should have renewed it already (it renews at 70-90% of a certificate's lifetime)`
          : obs.selfSigned
            ? "; it is kubelet's self-signed serving certificate, which nothing renews"
            : "; certificate rotation is off, so nothing renews it";
    return [
      {
        test: "ExpiresSoon",
        severity: critical ? "critical" : "warning",
        message: `${where} expires at ${isoTime(cert.notAfterMs)}, in ${formatDuration(left)}${why}`,
      },
    ];
  }
  return [];
}

function identityProblem(cert: CertificateInfo, nodeName: string | undefined, where: string): Problem | undefined {
  const cn = cert.commonName ?? "";
  const expectedCn = nodeName ? `system:node:${nodeName}` : undefined;
  const cnOk = expectedCn ? cn === expectedCn : cn.startsWith("system:node:") && cn.length > "system:node:".length;
  const orgOk = cert.organizations.includes("system:nodes");
  if (cnOk && orgOk) return undefined;
  const want = `CN=${expectedCn ?? "system:node:<node name>"}, O=system:nodes`;
  return {
    test: "WrongIdentity",
    severity: "critical",
    message: `${where} has the subject "${cert.subject}", not ${want}; the API server's Node authorizer will not treat it as this node`,
  };
}

interface Evaluation {
  problems: Problem[];
  evidence: CertificateEvidence;
  leaf?: CertificateInfo;
}

/** Every test for one certificate. */
function evaluate(
  obs: ObservedCertificate,
  input: CertificateJudgeInput,
  time: TrustedTime,
  thresholds: CertificateThresholds,
  cas: readonly CertificateInfo[],
): Evaluation {
  const { role, file } = obs;
  const where = `${roleName(role)} ${describePath(file)}`;
  const evidence: CertificateEvidence = {
    path: file.path,
    role,
    valid: false,
    ...(file.resolved && file.resolved !== file.path ? { resolved: file.resolved } : {}),
  };
  if (!file.ok) {
    const test: Test = file.code === "malformed" ? "Malformed" : "Missing";
    const severity: Severity = test === "Missing" && obs.selfSigned ? "warning" : "critical";
    return { problems: [{ test, severity, message: `${where}, named by ${obs.origin}: ${file.problem}` }], evidence };
  }
  const leaf = file.certificates[0];
  if (!leaf) {
    return { problems: [{ test: "Malformed", severity: "critical", message: `${where}, named by ${obs.origin}, holds no CERTIFICATE block` }], evidence };
  }
  evidence.notBeforeSeconds = Math.floor(leaf.notBeforeMs / 1000);
  evidence.notAfterSeconds = Math.floor(leaf.notAfterMs / 1000);
  evidence.subject = leaf.subject;
  evidence.issuer = leaf.issuer;
  const problems: Problem[] = [];
  if (obs.linkOutside) {
    problems.push({
      test: "Missing",
      severity: "warning",
      message: `${where} is a symlink to ${obs.linkOutside.target}, outside kubelet's cert dir ${obs.linkOutside.certDir}; kubelet's rotation only ever links within it`,
    });
  }
  problems.push(...timeProblems(role, leaf, time, thresholds, obs, where));

  if (role !== "ca" && !obs.selfSigned && cas.length > 0 && !issuedBy(leaf, cas)) {
    const caPath = role === "client" && input.clientCa?.ok ? `client CA ${input.clientCa.path}` : `cluster CA ${input.ca ? input.ca.file.path : ""}`;
    problems.push({
      test: "WrongIssuer",
      severity: role === "client" ? "critical" : "warning",
      message: `${where} is issued by "${leaf.issuer}" and its signature does not verify with the ${caPath} ("${cas[0]?.subject ?? ""}")`,
    });
  }

  if (role !== "ca") {
    const keyFile = obs.key ?? file;
    const keyWhere = obs.key ? `its key ${describePath(obs.key)}` : `${file.path}`;
    if (obs.key && !obs.key.ok) {
      problems.push({ test: "KeyMismatch", severity: "critical", message: `the private key of ${where}, ${describePath(obs.key)}: ${obs.key.problem}` });
    } else if (keyFile.ok && keyFile.keys.length === 0) {
      const detail = keyFile.keyProblem ?? "holds no private key";
      problems.push({ test: "KeyMismatch", severity: "critical", message: `${keyWhere}, the key of ${where}: ${detail}` });
    } else if (keyFile.ok && !keyMatches(leaf, keyFile.keys)) {
      problems.push({
        test: "KeyMismatch",
        severity: "critical",
        message: `the private key in ${keyWhere} does not belong to ${where} (its public key differs)`,
      });
    }
  }

  if (obs.checkIdentity) {
    const problem = identityProblem(leaf, input.nodeName, where);
    if (problem) problems.push(role === "client" ? problem : { ...problem, severity: "warning" });
  }

  const critical = problems.some((p) => p.test !== "ExpiresSoon" && p.test !== "Missing");
  const brokenLink = problems.some((p) => p.test === "Missing" && p.severity === "critical");
  evidence.valid = !critical && !brokenLink;
  return { problems, evidence, leaf };
}

function roleName(role: CertificateRole): string {
  return role === "client" ? "kubelet's client certificate" : role === "serving" ? "kubelet's serving certificate" : "the cluster CA certificate";
}

/** Is this file a rotated certificate that would work right now? */
function candidateWorks(
  file: LoadedPemFile,
  role: "client" | "serving",
  input: CertificateJudgeInput,
  time: TrustedTime,
  cas: readonly CertificateInfo[],
): CertificateInfo | undefined {
  if (!file.ok) return undefined;
  const leaf = file.certificates[0];
  if (!leaf || leaf.notBeforeMs > time.nowMs || leaf.notAfterMs <= time.nowMs) return undefined;
  if (cas.length > 0 && !issuedBy(leaf, cas)) return undefined;
  if (!keyMatches(leaf, file.keys)) return undefined;
  if (identityProblem(leaf, input.nodeName, "") && role === "client") return undefined;
  return leaf;
}

/** The rotated sibling to point `kubelet-<role>-current.pem` at: newest NotBefore that works now. */
export function pickCandidate(
  files: readonly LoadedPemFile[],
  role: "client" | "serving",
  input: CertificateJudgeInput,
  time: TrustedTime,
  cas: readonly CertificateInfo[],
) {
  let best: { file: LoadedPemFile; leaf: CertificateInfo } | undefined;
  for (const file of files) {
    const leaf = candidateWorks(file, role, input, time, cas);
    if (leaf && (!best || leaf.notBeforeMs > best.leaf.notBeforeMs)) best = { file, leaf };
  }
  return best;
}

/** `kubelet-client-current.pem` → "kubelet-client-": the prefix of its rotated siblings. */
export function rotatingPrefix(nodePath: string): string | undefined {
  const match = /^(kubelet-(client|server)-)current\.pem$/.exec(path.posix.basename(nodePath));
  return match?.[1];
}

function clockAdvice(time: TrustedTime): string {
  return time.source === "local"
    ? "The local clock could not be checked against the API server or NTP: if it is wrong, fix it first (`chronyc makestep`, `timedatectl set-ntp true`). "
    : "The node's clock was probably wrong when kubelet rotated it; make sure time sync is running (`timedatectl set-ntp true`). ";
}

/** The remedy, and the rotated certificate it names for `kubelet-<role>-current.pem` (the repair's target) when it names one. */
function remedyFor(
  obs: ObservedCertificate,
  problem: Problem,
  input: CertificateJudgeInput,
  time: TrustedTime,
  cas: readonly CertificateInfo[],
): { text: string; replacement?: string } {
  const replacement = replacementFor(obs, problem, input, time, cas);
  return { text: remedyText(obs, problem, input, time, cas, replacement), ...(replacement ? { replacement: replacement.file.path } : {}) };
}

/** The rotating role (client, serving) whose `-current.pem` a rotated sibling may replace for this problem, if any. */
function replaceableRole(obs: ObservedCertificate, problem: Problem): "client" | "serving" | undefined {
  const prefix = rotatingPrefix(obs.file.path);
  const rotatingRole = prefix === "kubelet-client-" ? "client" : prefix === "kubelet-server-" ? "serving" : undefined;
  const replaceable = problem.severity === "critical" && problem.test !== "ExpiresSoon" && problem.test !== "WrongIdentity";
  return rotatingRole === obs.role && (replaceable || problem.test === "Missing") ? rotatingRole : undefined;
}

function replacementFor(obs: ObservedCertificate, problem: Problem, input: CertificateJudgeInput, time: TrustedTime, cas: readonly CertificateInfo[]) {
  const role = replaceableRole(obs, problem);
  return role ? pickCandidate(input.candidates?.[role] ?? [], role, input, time, cas) : undefined;
}

function remedyText(
  obs: ObservedCertificate,
  problem: Problem,
  input: CertificateJudgeInput,
  time: TrustedTime,
  cas: readonly CertificateInfo[],
  pick: ReturnType<typeof pickCandidate>,
): string {
  const { role, file } = obs;
  const current = file.path;
  const restart = input.restartKubelet ?? "systemctl restart kubelet";
  const clock = problem.test === "NotYetValid" ? clockAdvice(time) : "";
  if (role === "ca") {
    if (problem.test === "Missing" || problem.test === "Malformed") {
      return `Restore the cluster CA certificate to ${current} (a copy is /etc/kubernetes/pki/ca.crt on a control-plane node, or \`kubectl config view --raw\` with admin credentials), then \`${restart}\`.`;
    }
    return (
      `${clock}The cluster CA itself must be renewed: follow Kubernetes' manual CA rotation (https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/), ` +
      `then put the new CA into ${input.kubeconfigPath ?? "kubelet's kubeconfig"} on every node and \`${restart}\`.`
    );
  }
  const rotatingRole = replaceableRole(obs, problem);
  if (rotatingRole) {
    const candidates = input.candidates?.[rotatingRole] ?? [];
    const dir = path.posix.dirname(current);
    if (pick) {
      return (
        `${clock}Point ${current} back at ${pick.file.path}, the newest rotated certificate beside it that is valid now ` +
        `(${isoTime(pick.leaf.notBeforeMs)} to ${isoTime(pick.leaf.notAfterMs)}${cas.length > 0 ? ", issued by the cluster CA" : ""}, matching its key): ` +
        `\`${sh`ln -sf ${pick.file.path} ${current}`} && ${restart}\`.`
      );
    }
    if (role === "client") {
      return (
        `${clock}None of the ${candidates.length} rotated certificates in ${dir} is valid now, so kubelet must bootstrap a new one: ` +
        `make sure ${input.bootstrapKubeconfigPath} holds a valid bootstrap token (\`kubeadm token create\` on a control-plane node), ` +
        `\`${sh`mv ${current} ${`${current}.bad`}`} && ${restart}\`, then approve the node's CSR: \`kubectl get csr\` and \`kubectl certificate approve <name>\`.`
      );
    }
    return `${clock}None of the rotated serving certificates in ${dir} is valid now: \`${sh`mv ${current} ${`${current}.bad`}`} && ${restart}\`, then approve the new serving CSR: \`kubectl get csr\` and \`kubectl certificate approve <name>\`.`;
  }
  if (obs.selfSigned) {
    const key = obs.key?.path ?? path.posix.join(path.posix.dirname(current), "kubelet.key");
    return (
      `${clock}Let kubelet write a new self-signed pair (valid one year): \`${sh`rm ${current} ${key}`} && ${restart}\`. ` +
      `Better, set \`serverTLSBootstrap: true\`${input.kubeletConfigPath ? ` in ${input.kubeletConfigPath}` : ""} so kubelet obtains and renews its serving certificate from the cluster.`
    );
  }
  switch (problem.test) {
    case "ExpiresSoon":
      return obs.rotation
        ? `Find out why rotation stalls: \`journalctl -u kubelet | grep -i certificate\`, and whether the node's CSRs are pending: \`kubectl get csr\` (approve with \`kubectl certificate approve <name>\`).`
        : `Renew it before it expires: turn on rotation (\`${role === "client" ? "rotateCertificates" : "serverTLSBootstrap"}: true\`${input.kubeletConfigPath ? ` in ${input.kubeletConfigPath}` : ""}) and \`${restart}\`, or re-issue ${current} from the cluster CA.`;
    case "WrongIdentity":
      return `Issue a certificate for this node (CN=system:node:${input.nodeName ?? "<node name>"}, O=system:nodes), or re-bootstrap: \`${sh`mv ${current} ${`${current}.bad`}`} && ${restart}\` with a valid ${input.bootstrapKubeconfigPath}.`;
    default:
      return role === "client"
        ? `${clock}Re-issue kubelet's client certificate: with a valid bootstrap token in ${input.bootstrapKubeconfigPath}, \`${sh`mv ${current} ${`${current}.bad`}`} && ${restart}\`, then \`kubectl certificate approve\` its CSR; or fix what ${obs.origin} names.`
        : `${clock}Re-issue the serving certificate ${current}${obs.key ? ` with its key ${obs.key.path}` : ""} (it must be signed by the CA clients trust), then \`${restart}\`.`;
  }
}

/** Judges every observed certificate; findings carry evidence for the metrics sink. Pure. */
export function judgeCertificates(input: CertificateJudgeInput, time: TrustedTime, thresholds: CertificateThresholds, checkName = "certificates"): Finding[] {
  const base = { check: checkName, condition: "KubeletCertificateInvalid" as const };
  const findings: Finding[] = [];
  if (input.kubeconfigProblem) {
    findings.push({
      ...base,
      severity: "critical",
      reason: CERTIFICATE_REASONS.KubeletKubeconfigInvalid,
      message: `kubelet's kubeconfig cannot be used: ${input.kubeconfigProblem}.`,
      remedy: `Fix the named key in ${input.kubeconfigPath}; if the file is gone, kubelet recreates it from ${input.bootstrapKubeconfigPath} at \`systemctl restart kubelet\` (its CSR then needs approval: \`kubectl get csr\`).`,
      evidence: { kubeconfig: input.kubeconfigPath, problem: input.kubeconfigProblem },
    });
  }
  const caEval = input.ca ? evaluate(input.ca, input, time, thresholds, []) : undefined;
  const cas = input.ca?.file.ok ? input.ca.file.certificates : [];
  // The client certificate is judged against the CA that signs it: the client CA where the distribution keeps one apart.
  const clientCas = input.clientCa?.ok && input.clientCa.certificates.length > 0 ? input.clientCa.certificates : cas;
  const clientEval = input.client ? evaluate(input.client, input, time, thresholds, clientCas) : undefined;
  // The CA judged is the one that signed the client certificate, when the file is a bundle.
  if (caEval && clientEval?.leaf && clientCas === cas && input.ca?.file.ok && input.ca.file.certificates.length > 1) {
    const signer = issuedBy(clientEval.leaf, input.ca.file.certificates);
    if (signer && signer !== input.ca.file.certificates[0]) {
      const only = { ...input.ca, file: { ...input.ca.file, certificates: [signer] } };
      Object.assign(caEval, evaluate(only, input, time, thresholds, []));
    }
  }
  const servingEval = input.serving ? evaluate(input.serving, input, time, thresholds, input.serving.rotation ? cas : []) : undefined;

  for (const [obs, ev] of [
    [input.client, clientEval],
    [input.serving, servingEval],
    [input.ca, caEval],
  ] as const) {
    if (!obs || !ev) continue;
    if (ev.problems.length === 0 && ev.leaf) {
      findings.push({
        ...base,
        severity: "ok",
        reason: CERTIFICATE_REASONS.CertificateValid,
        message: capitalize(
          `${roleName(obs.role)} ${describePath(obs.file)} is valid from ${isoTime(ev.leaf.notBeforeMs)} to ${isoTime(ev.leaf.notAfterMs)}: ${formatDuration(ev.leaf.notAfterMs - time.nowMs)} left by ${clockName(time)}.`,
        ),
        evidence: ev.evidence,
      });
      continue;
    }
    for (const problem of ev.problems) {
      findings.push({
        ...base,
        severity: problem.severity,
        reason: `${PREFIX[obs.role]}${problem.test}`,
        message: `${capitalize(problem.message)}.`,
        ...remedyAndEvidence(remedyFor(obs, problem, input, time, obs.role === "client" ? clientCas : cas), ev.evidence),
      });
    }
  }

  return findings;
}

function remedyAndEvidence(remedy: { text: string; replacement?: string }, evidence: CertificateEvidence) {
  return { remedy: remedy.text, evidence: remedy.replacement ? { ...evidence, replacement: remedy.replacement } : evidence };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Whether a bad rotating certificate needs its siblings loaded to name a replacement. */
export function wantsCandidates(findings: readonly Finding[], input: CertificateJudgeInput): Array<"client" | "serving"> {
  const roles: Array<"client" | "serving"> = [];
  for (const role of ["client", "serving"] as const) {
    const obs = input[role];
    if (!obs) continue;
    const prefix = rotatingPrefix(obs.file.path);
    if ((prefix === "kubelet-client-") !== (role === "client") || !prefix) continue;
    const reasonPrefix = PREFIX[role];
    if (findings.some((f) => f.reason.startsWith(reasonPrefix) && f.severity === "critical" && !f.reason.endsWith("ExpiresSoon"))) roles.push(role);
  }
  return roles;
}

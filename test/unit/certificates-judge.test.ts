/**
 * judgeCertificates as a table: certificates (minted in-process) and a trusted
 * time in, findings out, asserted on reason, severity and the remedy's key
 * facts. The fixture-tree tests in test/checks/certificates.test.ts cover how
 * the check finds these files on a node.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parseCertificateFile, type LoadedPemFile } from "../../src/checks/certificates/files.js";
import {
  judgeCertificates,
  wantsCandidates,
  type CertificateJudgeInput,
  type CertificateThresholds,
  type ObservedCertificate,
} from "../../src/checks/certificates/judge.js";
import type { Finding, TrustedTime } from "../../src/types.js";
import { mintCa, mintLeaf, type MintedCa, type MintedPem } from "../support/pki-mint.js";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(NOW + ms);
const PKI = "/var/lib/kubelet/pki";
const CURRENT = `${PKI}/kubelet-client-current.pem`;
const NODE = "O=system:nodes, CN=system:node:node30";
const THRESHOLDS: CertificateThresholds = { warningDays: 30, criticalDays: 7 };
const LOCAL: TrustedTime = { nowMs: NOW, source: "local", offsetMs: 0, uncertaintyMs: 0 };

let ca: MintedCa;
let otherCa: MintedCa;
const leaves: Record<string, MintedPem> = {};

before(async () => {
  ca = await mintCa("CN=kubernetes", at(-400 * DAY), at(3000 * DAY));
  otherCa = await mintCa("CN=kubernetes", at(-400 * DAY), at(3000 * DAY));
  const specs: Record<string, [MintedCa | undefined, string, number, number]> = {
    valid: [ca, NODE, -23 * DAY, 342 * DAY],
    future: [ca, NODE, 5 * HOUR, 365 * DAY],
    expired: [ca, NODE, -400 * DAY, -35 * DAY],
    soon20: [ca, NODE, -345 * DAY, 20 * DAY],
    soon5: [ca, NODE, -360 * DAY, 5 * DAY],
    foreign: [otherCa, NODE, -2 * DAY, 300 * DAY],
    otherNode: [ca, "O=system:nodes, CN=system:node:node31", -2 * DAY, 300 * DAY],
    servingSelfSigned: [undefined, "CN=node30@1732000000", -30 * DAY, 335 * DAY],
    servingSoon: [undefined, "CN=node30@1732000000", -345 * DAY, 20 * DAY],
  };
  for (const [name, [issuer, subject, from, to]] of Object.entries(specs)) leaves[name] = await mintLeaf(issuer, subject, at(from), at(to));
});

const file = (path: string, text: string, resolved?: string): LoadedPemFile => ({
  ...parseCertificateFile(Buffer.from(text)),
  path,
  ...(resolved ? { resolved } : {}),
});
const leaf = (name: string) => leaves[name] as MintedPem;

function client(name: string, extra: Partial<ObservedCertificate> = {}): ObservedCertificate {
  return {
    role: "client",
    file: file(CURRENT, leaf(name).combinedPem, `${PKI}/kubelet-client-2026-11-24-11-00-00.pem`),
    origin: "the kubeconfig /etc/kubernetes/kubelet.conf",
    rotation: true,
    checkIdentity: true,
    ...extra,
  };
}

function serving(name: string, extra: Partial<ObservedCertificate> = {}): ObservedCertificate {
  return {
    role: "serving",
    file: file(`${PKI}/kubelet.crt`, leaf(name).certPem),
    key: file(`${PKI}/kubelet.key`, leaf(name).keyPem),
    origin: "kubelet's default self-signed pair",
    rotation: false,
    selfSigned: true,
    checkIdentity: false,
    ...extra,
  };
}

function caCert(pem: string = ca.certPem): ObservedCertificate {
  return { role: "ca", file: file("/etc/kubernetes/pki/ca.crt", pem), origin: "the kubeconfig", rotation: false, checkIdentity: false };
}

function input(extra: Partial<CertificateJudgeInput> = {}): CertificateJudgeInput {
  return {
    client: client("valid"),
    serving: serving("servingSelfSigned"),
    ca: caCert(),
    kubeconfigPath: "/etc/kubernetes/kubelet.conf",
    bootstrapKubeconfigPath: "/etc/kubernetes/bootstrap-kubelet.conf",
    kubeletConfigPath: "/var/lib/kubelet/config.yaml",
    nodeName: "node30",
    kubeletRunning: true,
    ...extra,
  };
}

const problems = (findings: Finding[]) => findings.filter((f) => f.severity !== "ok").map((f) => [f.reason, f.severity]);
const one = (findings: Finding[], reason: string) => {
  const found = findings.filter((f) => f.reason === reason);
  assert.equal(found.length, 1, `${reason} in ${JSON.stringify(findings.map((f) => f.reason))}`);
  return found[0] as Finding;
};

interface Row {
  name: string;
  input: () => CertificateJudgeInput;
  time?: TrustedTime;
  problems: Array<[string, string]>;
  message?: RegExp;
  remedy?: RegExp;
}

const rows: Row[] = [
  { name: "a healthy kubeadm node: client, serving and CA valid", input: () => input(), problems: [] },
  {
    name: "the certificate from the future, an older valid one beside it: its ln -sf is the remedy",
    input: () =>
      input({
        client: client("future"),
        candidates: {
          client: [
            file(`${PKI}/kubelet-client-2026-11-01-08-00-00.pem`, leaf("valid").combinedPem),
            file(`${PKI}/kubelet-client-2025-10-01-09-00-00.pem`, leaf("expired").combinedPem),
          ],
        },
      }),
    problems: [["ClientCertificateNotYetValid", "critical"]],
    message: /not valid until 2026-11-24T17:00:00Z, 5 h 0 min after the trusted time 2026-11-24T12:00:00Z \(the local clock/,
    remedy:
      /ln -sf \/var\/lib\/kubelet\/pki\/kubelet-client-2026-11-01-08-00-00\.pem \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem && systemctl restart kubelet/,
  },
  {
    name: "the certificate from the future, no valid rotated one: re-bootstrap",
    input: () =>
      input({ client: client("future"), candidates: { client: [file(`${PKI}/kubelet-client-2025-10-01-09-00-00.pem`, leaf("expired").combinedPem)] } }),
    problems: [["ClientCertificateNotYetValid", "critical"]],
    remedy: /None of the 1 rotated certificates in \/var\/lib\/kubelet\/pki is valid now.*bootstrap-kubelet\.conf.*kubectl certificate approve/s,
  },
  {
    name: "the API server's offset makes the local clock's future certificate valid",
    input: () => input({ client: client("future") }),
    time: { nowMs: NOW + 6 * HOUR, source: "apiserver", offsetMs: 6 * HOUR, uncertaintyMs: 50 },
    problems: [],
  },
  {
    name: "expired client",
    input: () => input({ client: client("expired") }),
    problems: [["ClientCertificateExpired", "critical"]],
    message: /expired at 2026-10-20T12:00:00Z/,
  },
  {
    name: "client expiring in 20 days with rotation on: a warning, look at rotation",
    input: () => input({ client: client("soon20") }),
    problems: [["ClientCertificateExpiresSoon", "warning"]],
    remedy: /kubectl get csr/,
  },
  { name: "client expiring in 5 days: critical", input: () => input({ client: client("soon5") }), problems: [["ClientCertificateExpiresSoon", "critical"]] },
  {
    name: "client expiring in 20 days with rotation off: critical, nothing renews it",
    input: () => input({ client: client("soon20", { rotation: false }) }),
    problems: [["ClientCertificateExpiresSoon", "critical"]],
    message: /certificate rotation is off/,
    remedy: /rotateCertificates: true/,
  },
  {
    name: "client signed by another CA",
    input: () => input({ client: client("foreign") }),
    problems: [["ClientCertificateWrongIssuer", "critical"]],
    message: /does not verify with the cluster CA/,
  },
  {
    name: "client certificate with another certificate's key",
    input: () => input({ client: client("valid", { file: file(CURRENT, leaf("valid").certPem + leaf("future").keyPem) }) }),
    problems: [["ClientCertificateKeyMismatch", "critical"]],
    message: /does not belong to/,
  },
  {
    name: "client certificate without a key",
    input: () => input({ client: client("valid", { file: file(CURRENT, leaf("valid").certPem) }) }),
    problems: [["ClientCertificateKeyMismatch", "critical"]],
    message: /holds no private key/,
  },
  {
    name: "another node's client certificate",
    input: () => input({ client: client("otherNode") }),
    problems: [["ClientCertificateWrongIdentity", "critical"]],
    message: /not CN=system:node:node30, O=system:nodes/,
    remedy: /CN=system:node:node30, O=system:nodes/,
  },
  {
    name: "client file missing",
    input: () => input({ client: client("valid", { file: { ok: false, code: "unreadable", problem: "no such file", path: CURRENT } }) }),
    problems: [["ClientCertificateMissing", "critical"]],
    message: /named by the kubeconfig \/etc\/kubernetes\/kubelet\.conf: no such file/,
  },
  {
    name: "client file not PEM",
    input: () => input({ client: client("valid", { file: file(CURRENT, "not a certificate\n") }) }),
    problems: [["ClientCertificateMalformed", "critical"]],
  },
  {
    name: "client linked outside kubelet's cert dir: a warning",
    input: () => input({ client: client("valid", { linkOutside: { target: "/tmp/x.pem", certDir: PKI } }) }),
    problems: [["ClientCertificateMissing", "warning"]],
    message: /outside kubelet's cert dir/,
  },
  {
    name: "the refused flags: the self-signed serving certificate a year on is critical, nothing renews it",
    input: () => input({ serving: serving("servingSoon") }),
    problems: [["ServingCertificateExpiresSoon", "critical"]],
    message: /kubelet's self-signed serving certificate, which nothing renews/,
    remedy: /rm \/var\/lib\/kubelet\/pki\/kubelet\.crt \/var\/lib\/kubelet\/pki\/kubelet\.key && systemctl restart kubelet.*serverTLSBootstrap: true/s,
  },
  {
    name: "the self-signed pair not written yet: a warning",
    input: () =>
      input({ serving: serving("servingSelfSigned", { file: { ok: false, code: "unreadable", problem: "no such file", path: `${PKI}/kubelet.crt` } }) }),
    problems: [["ServingCertificateMissing", "warning"]],
  },
  {
    name: "a cluster-issued serving certificate for another node: a warning",
    input: () =>
      input({
        serving: serving("otherNode", {
          selfSigned: false,
          rotation: true,
          checkIdentity: true,
          key: undefined,
          file: file(`${PKI}/kubelet-server-current.pem`, leaf("otherNode").combinedPem),
        }),
      }),
    problems: [["ServingCertificateWrongIdentity", "warning"]],
  },
  {
    name: "the cluster CA expired: manual CA rotation",
    input: () => input({ ca: caCert(leaf("expired").certPem), client: undefined }),
    problems: [["ClusterCACertificateExpired", "critical"]],
    remedy: /manual-rotation-of-ca-certificates/,
  },
  {
    name: "the cluster CA missing: restore it",
    input: () =>
      input({ ca: { ...caCert(), file: { ok: false, code: "unreadable", problem: "no such file", path: "/etc/kubernetes/pki/ca.crt" } }, client: undefined }),
    problems: [["ClusterCACertificateMissing", "critical"]],
    remedy: /Restore the cluster CA certificate to \/etc\/kubernetes\/pki\/ca\.crt/,
  },
  {
    name: "a kubeconfig that cannot be used",
    input: () => input({ kubeconfigProblem: "users[0].user has no client-certificate", client: undefined }),
    problems: [["KubeletKubeconfigInvalid", "critical"]],
    message: /users\[0\]\.user has no client-certificate/,
    remedy: /bootstrap-kubelet\.conf/,
  },
];

describe("judgeCertificates", () => {
  for (const row of rows) {
    it(row.name, () => {
      const findings = judgeCertificates(row.input(), row.time ?? LOCAL, THRESHOLDS);
      assert.deepEqual(problems(findings), row.problems);
      assert.ok(
        findings.every((f) => f.condition === "KubeletCertificateInvalid" && f.check === "certificates"),
        "every finding feeds KubeletCertificateInvalid",
      );
      const [reason] = row.problems[0] ?? [];
      if (reason) {
        const finding = one(findings, reason);
        if (row.message) assert.match(finding.message, row.message);
        if (row.remedy) assert.match(finding.remedy ?? "", row.remedy);
      }
    });
  }

  it("a valid certificate's message gives its dates, the time left and which clock said so", () => {
    const time: TrustedTime = { nowMs: NOW, source: "apiserver", offsetMs: 3 * HOUR, uncertaintyMs: 50 };
    const valid = judgeCertificates(input(), time, THRESHOLDS).filter((f) => f.reason === "CertificateValid");
    assert.equal(valid.length, 3);
    assert.match(
      valid[0]?.message ?? "",
      /^Kubelet's client certificate .* is valid from 2026-11-01T12:00:00Z to 2027-11-01T12:00:00Z: 342 days left by the local clock corrected by \+3 h 0 min to agree with the API server\.$/,
    );
    assert.deepEqual(
      valid.map((f) => (f.evidence as { role: string; valid: boolean }).role),
      ["client", "serving", "ca"],
    );
  });

  it("asks for the rotated siblings only when the rotating certificate is critically bad", () => {
    const bad = input({ client: client("future") });
    assert.deepEqual(wantsCandidates(judgeCertificates(bad, LOCAL, THRESHOLDS), bad), ["client"]);
    const soon = input({ client: client("soon5") });
    assert.deepEqual(wantsCandidates(judgeCertificates(soon, LOCAL, THRESHOLDS), soon), []);
  });
});

/**
 * The certificates check on node trees built at test time with real
 * certificates (openssl, ECDSA P-256 and RSA). The certificate from the future (docs/incidents.md) first: a rotated
 * client certificate from the future, an older valid one beside it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { certificateSettings, createCertificatesCheck } from "../../src/checks/certificates/index.js";
import type { CertificateEvidence } from "../../src/checks/certificates/evidence.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { RootedHost } from "../../src/node/host.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { ClusterReader, Finding, SharedFacts, StateView } from "../../src/types.js";
import { CertificateMint, type Minted } from "../support/certs.js";
import { kubeletKubeconfig } from "../support/kubelet-pki.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { runCli } from "../support/cli.js";
import { runTool } from "../support/tools.js";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (offsetMs: number) => new Date(NOW + offsetMs);
const PKI = "/var/lib/kubelet/pki";
const CURRENT = `${PKI}/kubelet-client-current.pem`;
const KUBECONFIG = "/etc/kubernetes/kubelet.conf";
const CA_PATH = "/etc/kubernetes/pki/ca.crt";
const NODE = "/O=system:nodes/CN=system:node:node30";

let mint: CertificateMint;
let ca: Minted;
let otherCa: Minted;
/** Valid for a year from 23 days ago: the older rotated certificate of the certificate from the future. */
let older: Minted;
/** NotBefore five hours after the real time: the certificate from the future itself. */
let future: Minted;
let expired: Minted;
let serving: Minted;

before(() => {
  mint = new CertificateMint();
  ca = mint.ca({ subject: "/CN=kubernetes", notBefore: at(-400 * DAY), notAfter: at(3000 * DAY) });
  otherCa = mint.ca({ subject: "/CN=kubernetes", notBefore: at(-400 * DAY), notAfter: at(3000 * DAY), keyType: "rsa" });
  older = mint.leaf(ca, { subject: NODE, notBefore: at(-23 * DAY), notAfter: at(342 * DAY) });
  future = mint.leaf(ca, { subject: NODE, notBefore: at(5 * HOUR), notAfter: at(365 * DAY) });
  expired = mint.leaf(ca, { subject: NODE, notBefore: at(-400 * DAY), notAfter: at(-35 * DAY) });
  serving = mint.selfSigned({ subject: "/CN=node30@1732000000", notBefore: at(-30 * DAY), notAfter: at(335 * DAY) });
});
after(() => mint.cleanup());

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

interface NodeSpec {
  files?: Record<string, string | Buffer>;
  links?: Record<string, string>;
  dirs?: string[];
  fifos?: string[];
  /** kubelet's argv (argv[0] included), written as /proc/4242/cmdline. */
  kubelet?: string[];
}

async function node(spec: NodeSpec): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "node-doctor-certs-"));
  roots.push(root);
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content, { mode: 0o600 });
  }
  for (const [path, target] of Object.entries(spec.links ?? {})) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
  for (const dir of spec.dirs ?? []) await mkdir(join(root, dir), { recursive: true });
  for (const fifo of spec.fifos ?? []) {
    await mkdir(dirname(join(root, fifo)), { recursive: true });
    execFileSync("mkfifo", [join(root, fifo)]);
  }
  if (spec.kubelet) {
    await mkdir(join(root, "proc/4242"), { recursive: true });
    await writeFile(join(root, "proc/4242/comm"), "kubelet\n");
    await writeFile(join(root, "proc/4242/cmdline"), spec.kubelet.join("\0") + "\0");
  }
  return root;
}

/** A kubeadm node: kubelet.conf naming kubelet-client-current.pem, the CA, kubelet's config with rotation on. */
function kubeadmNode(current: Minted | undefined, rotated: Record<string, Minted> = {}, extra: NodeSpec = {}): NodeSpec {
  const files: Record<string, string | Buffer> = {
    [KUBECONFIG]: kubeletKubeconfig({ "client-certificate": CURRENT, "client-key": CURRENT }),
    [CA_PATH]: ca.certPem,
    "/var/lib/kubelet/config.yaml": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: true\n",
    [`${PKI}/kubelet.crt`]: serving.certPem,
    [`${PKI}/kubelet.key`]: serving.keyPem,
  };
  for (const [name, cert] of Object.entries(rotated)) files[`${PKI}/${name}`] = cert.combinedPem;
  const links: Record<string, string> = {};
  if (current) {
    files[`${PKI}/kubelet-client-2026-11-24-11-00-00.pem`] = current.combinedPem;
    links[CURRENT] = `${PKI}/kubelet-client-2026-11-24-11-00-00.pem`;
  }
  return { ...extra, files: { ...files, ...extra.files }, links: { ...links, ...extra.links } };
}

const cluster = (nodeName: string): ClusterReader => ({
  nodeName,
  getNode: () => Promise.reject(new Error("not in this test")),
  getLease: () => Promise.reject(new Error("not in this test")),
  probeTime: () => Promise.reject(new Error("not in this test")),
  getKubernetesService: () => Promise.reject(new Error("not in this test")),
});

interface RunOptions {
  clock?: FakeClock;
  facts?: SharedFacts;
  nodeName?: string;
  settings?: Record<string, unknown>;
}

function checkFor(root: string, options: RunOptions = {}) {
  const clock = options.clock ?? new FakeClock(NOW);
  const locator = new KubeletLocator(new RootedHost(root), clock, 0);
  const check = createCertificatesCheck(certificateSettings.parse(options.settings ?? {}, "checks.certificates"), { kubelet: locator });
  const run = () =>
    check.run(
      checkContext(root, { clock, ...(options.facts ? { facts: options.facts } : {}), ...(options.nodeName ? { cluster: cluster(options.nodeName) } : {}) }),
    );
  return { check, run, locator };
}

async function findingsOf(spec: NodeSpec, options: RunOptions = {}): Promise<Finding[]> {
  return checkFor(await node(spec), options).run();
}

function only(findings: Finding[], reason: string): Finding {
  const matching = findings.filter((f) => f.reason === reason);
  assert.equal(matching.length, 1, `expected one ${reason}, got: ${findings.map((f) => `${f.severity} ${f.reason}: ${f.message}`).join("\n")}`);
  return matching[0] as Finding;
}

function problems(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity !== "ok");
}

describe("certificates check: the certificate from the future", () => {
  it("current -> a certificate whose NotBefore is 5 h ahead: critical, and the remedy names the older valid one", async () => {
    const findings = await findingsOf(
      kubeadmNode(future, {
        "kubelet-client-2025-10-01-09-00-00.pem": expired,
        "kubelet-client-2026-11-01-08-00-00.pem": older,
      }),
    );
    const f = only(findings, "ClientCertificateNotYetValid");
    assert.equal(f.severity, "critical");
    assert.equal(f.condition, "KubeletCertificateInvalid");
    assert.match(f.message, /kubelet-client-current\.pem \(-> \/var\/lib\/kubelet\/pki\/kubelet-client-2026-11-24-11-00-00\.pem\)/);
    assert.match(f.message, /not valid until 2026-11-24T17:00:00Z, 5 h 0 min after the trusted time 2026-11-24T12:00:00Z/);
    assert.match(f.message, /the local clock/, "says the time was not corrected");
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-01-08-00-00.pem ${CURRENT} && systemctl restart kubelet`), f.remedy);
    assert.equal((f.evidence as CertificateEvidence).valid, false);
    assert.equal(problems(findings).length, 1, "serving and CA are fine");
  });

  it("skips rotated certificates that are expired, from another CA or paired with the wrong key", async () => {
    const foreign = mint.leaf(otherCa, { subject: NODE, notBefore: at(-2 * DAY), notAfter: at(300 * DAY), keyType: "rsa" });
    const wrongKey = mint.leaf(ca, { subject: NODE, notBefore: at(-1 * DAY), notAfter: at(300 * DAY) });
    const findings = await findingsOf(
      kubeadmNode(future, {
        "kubelet-client-2026-11-01-08-00-00.pem": older,
        "kubelet-client-2026-11-22-08-00-00.pem": foreign,
        "kubelet-client-2026-11-23-08-00-00.pem": { ...wrongKey, combinedPem: wrongKey.certPem + older.keyPem },
        "kubelet-client-2026-11-24-08-00-00.pem": expired,
      }),
    );
    const f = only(findings, "ClientCertificateNotYetValid");
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-01-08-00-00.pem ${CURRENT}`), f.remedy);
  });

  it("of several valid rotated certificates, names the newest", async () => {
    const newer = mint.leaf(ca, { subject: NODE, notBefore: at(-3 * DAY), notAfter: at(362 * DAY) });
    const f = only(
      await findingsOf(kubeadmNode(future, { "kubelet-client-2026-11-01-08-00-00.pem": older, "kubelet-client-2026-11-21-08-00-00.pem": newer })),
      "ClientCertificateNotYetValid",
    );
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-21-08-00-00.pem ${CURRENT}`), f.remedy);
  });

  it("with no valid rotated certificate, the remedy says how to re-bootstrap", async () => {
    const f = only(await findingsOf(kubeadmNode(future, { "kubelet-client-2025-10-01-09-00-00.pem": expired })), "ClientCertificateNotYetValid");
    assert.match(f.remedy ?? "", /None of the 1 rotated certificates in \/var\/lib\/kubelet\/pki is valid now/);
    assert.match(f.remedy ?? "", /\/etc\/kubernetes\/bootstrap-kubelet\.conf/);
    assert.match(f.remedy ?? "", /kubectl certificate approve/);
  });
});

describe("certificates check: the clock check's offset", () => {
  // The certificate became valid an hour ago in real time; the local clock is 3 h behind.
  const spec = () => kubeadmNode(mint.leaf(ca, { subject: NODE, notBefore: at(-1 * HOUR), notAfter: at(365 * DAY) }));
  const behind = () => new FakeClock(NOW - 3 * HOUR);

  it("judged by the local clock alone, the certificate looks 2 h in the future, and the message says it used the local clock", async () => {
    const f = only(await findingsOf(spec(), { clock: behind() }), "ClientCertificateNotYetValid");
    assert.match(f.message, /2 h 0 min after the trusted time 2026-11-24T09:00:00Z \(the local clock: no API server or NTP measurement/);
    assert.match(f.remedy ?? "", /could not be checked against the API server or NTP/);
  });

  it("with the API server's offset (+3 h) the corrected time says it is valid", async () => {
    const clock = behind();
    const facts: SharedFacts = { clockOffset: { source: "apiserver", offsetMs: 3 * HOUR, uncertaintyMs: 50, measuredAtMonotonicMs: clock.monotonic() } };
    const findings = await findingsOf(spec(), { clock, facts });
    assert.deepEqual(problems(findings), []);
    const client = findings.find((f) => (f.evidence as CertificateEvidence).role === "client");
    assert.match(client?.message ?? "", /corrected by \+3 h 0 min to agree with the API server/);
  });
});

describe("certificates check: one fixture per reason", () => {
  it("healthy kubeadm node (ECDSA): client, serving and CA are each ok", async () => {
    const findings = await findingsOf(kubeadmNode(older), { nodeName: "node30" });
    assert.deepEqual(
      findings.map((f) => [f.severity, f.reason, (f.evidence as CertificateEvidence).role]),
      [
        ["ok", "CertificateValid", "client"],
        ["ok", "CertificateValid", "serving"],
        ["ok", "CertificateValid", "ca"],
      ],
    );
  });

  it("healthy with RSA keys and inline kubeconfig data", async () => {
    const rsaLeaf = mint.leaf(otherCa, { subject: NODE, notBefore: at(-DAY), notAfter: at(300 * DAY), keyType: "rsa" });
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const findings = await findingsOf({
      files: {
        [KUBECONFIG]: kubeletKubeconfig(
          { "client-certificate-data": b64(rsaLeaf.certPem), "client-key-data": b64(rsaLeaf.keyPem) },
          { "certificate-authority-data": b64(otherCa.certPem) },
        ),
      },
    });
    assert.deepEqual(problems(findings), []);
    assert.equal(findings.length, 2);
    assert.match((findings[0]?.evidence as CertificateEvidence).path, /kubelet\.conf \(users\[0\]\.user\.client-certificate-data\)/);
  });

  it("ClientCertificateExpired: critical, remedy names the valid rotated one", async () => {
    const f = only(await findingsOf(kubeadmNode(expired, { "kubelet-client-2026-11-01-08-00-00.pem": older })), "ClientCertificateExpired");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /expired at 2026-10-20T12:00:00Z/);
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-01-08-00-00.pem ${CURRENT}`), f.remedy);
  });

  it("ClientCertificateExpiresSoon: warning within 30 days, critical within 7, critical within 30 when rotation is off", async () => {
    const soon = mint.leaf(ca, { subject: NODE, notBefore: at(-300 * DAY), notAfter: at(20 * DAY) });
    const w = only(await findingsOf(kubeadmNode(soon)), "ClientCertificateExpiresSoon");
    assert.equal(w.severity, "warning");
    assert.match(w.message, /in 20 days; kubelet should have renewed it/);
    assert.match(w.remedy ?? "", /journalctl -u kubelet/);

    const verySoon = mint.leaf(ca, { subject: NODE, notBefore: at(-300 * DAY), notAfter: at(3 * DAY) });
    assert.equal(only(await findingsOf(kubeadmNode(verySoon)), "ClientCertificateExpiresSoon").severity, "critical");

    const noRotation = kubeadmNode(soon, {}, { files: { "/var/lib/kubelet/config.yaml": "kind: KubeletConfiguration\nrotateCertificates: false\n" } });
    const c = only(await findingsOf(noRotation), "ClientCertificateExpiresSoon");
    assert.equal(c.severity, "critical");
    assert.match(c.message, /rotation is off/);
    assert.match(c.remedy ?? "", /rotateCertificates: true/);
  });

  it("ClientCertificateMissing: a dangling kubelet-client-current.pem", async () => {
    const spec = kubeadmNode(
      undefined,
      { "kubelet-client-2026-11-01-08-00-00.pem": older },
      { links: { [CURRENT]: `${PKI}/kubelet-client-2026-11-24-11-00-00.pem` } },
    );
    const f = only(await findingsOf(spec), "ClientCertificateMissing");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /kubelet-client-current\.pem .*dangling symlink to \/var\/lib\/kubelet\/pki\/kubelet-client-2026-11-24-11-00-00\.pem/);
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-01-08-00-00.pem ${CURRENT}`), f.remedy);
  });

  it("ClientCertificateMissing: current pointing outside the cert dir is a warning", async () => {
    const spec = kubeadmNode(undefined, {}, { files: { "/root/kubelet-client.pem": older.combinedPem }, links: { [CURRENT]: "/root/kubelet-client.pem" } });
    const f = only(await findingsOf(spec), "ClientCertificateMissing");
    assert.equal(f.severity, "warning");
    assert.match(f.message, /symlink to \/root\/kubelet-client\.pem, outside kubelet's cert dir \/var\/lib\/kubelet\/pki/);
  });

  it("ClientCertificateWrongIssuer: signed by another CA with the same name (the signature decides)", async () => {
    const foreign = mint.leaf(otherCa, { subject: NODE, notBefore: at(-DAY), notAfter: at(300 * DAY) });
    const f = only(await findingsOf(kubeadmNode(foreign, { "kubelet-client-2026-11-01-08-00-00.pem": older })), "ClientCertificateWrongIssuer");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /issued by "CN=kubernetes" and its signature does not verify with the cluster CA \/etc\/kubernetes\/pki\/ca\.crt/);
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-01-08-00-00.pem ${CURRENT}`), f.remedy);
  });

  it("ClientCertificateKeyMismatch: the key in the combined file belongs to another certificate", async () => {
    const mismatched = { ...older, combinedPem: older.certPem + future.keyPem };
    const f = only(await findingsOf(kubeadmNode(mismatched)), "ClientCertificateKeyMismatch");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /does not belong to/);
    // An RSA key beside an ECDSA certificate is a mismatch too, not an error.
    const rsaBeside = { ...older, combinedPem: older.certPem + otherCa.keyPem };
    assert.equal(only(await findingsOf(kubeadmNode(rsaBeside)), "ClientCertificateKeyMismatch").severity, "critical");
    const noKey = { ...older, combinedPem: older.certPem };
    assert.match(only(await findingsOf(kubeadmNode(noKey)), "ClientCertificateKeyMismatch").message, /holds no private key/);
  });

  it("ClientCertificateWrongIdentity: CN of another node", async () => {
    const other = mint.leaf(ca, { subject: "/O=system:nodes/CN=system:node:node31", notBefore: at(-DAY), notAfter: at(300 * DAY) });
    const f = only(await findingsOf(kubeadmNode(other), { nodeName: "node30" }), "ClientCertificateWrongIdentity");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /CN=system:node:node31.*not CN=system:node:node30, O=system:nodes/);
    // Without the API server's word on the name, only the shape is checked.
    assert.deepEqual(problems(await findingsOf(kubeadmNode(other))), []);
  });

  it("ClientCertificateMalformed: a current certificate that is not PEM", async () => {
    const spec = kubeadmNode(
      undefined,
      {},
      { files: { [`${PKI}/kubelet-client-2026-11-24-11-00-00.pem`]: "hello\n" }, links: { [CURRENT]: `${PKI}/kubelet-client-2026-11-24-11-00-00.pem` } },
    );
    const f = only(await findingsOf(spec), "ClientCertificateMalformed");
    assert.match(f.message, /holds no PEM block/);
  });

  describe("serving certificate", () => {
    it("ServingCertificateExpiresSoon: the self-signed kubelet.crt a year later (the refused flags) is critical, nothing renews it", async () => {
      const aging = mint.selfSigned({ subject: "/CN=node30@1700000000", notBefore: at(-355 * DAY), notAfter: at(10 * DAY) });
      const f = only(
        await findingsOf(kubeadmNode(older, {}, { files: { [`${PKI}/kubelet.crt`]: aging.certPem, [`${PKI}/kubelet.key`]: aging.keyPem } })),
        "ServingCertificateExpiresSoon",
      );
      assert.equal(f.severity, "critical");
      assert.match(f.message, /self-signed serving certificate, which nothing renews/);
      assert.ok(f.remedy?.includes(`rm ${PKI}/kubelet.crt ${PKI}/kubelet.key && systemctl restart kubelet`), f.remedy);
      assert.match(f.remedy ?? "", /serverTLSBootstrap: true/);
    });

    it("ServingCertificateExpired and ServingCertificateNotYetValid", async () => {
      const old = mint.selfSigned({ subject: "/CN=node30@1", notBefore: at(-400 * DAY), notAfter: at(-35 * DAY) });
      const e = only(
        await findingsOf(kubeadmNode(older, {}, { files: { [`${PKI}/kubelet.crt`]: old.certPem, [`${PKI}/kubelet.key`]: old.keyPem } })),
        "ServingCertificateExpired",
      );
      assert.equal(e.severity, "critical");
      const early = mint.selfSigned({ subject: "/CN=node30@2", notBefore: at(2 * DAY), notAfter: at(300 * DAY) });
      const n = only(
        await findingsOf(kubeadmNode(older, {}, { files: { [`${PKI}/kubelet.crt`]: early.certPem, [`${PKI}/kubelet.key`]: early.keyPem } })),
        "ServingCertificateNotYetValid",
      );
      assert.equal(n.severity, "critical");
    });

    const tlsFlags = [
      "/usr/bin/kubelet",
      `--kubeconfig=${KUBECONFIG}`,
      "--tls-cert-file",
      "/etc/kubernetes/pki/kubelet.crt",
      "--tls-private-key-file",
      "/etc/kubernetes/pki/kubelet.key",
    ];

    it("ServingCertificateKeyMismatch and ServingCertificateMissing with --tls-cert-file", async () => {
      const leaf = mint.leaf(ca, { subject: "/CN=node30", notBefore: at(-DAY), notAfter: at(300 * DAY), profile: "server" });
      const k = only(
        await findingsOf(
          kubeadmNode(
            older,
            {},
            { kubelet: tlsFlags, files: { "/etc/kubernetes/pki/kubelet.crt": leaf.certPem, "/etc/kubernetes/pki/kubelet.key": older.keyPem } },
          ),
        ),
        "ServingCertificateKeyMismatch",
      );
      assert.match(k.message, /\/etc\/kubernetes\/pki\/kubelet\.key/);
      const m = only(await findingsOf(kubeadmNode(older, {}, { kubelet: tlsFlags })), "ServingCertificateMissing");
      assert.equal(m.severity, "critical");
      assert.match(m.message, /\/etc\/kubernetes\/pki\/kubelet\.crt, named by kubelet's --tls-cert-file: does not exist/);
    });

    it("a bad kubelet-server-current.pem: the remedy names the newest valid kubelet-server-*.pem", async () => {
      const config = "kind: KubeletConfiguration\nrotateCertificates: true\nserverTLSBootstrap: true\n";
      const good = mint.leaf(ca, { subject: NODE, notBefore: at(-10 * DAY), notAfter: at(300 * DAY), profile: "server" });
      const early = mint.leaf(ca, { subject: NODE, notBefore: at(3 * HOUR), notAfter: at(300 * DAY), profile: "server" });
      const spec = kubeadmNode(
        older,
        {},
        {
          files: {
            "/var/lib/kubelet/config.yaml": config,
            [`${PKI}/kubelet-server-2026-11-14-00-00-00.pem`]: good.combinedPem,
            [`${PKI}/kubelet-server-2026-11-24-11-30-00.pem`]: early.combinedPem,
          },
          links: { [`${PKI}/kubelet-server-current.pem`]: `${PKI}/kubelet-server-2026-11-24-11-30-00.pem` },
        },
      );
      const f = only(await findingsOf(spec), "ServingCertificateNotYetValid");
      assert.ok(
        f.remedy?.includes(`ln -sf ${PKI}/kubelet-server-2026-11-14-00-00-00.pem ${PKI}/kubelet-server-current.pem && systemctl restart kubelet`),
        f.remedy,
      );
    });

    it("ServingCertificateMalformed", async () => {
      const f = only(
        await findingsOf(
          kubeadmNode(
            older,
            {},
            {
              kubelet: tlsFlags,
              files: { "/etc/kubernetes/pki/kubelet.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n", "/etc/kubernetes/pki/kubelet.key": older.keyPem },
            },
          ),
        ),
        "ServingCertificateMalformed",
      );
      assert.match(f.message, /no END line \(truncated\?\)/);
    });

    it("ServingCertificateWrongIssuer and ServingCertificateWrongIdentity with serverTLSBootstrap", async () => {
      const config = "kind: KubeletConfiguration\nrotateCertificates: true\nserverTLSBootstrap: true\n";
      const foreign = mint.leaf(otherCa, { subject: NODE, notBefore: at(-DAY), notAfter: at(300 * DAY), profile: "server" });
      const files = (cert: Minted) => ({ "/var/lib/kubelet/config.yaml": config, [`${PKI}/kubelet-server-2026-11-20-00-00-00.pem`]: cert.combinedPem });
      const links = { [`${PKI}/kubelet-server-current.pem`]: `${PKI}/kubelet-server-2026-11-20-00-00-00.pem` };
      const w = only(await findingsOf(kubeadmNode(older, {}, { files: files(foreign), links })), "ServingCertificateWrongIssuer");
      assert.equal(w.severity, "warning");
      const stranger = mint.leaf(ca, { subject: "/CN=somebody", notBefore: at(-DAY), notAfter: at(300 * DAY), profile: "server" });
      const i = only(await findingsOf(kubeadmNode(older, {}, { files: files(stranger), links })), "ServingCertificateWrongIdentity");
      assert.equal(i.severity, "warning");
      const good = mint.leaf(ca, { subject: NODE, notBefore: at(-DAY), notAfter: at(300 * DAY), profile: "server" });
      assert.deepEqual(problems(await findingsOf(kubeadmNode(older, {}, { files: files(good), links }), { nodeName: "node30" })), []);
    });
  });

  describe("cluster CA", () => {
    const withCa = (cert: Minted, signedClient: Minted) => kubeadmNode(signedClient, {}, { files: { [CA_PATH]: cert.certPem } });

    it("ClusterCACertificateExpiresSoon, ClusterCACertificateExpired, ClusterCACertificateNotYetValid", async () => {
      const soonCa = mint.ca({ subject: "/CN=kubernetes", notBefore: at(-3600 * DAY), notAfter: at(20 * DAY) });
      const s = only(
        await findingsOf(withCa(soonCa, mint.leaf(soonCa, { subject: NODE, notBefore: at(-DAY), notAfter: at(19 * DAY) }))),
        "ClusterCACertificateExpiresSoon",
      );
      assert.equal(s.severity, "warning");
      assert.match(s.message, /every certificate it signed stops working with it/);
      assert.match(s.remedy ?? "", /manual-rotation-of-ca-certificates/);

      const oldCa = mint.ca({ subject: "/CN=kubernetes", notBefore: at(-3600 * DAY), notAfter: at(-DAY) });
      assert.equal(only(await findingsOf(withCa(oldCa, older)), "ClusterCACertificateExpired").severity, "critical");
      const newCa = mint.ca({ subject: "/CN=kubernetes", notBefore: at(DAY), notAfter: at(3600 * DAY) });
      assert.equal(only(await findingsOf(withCa(newCa, older)), "ClusterCACertificateNotYetValid").severity, "critical");
    });

    it("a CA bundle during CA rotation: the client certificate may be signed by either, and the signer's dates are judged", async () => {
      const oldCa = mint.ca({ subject: "/CN=kubernetes", notBefore: at(-3600 * DAY), notAfter: at(10 * DAY) });
      const newCa = mint.ca({ subject: "/CN=kubernetes-2", notBefore: at(-DAY), notAfter: at(3600 * DAY), keyType: "rsa" });
      const byNew = mint.leaf(newCa, { subject: NODE, notBefore: at(-DAY), notAfter: at(300 * DAY) });
      const findings = await findingsOf(kubeadmNode(byNew, {}, { files: { [CA_PATH]: oldCa.certPem + newCa.certPem } }));
      assert.deepEqual(problems(findings), []);
      const caFinding = findings.find((f) => (f.evidence as CertificateEvidence).role === "ca");
      assert.match(caFinding?.message ?? "", /to 2036-/, "the new CA, which signed the client certificate");
    });

    it("ClusterCACertificateMissing and ClusterCACertificateMalformed", async () => {
      const spec = kubeadmNode(older);
      delete spec.files?.[CA_PATH];
      const m = only(await findingsOf(spec), "ClusterCACertificateMissing");
      assert.match(m.message, /\/etc\/kubernetes\/pki\/ca\.crt, named by the kubeconfig \/etc\/kubernetes\/kubelet\.conf: does not exist/);
      const bad = only(await findingsOf(kubeadmNode(older, {}, { files: { [CA_PATH]: "" } })), "ClusterCACertificateMalformed");
      assert.match(bad.message, /is empty/);
    });
  });

  describe("kubeconfig", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["invalid YAML", "users: [\n", /invalid YAML \(line/],
      ["users is not a list", "users: {}\n", /users: expected a list, got a mapping/],
      [
        "client-certificate is a number",
        "users:\n- name: a\n  user:\n    client-certificate: 5\n",
        /users\[0\]\.user\.client-certificate: expected a string, got a number/,
      ],
      ["current-context names nothing", "current-context: gone\ncontexts: []\n", /contexts: no entry named "gone"/],
      ["inline data is not base64", "users:\n- name: a\n  user:\n    client-certificate-data: '%%%'\n", /client-certificate-data: is not valid base64/],
    ];
    for (const [name, text, problem] of cases) {
      it(`KubeletKubeconfigInvalid: ${name}`, async () => {
        const f = only(await findingsOf(kubeadmNode(older, {}, { files: { [KUBECONFIG]: text } })), "KubeletKubeconfigInvalid");
        assert.equal(f.severity, "critical");
        assert.ok(f.message.includes(KUBECONFIG), f.message);
        assert.match(f.message, problem);
      });
    }
  });
});

describe("certificates check: bad input names the path and the problem", () => {
  const target = `${PKI}/kubelet-client-2026-11-24-11-00-00.pem`;
  const der = () => Buffer.from(older.certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const truncated = () => older.combinedPem.slice(0, older.certPem.length / 2);
  const garbage = () => older.certPem.replace(/\n([A-Za-z0-9+/]{20})/, "\n!!not*base64!!$1");
  const validBase64NotX509 = () => `-----BEGIN CERTIFICATE-----\n${Buffer.from("not a certificate at all").toString("base64")}\n-----END CERTIFICATE-----\n`;
  const cases: Array<{ name: string; spec: () => NodeSpec; reason: string; problem: RegExp }> = [
    {
      name: "truncated PEM",
      spec: () => ({ files: { [target]: truncated() } }),
      reason: "ClientCertificateMalformed",
      problem: /PEM block CERTIFICATE at line 1 has no END line \(truncated\?\)/,
    },
    {
      name: "garbage base64",
      spec: () => ({ files: { [target]: garbage() } }),
      reason: "ClientCertificateMalformed",
      problem: /garbage at line 2 \(not base64\)/,
    },
    {
      name: "base64 that is no certificate",
      spec: () => ({ files: { [target]: validBase64NotX509() } }),
      reason: "ClientCertificateMalformed",
      problem: /not a valid X\.509 certificate/,
    },
    {
      name: "DER instead of PEM",
      spec: () => ({ files: { [target]: der() } }),
      reason: "ClientCertificateMalformed",
      problem: /is DER \(binary ASN\.1\), expected PEM text/,
    },
    { name: "empty file", spec: () => ({ files: { [target]: "" } }), reason: "ClientCertificateMalformed", problem: /: is empty/ },
    {
      name: "directory instead of a file",
      spec: () => ({ dirs: [target] }),
      reason: "ClientCertificateMissing",
      problem: /is a directory, expected a PEM file/,
    },
    { name: "a FIFO", spec: () => ({ fifos: [target] }), reason: "ClientCertificateMissing", problem: /is not a regular file \(a device or FIFO\)/ },
    {
      name: "symlink loop",
      spec: () => ({ links: { [target]: `${PKI}/loop-b.pem`, [`${PKI}/loop-b.pem`]: target } }),
      reason: "ClientCertificateMissing",
      problem: /symlink loop/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${c.reason}`, async () => {
      const extra = c.spec();
      const spec = kubeadmNode(undefined, {}, { ...extra, links: { [CURRENT]: target, ...extra.links } });
      const findings = await findingsOf(spec);
      const f = only(findings, c.reason);
      assert.equal(f.severity, "critical");
      assert.ok(f.message.includes(CURRENT), f.message);
      assert.match(f.message, c.problem);
      assert.equal((f.evidence as CertificateEvidence).valid, false);
    });
  }

  it("never puts key material in findings", async () => {
    const findings = await findingsOf(
      kubeadmNode(future, {
        "kubelet-client-2026-11-01-08-00-00.pem": {
          ...older,
          combinedPem: older.certPem + "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        },
      }),
    );
    const text = JSON.stringify(findings);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    const keyBody = future.keyPem.split("\n")[1] ?? "";
    assert.ok(keyBody.length > 20 && !text.includes(keyBody));
  });
});

describe("certificates check: locating kubelet's files", () => {
  it("follows kubelet's --kubeconfig, --cert-dir and --rotate-certificates flags", async () => {
    const certDir = "/srv/kubelet/certs";
    const findings = await findingsOf({
      kubelet: ["/usr/local/bin/kubelet", "--kubeconfig", "/srv/kubelet/kubeconfig", `--cert-dir=${certDir}`, "--rotate-certificates"],
      files: {
        // relative paths resolve against the kubeconfig's directory, as client-go does
        "/srv/kubelet/kubeconfig": kubeletKubeconfig(
          { "client-certificate": "certs/kubelet-client-current.pem", "client-key": "certs/kubelet-client-current.pem" },
          { "certificate-authority": "ca.crt" },
        ),
        "/srv/kubelet/ca.crt": ca.certPem,
        [`${certDir}/kubelet-client-2026-11-24-11-00-00.pem`]: future.combinedPem,
        [`${certDir}/kubelet-client-2026-11-01-08-00-00.pem`]: older.combinedPem,
        [`${certDir}/kubelet.crt`]: serving.certPem,
        [`${certDir}/kubelet.key`]: serving.keyPem,
      },
      links: { [`${certDir}/kubelet-client-current.pem`]: `${certDir}/kubelet-client-2026-11-24-11-00-00.pem` },
    });
    const f = only(findings, "ClientCertificateNotYetValid");
    assert.ok(f.remedy?.includes(`ln -sf ${certDir}/kubelet-client-2026-11-01-08-00-00.pem ${certDir}/kubelet-client-current.pem`), f.remedy);
    assert.equal(findings.filter((x) => x.severity === "ok").length, 2, "serving from --cert-dir and the CA next to the kubeconfig are ok");
  });

  it("without kubelet or kubeconfig, uses kubelet-client-current.pem in the default cert dir", async () => {
    const findings = await findingsOf({
      files: { [`${PKI}/kubelet-client-2026-11-24-11-00-00.pem`]: expired.combinedPem },
      links: { [CURRENT]: `${PKI}/kubelet-client-2026-11-24-11-00-00.pem` },
    });
    assert.equal(only(findings, "ClientCertificateExpired").severity, "critical");
  });

  it("a root with no kubelet and none of its files gives no findings (the kubelet check reports the absence)", async () => {
    assert.deepEqual(await findingsOf({ files: { "/etc/hostname": "laptop\n" } }), []);
  });
});

describe("certificates check: rescans cheaply", () => {
  it("reparses a file only when its inode, size or mtime changes", async () => {
    const root = await node(kubeadmNode(older, { "kubelet-client-2026-11-01-08-00-00.pem": older }));
    const { check, run, locator } = checkFor(root);
    await run();
    const first = check.cache.parses;
    const documents = locator.documents.parses;
    assert.equal(first, 4, "the current client certificate, kubelet.crt, kubelet.key and the CA");
    await run();
    await run();
    assert.equal(check.cache.parses, first, "unchanged files are not read again");
    assert.equal(locator.documents.parses, documents, "nor is the unchanged kubeconfig");

    // kubelet rotates: a new file and the symlink swapped to it.
    const next = `${PKI}/kubelet-client-2026-11-24-12-00-00.pem`;
    await writeFile(join(root, next), future.combinedPem);
    await unlink(join(root, CURRENT));
    await symlink(next, join(root, CURRENT));
    const after = await run();
    assert.equal(only(after, "ClientCertificateNotYetValid").severity, "critical");
    // The new target, and one candidate for the remedy: the previous target is still cached.
    assert.equal(check.cache.parses, first + 2);
    await run();
    assert.equal(check.cache.parses, first + 2);

    await utimes(join(root, CA_PATH), new Date(), new Date(NOW + 1000));
    await run();
    assert.equal(check.cache.parses, first + 3, "only the touched CA is read again");
  });
});

describe("certificates check: metrics", () => {
  it("exports not_before/not_after/valid per path and role, and promtool accepts the exposition", async () => {
    const findings = await findingsOf(kubeadmNode(future, { "kubelet-client-2026-11-01-08-00-00.pem": older }));
    const sink = createMetricsSink({ nodeName: "node30", version: "0.0.0", checkNames: ["certificates"] });
    const state: StateView = { conditions: () => [], condition: () => undefined, lastRun: () => undefined, runs: () => [], firstRoundDone: () => true };
    sink.onCheckRun?.({ check: "certificates", startedAtMs: NOW, durationMs: 3, outcome: "ok", findings }, state);
    const text = await sink.registry.metrics();
    await sink.close?.();
    const line = (name: string, path: string, role: string) =>
      new RegExp(`^${name}\\{path="${path.replaceAll(".", "\\.")}",role="${role}",node="node30"\\} (\\S+)$`, "m").exec(text)?.[1];
    assert.equal(line("node_doctor_certificate_valid", CURRENT, "client"), "0");
    assert.equal(line("node_doctor_certificate_not_before_timestamp_seconds", CURRENT, "client"), String((NOW + 5 * HOUR) / 1000));
    assert.equal(line("node_doctor_certificate_valid", CA_PATH, "ca"), "1");
    assert.equal(line("node_doctor_certificate_valid", `${PKI}/kubelet.crt`, "serving"), "1");
    assert.equal(line("node_doctor_certificate_not_after_timestamp_seconds", `${PKI}/kubelet.crt`, "serving"), String((NOW + 335 * DAY) / 1000));
    assert.doesNotMatch(text, /kubelet-client-2026-11-01/, "rotated files are not series: the path label stays bounded");
    const result = await runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(result.code, 0, `promtool check metrics: ${result.stdout}${result.stderr}`);

    // A certificate no longer configured leaves no stale series behind.
    const withoutServing = findings.filter((f) => (f.evidence as CertificateEvidence).role !== "serving");
    sink.onCheckRun?.({ check: "certificates", startedAtMs: NOW, durationMs: 3, outcome: "ok", findings: withoutServing }, state);
    const later = await sink.registry.metrics();
    assert.doesNotMatch(later, /role="serving"/);
    assert.match(later, /role="client"/);
  });
});

describe("node-doctor check on the node of the certificate from the future", () => {
  it("exits 2 and prints the symlink fix (the built agent, the real clock)", async () => {
    const now = Date.now();
    const good = mint.leaf(ca, { subject: NODE, notBefore: new Date(now - 20 * DAY), notAfter: new Date(now + 345 * DAY) });
    const ahead = mint.leaf(ca, { subject: NODE, notBefore: new Date(now + 5 * HOUR), notAfter: new Date(now + 365 * DAY) });
    const root = await node(kubeadmNode(ahead, { "kubelet-client-2026-11-04-08-00-00.pem": good }));
    const result = await runCli(["check", "--host-root", root, "--only", "certificates", "--output", "json"]);
    assert.equal(result.code, 2, result.stderr);
    const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
    const f = only(findings, "ClientCertificateNotYetValid");
    assert.ok(f.remedy?.includes(`ln -sf ${PKI}/kubelet-client-2026-11-04-08-00-00.pem ${CURRENT} && systemctl restart kubelet`), f.remedy);
  });
});

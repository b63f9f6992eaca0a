/**
 * The agent touches secrets: kubelet's private keys (read only to check they
 * match their certificates), and its own API credentials (a token, a client
 * key). None may leave it: not in /metrics, /findings, /healthz, /readyz, the
 * text or JSON report, its log (at debug), nor what it writes to the API
 * server. A node built at test time with real keys (ECDSA P-256 and RSA), one
 * of them not matching its certificate so a finding talks about it; the agent
 * talks to the fake API server with a kubeconfig carrying both a token and an
 * inline client key. Every output is searched for "PRIVATE KEY", each key's
 * PEM body (whole and line by line), its base64 as a kubeconfig carries it,
 * its private numbers (JWK d, p, q), and the token.
 */
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CertificateMint, type Minted } from "../support/certs.js";
import { runCli, startAgentProcess } from "../support/cli.js";
import { FakeApiServer } from "../support/fake-apiserver.js";

const NODE = "secret-node";
const DAY = 86_400_000;
const TOKEN = `nd-token-${"x".repeat(8)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

/** Strings that would betray a private key: its PEM body, line by line and whole, its base64 as kubeconfig -data, its private numbers. */
function keyNeedles(label: string, keyPem: string): Array<[string, string]> {
  const body = keyPem.split("\n").filter((line) => line && !line.startsWith("-----"));
  const jwk = createPrivateKey(keyPem).export({ format: "jwk" });
  const numbers = (["d", "p", "q"] as const).flatMap((k) => (typeof jwk[k] === "string" ? [[`${label} JWK ${k}`, jwk[k]] as [string, string]] : []));
  const dataB64 = Buffer.from(keyPem).toString("base64");
  return [
    [`${label} PEM body`, body.join("")],
    ...body.filter((line) => line.length >= 40).map((line, i): [string, string] => [`${label} PEM line ${i + 1}`, line]),
    [`${label} as kubeconfig -data (first 48 chars)`, dataB64.slice(0, 48)],
    [`${label} as kubeconfig -data (from char 48)`, dataB64.slice(48, 96)],
    ...numbers,
  ];
}

function assertClean(where: string, text: string, needles: Array<[string, string]>): void {
  assert.ok(text.length > 0, `${where}: nothing to search`);
  for (const [what, needle] of needles) {
    // JSON escapes "/" nowhere, but a log or JSON may escape "+" or "=": search the raw text and a JSON-unescaped copy.
    assert.ok(!text.includes(needle), `${where} contains ${what}`);
  }
  assert.ok(!/PRIVATE KEY/.test(text), `${where} contains "PRIVATE KEY"`);
}

describe("no secret leaves the agent", { timeout: 120_000 }, () => {
  let mint: CertificateMint;
  let root: string;
  let work: string;
  let api: FakeApiServer;
  let kubeconfig: string;
  let needles: Array<[string, string]>;

  before(async () => {
    mint = new CertificateMint();
    const now = Date.now();
    const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 400 * DAY), notAfter: new Date(now + 3000 * DAY) });
    const client = mint.leaf(ca, {
      subject: `/O=system:nodes/CN=system:node:${NODE}`,
      notBefore: new Date(now - 20 * DAY),
      notAfter: new Date(now + 345 * DAY),
    });
    const rotated: Minted = mint.leaf(ca, {
      subject: `/O=system:nodes/CN=system:node:${NODE}`,
      notBefore: new Date(now - 2 * DAY),
      notAfter: new Date(now + 363 * DAY),
      keyType: "rsa",
    });
    const serving = mint.selfSigned({
      subject: `/CN=${NODE}@1732000000`,
      notBefore: new Date(now - 30 * DAY),
      notAfter: new Date(now + 335 * DAY),
      keyType: "rsa",
    });
    const stranger = mint.selfSigned({ subject: "/CN=stranger", notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 335 * DAY) });

    root = await mkdtemp(join(tmpdir(), "nd-secrets-root-"));
    work = await mkdtemp(join(tmpdir(), "nd-secrets-"));
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const files: Record<string, string> = {
      "etc/kubernetes/pki/ca.crt": ca.certPem,
      // kubelet's kubeconfig with the client key inline, and a token beside it.
      "etc/kubernetes/kubelet.conf": [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: c",
        "  cluster:",
        "    server: https://10.0.0.1:6443",
        `    certificate-authority-data: ${b64(ca.certPem)}`,
        "contexts:",
        "- name: c",
        "  context: {cluster: c, user: u}",
        "current-context: c",
        "users:",
        "- name: u",
        "  user:",
        `    client-certificate-data: ${b64(client.certPem)}`,
        `    client-key-data: ${b64(client.keyPem)}`,
        `    token: ${TOKEN}`,
        "",
      ].join("\n"),
      "var/lib/kubelet/pki/kubelet-client-2026-11-23-10-00-00.pem": rotated.combinedPem,
      "var/lib/kubelet/pki/kubelet.crt": serving.certPem,
      // The serving key does not match its certificate: a finding must say so without showing it.
      "var/lib/kubelet/pki/kubelet.key": stranger.keyPem,
      "var/lib/kubelet/config.yaml": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: true\n",
      "proc/4242/comm": "kubelet\n",
      "proc/4242/cmdline":
        [
          "/usr/bin/kubelet",
          "--kubeconfig=/etc/kubernetes/kubelet.conf",
          "--config=/var/lib/kubelet/config.yaml",
          "--tls-cert-file=/var/lib/kubelet/pki/kubelet.crt",
          "--tls-private-key-file=/var/lib/kubelet/pki/kubelet.key",
        ].join("\0") + "\0",
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content, { mode: 0o600 });
    }
    await symlink("kubelet-client-2026-11-23-10-00-00.pem", join(root, "var/lib/kubelet/pki/kubelet-client-current.pem"));

    api = await FakeApiServer.start({ token: TOKEN });
    api.seedNode(NODE);
    api.seedLease(NODE);
    // The agent's own kubeconfig: a token and an inline client key.
    kubeconfig = join(work, "agent.kubeconfig");
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: fake",
        "  cluster:",
        `    server: ${api.url}`,
        `    certificate-authority-data: ${b64(api.pki.caCert)}`,
        "contexts:",
        "- name: fake",
        "  context: {cluster: fake, user: agent}",
        "current-context: fake",
        "users:",
        "- name: agent",
        "  user:",
        `    token: ${TOKEN}`,
        `    client-certificate-data: ${b64(api.pki.clientCert)}`,
        `    client-key-data: ${b64(api.pki.clientKey)}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    needles = [
      ["the token", TOKEN],
      ...keyNeedles("kubelet client key (inline in kubelet.conf)", client.keyPem),
      ...keyNeedles("rotated client key (in kubelet-client-current.pem)", rotated.keyPem),
      ...keyNeedles("mismatched serving key (kubelet.key)", stranger.keyPem),
      ...keyNeedles("serving key (not on the node)", serving.keyPem),
      ...keyNeedles("the agent's client key (its kubeconfig)", api.pki.clientKey),
    ];
  });

  after(async () => {
    mint.cleanup();
    await api.close();
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it("the search finds key material and tokens when they are there (negative control)", () => {
    const [, pemBody] = needles.find(([what]) => what.endsWith("PEM line 1")) ?? ["", ""];
    assert.throws(() => assertClean("planted", `x ${pemBody} y`, needles), /PEM line 1/);
    assert.throws(() => assertClean("planted", `{"token":"${TOKEN}"}`, needles), /the token/);
    assert.throws(() => assertClean("planted", "-----BEGIN EC PRIVATE KEY-----", needles), /PRIVATE KEY/);
    assert.doesNotThrow(() => assertClean("clean", "node_doctor_up 1", needles));
  });

  it("the needles are real: each appears in the files the agent reads", async () => {
    const { readFile } = await import("node:fs/promises");
    const onNode =
      (await readFile(join(root, "etc/kubernetes/kubelet.conf"), "utf8")) +
      (await readFile(join(root, "var/lib/kubelet/pki/kubelet-client-current.pem"), "utf8"));
    assert.ok(onNode.includes(TOKEN));
    assert.ok(onNode.includes("PRIVATE KEY"));
    assert.ok(needles.length > 20);
  });

  it("check --output json and the text report show the key finding and no key material", async () => {
    const json = await runCli(["check", "--host-root", root, "--kubeconfig", kubeconfig, "--node-name", NODE, "--output", "json", "--log-level", "debug"]);
    assert.ok(json.stdout.includes("certificates"), json.stdout + json.stderr);
    assert.match(json.stdout, /"reason": "ServingCertificateKeyMismatch"[^}]*kubelet\.key/, "a finding names the mismatched key file");
    assertClean("check --output json (stdout)", json.stdout, needles);
    assertClean("check --output json (log, debug)", json.stderr || "(empty)", needles);
    const text = await runCli(["check", "--host-root", root, "--kubeconfig", kubeconfig, "--node-name", NODE, "--log-level", "debug"]);
    assertClean("check text report", text.stdout, needles);
    assertClean("check text report (log, debug)", text.stderr || "(empty)", needles);
  });

  it("broken credentials are named, never quoted: a kubeconfig whose token line is bad YAML, a client key pasted as PEM where base64 belongs", async () => {
    const broken = join(work, "broken.kubeconfig");
    const { readFile } = await import("node:fs/promises");
    const good = await readFile(kubeconfig, "utf8");
    await writeFile(broken, good.replace(`    token: ${TOKEN}`, `   token: ${TOKEN}: [`), { mode: 0o600 });
    const agentSide = await runCli(["check", "--host-root", root, "--kubeconfig", broken, "--node-name", NODE]);
    assert.equal(agentSide.code, 3, agentSide.stdout + agentSide.stderr);
    assert.match(agentSide.stderr, /broken\.kubeconfig/);
    assertClean("the error for the agent's broken kubeconfig", agentSide.stderr, needles);

    const nodeRoot = await mkdtemp(join(tmpdir(), "nd-secrets-broken-"));
    try {
      const { cp } = await import("node:fs/promises");
      await cp(root, nodeRoot, { recursive: true, verbatimSymlinks: true });
      const conf = await readFile(join(nodeRoot, "etc/kubernetes/kubelet.conf"), "utf8");
      const pem = (await readFile(join(nodeRoot, "var/lib/kubelet/pki/kubelet.key"), "utf8")).trim().split("\n").join("\\n");
      await writeFile(join(nodeRoot, "etc/kubernetes/kubelet.conf"), conf.replace(/client-key-data: .*/, `client-key-data: "${pem}"`), { mode: 0o600 });
      const kubeletSide = await runCli(["check", "--host-root", nodeRoot, "--node-name", NODE, "--output", "json", "--only", "certificates"]);
      assert.match(kubeletSide.stdout, /client-key-data/, kubeletSide.stdout + kubeletSide.stderr);
      assertClean("the finding for kubelet's broken kubeconfig", kubeletSide.stdout + kubeletSide.stderr, needles);
    } finally {
      await rm(nodeRoot, { recursive: true, force: true });
    }
  });

  it("a running agent's /metrics, /findings, /healthz, /readyz, log, and what it writes to the API server carry no key material", async () => {
    const agent = await startAgentProcess([
      "--host-root",
      root,
      "--kubeconfig",
      kubeconfig,
      "--node-name",
      NODE,
      "--listen",
      "127.0.0.1:0",
      "--log-level",
      "debug",
    ]);
    try {
      const deadline = Date.now() + 20_000;
      while (api.requestsTo({ verb: "patch", resource: "nodes/status" }).filter((r) => r.status === 200).length === 0) {
        assert.ok(Date.now() < deadline, `no conditions written:\n${agent.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const bodies: Record<string, string> = {};
      for (const path of ["/metrics", "/findings", "/healthz", "/readyz"]) {
        const res = await fetch(`${agent.address}${path}`);
        bodies[path] = await res.text();
      }
      assert.match(bodies["/findings"] ?? "", /kubelet\.key/, "the finding about the mismatched key is served");
      assert.match(bodies["/metrics"] ?? "", /node_doctor_/);
      for (const [path, body] of Object.entries(bodies)) assertClean(`GET ${path}`, body, needles);
      const written = JSON.stringify(api.requests.map((r) => r.body ?? null)) + JSON.stringify(api.node(NODE)) + JSON.stringify(api.storedEvents());
      assertClean("what the agent wrote to the API server", written, needles);
      // The token went to the server as the credential, never as data.
      assert.ok(
        api.requests.every((r) => r.user !== undefined),
        "every request authenticated",
      );
    } finally {
      const exited = new Promise<void>((resolve) => agent.child.once("exit", () => resolve()));
      agent.child.kill("SIGTERM");
      await exited;
    }
    assertClean("the agent's stdout and log (debug)", agent.output(), needles);
  });
});

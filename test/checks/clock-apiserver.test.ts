/**
 * The clock check through the real client (src/kube/) against the fake API
 * server with a skewed Date header and a slow round trip, and the certificate from the future (docs/incidents.md) as
 * an operator meets it: `node-doctor check --kubeconfig …` on a node whose
 * clock is hours off.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clockSettings, createClockCheck, type ClockSettings } from "../../src/checks/clock/index.js";
import type { Finding, SharedFacts } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { assertBuilt, BUNDLE, NODE, runCli } from "../support/cli.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { kubeClientFor, kubeReaderFor } from "../support/kube.js";
import type { ClusterReader } from "../../src/types.js";
import { runTool } from "../support/tools.js";
import { CertificateMint } from "../support/certs.js";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

const HOUR = 3_600_000;

function settings(overrides: Partial<ClockSettings> = {}): ClockSettings {
  return { ...clockSettings.parse({ ntpServers: [] }, "checks.clock"), ...overrides } as ClockSettings;
}

function apiFinding(findings: Finding[]): Finding {
  const matching = findings.filter((f) => f.reason === "ClockOffsetOk" || f.reason === "ApiServerOffsetHigh" || f.reason === "ApiServerTimeUnavailable");
  assert.equal(matching.length, 1, JSON.stringify(findings, null, 1));
  return matching[0] as Finding;
}

describe("clock check against the fake API server, through the real client", () => {
  let api: FakeApiServer;
  let root: FixtureRoot;
  let reader: ClusterReader;
  let close: () => void;
  before(async () => {
    api = await FakeApiServer.start();
    api.seedNode("node30");
    ({ reader, close } = await kubeReaderFor(api, "node30"));
    root = await fixtureRoot();
  });
  after(async () => {
    close();
    await api.close();
    await root.cleanup();
  });

  const rows: Array<{ name: string; skewMs: number; delayMs: number; severity: string; reason: string }> = [
    { name: "in step", skewMs: 0, delayMs: 0, severity: "ok", reason: "ClockOffsetOk" },
    { name: "in step, answered after 2 s (no false alarm; the uncertainty says so)", skewMs: 0, delayMs: 2000, severity: "ok", reason: "ClockOffsetOk" },
    { name: "5 s behind", skewMs: 5000, delayMs: 0, severity: "warning", reason: "ApiServerOffsetHigh" },
    { name: "40 s behind, answered after 2 s", skewMs: 40_000, delayMs: 2000, severity: "critical", reason: "ApiServerOffsetHigh" },
    { name: "the certificate from the future: 3 h ahead", skewMs: -3 * HOUR, delayMs: 0, severity: "critical", reason: "ApiServerOffsetHigh" },
  ];
  for (const row of rows) {
    it(`${row.name} → ${row.severity} ${row.reason}`, async () => {
      api.clockSkewMs = row.skewMs;
      api.clearFaults();
      if (row.delayMs) api.fault({ resource: "version" }, { delayMs: row.delayMs });
      const facts: SharedFacts = {};
      const f = apiFinding(await createClockCheck(settings()).run(checkContext(root.root, { facts, cluster: reader })));
      assert.equal(f.reason, row.reason);
      assert.equal(f.severity, row.severity);
      const e = f.evidence as { offsetSeconds: number; uncertaintySeconds: number; roundTripSeconds: number };
      assert.ok(e.roundTripSeconds >= row.delayMs / 1000, `round trip ${e.roundTripSeconds} s`);
      assert.ok(e.uncertaintySeconds >= 0.5 + row.delayMs / 2000);
      assert.ok(Math.abs(e.offsetSeconds * 1000 - row.skewMs) <= e.uncertaintySeconds * 1000, `offset ${e.offsetSeconds} ± ${e.uncertaintySeconds}`);
      assert.equal(facts.clockOffset?.source, "apiserver");
    });
  }

  it("an API server that resets every connection: unknown with the error, within the timeout", async () => {
    api.clockSkewMs = 0;
    api.clearFaults();
    api.setDown(true);
    try {
      const started = Date.now();
      const f = apiFinding(await createClockCheck(settings()).run(checkContext(root.root, { cluster: reader })));
      assert.equal(f.reason, "ApiServerTimeUnavailable");
      assert.equal(f.severity, "unknown");
      assert.match(f.message, /GET \/version failed: /);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      api.setDown(false);
    }
  });

  it("the certificate from the future from the shell: the node's own clock 3 h ahead (the process runs under faketime); `check` exits 2 and names the fix", async () => {
    api.clockSkewMs = 0;
    api.clearFaults();
    assertBuilt();
    const { kubeconfig, close: closeClient } = await kubeClientFor(api);
    closeClient();
    const result = await runTool("faketime", [
      "-f",
      "+3h",
      NODE,
      BUNDLE,
      "check",
      "--host-root",
      root.root,
      "--kubeconfig",
      kubeconfig,
      "--node-name",
      "node30",
      "--only",
      "clock",
      "--output",
      "json",
    ]);
    assert.equal(result.code, 2, result.stderr);
    const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
    const f = apiFinding(findings);
    assert.equal(f.reason, "ApiServerOffsetHigh");
    assert.match(f.message, /is 3 h 0 min ahead of the API server's \(offset -(10799|10800)\.\d s ± 0\.\d s/);
    assert.match(f.remedy ?? "", /chronyc makestep.*timedatectl.*RTC battery.*hwclock.*from the future.*kubelet-client-current\.pem/s);
  });

  it("`node-doctor check --kubeconfig` against an API server whose clock is ahead: exits 2", async () => {
    api.clockSkewMs = 3 * HOUR + 5 * 60_000;
    api.clearFaults();
    const { kubeconfig, close: closeClient } = await kubeClientFor(api);
    closeClient();
    const result = await runCli([
      "check",
      "--host-root",
      root.root,
      "--kubeconfig",
      kubeconfig,
      "--node-name",
      "node30",
      "--only",
      "clock",
      "--output",
      "json",
    ]);
    assert.equal(result.code, 2, result.stderr);
    const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
    const f = apiFinding(findings);
    assert.equal(f.reason, "ApiServerOffsetHigh");
    assert.match(f.message, /3 h 5 min behind the API server's/);
    assert.match(f.remedy ?? "", /chronyc makestep.*timedatectl.*RTC battery.*from the future/s);
  });

  it("the certificate from the future whole: a clock 3 h ahead, kubelet rotated into a certificate from the future; both conditions critical, the remedy names the older certificate", async () => {
    api.clockSkewMs = 0;
    api.clearFaults();
    const node = await fixtureRoot();
    const mint = new CertificateMint();
    try {
      const DAY = 86_400_000;
      const now = Date.now();
      const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 400 * DAY), notAfter: new Date(now + 3000 * DAY) });
      const pki = join(node.root, "var/lib/kubelet/pki");
      await mkdir(pki, { recursive: true });
      await mkdir(join(node.root, "etc/kubernetes/pki"), { recursive: true });
      await writeFile(join(node.root, "etc/kubernetes/pki/ca.crt"), ca.certPem);
      await writeFile(
        join(node.root, "etc/kubernetes/kubelet.conf"),
        "users:\n- name: a\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n" +
          "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n" +
          "contexts:\n- name: x\n  context: {cluster: c, user: a}\ncurrent-context: x\n",
      );
      const subject = "/O=system:nodes/CN=system:node:node30";
      await writeFile(
        join(pki, "kubelet-client-2026-10-26.pem"),
        mint.leaf(ca, { subject, notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 300 * DAY) }).combinedPem,
      );
      // Rotated while the clock ran 3 h ahead: NotBefore lies 2 h in the real future, but in the node's past.
      await writeFile(
        join(pki, "kubelet-client-2026-11-25.pem"),
        mint.leaf(ca, { subject, notBefore: new Date(now + 2 * HOUR), notAfter: new Date(now + 365 * DAY) }).combinedPem,
      );
      await symlink("/var/lib/kubelet/pki/kubelet-client-2026-11-25.pem", join(pki, "kubelet-client-current.pem"));
      const { kubeconfig, close: closeClient } = await kubeClientFor(api);
      closeClient();
      const result = await runTool("faketime", [
        "-f",
        "+3h",
        NODE,
        BUNDLE,
        "check",
        "--host-root",
        node.root,
        "--kubeconfig",
        kubeconfig,
        "--node-name",
        "node30",
        "--only",
        "clock,certificates",
        "--output",
        "json",
      ]);
      assert.equal(result.code, 2, result.stderr);
      const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
      const clock = apiFinding(findings);
      assert.equal(clock.severity, "critical");
      assert.match(clock.message, /3 h 0 min ahead of the API server's/);
      const cert = findings.find((f) => f.condition === "KubeletCertificateInvalid" && f.severity === "critical");
      assert.ok(cert, JSON.stringify(findings, null, 1));
      assert.match(cert.message, /kubelet-client-2026-11-25\.pem/);
      assert.match(cert.remedy ?? "", /kubelet-client-2026-10-26\.pem/);
    } finally {
      mint.cleanup();
      await node.cleanup();
    }
  });
});

/**
 * The path an operator meets first: a disk fills on a node → node-doctor's
 * condition metric → the shipped Prometheus rule fires → Alertmanager notifies
 * with the node and the reason → the disk is freed → the alert resolves.
 * Real agent bundle, real prometheus, real alertmanager, all on loopback.
 * The same Prometheus then answers every query of the shipped Grafana
 * dashboard, proving each parses and finds the series it draws.
 */
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgentProcess } from "../support/cli.js";
import { CertificateMint } from "../support/certs.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { fillBytes, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import {
  freePort,
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
  waitFor,
  type AlertmanagerServer,
  type PrometheusServer,
  type WebhookReceiver,
} from "../support/prometheus.js";
import { writeKubeletClientPki } from "../support/kubelet-pki.js";
import { SHIPPED_RULES, withShortFor } from "../support/rules.js";

const DASHBOARD = new URL("../../charts/node-doctor/files/dashboard.json", import.meta.url).pathname;
const METRICS_DOC = new URL("../../docs/metrics.md", import.meta.url).pathname;
const DAY = 86_400_000;

/** kubelet's client certificate, its CA and kubelet.conf, as kubeadm lays them out, minted now. */
async function writeKubeletPki(root: string, mint: CertificateMint): Promise<void> {
  const now = Date.now();
  const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 3000 * DAY) });
  const client = mint.leaf(ca, { subject: "/O=system:nodes/CN=system:node:e2e-node-1", notBefore: new Date(now - DAY), notAfter: new Date(now + 300 * DAY) });
  await writeKubeletClientPki(root, {
    caPem: ca.certPem,
    clients: { "kubelet-client-2026-11-24-00-00-00.pem": client.combinedPem },
    current: "kubelet-client-2026-11-24-00-00-00.pem",
  });
}

describe("alerting end to end: disk fills, the alert fires and resolves", { timeout: 150_000 }, () => {
  let fixture: FixtureRoot;
  let api: FakeApiServer | undefined;
  let mint: CertificateMint | undefined;
  let agent: Awaited<ReturnType<typeof startAgentProcess>> | undefined;
  let prometheus: PrometheusServer | undefined;
  let alertmanager: AlertmanagerServer | undefined;
  let webhook: WebhookReceiver | undefined;
  let kubeletDir = "";

  before(async () => {
    // Under the disk fixture, a /proc of a healthy node's counters: the exhaustion panels draw from them.
    fixture = await fixtureRoot("disk-bytes-full", { over: "exhaustion-healthy" });
    kubeletDir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    mint = new CertificateMint();
    await writeKubeletPki(fixture.root, mint);
    await fillBytes(kubeletDir, 200 * 1024);
    api = await FakeApiServer.start();
    api.seedNode("e2e-node-1");
    const kubeconfig = await api.writeKubeconfig(fixture.root, { name: "agent-kubeconfig" });
    const config = join(fixture.root, "node-doctor.yaml");
    await writeFile(
      config,
      ["nodeName: e2e-node-1", "engine:", "  damping: { consecutiveRuns: 1, holdSeconds: 0 }", "checks:", "  disk: { intervalSeconds: 1 }"].join("\n"),
    );
    const port = await freePort();
    agent = await startAgentProcess(["--host-root", fixture.root, "--config", config, "--kubeconfig", kubeconfig, "--listen", `127.0.0.1:${port}`]);
    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager(webhook.url);
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${port}`],
      alertmanager: alertmanager.address,
      rules: { "node-doctor.rules.yaml": withShortFor(await readFile(SHIPPED_RULES, "utf8")) },
    });
  });

  after(async () => {
    agent?.child.kill("SIGKILL");
    await prometheus?.stop();
    await alertmanager?.stop();
    await webhook?.stop();
    await api?.close();
    mint?.cleanup();
    await fixture?.cleanup();
  });

  it("every query of the Grafana dashboard parses and draws series; every series it names is documented", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as { panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }> };
    const documented = await readFile(METRICS_DOC, "utf8");
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
    assert.ok(queries.length >= 15, `the dashboard has ${queries.length} queries`);
    // What Grafana substitutes before it sends a query.
    const substitute = (expr: string) => expr.replaceAll("$node", ".*").replaceAll("$__rate_interval", "1m").replaceAll("$__range", "5m");
    // Series that need a part this test does not run: a time service on the host, a container runtime.
    const mayBeEmpty = /node_doctor_clock_synchronized|node_doctor_runtime_condition/;
    for (const { panel, expr } of queries) {
      for (const name of expr.match(/\b(node_doctor_\w+|process_\w+|nodejs_\w+)/g) ?? []) {
        const family = name.replace(/_(bucket|sum|count)$/, "");
        assert.ok(documented.includes(`\`${family}\``), `panel "${panel}" uses ${family}, which docs/metrics.md does not document`);
      }
      const result = await waitFor(
        `panel "${panel}" to draw series`,
        async () => {
          const series = await prometheus?.query(substitute(expr));
          return series && (series.length > 0 || mayBeEmpty.test(expr)) ? series : undefined;
        },
        { timeoutMs: 30_000, output: () => prometheus?.output() ?? "" },
      );
      assert.ok(Array.isArray(result));
    }
  });

  it("fires with the node, the reason and a runbook, then resolves once the disk is freed", async () => {
    const outputs = () => `${prometheus?.output() ?? ""}\n${alertmanager?.output() ?? ""}\n${agent?.output() ?? ""}`;
    const firing = await waitFor(
      "NodeDoctorDiskSpaceLow to reach the webhook",
      async () => webhook?.received.find((a) => a.labels["alertname"] === "NodeDoctorDiskSpaceLow" && a.status === "firing"),
      { timeoutMs: 60_000, output: outputs },
    );
    assert.equal(firing.labels["node"], "e2e-node-1");
    assert.equal(firing.labels["severity"], "critical");
    assert.match(firing.annotations["description"] ?? "", /NodeFsAvailableLow/);
    assert.match(firing.annotations["description"] ?? "", /e2e-node-1/);
    assert.match(firing.annotations["runbook_url"] ?? "", /docs\/runbooks\/NodeDoctorDiskSpaceLow\.md$/);

    for (const file of await readdir(kubeletDir)) if (file.startsWith("fill-")) await rm(join(kubeletDir, file));
    await waitFor(
      "NodeDoctorDiskSpaceLow to resolve",
      async () => webhook?.received.find((a) => a.labels["alertname"] === "NodeDoctorDiskSpaceLow" && a.status === "resolved"),
      { timeoutMs: 60_000, output: outputs },
    );
  });
});

/**
 * The network check as the node runs it, in network namespaces this test
 * builds (test/support/test-network.ts): a node with a veth uplink, a CNI
 * bridge, routes, forwarding on, nft DNAT for the Service VIPs, kube-proxy's
 * /proxyMode; a peer with a DNS server and the API server's endpoint; the fake
 * API server outside. Healthy first, then one break at a time — each named
 * with its reason and remedy — and undone before the next.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Finding } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { createTestNetwork, DNS_VIP, KUBERNETES_VIP, PEER_IP, SERVICE_DOMAIN, type TestNetwork } from "../support/test-network.js";

const NODE_NAME = "nd-node";

let api: FakeApiServer;
let net: TestNetwork;
let dir: string;

before(async () => {
  api = await FakeApiServer.start();
  api.seedNode(NODE_NAME);
  api.seedKubernetesService({ clusterIP: KUBERNETES_VIP, endpoints: [PEER_IP] });
  dir = await mkdtemp(join(tmpdir(), "node-doctor-network-"));
  const kubeconfig = await api.writeKubeconfig(dir);
  net = await createTestNetwork(api, kubeconfig, NODE_NAME);
});

after(async () => {
  await net?.cleanup();
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

async function check(): Promise<{ code: number | null; findings: Finding[] }> {
  const result = await net.runCheck();
  let findings: Finding[];
  try {
    findings = (JSON.parse(result.stdout) as { findings: Finding[] }).findings;
  } catch {
    throw new Error(`node-doctor printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { code: result.code, findings };
}

function reasons(findings: Finding[]): string[] {
  return findings.filter((f) => f.severity !== "ok").map((f) => `${f.reason}:${f.severity}`);
}

function named(findings: Finding[], reason: string): Finding {
  const found = findings.find((f) => f.reason === reason);
  assert.ok(
    found,
    `a ${reason} finding among ${JSON.stringify(
      findings.map((f) => [f.reason, f.message]),
      null,
      1,
    )}`,
  );
  return found;
}

/** Breaks the node, checks, and always undoes the break. */
async function broken(breakIt: () => void | Promise<void>, undo: () => void | Promise<void>): Promise<{ code: number | null; findings: Finding[] }> {
  await breakIt();
  try {
    return await check();
  } finally {
    await undo();
  }
}

describe("network check in a node's own network namespace", { timeout: 120_000 }, () => {
  it("healthy: nothing above ok, the message names the route, the DNS answer and both connects", async () => {
    const { code, findings } = await check();
    assert.deepEqual(reasons(findings), []);
    assert.equal(code, 0);
    const ok = named(findings, "NetworkHealthy");
    assert.match(ok.message, new RegExp(`IPv4 default route default via ${PEER_IP} dev ${net.uplink}, MTU 1500`));
    assert.match(ok.message, new RegExp(`cluster DNS ${DNS_VIP.replace(/\./g, "\\.")} answered ${SERVICE_DOMAIN} → ${KUBERNETES_VIP.replace(/\./g, "\\.")}`));
    assert.match(ok.message, /the kubernetes Service 10\.96\.0\.1:443 accepts and so does its endpoint 198\.51\.100\.1:6443/);
    const evidence = ok.evidence as { kubeProxyMode?: string; sysctls?: Record<string, number> };
    assert.equal(evidence.kubeProxyMode, "nftables");
    assert.equal(evidence.sysctls?.["net.ipv4.ip_forward"], 1);
  });

  it("link down (the peer's end down: no carrier): DefaultRouteInterfaceDown names the interface", async () => {
    const { code, findings } = await broken(
      () => void net.inPeer("ip", "link", "set", net.peerLink, "down"),
      () => (net.inPeer("ip", "link", "set", net.peerLink, "up"), net.uplinkUp()),
    );
    assert.equal(code, 2);
    const f = named(findings, "DefaultRouteInterfaceDown");
    assert.equal(f.severity, "critical");
    assert.match(f.message, new RegExp(`^${net.uplink}, which the IPv4 default route default via ${PEER_IP} dev ${net.uplink} leaves through, is no carrier`));
    assert.match(f.remedy ?? "", new RegExp(`ip link show ${net.uplink}.*dmesg \\| grep ${net.uplink}`));
    // What follows from it, and nothing else.
    for (const r of reasons(findings))
      assert.ok(["DefaultRouteInterfaceDown:critical", "ClusterDnsNoAnswer:critical", "ApiServerEndpointUnreachable:critical"].includes(r), r);
  });

  it("the uplink set down: its routes go with it; NoDefaultRoute names the down interface and `ip link set … up`", async () => {
    const { findings } = await broken(
      () => void net.inNode("ip", "link", "set", net.uplink, "down"),
      async () => {
        net.inNode("ip", "link", "set", net.uplink, "up");
        await net.uplinkUp();
        net.inNode("ip", "route", "replace", "default", "via", PEER_IP);
      },
    );
    const f = named(findings, "NoDefaultRoute");
    assert.equal(f.severity, "critical");
    assert.match(f.message, new RegExp(`interfaces down: ${net.uplink} \\(administratively down`));
    assert.match(f.remedy ?? "", new RegExp(`^ip link set ${net.uplink} up \\(taking it down removed its routes\\)`));
  });

  it("default route deleted: NoDefaultRoute, and kube-proxy's nftables mode leaves the Service VIPs unrouted", async () => {
    const { code, findings } = await broken(
      () => void net.inNode("ip", "route", "del", "default"),
      () => void net.inNode("ip", "route", "add", "default", "via", PEER_IP),
    );
    assert.equal(code, 2);
    const f = named(findings, "NoDefaultRoute");
    assert.match(f.message, /^The node uses IPv4 \(.*\) but has no IPv4 default route in its main table: it reaches only its own subnets\.$/);
    assert.match(f.remedy ?? "", /`ip route show default`/);
    const unrouted = named(findings, "ServiceNetworkUnrouted");
    assert.match(
      unrouted.message,
      /kube-proxy runs in nftables mode and no route covers 10\.96\.0\.1 \(the kubernetes Service\) and 10\.96\.0\.10 \(clusterDNS\)/,
    );
    assert.match(unrouted.remedy ?? "", /^ip route get 10\.96\.0\.1/);
  });

  it("ip_forward=0 in the node's namespace: IpForwardingDisabled, alone", async () => {
    const { code, findings } = await broken(
      () => void net.inNode("sysctl", "-qw", "net.ipv4.ip_forward=0"),
      () => void net.inNode("sysctl", "-qw", "net.ipv4.ip_forward=1"),
    );
    assert.equal(code, 2);
    assert.deepEqual(reasons(findings), ["IpForwardingDisabled:critical"]);
    assert.match(named(findings, "IpForwardingDisabled").remedy ?? "", /sysctl -w net\.ipv4\.ip_forward=1/);
  });

  it("an nft drop on the VIP: ServiceVipUnreachable while the endpoint answers, naming kube-proxy", async () => {
    const { code, findings } = await broken(
      () => void net.inNode("nft", "add", "rule", "ip", "nd_svc", "vip", "ip", "daddr", KUBERNETES_VIP, "tcp", "dport", "443", "drop"),
      () => void net.inNode("nft", "flush", "chain", "ip", "nd_svc", "vip"),
    );
    assert.equal(code, 2);
    assert.deepEqual(reasons(findings), ["ServiceVipUnreachable:critical"]);
    const f = named(findings, "ServiceVipUnreachable");
    assert.match(
      f.message,
      /^The kubernetes Service 10\.96\.0\.1:443 did not answer \(no answer within 2000 ms\) while its endpoint 198\.51\.100\.1:6443 accepts/,
    );
    assert.match(f.remedy ?? "", /kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide --field-selector spec\.nodeName=nd-node/);
  });

  it("an MTU mismatch (the uplink lowered below the CNI bridge's): CniMtuTooLarge with the MTU that fits", async () => {
    const { code, findings } = await broken(
      () => void net.inNode("ip", "link", "set", net.uplink, "mtu", "1400"),
      () => void net.inNode("ip", "link", "set", net.uplink, "mtu", "1500"),
    );
    assert.equal(code, 1);
    assert.deepEqual(reasons(findings), ["CniMtuTooLarge:warning"]);
    const f = named(findings, "CniMtuTooLarge");
    assert.match(f.message, new RegExp(`^${net.bridge} \\(the CNI bridge\\) has MTU 1500, more than the MTU 1400 of ${net.uplink}`));
    assert.match(f.remedy ?? "", /set the network add-on's MTU to 1400 or less/);
  });

  it("DNS answering NXDOMAIN: ClusterDnsWrongAnswer, not a missing answer", async () => {
    const { findings } = await broken(
      () => net.setDns("nxdomain"),
      () => net.setDns("answer"),
    );
    assert.deepEqual(reasons(findings), ["ClusterDnsWrongAnswer:critical"]);
    const f = named(findings, "ClusterDnsWrongAnswer");
    assert.match(f.message, new RegExp(`answers ${SERVICE_DOMAIN} wrongly: 10\\.96\\.0\\.10 answered NXDOMAIN \\(no such name\\)`));
    assert.match(f.message, /does not serve cluster\.local/);
    assert.match(f.remedy ?? "", /clusterDomain .*\/var\/lib\/kubelet\/config\.yaml/);
  });

  it("DNS silent: ClusterDnsNoAnswer within the deadline, not a wrong answer", async () => {
    const started = Date.now();
    const { findings } = await broken(
      () => net.setDns("silent"),
      () => net.setDns("answer"),
    );
    assert.deepEqual(reasons(findings), ["ClusterDnsNoAnswer:critical"]);
    const f = named(findings, "ClusterDnsNoAnswer");
    assert.match(f.message, /10\.96\.0\.10 did not answer within 2\.0 s/);
    assert.match(f.remedy ?? "", new RegExp(`dig @10\\.96\\.0\\.10 ${SERVICE_DOMAIN.replace(/\./g, "\\.")}`));
    assert.ok(Date.now() - started < 15_000, "the query's deadline bounds the run");
  });

  it("healthy again once every break is undone", async () => {
    const { findings } = await check();
    assert.deepEqual(
      reasons(findings),
      [],
      JSON.stringify(
        findings.map((f) => [f.reason, f.message]),
        null,
        1,
      ),
    );
  });
});

/**
 * The network check's judge over tables: a healthy node's facts, then one
 * break per row, with the reason, severity and the remedy's key facts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NetworkFacts } from "../../src/checks/network/gather.js";
import { judgeNetwork, type JudgeInput, type JudgeSettings } from "../../src/checks/network/judge.js";
import type { Link } from "../../src/node/links.js";
import type { Route } from "../../src/node/routes.js";
import type { Finding } from "../../src/types.js";
import { carrying, pasteSandbox } from "../support/paste.js";

const SETTINGS: JudgeSettings = { requireDefaultRoute: true, linkFlapsWarning: 3, linkFlapWindowSeconds: 600, dnsTimeoutMs: 2000, nodeName: "worker-1" };

function link(name: string, extra: Partial<Link> = {}): Link {
  return { name, operstate: "up", carrier: true, carrierChanges: 2, mtu: 1500, flags: 0x1003, type: 1, problems: [], ...extra };
}

const V4_DEFAULT: Route = { family: "ipv4", destination: "0.0.0.0", prefixLength: 0, gateway: "10.0.2.2", iface: "eth0", metric: 100, flags: 3 };
const V4_SUBNET: Route = { family: "ipv4", destination: "10.0.2.0", prefixLength: 24, iface: "eth0", metric: 0, flags: 1 };
const V6_DEFAULT: Route = { family: "ipv6", destination: "::", prefixLength: 0, gateway: "fd00:10::1", iface: "eth0", metric: 1024, flags: 3 };

function healthy(): NetworkFacts {
  return {
    linkNames: ["cni0", "eth0", "lo"],
    links: {
      lo: link("lo", { operstate: "unknown", flags: 0x9, mtu: 65536 }),
      eth0: link("eth0"),
      cni0: link("cni0", { operstate: "unknown", devtype: "bridge", mtu: 1500 }),
    },
    routes: [V4_DEFAULT, V4_SUBNET],
    routeErrors: [],
    localAddresses: ["10.0.2.15", "127.0.0.1"],
    families: ["ipv4"],
    familySources: ["kubelet's clusterDNS"],
    kubernetesNode: true,
    sysctls: { "net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 0, "net.bridge.bridge-nf-call-iptables": 1, "net.bridge.bridge-nf-call-ip6tables": 1 },
    cni: { file: "/etc/cni/net.d/10-containerd-net.conflist", plugins: [{ type: "bridge", bridge: "cni0" }, { type: "portmap" }] },
    kubeProxyMode: "iptables",
    dns: {
      servers: ["10.96.0.10"],
      domain: "cluster.local",
      source: "kubelet's config /var/lib/kubelet/config.yaml",
      expected: ["10.96.0.1"],
      probes: [
        { server: "10.96.0.10", name: "kubernetes.default.svc.cluster.local", type: "A", outcome: "answered", addresses: ["10.96.0.1"], seconds: 0.003 },
      ],
    },
    servicePath: {
      service: { clusterIPs: ["10.96.0.1"], port: 443, endpoints: [{ address: "10.0.0.5", port: 6443 }], nodeIPs: ["10.0.2.15"], readAtMs: 0 },
      vip: { address: "10.96.0.1", port: 443, outcome: "connected", seconds: 0.001 },
      endpoints: [{ address: "10.0.0.5", port: 6443, outcome: "connected", seconds: 0.001 }],
    },
  };
}

function judge(
  change: (f: NetworkFacts) => void = () => undefined,
  input: Partial<Omit<JudgeInput, "facts">> = {},
  settings: Partial<JudgeSettings> = {},
): Finding[] {
  const facts = healthy();
  change(facts);
  return judgeNetwork({ facts, rememberedUplinks: [], flaps: {}, ...input }, { ...SETTINGS, ...settings });
}

function problems(findings: Finding[]): Array<[string, string]> {
  return findings.filter((f) => f.severity !== "ok").map((f) => [f.reason, f.severity]);
}

function one(findings: Finding[], reason: string): Finding {
  const found = findings.filter((f) => f.reason === reason);
  assert.equal(found.length, 1, `one ${reason} in ${JSON.stringify(findings.map((f) => f.reason))}`);
  return found[0] as Finding;
}

describe("network judge", () => {
  it("a healthy node: one ok finding that names the route, forwarding, DNS answer and Service connects, with the figures for metrics", () => {
    const findings = judge();
    assert.equal(findings.length, 1);
    const f = findings[0] as Finding;
    assert.deepEqual([f.reason, f.severity, f.condition], ["NetworkHealthy", "ok", "NodeNetworkUnhealthy"]);
    assert.match(f.message, /IPv4 default route default via 10\.0\.2\.2 dev eth0, MTU 1500/);
    assert.match(f.message, /10\.96\.0\.10 answered kubernetes\.default\.svc\.cluster\.local → 10\.96\.0\.1/);
    assert.match(f.message, /the kubernetes Service 10\.96\.0\.1:443 accepts and so does its endpoint 10\.0\.0\.5:6443/);
    assert.equal((f.evidence as { kind?: string }).kind, "network");
  });

  const rows: Array<{ name: string; change: (f: NetworkFacts) => void; expect: Array<[string, string]>; remedy?: RegExp; message?: RegExp }> = [
    {
      name: "lo administratively down",
      change: (f) => (f.links["lo"] = link("lo", { flags: 0x8, operstate: "down" })),
      expect: [["LoopbackDown", "critical"]],
      remedy: /ip link set lo up/,
    },
    {
      name: "no carrier on the default route's interface",
      change: (f) => (f.links["eth0"] = link("eth0", { carrier: false, operstate: "down" })),
      expect: [["DefaultRouteInterfaceDown", "critical"]],
      message: /eth0, which the IPv4 default route default via 10\.0\.2\.2 dev eth0 leaves through, is no carrier, operstate down/,
      remedy: /ip link show eth0.*dmesg \| grep eth0/,
    },
    {
      name: "a backup default route still works: warning",
      change: (f) => {
        f.links["eth0"] = link("eth0", { carrier: false, operstate: "down" });
        f.links["eth1"] = link("eth1");
        f.routes.push({ ...V4_DEFAULT, iface: "eth1", gateway: "10.0.3.1", metric: 200 });
      },
      expect: [["DefaultRouteInterfaceDown", "warning"]],
      message: /traffic takes default via 10\.0\.3\.1 dev eth1 instead/,
    },
    {
      name: "no default route, and the kube-proxy mode needs a route to the Service addresses",
      change: (f) => (f.routes = [V4_SUBNET]),
      expect: [
        ["NoDefaultRoute", "critical"],
        ["ServiceNetworkUnrouted", "critical"],
      ],
      message: /no IPv4 default route in its main table/,
      remedy: /ip route show default/,
    },
    {
      name: "IPVS mode binds Service addresses locally: no Service-route finding",
      change: (f) => {
        f.routes = [V4_SUBNET];
        f.kubeProxyMode = "ipvs";
      },
      expect: [["NoDefaultRoute", "critical"]],
    },
    {
      name: "ip_forward=0",
      change: (f) => (f.sysctls["net.ipv4.ip_forward"] = 0),
      expect: [["IpForwardingDisabled", "critical"]],
      remedy: /sysctl -w net\.ipv4\.ip_forward=1.*\/etc\/sysctl\.d\/99-kubernetes\.conf/,
    },
    {
      name: "dual-stack with IPv6 forwarding off",
      change: (f) => {
        f.families = ["ipv4", "ipv6"];
        f.routes.push(V6_DEFAULT);
      },
      expect: [["Ipv6ForwardingDisabled", "critical"]],
    },
    {
      name: "a bridge CNI without br_netfilter",
      change: (f) => {
        f.sysctls["net.bridge.bridge-nf-call-iptables"] = "missing";
        f.sysctls["net.bridge.bridge-nf-call-ip6tables"] = "missing";
      },
      expect: [["BridgeNetfilterDisabled", "critical"]],
      message: /br_netfilter is not loaded/,
      remedy: /modprobe br_netfilter/,
    },
    {
      name: "bridge-nf-call-iptables=0 matters only for bridge CNIs",
      change: (f) => {
        f.sysctls["net.bridge.bridge-nf-call-iptables"] = 0;
        f.cni = { file: "/etc/cni/net.d/10-calico.conflist", plugins: [{ type: "calico", mtu: 1440 }] };
      },
      expect: [],
    },
    {
      name: "the CNI bridge's MTU above the link's",
      change: (f) => (f.links["eth0"] = link("eth0", { mtu: 1400 })),
      expect: [["CniMtuTooLarge", "warning"]],
      message: /cni0 \(the CNI bridge\) has MTU 1500, more than the MTU 1400 of eth0/,
      remedy: /MTU to 1400 or less/,
    },
    {
      name: "a VXLAN device without room for its 50 bytes",
      change: (f) => (f.links["flannel.1"] = link("flannel.1", { devtype: "vxlan", mtu: 1480, operstate: "unknown" })),
      expect: [["CniMtuTooLarge", "warning"]],
      message: /flannel\.1 has MTU 1480 plus 50 bytes of VXLAN/,
      remedy: /MTU to 1450 or less/,
    },
    {
      name: "the mtu in the CNI config above the link's",
      change: (f) => (f.cni = { file: "/etc/cni/net.d/10-bridge.conflist", plugins: [{ type: "bridge", bridge: "cni0", mtu: 9000 }] }),
      expect: [["CniMtuTooLarge", "warning"]],
      message: /the bridge plugin's "mtu" in \/etc\/cni\/net\.d\/10-bridge\.conflist has MTU 9000/,
    },
    {
      name: "cluster DNS answers NXDOMAIN",
      change: (f) => {
        const p = f.dns?.probes[0];
        if (p) Object.assign(p, { outcome: "nxdomain", addresses: [] });
      },
      expect: [["ClusterDnsWrongAnswer", "critical"]],
      message: /10\.96\.0\.10 answered NXDOMAIN.*does not serve cluster\.local/,
      remedy: /coredns/,
    },
    {
      name: "cluster DNS answers the wrong address",
      change: (f) => {
        const p = f.dns?.probes[0];
        if (p) p.addresses = ["10.43.0.1"];
      },
      expect: [["ClusterDnsWrongAnswer", "critical"]],
      message: /answered 10\.43\.0\.1, not the kubernetes Service's ClusterIP 10\.96\.0\.1/,
    },
    {
      name: "cluster DNS is silent",
      change: (f) => {
        const p = f.dns?.probes[0];
        if (p) Object.assign(p, { outcome: "timeout", addresses: [] });
      },
      expect: [["ClusterDnsNoAnswer", "critical"]],
      message: /10\.96\.0\.10 did not answer within 2\.0 s/,
      remedy: /dig @10\.96\.0\.10 kubernetes\.default\.svc\.cluster\.local/,
    },
    {
      name: "one of two DNS servers silent: warning",
      change: (f) => {
        f.dns?.servers.push("10.96.0.11");
        f.dns?.probes.push({
          server: "10.96.0.11",
          name: "kubernetes.default.svc.cluster.local",
          type: "A",
          outcome: "unreachable",
          addresses: [],
          seconds: 0,
        });
      },
      expect: [["ClusterDnsNoAnswer", "warning"]],
      message: /10\.96\.0\.11 refused the query \(ICMP port unreachable/,
    },
    {
      name: "the Service VIP fails while its endpoint answers: kube-proxy",
      change: (f) => {
        if (f.servicePath) f.servicePath.vip = { address: "10.96.0.1", port: 443, outcome: "timeout", seconds: 2, detail: "no answer within 2000 ms" };
      },
      expect: [["ServiceVipUnreachable", "critical"]],
      message: /10\.96\.0\.1:443 did not answer .* while its endpoint 10\.0\.0\.5:6443 accepts/,
      remedy: /kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide --field-selector spec\.nodeName=worker-1/,
    },
    {
      name: "both fail: the API server or the network",
      change: (f) => {
        if (!f.servicePath) return;
        f.servicePath.vip = { address: "10.96.0.1", port: 443, outcome: "timeout", seconds: 2 };
        f.servicePath.endpoints = [{ address: "10.0.0.5", port: 6443, outcome: "refused", seconds: 0 }];
      },
      expect: [["ApiServerEndpointUnreachable", "critical"]],
      remedy: /ip route get 10\.0\.0\.5.*nc -vz 10\.0\.0\.5 6443/,
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const findings = judge(row.change);
      assert.deepEqual(problems(findings), row.expect);
      const f = row.expect[0] ? one(findings, row.expect[0][0]) : undefined;
      if (row.message) assert.match(f?.message ?? "", row.message);
      if (row.remedy) assert.match(f?.remedy ?? "", row.remedy);
      // The figures ride on the first finding of every run, whatever it is.
      assert.equal((findings[0]?.evidence as { kind?: string }).kind, "network");
    });
  }

  it("an interface taken down loses its routes: NoDefaultRoute names it, from the earlier look, with `ip link set … up` first", () => {
    const findings = judge(
      (f) => {
        f.routes = [];
        f.links["eth0"] = link("eth0", { flags: 0x1002, operstate: "down" });
        f.kubeProxyMode = "ipvs";
      },
      { rememberedUplinks: ["eth0"] },
    );
    const f = one(findings, "NoDefaultRoute");
    assert.match(f.message, /eth0, which carried it at an earlier look, is administratively down/);
    assert.match(f.remedy ?? "", /^ip link set eth0 up \(taking it down removed its routes\)/);
  });

  it("a workstation (no kubelet, no API server) is not asked to forward", () => {
    const findings = judge((f) => ((f.kubernetesNode = false), (f.sysctls["net.ipv4.ip_forward"] = 0)));
    assert.deepEqual(problems(findings), []);
    assert.match(findings[0]?.message ?? "", /forwarding not checked: no kubelet and no API server, not a Kubernetes node/);
  });

  it("requireDefaultRoute: false leaves a node without one alone", () => {
    assert.deepEqual(problems(judge((f) => ((f.routes = [V4_SUBNET]), (f.kubeProxyMode = "ipvs")), {}, { requireDefaultRoute: false })), []);
  });

  it("flaps: three down-and-ups in the window warn, two do not", () => {
    assert.deepEqual(problems(judge(undefined, { flaps: { eth0: 4 } })), []);
    const f = one(judge(undefined, { flaps: { eth0: 6 } }), "LinkFlapping");
    assert.equal(f.severity, "warning");
    assert.match(f.message, /The carrier of eth0 changed 6 times in the last 10 minutes \(3 flaps, warning at 3\)/);
  });

  it("an interface name with shell characters is quoted in the remedy", () => {
    const f = one(
      judge(
        (f) => (
          (f.links["eth0"] = link("eth0", { carrier: false })),
          (f.routes = [{ ...V4_DEFAULT, iface: "e$(x)" }]),
          (f.links["e$(x)"] = link("e$(x)", { carrier: false }))
        ),
        {},
      ),
      "DefaultRouteInterfaceDown",
    );
    assert.match(f.remedy ?? "", /ip link show 'e\$\(x\)'/);
  });
});

describe("network judge: remedies are paste-safe whatever the interface is called", () => {
  it("an interface named e'$(pwned);x (a valid Linux name): every command quotes it as one word", async () => {
    const name = "e'$(pwned);x";
    const paste = await pasteSandbox();
    try {
      const rename = (f: NetworkFacts) => {
        f.links[name] = { ...(f.links["eth0"] as Link), name };
        delete f.links["eth0"];
        f.routes = f.routes.map((r) => (r.iface === "eth0" ? { ...r, iface: name } : r));
      };
      const findings = [
        ...judge((f) => {
          rename(f);
          f.links[name] = link(name, { carrier: false, operstate: "down" });
        }),
        ...judge(
          (f) => {
            rename(f);
            f.links[name] = link(name, { flags: 0x1002, operstate: "down" });
            f.routes = f.routes.filter((r) => r.prefixLength !== 0);
          },
          { rememberedUplinks: [name] },
        ),
        ...judge(rename, { flaps: { [name]: 10 } }),
      ];
      assert.ok(carrying(findings).length >= 2, JSON.stringify(findings.map((f) => [f.reason, f.remedy])));
      assert.ok((await paste.assertPasteSafe(findings)) >= 4);
    } finally {
      await paste.close();
    }
  });
});

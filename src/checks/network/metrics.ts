/** The network check's series, from the evidence on the first finding of each run (judge.ts NetworkEvidence). */
import { Counter, Gauge, type Registry } from "../../telemetry/prometheus.js";
import type { CheckMetrics } from "../../telemetry/registry.js";
import type { Finding } from "../../types.js";
import { isNetworkEvidence } from "./judge.js";

export function networkMetrics(registry: Registry): CheckMetrics {
  const linkUp = new Gauge({
    name: "node_doctor_network_link_up",
    help: "1 when the interface is up with carrier (lo: administratively up), 0 when not; for lo, the default routes' interfaces and the CNI's bridge and overlay devices.",
    labelNames: ["interface"],
    registers: [registry],
  });
  const mtu = new Gauge({
    name: "node_doctor_network_link_mtu_bytes",
    help: "The interface's MTU (/sys/class/net/<if>/mtu), for the interfaces node_doctor_network_link_up reports.",
    labelNames: ["interface"],
    registers: [registry],
  });
  const carrierChanges = new Counter({
    name: "node_doctor_network_link_carrier_changes_total",
    help: "Carrier changes (a flap is two) of the interface seen since the agent started, from /sys/class/net/<if>/carrier_changes.",
    labelNames: ["interface"],
    registers: [registry],
  });
  const defaultRoute = new Gauge({
    name: "node_doctor_network_default_route",
    help: "1 when the main routing table has a usable default route for the address family (ipv4, ipv6) the node uses, 0 when not.",
    labelNames: ["family"],
    registers: [registry],
  });
  const sysctl = new Gauge({
    name: "node_doctor_network_sysctl",
    help: "Value of the forwarding and bridge-netfilter sysctls (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding, net.bridge.bridge-nf-call-iptables, net.bridge.bridge-nf-call-ip6tables); absent when the file is.",
    labelNames: ["sysctl"],
    registers: [registry],
  });
  const dnsUp = new Gauge({
    name: "node_doctor_network_dns_up",
    help: "1 when the cluster DNS server answered kubernetes.default.svc.<clusterDomain> with an address (the kubernetes Service's ClusterIP when known), 0 when not.",
    labelNames: ["server"],
    registers: [registry],
  });
  const dnsDuration = new Gauge({
    name: "node_doctor_network_dns_duration_seconds",
    help: "How long the last cluster DNS query to the server took, answered or not.",
    labelNames: ["server"],
    registers: [registry],
  });
  const dnsQueries = new Counter({
    name: "node_doctor_network_dns_queries_total",
    help: "Cluster DNS queries by server and outcome (answered, nxdomain, nodata, servfail, refused, badresponse, timeout, unreachable, error).",
    labelNames: ["server", "outcome"],
    registers: [registry],
  });
  const connectUp = new Gauge({
    name: "node_doctor_network_connect_up",
    help: 'Whether a TCP connect succeeded: path "vip" is the kubernetes Service\'s ClusterIP, "endpoint" an API server endpoint behind it.',
    labelNames: ["path", "address"],
    registers: [registry],
  });
  const connectDuration = new Gauge({
    name: "node_doctor_network_connect_duration_seconds",
    help: "How long the last TCP connect took, succeeded or not, by path and address as node_doctor_network_connect_up.",
    labelNames: ["path", "address"],
    registers: [registry],
  });
  const kubeProxy = new Gauge({
    name: "node_doctor_network_kube_proxy_mode_info",
    help: "Always 1; the mode label is kube-proxy's /proxyMode answer (iptables, ipvs, nftables); absent when kube-proxy does not answer.",
    labelNames: ["mode"],
    registers: [registry],
  });

  /** Last carrier_changes per interface, so the counter grows by what the kernel counted since. */
  const lastChanges = new Map<string, number>();

  return {
    update(findings: readonly Finding[]) {
      const evidence = findings.map((f) => f.evidence).find(isNetworkEvidence);
      if (!evidence) return;
      // Interfaces come and go (a renamed NIC, a removed bridge): only this run's are exposed.
      linkUp.reset();
      mtu.reset();
      for (const link of evidence.links) {
        linkUp.set({ interface: link.name }, link.up ? 1 : 0);
        if (link.mtu !== undefined) mtu.set({ interface: link.name }, link.mtu);
        if (link.carrierChanges !== undefined) {
          const last = lastChanges.get(link.name);
          // A recreated interface starts again from 0: count from there.
          carrierChanges.inc({ interface: link.name }, last === undefined || link.carrierChanges < last ? 0 : link.carrierChanges - last);
          lastChanges.set(link.name, link.carrierChanges);
        }
      }
      defaultRoute.reset();
      for (const [family, present] of Object.entries(evidence.defaultRoutes)) defaultRoute.set({ family }, present ? 1 : 0);
      sysctl.reset();
      for (const [name, value] of Object.entries(evidence.sysctls)) sysctl.set({ sysctl: name }, value);
      dnsUp.reset();
      dnsDuration.reset();
      for (const probe of evidence.dns) {
        dnsUp.set({ server: probe.server }, probe.right ? 1 : 0);
        dnsDuration.set({ server: probe.server }, probe.seconds);
        dnsQueries.inc({ server: probe.server, outcome: probe.outcome });
      }
      connectUp.reset();
      connectDuration.reset();
      for (const probe of evidence.connects) {
        const labels = { path: probe.path, address: `${probe.address.includes(":") ? `[${probe.address}]` : probe.address}:${probe.port}` };
        connectUp.set(labels, probe.outcome === "connected" ? 1 : 0);
        connectDuration.set(labels, probe.seconds);
      }
      kubeProxy.reset();
      if (evidence.kubeProxyMode) kubeProxy.set({ mode: evidence.kubeProxyMode }, 1);
    },
  };
}

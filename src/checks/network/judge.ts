/**
 * The network check's verdicts: facts in (gather.ts), findings out. Pure: no
 * I/O, no clock; table-tested in test/unit/network-judge.test.ts.
 */
import { isIPv4 } from "node:net";
import { describeLinkState, isAdminUp, isRunning, type Link } from "../../node/links.js";
import { defaultRoutes, describeRoute, routeFor, RTF_REJECT, type Family } from "../../node/routes.js";
import { sh } from "../../text/shell.js";
import type { Finding, Severity } from "../../types.js";
import { OVERLAY_DEVICES, usesBridge, type ConnectProbe, type DnsProbe, type NetworkFacts, type SysctlName } from "./gather.js";
import { REASONS } from "./reasons.js";
import type { NetworkSettings } from "./index.js";
import { formatDuration } from "../../text/format.js";

export const NETWORK_REASONS = REASONS.names;
type Reason = keyof typeof REASONS.reasons;

/** The thresholds the judge reads (the check's settings, inferred from their schema), the DNS deadline in ms and the node's name. */
export type JudgeSettings = Pick<NetworkSettings, "requireDefaultRoute" | "linkFlapsWarning" | "linkFlapWindowSeconds"> & {
  dnsTimeoutMs: number;
  nodeName?: string;
};

export interface JudgeInput {
  facts: NetworkFacts;
  /** Interfaces that carried a default route at earlier looks, for when the route is gone. */
  rememberedUplinks: readonly string[];
  /** Carrier up/down transitions per interface within the flap window (absent on the first look). */
  flaps: Readonly<Record<string, number>>;
}

/** The figures behind a run, for the metrics: on the first finding of every run. */
export type NetworkEvidence = {
  kind: "network";
  links: Array<{ name: string; up: boolean; carrierChanges?: number; mtu?: number }>;
  defaultRoutes: Partial<Record<Family, boolean>>;
  sysctls: Partial<Record<SysctlName, number>>;
  /** Each query, and whether its answer was right (an address, the kubernetes Service's ClusterIP when known). */
  dns: Array<DnsProbe & { right: boolean }>;
  connects: Array<ConnectProbe & { path: "vip" | "endpoint" }>;
  kubeProxyMode?: string;
};

export function isNetworkEvidence(value: unknown): value is NetworkEvidence {
  return typeof value === "object" && value !== null && (value as NetworkEvidence).kind === "network" && Array.isArray((value as NetworkEvidence).links);
}

const FAMILY_LABEL: Record<Family, string> = { ipv4: "IPv4", ipv6: "IPv6" };

function finding(reason: Reason, severity: Severity, message: string, remedy?: string, evidence?: Record<string, unknown>): Finding {
  return {
    check: "network",
    condition: "NodeNetworkUnhealthy",
    severity,
    reason,
    message,
    ...(remedy ? { remedy } : {}),
    ...(evidence ? { evidence } : {}),
  };
}

function mtuOf(link: Link | undefined): string {
  return link?.mtu !== undefined ? `, MTU ${link.mtu}` : "";
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

// ---------------------------------------------------------------- links and routes

function judgeLoopback(facts: NetworkFacts): Finding[] {
  const lo = facts.links["lo"];
  if (lo && isAdminUp(lo)) return [];
  const state = lo ? `is ${describeLinkState(lo)}` : `does not exist in ${facts.linkNames.length ? "/sys/class/net" : "an empty /sys/class/net"}`;
  return [
    finding(
      "LoopbackDown",
      "critical",
      `The loopback interface lo ${state}: kubelet's health endpoint and everything on 127.0.0.1 fail.`,
      "`ip link set lo up`, then find what took it down (the node's network configuration).",
    ),
  ];
}

/** Interfaces that are down, for a message when a route is gone (taking an interface down removes its routes). */
function downInterfaces(facts: NetworkFacts, remembered: readonly string[]): { remembered: Link[]; others: Link[] } {
  const links = Object.values(facts.links).filter((l) => l.name !== "lo" && !isRunning(l));
  return { remembered: links.filter((l) => remembered.includes(l.name)), others: links.filter((l) => !remembered.includes(l.name)) };
}

function judgeRoutes(input: JudgeInput, settings: JudgeSettings): Finding[] {
  const { facts } = input;
  const out: Finding[] = [];
  for (const family of facts.families) {
    const routes = defaultRoutes(facts.routes, family);
    const label = FAMILY_LABEL[family];
    if (routes.length === 0) {
      if (!settings.requireDefaultRoute) continue;
      const down = downInterfaces(facts, input.rememberedUplinks);
      const blackhole = facts.routes.find((r) => r.family === family && r.prefixLength === 0);
      let why = "";
      if (down.remembered.length) why = `; ${list(down.remembered.map((l) => `${l.name}, which carried it at an earlier look, is ${describeLinkState(l)}`))}`;
      else if (down.others.length) why = `; interfaces down: ${list(down.others.map((l) => `${l.name} (${describeLinkState(l)})`))}`;
      if (blackhole) why += `; the only default route is ${describeRoute(blackhole)}`;
      const uplink = down.remembered[0] ?? down.others[0];
      const command = family === "ipv4" ? "ip route show default" : "ip -6 route show default";
      out.push(
        finding(
          "NoDefaultRoute",
          "critical",
          `The node uses ${label}${facts.familySources.length ? ` (${list(facts.familySources)})` : ""} but has no ${label} default route in its main table${why}: it reaches only its own subnets.`,
          `${uplink && !isAdminUp(uplink) ? `${sh`ip link set ${uplink.name} up`} (taking it down removed its routes), then ` : ""}\`${command}\`; restore the route from the node's network configuration (\`netplan apply\`, \`systemctl restart systemd-networkd\`, \`nmcli connection up <profile>\` or the DHCP client), or \`ip route add default via <gateway> dev <if>\` until the next reboot.`,
          { family },
        ),
      );
      continue;
    }
    const running = routes.filter((r) => r.iface && facts.links[r.iface] && isRunning(facts.links[r.iface] as Link));
    for (const route of routes) {
      const link = route.iface ? facts.links[route.iface] : undefined;
      if (link && isRunning(link)) continue;
      const state = link ? describeLinkState(link) : "missing from /sys/class/net";
      const other = running[0];
      const severity: Severity = other ? "warning" : "critical";
      const name = route.iface as string;
      out.push(
        finding(
          "DefaultRouteInterfaceDown",
          severity,
          `${name}, which the ${label} default route ${describeRoute(route)} leaves through, is ${state}${link?.operstate ? ` (operstate ${link.operstate})` : ""}${other ? `; traffic takes ${describeRoute(other)} instead` : ": the node's traffic off its subnet goes nowhere"}.`,
          link && !isAdminUp(link)
            ? `${sh`ip link set ${name} up`}, and fix what set it down (netplan, NetworkManager, systemd-networkd).`
            : `${sh`ip link show ${name}`}; no carrier means the cable, the switch port, the virtual NIC (the cloud console) or the driver (${sh`dmesg | grep ${name}`}).`,
          { interface: name, family },
        ),
      );
    }
  }
  return out;
}

function judgeFlaps(input: JudgeInput, settings: JudgeSettings): Finding[] {
  const out: Finding[] = [];
  for (const [name, changes] of Object.entries(input.flaps)) {
    const flaps = Math.floor(changes / 2);
    if (flaps < settings.linkFlapsWarning) continue;
    const window = Math.round(settings.linkFlapWindowSeconds / 60);
    out.push(
      finding(
        "LinkFlapping",
        "warning",
        `The carrier of ${name} changed ${changes} times in the last ${window} minutes (${flaps} flaps, warning at ${settings.linkFlapsWarning}): connections through it reset.`,
        `${sh`ip -s link show ${name}`}, ${sh`dmesg | grep ${name}`}, ${sh`ethtool ${name}`}: a bad cable, switch port or transceiver, or a driver resetting; the provider's console for a virtual NIC.`,
        { interface: name, carrierChanges: changes },
      ),
    );
  }
  return out;
}

/** Service addresses kube-proxy's iptables and nftables modes need a route to (they rewrite after routing, for the host's own packets). */
function judgeServiceRoutes(facts: NetworkFacts): Finding[] {
  const mode = facts.kubeProxyMode;
  if (mode !== "iptables" && mode !== "nftables") return [];
  const vips = [
    ...(facts.servicePath?.service.clusterIPs ?? []).map((ip) => ({ ip, what: "the kubernetes Service" })),
    ...(facts.dns?.servers ?? []).map((ip) => ({ ip, what: "clusterDNS" })),
  ];
  const unrouted = vips.filter(({ ip }) => {
    if (facts.localAddresses.includes(ip)) return false;
    const route = routeFor(facts.routes, ip);
    return !route || !route.iface || (route.flags & RTF_REJECT) !== 0;
  });
  if (unrouted.length === 0) return [];
  const seen = new Set<string>();
  const named = unrouted.filter(({ ip }) => !seen.has(ip) && seen.add(ip)).map(({ ip, what }) => `${ip} (${what})`);
  const first = unrouted[0] as { ip: string };
  return [
    finding(
      "ServiceNetworkUnrouted",
      "critical",
      `kube-proxy runs in ${mode} mode and no route covers ${list(named)}: kubelet and hostNetwork pods on this node get "network unreachable" for Services (pods are not affected).`,
      `${sh`ip route get ${first.ip}`}; restore the default route, or route the Service CIDR: \`ip route add <service-cidr> dev <primary-if>\`.`,
      { addresses: named },
    ),
  ];
}

// ---------------------------------------------------------------- sysctls

function judgeSysctls(facts: NetworkFacts): Finding[] {
  const out: Finding[] = [];
  if (!facts.kubernetesNode) return out;
  const s = facts.sysctls;
  if (facts.families.includes("ipv4") && s["net.ipv4.ip_forward"] !== 1) {
    out.push(
      finding(
        "IpForwardingDisabled",
        "critical",
        `net.ipv4.ip_forward is ${s["net.ipv4.ip_forward"] === "missing" ? "missing (/proc/sys/net/ipv4/ip_forward does not exist)" : s["net.ipv4.ip_forward"]}: the node does not forward IPv4 packets, so pods cannot reach anything off the node and Services do not reach them.`,
        "`sysctl -w net.ipv4.ip_forward=1`; make it stick with `echo net.ipv4.ip_forward=1 > /etc/sysctl.d/99-kubernetes.conf`, and find what set it to 0: `grep -r ip_forward /etc/sysctl.conf /etc/sysctl.d/ /usr/lib/sysctl.d/`.",
        { sysctl: "net.ipv4.ip_forward", value: s["net.ipv4.ip_forward"] },
      ),
    );
  }
  const v6 = s["net.ipv6.conf.all.forwarding"];
  if (facts.families.includes("ipv6") && v6 !== 1) {
    out.push(
      finding(
        "Ipv6ForwardingDisabled",
        "critical",
        `The node uses IPv6 (${list(facts.familySources)}) and net.ipv6.conf.all.forwarding is ${v6 === "missing" ? "missing (IPv6 is disabled in the kernel)" : v6}: pods' IPv6 traffic is not forwarded.`,
        "`sysctl -w net.ipv6.conf.all.forwarding=1` and persist it in `/etc/sysctl.d/99-kubernetes.conf`.",
        { sysctl: "net.ipv6.conf.all.forwarding", value: v6 },
      ),
    );
  }
  if (usesBridge(facts.cni)) {
    const names: SysctlName[] = [
      "net.bridge.bridge-nf-call-iptables",
      ...(facts.families.includes("ipv6") ? (["net.bridge.bridge-nf-call-ip6tables"] as const) : []),
    ];
    const bad = names.filter((n) => s[n] !== 1);
    if (bad.length) {
      const missing = bad.some((n) => s[n] === "missing");
      const plugin = facts.cni?.plugins.find((p) => p.bridge);
      out.push(
        finding(
          "BridgeNetfilterDisabled",
          "critical",
          `${facts.cni?.file} puts pods on the bridge ${plugin?.bridge ?? "cni0"} (plugin ${plugin?.type ?? "bridge"}) but ${missing ? "br_netfilter is not loaded (/proc/sys/net/bridge does not exist)" : list(bad.map((n) => `${n} is ${s[n]}`))}: bridged pod traffic skips iptables, so pods cannot reach Services backed on the same node and Network Policies do not apply to it.`,
          `\`modprobe br_netfilter && sysctl -w ${names.map((n) => `${n}=1`).join(" ")}\`; persist with \`echo br_netfilter > /etc/modules-load.d/k8s.conf\` and the sysctls in \`/etc/sysctl.d/99-kubernetes.conf\`.`,
          { sysctls: Object.fromEntries(bad.map((n) => [n, s[n]])) },
        ),
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------- MTU

interface MtuClaim {
  what: string;
  mtu: number;
  overhead: number;
  encapsulation?: string;
}

function encapsulationOf(link: Link): { overhead: number; name?: string } {
  const known = OVERLAY_DEVICES[link.name];
  const byType: Record<string, [number, string]> = { vxlan: [50, "VXLAN"], geneve: [50, "Geneve"], wireguard: [60, "WireGuard"] };
  const typed = link.devtype ? byType[link.devtype] : undefined;
  if (typed) return { overhead: link.name.includes("v6") ? typed[0] + 20 : typed[0], name: typed[1] };
  if (link.type === 768) return { overhead: 20, name: "IPIP" };
  return known !== undefined ? { overhead: known, ...(known ? { name: "encapsulation" } : {}) } : { overhead: 0 };
}

function judgeMtu(facts: NetworkFacts): Finding[] {
  const uplinkRoute = [...defaultRoutes(facts.routes, "ipv4"), ...defaultRoutes(facts.routes, "ipv6")].find((r) => r.iface && facts.links[r.iface]?.mtu);
  const uplink = uplinkRoute?.iface ? facts.links[uplinkRoute.iface] : undefined;
  if (!uplink?.mtu) return [];
  const claims: MtuClaim[] = [];
  const bridges = new Set<string>();
  for (const plugin of facts.cni?.plugins ?? []) {
    if (plugin.bridge) bridges.add(plugin.bridge);
    if (plugin.mtu !== undefined) {
      // Calico's mtu is the pods' veth MTU, inside whatever encapsulation its devices add.
      const encap =
        plugin.type === "calico"
          ? Object.values(facts.links).find((l) => l.name.endsWith(".cali") || l.name === "vxlan.calico" || (l.name === "tunl0" && isAdminUp(l)))
          : undefined;
      const e = encap ? encapsulationOf(encap) : { overhead: 0 };
      claims.push({
        what: `the ${plugin.type} plugin's "mtu" in ${facts.cni?.file}`,
        mtu: plugin.mtu,
        overhead: e.overhead,
        ...(e.name ? { encapsulation: e.name } : {}),
      });
    }
  }
  for (const link of Object.values(facts.links)) {
    if (link.mtu === undefined || link.name === uplink.name || !isAdminUp(link)) continue;
    if (!bridges.has(link.name) && OVERLAY_DEVICES[link.name] === undefined) continue;
    const e = encapsulationOf(link);
    claims.push({
      what: `${link.name}${bridges.has(link.name) ? " (the CNI bridge)" : ""}`,
      mtu: link.mtu,
      overhead: e.overhead,
      ...(e.name ? { encapsulation: e.name } : {}),
    });
  }
  const out: Finding[] = [];
  for (const claim of claims) {
    if (claim.mtu + claim.overhead <= uplink.mtu) continue;
    const fit = uplink.mtu - claim.overhead;
    const overhead = claim.overhead ? ` plus ${claim.overhead} bytes of ${claim.encapsulation ?? "encapsulation"}` : "";
    out.push(
      finding(
        "CniMtuTooLarge",
        "warning",
        `${claim.what} has MTU ${claim.mtu}${overhead}, more than the MTU ${uplink.mtu} of ${uplink.name}, which the default route leaves through: packets larger than ${fit} bytes from pods are dropped or fragmented (TLS handshakes and large responses hang while ping works).`,
        `set the network add-on's MTU to ${fit} or less (\`mtu\` in the CNI config for the bridge plugin, \`veth_mtu\` in Calico's calico-config, flannel's backend MTU, Cilium's \`mtu\`), then restart its pod on this node; or raise ${uplink.name}'s MTU if the network carries it.`,
        { mtu: claim.mtu, overhead: claim.overhead, linkMtu: uplink.mtu, link: uplink.name },
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------- DNS and the Service path

const WRONG: Record<string, string> = {
  nxdomain: "NXDOMAIN (no such name)",
  nodata: "no address (NOERROR without records)",
  servfail: "SERVFAIL",
  refused: "REFUSED",
  badresponse: "a malformed answer",
};

function rightAnswer(p: DnsProbe, expected: readonly string[]): boolean {
  return p.outcome === "answered" && p.addresses.length > 0 && (expected.length === 0 || p.addresses.some((a) => expected.includes(a)));
}

function judgeDns(facts: NetworkFacts, settings: JudgeSettings): Finding[] {
  const dns = facts.dns;
  if (!dns) return [];
  const expected = dns.expected ?? [];
  const right = (p: DnsProbe) => rightAnswer(p, expected);
  const anyRight = dns.probes.some(right);
  const severity: Severity = anyRight ? "warning" : "critical";
  const name = dns.probes[0]?.name ?? `kubernetes.default.svc.${dns.domain}`;
  const silent = dns.probes.filter((p) => p.outcome === "timeout" || p.outcome === "unreachable" || p.outcome === "error");
  const wrong = dns.probes.filter((p) => !right(p) && !silent.includes(p));
  const out: Finding[] = [];
  if (silent.length) {
    const what = silent.map((p) =>
      p.outcome === "timeout"
        ? `${p.server} did not answer within ${formatDuration(settings.dnsTimeoutMs)}`
        : p.outcome === "unreachable"
          ? `${p.server} refused the query (ICMP port unreachable: nothing listens on port 53)`
          : `${p.server} could not be asked (${p.detail ?? "error"})`,
    );
    out.push(
      finding(
        "ClusterDnsNoAnswer",
        severity,
        `Cluster DNS (from ${dns.source}) gives no answer for ${name}: ${list(what)}${anyRight ? "; another server answers" : ""}. Pods on this node cannot resolve names.`,
        `\`kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide\` (running, and where?); from the node: ${sh`dig @${silent[0]?.server ?? ""} ${name}`}; if the DNS pods are fine, suspect the Service path on this node (kube-proxy's rules) or a firewall dropping port 53.`,
        { servers: silent.map((p) => p.server), outcomes: silent.map((p) => p.outcome) },
      ),
    );
  }
  if (wrong.length) {
    const what = wrong.map((p) =>
      p.outcome === "answered"
        ? `${p.server} answered ${p.addresses.length ? list(p.addresses) : "nothing"}, not the kubernetes Service's ClusterIP ${list(expected)}`
        : `${p.server} answered ${WRONG[p.outcome] ?? p.outcome}`,
    );
    const nx = wrong.some((p) => p.outcome === "nxdomain");
    out.push(
      finding(
        "ClusterDnsWrongAnswer",
        severity,
        `Cluster DNS (from ${dns.source}) answers ${name} wrongly: ${list(what)}${anyRight ? "; another server answers right" : ""}.${nx ? ` The server does not serve ${dns.domain}: kubelet's clusterDomain or clusterDNS does not match the cluster's DNS.` : ""}`,
        `compare kubelet's clusterDNS and clusterDomain (${dns.source}) with the cluster's: \`kubectl -n kube-system get svc kube-dns\` and the zone of the \`kubernetes\` plugin in the \`coredns\` ConfigMap; \`kubectl -n kube-system logs -l k8s-app=kube-dns\` for SERVFAIL.`,
        { servers: wrong.map((p) => p.server), outcomes: wrong.map((p) => p.outcome), addresses: wrong.flatMap((p) => p.addresses) },
      ),
    );
  }
  return out;
}

function describeConnect(p: ConnectProbe): string {
  const target = `${isIPv4(p.address) ? p.address : `[${p.address}]`}:${p.port}`;
  switch (p.outcome) {
    case "connected":
      return `${target} accepts`;
    case "timeout":
      return `${target} did not answer (${p.detail ?? "timeout"})`;
    case "refused":
      return `${target} refused the connection`;
    case "unreachable":
      return `${target} is unreachable (${p.detail ?? "no route"})`;
    default:
      return `${target} failed (${p.detail ?? "error"})`;
  }
}

function judgeServicePath(facts: NetworkFacts, settings: JudgeSettings): Finding[] {
  const path = facts.servicePath;
  if (!path) return [];
  const vipOk = path.vip.outcome === "connected";
  const answered = path.endpoints.filter((e) => e.outcome === "connected");
  const failed = path.endpoints.filter((e) => e.outcome !== "connected");
  const stale = path.staleBecause ? ` (the Service as read earlier: ${path.staleBecause})` : "";
  const node = settings.nodeName ?? "<node>";
  if (!vipOk && answered.length > 0) {
    return [
      finding(
        "ServiceVipUnreachable",
        "critical",
        `The kubernetes Service ${describeConnect(path.vip)} while its endpoint ${describeConnect(answered[0] as ConnectProbe)}${stale}: the API server is fine, the Service path on this node is not (kube-proxy's rules, or a firewall dropping the ClusterIP).`,
        `${sh`kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide --field-selector spec.nodeName=${node}`} and its logs; on the node \`iptables-save -t nat | grep -c KUBE-SVC\`, \`nft list table ip kube-proxy\` or \`ipvsadm -Ln\`; deleting the node's kube-proxy pod rebuilds its rules (with a kube-proxy replacement such as Cilium, check its agent on this node).`,
        { vip: path.vip, endpoints: path.endpoints },
      ),
    ];
  }
  if (!vipOk) {
    const endpoints = path.endpoints.length ? `, nor do its endpoints: ${list(path.endpoints.map(describeConnect))}` : " and it lists no ready endpoint";
    const first = path.endpoints[0];
    return [
      finding(
        "ApiServerEndpointUnreachable",
        "critical",
        `The kubernetes Service ${describeConnect(path.vip)}${endpoints}${stale}: the API server is down or the network between this node and the control plane is broken; kubelet here is cut off the same way.`,
        `${first ? `${sh`ip route get ${first.address}`}, ${sh`nc -vz ${first.address} ${first.port}`}; ` : ""}the control plane's health (\`kubectl get --raw /readyz\` from elsewhere); security groups and firewalls between this node and the control plane.`,
        { vip: path.vip, endpoints: path.endpoints },
      ),
    ];
  }
  if (failed.length > 0) {
    const first = failed[0] as ConnectProbe;
    return [
      finding(
        "ApiServerEndpointUnreachable",
        "warning",
        `The kubernetes Service answers, but ${failed.length} of its ${path.endpoints.length} API server endpoints do not: ${list(failed.map(describeConnect))}${stale}. Connections kube-proxy sends there fail.`,
        `${sh`ip route get ${first.address}`}, ${sh`nc -vz ${first.address} ${first.port}`}; is that API server up (\`kubectl get --raw /readyz\` against it)?`,
        { vip: path.vip, endpoints: path.endpoints },
      ),
    ];
  }
  return [];
}

// ---------------------------------------------------------------- all of it

function healthyMessage(facts: NetworkFacts): string {
  const parts: string[] = [];
  for (const family of facts.families) {
    const route = defaultRoutes(facts.routes, family)[0];
    if (route) parts.push(`${FAMILY_LABEL[family]} default route ${describeRoute(route)}${mtuOf(route.iface ? facts.links[route.iface] : undefined)}`);
  }
  const forwarding = facts.families.map((f) => (f === "ipv4" ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding")).map((n) => `${n}=1`);
  if (facts.kubernetesNode) parts.push(forwarding.join(", "));
  const dns = facts.dns;
  if (dns) {
    const answered = dns.probes.filter((p) => p.outcome === "answered");
    parts.push(`cluster DNS ${list(answered.map((p) => `${p.server} answered ${p.name} → ${list(p.addresses)} in ${formatDuration(p.seconds * 1000)}`))}`);
  }
  const path = facts.servicePath;
  if (path)
    parts.push(
      `the kubernetes Service ${describeConnect(path.vip)}${path.endpoints.length ? ` and so ${path.endpoints.length === 1 ? "does its endpoint" : "do its endpoints"} ${list(path.endpoints.map((e) => `${e.address}:${e.port}`))}` : ""}`,
    );
  const skipped: string[] = [];
  if (!facts.kubernetesNode) skipped.push("forwarding not checked: no kubelet and no API server, not a Kubernetes node");
  if (facts.dnsSkipped) skipped.push(`cluster DNS not checked: ${facts.dnsSkipped}`);
  if (facts.serviceSkipped) skipped.push(`Service path not checked: ${facts.serviceSkipped}`);
  return `${parts.join("; ")}.${skipped.length ? ` ${skipped.join("; ")}.` : ""}`;
}

export function evidenceOf(facts: NetworkFacts): NetworkEvidence {
  const links = Object.values(facts.links).map((l) => ({
    name: l.name,
    up: l.name === "lo" ? isAdminUp(l) : isRunning(l),
    ...(l.carrierChanges !== undefined ? { carrierChanges: l.carrierChanges } : {}),
    ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
  }));
  const sysctls: NetworkEvidence["sysctls"] = {};
  for (const [name, value] of Object.entries(facts.sysctls)) if (typeof value === "number") sysctls[name as SysctlName] = value;
  const defaults: NetworkEvidence["defaultRoutes"] = {};
  for (const family of facts.families) defaults[family] = defaultRoutes(facts.routes, family).length > 0;
  const connects: NetworkEvidence["connects"] = facts.servicePath
    ? [{ ...facts.servicePath.vip, path: "vip" }, ...facts.servicePath.endpoints.map((e) => ({ ...e, path: "endpoint" as const }))]
    : [];
  return {
    kind: "network",
    links,
    defaultRoutes: defaults,
    sysctls,
    dns: (facts.dns?.probes ?? []).map((p) => ({ ...p, right: rightAnswer(p, facts.dns?.expected ?? []) })),
    connects,
    ...(facts.kubeProxyMode ? { kubeProxyMode: facts.kubeProxyMode } : {}),
  };
}

export function judgeNetwork(input: JudgeInput, settings: JudgeSettings): Finding[] {
  const { facts } = input;
  const findings = [
    ...judgeLoopback(facts),
    ...judgeRoutes(input, settings),
    ...judgeFlaps(input, settings),
    ...judgeServiceRoutes(facts),
    ...judgeSysctls(facts),
    ...judgeMtu(facts),
    ...judgeDns(facts, settings),
    ...judgeServicePath(facts, settings),
  ];
  if (findings.length === 0) findings.push(finding("NetworkHealthy", "ok", healthyMessage(facts)));
  const first = findings[0] as Finding;
  first.evidence = { ...first.evidence, ...evidenceOf(facts) };
  return findings;
}

/** The one finding when the agent is not in the host's network namespace. */
export function notHostNamespace(detail: string, remedy: string): Finding[] {
  return [finding("NotHostNetworkNamespace", "unknown", `Not judging the node's network: ${detail}.`, remedy)];
}

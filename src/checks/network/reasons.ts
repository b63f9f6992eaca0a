/** Every reason the network check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "network",
  intro:
    "Condition `NodeNetworkUnhealthy`: can this node carry traffic? Read from the\nhost's network namespace only (`/proc/net/route`, `/proc/net/ipv6_route`,\n`/sys/class/net/<if>`, `/proc/sys/net/…`), with three probes: a DNS query\nfor `kubernetes.default.svc.<clusterDomain>` to each of kubelet's\n`clusterDNS` servers, a TCP connect to the `kubernetes` Service's\nClusterIP and port, and one to each API server endpoint in its\nEndpointSlice (at most 3). The address families in use come from kubelet's\n`--node-ip`, the Node's InternalIPs, kubelet's `clusterDNS` and the\n`kubernetes` Service's ClusterIPs (IPv4 when none says). kube-proxy's mode\nis asked from its own `/proxyMode` endpoint (`checks.network.kubeProxyModeUrl`,\ndefault `http://127.0.0.1:10249/proxyMode`). See [network.md](network.md).",
  reasons: {
    NetworkHealthy: {
      severities: ["ok"],
      meaning:
        "every part of the node's data path that could be looked at works. The message names the default routes and their interfaces, the forwarding sysctls, the DNS answer and the Service connects, and says which parts were not checked and why (no `clusterDNS`, no API server, kube-proxy not answering).",
      repair: "none",
    },
    NotHostNetworkNamespace: {
      severities: ["unknown"],
      meaning:
        "node-doctor runs in a network namespace of its own (a pod without `hostNetwork: true`), or cannot tell: routes, links and sysctls it reads there are the pod's, not the node's, so it does not judge them.",
      remedy: "run node-doctor with `hostNetwork: true` (the chart's default).",
      repair: "none",
    },
    LoopbackDown: {
      severities: ["critical"],
      meaning:
        "the loopback interface `lo` is missing or administratively down: kubelet's health endpoint (127.0.0.1:10248), the runtime's streaming server and every process talking to itself over 127.0.0.1 fail.",
      remedy: "`ip link set lo up`; find what took it down (a network script, a broken systemd-networkd or NetworkManager profile).",
      repair: "none",
    },
    DefaultRouteInterfaceDown: {
      severities: ["warning", "critical"],
      severity:
        "critical when no default route of the family leaves through a working interface; warning when another default route (a higher metric, a second path) still does.",
      meaning:
        "the interface a default route leaves through is administratively down, has no carrier or an operstate other than up: the node's traffic off its subnet goes nowhere. The message names the interface, its operstate, carrier and the route.",
      remedy:
        "`ip link show <if>`; no carrier means the cable, the switch port, the virtual NIC (the cloud console) or the driver (`dmesg | grep <if>`); administratively down means `ip link set <if> up` and fixing what set it down (netplan, NetworkManager, systemd-networkd).",
      repair: "none",
    },
    NoDefaultRoute: {
      severities: ["critical"],
      meaning:
        "an address family the node uses has no default route in the main table (blackhole and unreachable routes do not count): the node reaches only its own subnets. When the interface that carried it at an earlier look is down now, or other interfaces are down, the message names them (taking an interface down removes its routes). Air-gapped nodes that route only specific prefixes set `checks.network.requireDefaultRoute: false`.",
      remedy:
        "`ip route show default` (and `ip -6 route show default`); restore the route from the node's network configuration (`netplan apply`, `systemctl restart systemd-networkd`, `nmcli connection up <profile>`, or the DHCP client); `ip route add default via <gateway> dev <if>` brings it back until the next reboot.",
      repair: "none",
    },
    ServiceNetworkUnrouted: {
      severities: ["critical"],
      meaning:
        "kube-proxy runs in iptables or nftables mode, which rewrites Service addresses after the kernel has routed a packet, and no route in the main table covers a Service address (the `kubernetes` Service's ClusterIP, kubelet's `clusterDNS`): processes in the host's network namespace (kubelet, hostNetwork pods) get `network unreachable` for Services. Pods are not affected (their packets are rewritten before routing).",
      remedy:
        "restore the default route, or add a route that covers the Service CIDR (`ip route add <service-cidr> dev <primary-if>`); IPVS mode avoids it by binding Service addresses to `kube-ipvs0`.",
      repair: "none",
    },
    IpForwardingDisabled: {
      severities: ["critical"],
      meaning:
        "`net.ipv4.ip_forward` is 0: the node does not forward packets between interfaces, so pods cannot reach anything off the node and nothing reaches them through Services. Hardening scripts and some images reset it; kubelet does not set it. Judged on Kubernetes nodes only (kubelet runs, its config exists, or an API server is configured), as are the other forwarding and bridge sysctls.",
      remedy:
        "`sysctl -w net.ipv4.ip_forward=1`, and make it stick: `echo net.ipv4.ip_forward=1 > /etc/sysctl.d/99-kubernetes.conf` (then find the file that sets it to 0: `grep -r ip_forward /etc/sysctl.conf /etc/sysctl.d/ /usr/lib/sysctl.d/`).",
      repair: "none",
    },
    Ipv6ForwardingDisabled: {
      severities: ["critical"],
      meaning: "the node uses IPv6 (dual-stack or IPv6-only) and `net.ipv6.conf.all.forwarding` is 0: pods' IPv6 traffic is not forwarded.",
      remedy: "`sysctl -w net.ipv6.conf.all.forwarding=1` and persist it in `/etc/sysctl.d/`.",
      repair: "none",
    },
    BridgeNetfilterDisabled: {
      severities: ["critical"],
      meaning:
        "the CNI configuration puts pods on a Linux bridge (the `bridge` plugin, flannel) and bridged traffic skips iptables: `br_netfilter` is not loaded (`/proc/sys/net/bridge` is missing) or `net.bridge.bridge-nf-call-iptables` (`-ip6tables` for IPv6) is 0. A pod then cannot reach a Service whose backend is on the same bridge, and Network Policies do not apply to it.",
      remedy:
        "`modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1`; persist with `echo br_netfilter > /etc/modules-load.d/k8s.conf` and the sysctls in `/etc/sysctl.d/`.",
      repair: "none",
    },
    CniMtuTooLarge: {
      severities: ["warning"],
      meaning:
        "a CNI interface (the CNI config's bridge, a VXLAN, Geneve, IPIP or WireGuard device of the network add-on) or the `mtu` in the CNI configuration, plus its encapsulation overhead (VXLAN and Geneve 50 bytes, IPIP 20, WireGuard 60), exceeds the MTU of the interface the default route leaves through. Small packets pass; large ones are dropped or fragmented: TLS handshakes and large responses hang while ping works.",
      remedy:
        "set the network add-on's MTU to the link's MTU minus the overhead (the message gives the number): `mtu` in the CNI config for the bridge plugin, `veth_mtu` in Calico's `calico-config`, flannel's backend MTU, Cilium's `mtu`; then restart the add-on's pod on this node.",
      repair: "none",
    },
    LinkFlapping: {
      severities: ["warning"],
      meaning:
        "the carrier of an interface a default route uses went down and up `checks.network.linkFlapsWarning` (default 3) times or more within `checks.network.linkFlapWindowSeconds` (default 600), counted from `carrier_changes`: connections reset, the node may flap NotReady.",
      remedy:
        "`ip -s link show <if>`, `dmesg | grep <if>`, `ethtool <if>`: a bad cable, switch port, transceiver or a driver resetting; the cloud provider's console for a virtual NIC.",
      repair: "none",
    },
    ClusterDnsNoAnswer: {
      severities: ["warning", "critical"],
      severity: "critical when no `clusterDNS` server answers right; warning when another one still does.",
      meaning:
        "a `clusterDNS` server did not answer the query for `kubernetes.default.svc.<clusterDomain>` within `checks.network.dnsTimeoutSeconds` (UDP, retried once, then TCP when the answer is truncated), or the query was refused at the network level (ICMP port unreachable: nothing listens). Pods on this node cannot resolve names: the DNS pods are down, the Service path to them is broken, or a firewall drops port 53.",
      remedy:
        "`kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide` (are they running, where?); from the node: `dig @<server> kubernetes.default.svc.<clusterDomain>`; if the DNS pods are fine, the Service path on this node is the suspect (kube-proxy's rules, see ServiceVipUnreachable).",
      repair: "none",
    },
    ClusterDnsWrongAnswer: {
      severities: ["warning", "critical"],
      severity: "as ClusterDnsNoAnswer.",
      meaning:
        "a `clusterDNS` server answered, but wrongly: NXDOMAIN (it does not serve the cluster domain: the wrong `clusterDomain` in kubelet's config, or a resolver that is not the cluster's DNS), no address, SERVFAIL or REFUSED (CoreDNS cannot reach the API server, or a policy refuses the node), or an address that is not the `kubernetes` Service's ClusterIP.",
      remedy:
        "compare kubelet's `clusterDNS`/`clusterDomain` (`/var/lib/kubelet/config.yaml`) with the cluster's: `kubectl -n kube-system get svc kube-dns` and the `kubernetes` plugin's zone in the `coredns` ConfigMap; `kubectl -n kube-system logs -l k8s-app=kube-dns` for SERVFAIL.",
      repair: "none",
    },
    ServiceVipUnreachable: {
      severities: ["critical"],
      meaning:
        "a TCP connect to the `kubernetes` Service's ClusterIP fails while one to the API server endpoint behind it succeeds: the API server is fine, the Service path on this node is not — kube-proxy is not running here, its iptables/nftables/IPVS rules are missing or stale, or a firewall rule drops the ClusterIP. Every pod on the node that talks to a Service is affected.",
      remedy:
        "`kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide --field-selector spec.nodeName=<node>` and its logs; on the node: `iptables-save -t nat | grep -c KUBE-SVC` or `nft list table ip kube-proxy`, `ipvsadm -Ln` in IPVS mode; deleting the node's kube-proxy pod rebuilds its rules. With a kube-proxy replacement (Cilium) check its agent on this node.",
      repair: "none",
    },
    ApiServerEndpointUnreachable: {
      severities: ["warning", "critical"],
      severity: "critical when neither the Service nor any endpoint accepts a connection; warning when some endpoints do not while the Service does.",
      meaning:
        "TCP connects to the API server endpoints in the `kubernetes` EndpointSlice fail from this node (and through the Service too, when critical): the API server is down, or the network between this node and the control plane is (a route, a security group, a firewall). kubelet on this node is cut off the same way and the node will turn NotReady.",
      remedy:
        "from the node: `ip route get <endpoint>`, `nc -vz <endpoint> <port>`; the control plane's health (`kubectl get --raw /readyz` from elsewhere); security groups and firewalls between the node and the control plane.",
      repair: "none",
    },
  },
});

/**
 * The network check's I/O: routes, links and sysctls of the host's network
 * namespace; the CNI file the runtime loads; kubelet's cluster DNS; the
 * `kubernetes` Service from the API server; and three kinds of probe — a DNS
 * query, a TCP connect, kube-proxy's /proxyMode. Every wait is bounded by a
 * deadline on the injected clock. Returns plain facts for judge.ts.
 */
import { Resolver } from "node:dns/promises";
import { request } from "node:http";
import { connect, isIP, isIPv4, type Socket } from "node:net";
import { withDeadline } from "../../time/deadline.js";
import { canonicalIp, readHostAddresses } from "../../node/addresses.js";
import { cniDirs, readCniState } from "../../node/cni.js";
import { readContainerdConfig } from "../../node/containerd-config.js";
import { BRIDGE_PLUGIN_TYPES, cniPluginLinks, type CniPluginLink } from "../../node/cni-links.js";
import { HostPathError } from "../../node/host.js";
import type { KubeletSetup } from "../../node/kubelet/locator.js";
import { kubeletNetworkSettings } from "../../node/kubelet/network.js";
import { listLinks, readLink, type Link } from "../../node/links.js";
import { defaultRoutes, parseIpv6Route, parseRoute, type Family, type Route } from "../../node/routes.js";
import type { CheckContext, Clock, Host } from "../../types.js";
import { errorText } from "../../text/format.js";

// ---------------------------------------------------------------- facts

export type DnsOutcome = "answered" | "nxdomain" | "nodata" | "servfail" | "refused" | "badresponse" | "timeout" | "unreachable" | "error";

export interface DnsProbe {
  server: string;
  name: string;
  type: "A" | "AAAA";
  outcome: DnsOutcome;
  addresses: string[];
  seconds: number;
  /** The resolver's code and message when it did not answer with addresses. */
  detail?: string;
}

export type ConnectOutcome = "connected" | "refused" | "timeout" | "unreachable" | "error";

export interface ConnectProbe {
  address: string;
  port: number;
  outcome: ConnectOutcome;
  seconds: number;
  detail?: string;
}

/** The `kubernetes` Service as last read from the API server. */
export interface KubernetesService {
  clusterIPs: string[];
  port: number;
  endpoints: Array<{ address: string; port: number }>;
  /** The Node's InternalIPs, read with it: the families the node uses. */
  nodeIPs: string[];
  /** Clock.monotonic() when read. */
  readAtMs: number;
}

export interface ServicePathFacts {
  service: KubernetesService;
  /** Set when this run could not refresh it and judged the last copy. */
  staleBecause?: string;
  vip: ConnectProbe;
  endpoints: ConnectProbe[];
}

export interface CniFacts {
  file: string;
  plugins: CniPluginLink[];
}

export interface ClusterDnsFacts {
  servers: string[];
  domain: string;
  /** Where servers and domain came from, for messages. */
  source: string;
  /** The address the answer must hold, when the `kubernetes` Service is known. */
  expected?: string[];
  probes: DnsProbe[];
}

export interface NetworkFacts {
  /** Interfaces that exist, by name (bounded). */
  linkNames: string[];
  /** The interfaces read: lo, the default routes', the CNI's, and the ones the message may name. */
  links: Record<string, Link>;
  routes: Route[];
  routeErrors: string[];
  /** The node's own addresses (local routes), so a node-local DNS cache on a dummy interface is not "unrouted". */
  localAddresses: string[];
  families: Family[];
  /** What told the families, for messages: "kubelet --node-ip", "the Node's InternalIPs". */
  familySources: string[];
  /**
   * Whether this is a Kubernetes node: kubelet runs, its config exists, or an
   * API server is configured. Forwarding and bridge netfilter are required of
   * nodes only; a workstation running `node-doctor check` has no use for them.
   */
  kubernetesNode: boolean;
  sysctls: Partial<Record<SysctlName, number | "missing">>;
  cni?: CniFacts;
  /** Why the CNI config could not be used; the bridge and MTU rules are then skipped. */
  cniProblem?: string;
  kubeProxyMode?: string;
  kubeProxyProblem?: string;
  dns?: ClusterDnsFacts;
  dnsSkipped?: string;
  servicePath?: ServicePathFacts;
  serviceSkipped?: string;
}

export const SYSCTLS = {
  "net.ipv4.ip_forward": "/proc/sys/net/ipv4/ip_forward",
  "net.ipv6.conf.all.forwarding": "/proc/sys/net/ipv6/conf/all/forwarding",
  "net.bridge.bridge-nf-call-iptables": "/proc/sys/net/bridge/bridge-nf-call-iptables",
  "net.bridge.bridge-nf-call-ip6tables": "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
} as const;
export type SysctlName = keyof typeof SYSCTLS;

/**
 * Devices network add-ons create on the node, with the encapsulation they add
 * (the outer headers each packet carries over the underlying link).
 */
export const OVERLAY_DEVICES: Record<string, number> = {
  "flannel.1": 50,
  "flannel-v6.1": 70,
  "flannel-wg": 60,
  "vxlan.calico": 50,
  "vxlan-v6.calico": 70,
  tunl0: 20,
  "wireguard.cali": 60,
  weave: 0,
  "kube-bridge": 0,
};

// ---------------------------------------------------------------- node files

const PROC_OPTIONS = { maxBytes: 16 * 1024 * 1024 };

/** Both routing tables; IPv6 may be off (no /proc/net/ipv6_route), IPv4 may not. */
export async function readRoutes(host: Host, signal: AbortSignal): Promise<{ routes: Route[]; errors: string[] }> {
  const v4 = parseRoute(await host.readText("/proc/net/route", { ...PROC_OPTIONS, signal }));
  let v6 = { routes: [] as Route[], errors: [] as string[] };
  try {
    v6 = parseIpv6Route(await host.readText("/proc/net/ipv6_route", { ...PROC_OPTIONS, signal }));
  } catch (error) {
    signal.throwIfAborted();
    if (!(error instanceof HostPathError && error.code === "ENOENT")) throw error;
  }
  return {
    routes: [...v4.routes, ...v6.routes],
    errors: [...v4.errors.map((e) => `/proc/net/route ${e}`), ...v6.errors.map((e) => `/proc/net/ipv6_route ${e}`)],
  };
}

/** A sysctl's integer value; "missing" when the file does not exist (the module that provides it is not loaded, IPv6 is off). */
export async function readSysctl(host: Host, name: SysctlName, signal: AbortSignal): Promise<number | "missing"> {
  let text: string;
  try {
    text = await host.readText(SYSCTLS[name], { maxBytes: 64, signal });
  } catch (error) {
    signal.throwIfAborted();
    if (error instanceof HostPathError && error.code === "ENOENT") return "missing";
    throw error;
  }
  const value = text.trim();
  if (!/^-?\d{1,10}$/.test(value)) throw new Error(`${SYSCTLS[name]}: expected an integer, got ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

/** The CNI file the runtime loads and the plugins' bridges and MTUs; the directory is the setting's, else the runtime's (cniDirs). */
export async function readCni(
  host: Host,
  containerdConfigPath: string,
  confDir: string | undefined,
  signal: AbortSignal,
): Promise<{ cni?: CniFacts; problem?: string }> {
  const dirs = cniDirs(confDir ? undefined : await readContainerdConfig(host, containerdConfigPath, signal), { confDir });
  const state = await readCniState(host, { confDir: dirs.confDir, binDirs: [], signal });
  if (!state.active) {
    const broken = state.files.find((f) => f.problem);
    return {
      problem: state.confDirProblem
        ? `${state.confDir} ${state.confDirProblem}`
        : broken
          ? `${broken.path} ${broken.problem}`
          : `no CNI config in ${state.confDir}`,
    };
  }
  const text = await host.readText(state.active.path, { maxBytes: 1024 * 1024, signal });
  return { cni: { file: state.active.path, plugins: cniPluginLinks(text) } };
}

export function usesBridge(cni: CniFacts | undefined): boolean {
  return cni?.plugins.some((p) => BRIDGE_PLUGIN_TYPES.includes(p.type)) ?? false;
}

// ---------------------------------------------------------------- the API server

/** The `kubernetes` Service, its endpoints (at most `maxEndpoints`, ready ones) and the Node's InternalIPs. */
export async function readKubernetesService(ctx: CheckContext, maxEndpoints: number): Promise<KubernetesService | null> {
  const cluster = ctx.cluster;
  if (!cluster) return null;
  const [found, { node }] = await Promise.all([cluster.getKubernetesService(ctx.signal), cluster.getNode(ctx.signal)]);
  if (!found) return null;
  const spec = found.service.spec ?? {};
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [])
    .map((ip) => canonicalIp(ip))
    .filter((ip): ip is string => ip !== undefined);
  const port = spec.ports?.find((p) => p.name === "https")?.port ?? spec.ports?.[0]?.port ?? 443;
  const endpoints: Array<{ address: string; port: number }> = [];
  for (const slice of found.endpointSlices) {
    const slicePort = slice.ports?.find((p) => p.name === "https")?.port ?? slice.ports?.[0]?.port ?? 6443;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      const address = canonicalIp(endpoint.addresses[0] ?? "");
      if (address && endpoints.length < maxEndpoints && !endpoints.some((e) => e.address === address)) endpoints.push({ address, port: slicePort });
    }
  }
  const nodeIPs = (node?.status?.addresses ?? [])
    .filter((a) => a.type === "InternalIP")
    .map((a) => canonicalIp(a.address))
    .filter((ip): ip is string => ip !== undefined);
  return { clusterIPs, port, endpoints, nodeIPs, readAtMs: ctx.clock.monotonic() };
}

// ---------------------------------------------------------------- probes

function errorCode(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : "";
}

const DNS_OUTCOMES: Record<string, DnsOutcome> = {
  ENOTFOUND: "nxdomain",
  ENODATA: "nodata",
  ESERVFAIL: "servfail",
  EREFUSED: "refused",
  EBADRESP: "badresponse",
  EFORMERR: "badresponse",
  ETIMEOUT: "timeout",
  ECONNREFUSED: "unreachable",
};

/**
 * One query to one server with node:dns's Resolver (c-ares): it tells NXDOMAIN
 * (ENOTFOUND) from NOERROR-without-records (ENODATA), SERVFAIL and REFUSED from
 * a timeout, reports ICMP port unreachable as ECONNREFUSED, and retries over TCP
 * when the UDP answer is truncated. A Resolver per query: c-ares caches answers
 * per channel, and a cached answer would hide the server's state now.
 *
 * c-ares's timeout is per try and roughly doubles on the retry (measured here on
 * Node 24: timeout 500 ms, 2 tries → 1.58 s), so a third of the deadline per try
 * with one retry fits; cancel() at the deadline itself bounds the rest.
 */
export async function queryDns(clock: Clock, server: string, name: string, type: "A" | "AAAA", ms: number, parent: AbortSignal): Promise<DnsProbe> {
  const resolver = new Resolver({ timeout: Math.max(50, Math.floor(ms / 3)), tries: 2 });
  resolver.setServers([server]);
  const started = clock.monotonic();
  const probe = (outcome: DnsOutcome, addresses: string[], detail?: string): DnsProbe => ({
    server,
    name,
    type,
    outcome,
    addresses,
    seconds: (clock.monotonic() - started) / 1000,
    ...(detail ? { detail } : {}),
  });
  try {
    const addresses = await withDeadline(
      clock,
      ms,
      parent,
      (signal) =>
        new Promise<string[]>((resolve, reject) => {
          const onAbort = () => resolver.cancel();
          signal.addEventListener("abort", onAbort, { once: true });
          (type === "A" ? resolver.resolve4(name) : resolver.resolve6(name)).then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
        }),
      `DNS ${server}`,
    );
    return probe(
      "answered",
      addresses.map((a) => canonicalIp(a) ?? a),
    );
  } catch (error) {
    parent.throwIfAborted();
    const code = errorCode(error);
    const outcome = code === "ECANCELLED" ? "timeout" : (DNS_OUTCOMES[code] ?? "error");
    return probe(outcome, [], code === "ECANCELLED" ? `no answer within ${ms} ms` : `${code || "error"}: ${errorText(error)}`);
  }
}

const CONNECT_OUTCOMES: Record<string, ConnectOutcome> = {
  ECONNREFUSED: "refused",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
};

/** A TCP connect, closed as soon as it is established: does anything accept at address:port from here? */
export async function probeConnect(clock: Clock, address: string, port: number, ms: number, parent: AbortSignal): Promise<ConnectProbe> {
  const started = clock.monotonic();
  const done = (outcome: ConnectOutcome, detail?: string): ConnectProbe => ({
    address,
    port,
    outcome,
    seconds: (clock.monotonic() - started) / 1000,
    ...(detail ? { detail } : {}),
  });
  let socket: Socket | undefined;
  try {
    await withDeadline(
      clock,
      ms,
      parent,
      (signal) =>
        new Promise<void>((resolve, reject) => {
          const s = connect({ host: address, port, family: isIP(address) });
          socket = s;
          const onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
          s.once("connect", () => resolve());
          s.once("error", reject);
          s.once("close", () => signal.removeEventListener("abort", onAbort));
        }),
      `connect ${address}:${port}`,
    );
    return done("connected");
  } catch (error) {
    parent.throwIfAborted();
    if (error instanceof Error && error.name === "TimeoutError") return done("timeout", `no answer within ${ms} ms`);
    const code = errorCode(error);
    return done(CONNECT_OUTCOMES[code] ?? "error", `${code || "error"}: ${errorText(error)}`);
  } finally {
    socket?.destroy();
  }
}

/** kube-proxy's mode from its own /proxyMode endpoint ("iptables", "ipvs", "nftables", "kernelspace"). */
export async function kubeProxyMode(clock: Clock, url: string, ms: number, parent: AbortSignal): Promise<{ mode?: string; problem?: string }> {
  try {
    const body = await withDeadline(
      clock,
      ms,
      parent,
      (signal) =>
        new Promise<string>((resolve, reject) => {
          const req = request(url, { method: "GET", signal }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              text += chunk;
              if (text.length > 256) req.destroy(new Error("answer longer than 256 bytes"));
            });
            res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
            res.on("error", reject);
          });
          req.on("error", reject);
          req.end();
        }),
      `GET ${url}`,
    );
    const mode = body.trim();
    if (!/^[a-z]{1,20}$/.test(mode)) return { problem: `${url} answered ${JSON.stringify(mode.slice(0, 40))}, not a proxy mode` };
    return { mode };
  } catch (error) {
    parent.throwIfAborted();
    const code = errorCode(error);
    return { problem: code === "ECONNREFUSED" ? `nothing listens on ${url} (kube-proxy not running here, or replaced)` : `${url}: ${errorText(error)}` };
  }
}

// ---------------------------------------------------------------- interfaces

/** lo, the interfaces of default routes and of routes the message may name, the CNI's bridges and overlay devices. */
export function interestingLinks(names: readonly string[], routes: readonly Route[], cni: CniFacts | undefined, remembered: readonly string[]): string[] {
  const wanted = new Set<string>(["lo", ...remembered]);
  for (const family of ["ipv4", "ipv6"] as const) for (const r of defaultRoutes(routes, family)) if (r.iface) wanted.add(r.iface);
  for (const p of cni?.plugins ?? []) if (p.bridge) wanted.add(p.bridge);
  for (const name of Object.keys(OVERLAY_DEVICES)) wanted.add(name);
  return names.filter((n) => wanted.has(n));
}

/** Interfaces whose state the message may name when no default route exists: not pod veths (there may be hundreds), at most 32. */
export function candidateUplinks(names: readonly string[]): string[] {
  return names
    .filter((n) => n !== "lo" && !/^(veth|cali|lxc|cilium|flannel|cni|vxlan|tunl|kube-|docker|br-|virbr|weave|datapath|eni|azv|gke|tap|ifb|dummy)/.test(n))
    .slice(0, 32);
}

export async function readLinks(host: Host, names: readonly string[], signal: AbortSignal): Promise<Record<string, Link>> {
  const out: Record<string, Link> = Object.create(null) as Record<string, Link>;
  for (const name of names) {
    try {
      out[name] = await readLink(host, name, signal);
    } catch (error) {
      signal.throwIfAborted();
      // Gone between listing and reading (a pod's veth): not there.
      if (!(error instanceof HostPathError && error.code === "ENOENT")) throw error;
    }
  }
  return out;
}

/** Families named by the addresses the node is configured with, most authoritative first. */
export function familiesInUse(sources: Array<[string, readonly string[]]>): { families: Family[]; sources: string[] } {
  const families = new Set<Family>();
  const named: string[] = [];
  for (const [what, addresses] of sources) {
    const found = addresses.filter((a) => isIP(a) !== 0);
    if (found.length === 0) continue;
    named.push(what);
    for (const a of found) families.add(isIPv4(a) ? "ipv4" : "ipv6");
  }
  if (families.size === 0) return { families: ["ipv4"], sources: [] };
  return { families: (["ipv4", "ipv6"] as const).filter((f) => families.has(f)), sources: named };
}

// ---------------------------------------------------------------- one look

export interface GatherOptions {
  cniConfDir?: string | undefined;
  clusterDns?: string[] | undefined;
  clusterDomain?: string | undefined;
  kubeProxyModeUrl: string;
  dnsTimeoutMs: number;
  connectTimeoutMs: number;
  serviceRefreshMs: number;
  maxEndpoints: number;
}

/** What the check keeps between runs: the `kubernetes` Service (re-read every serviceRefreshMs) and the last default-route interfaces. */
export interface GatherMemory {
  service?: KubernetesService;
  /** When the API server last said it has no default/kubernetes Service: asked again only after serviceRefreshMs, as a found one. */
  serviceAbsentAtMs?: number;
  uplinks: string[];
}

const KUBE_PROXY_TIMEOUT_MS = 1000;
const NO_SERVICE = "the API server has no default/kubernetes Service";

/** The `kubernetes` Service: fresh when due, else the last copy; a failed refresh keeps the last copy and says why. */
export async function kubernetesService(
  ctx: CheckContext,
  options: GatherOptions,
  memory: GatherMemory,
): Promise<{ service?: KubernetesService; stale?: string; skipped?: string }> {
  if (!ctx.cluster) return { skipped: "no API server is configured" };
  const last = memory.service;
  const now = ctx.clock.monotonic();
  if (last && now - last.readAtMs < options.serviceRefreshMs) return { service: last };
  if (!last && memory.serviceAbsentAtMs !== undefined && now - memory.serviceAbsentAtMs < options.serviceRefreshMs) return { skipped: NO_SERVICE };
  try {
    const service = await withDeadline(
      ctx.clock,
      options.connectTimeoutMs * 2,
      ctx.signal,
      () => readKubernetesService(ctx, options.maxEndpoints),
      "reading default/kubernetes",
    );
    if (!service) {
      delete memory.service;
      memory.serviceAbsentAtMs = now;
      return { skipped: NO_SERVICE };
    }
    delete memory.serviceAbsentAtMs;
    memory.service = service;
    return { service };
  } catch (error) {
    ctx.signal.throwIfAborted();
    const why = `the API server could not be asked for default/kubernetes (${errorText(error)})`;
    return last ? { service: last, stale: why } : { skipped: why };
  }
}

export async function gatherNetwork(ctx: CheckContext, kubelet: KubeletSetup, options: GatherOptions, memory: GatherMemory): Promise<NetworkFacts> {
  const { host, signal, clock } = ctx;
  const kubeletNet = kubeletNetworkSettings(kubelet);
  // The slow parts first, in parallel with the files: the API read, kube-proxy's mode.
  const servicePromise = kubernetesService(ctx, options, memory);
  const proxyPromise = options.kubeProxyModeUrl
    ? kubeProxyMode(clock, options.kubeProxyModeUrl, KUBE_PROXY_TIMEOUT_MS, signal)
    : Promise.resolve<{ mode?: string; problem?: string }>({ problem: "checks.network.kubeProxyModeUrl is empty" });

  const { routes, errors: routeErrors } = await readRoutes(host, signal);
  const local = await readHostAddresses(host, signal);
  const linkNames = await listLinks(host);
  const { cni, problem: cniProblem } = await readCni(host, kubelet.distribution.containerdConfig, options.cniConfDir, signal);
  const sysctls: NetworkFacts["sysctls"] = {};
  for (const name of Object.keys(SYSCTLS) as SysctlName[]) sysctls[name] = await readSysctl(host, name, signal);

  const wanted = interestingLinks(linkNames, routes, cni, memory.uplinks);
  const noDefault = (["ipv4", "ipv6"] as const).some((f) => defaultRoutes(routes, f).length === 0);
  const links = await readLinks(host, noDefault ? [...new Set([...wanted, ...candidateUplinks(linkNames)])] : wanted, signal);

  const { service, stale, skipped: serviceSkipped } = await servicePromise;
  const proxy = await proxyPromise;

  const dnsServers = (options.clusterDns ?? kubeletNet.servers).map((s) => canonicalIp(s) ?? s);
  const domain = options.clusterDomain ?? kubeletNet.domain;
  const dnsSource = options.clusterDns || options.clusterDomain ? "checks.network.clusterDns/clusterDomain" : kubeletNet.source;
  const { families, sources } = familiesInUse([
    ["kubelet's --node-ip", kubeletNet.nodeIPs],
    ["the Node's InternalIPs", service?.nodeIPs ?? []],
    ["kubelet's clusterDNS", dnsServers],
    ["the kubernetes Service's ClusterIPs", service?.clusterIPs ?? []],
  ]);

  const facts: NetworkFacts = {
    linkNames,
    links,
    routes,
    routeErrors,
    localAddresses: [...local.addresses],
    families,
    familySources: sources,
    kubernetesNode: kubelet.process !== undefined || kubelet.configPath !== undefined || ctx.cluster !== undefined,
    sysctls,
    ...(cni ? { cni } : {}),
    ...(cniProblem ? { cniProblem } : {}),
    ...(proxy.mode ? { kubeProxyMode: proxy.mode } : {}),
    ...(proxy.problem ? { kubeProxyProblem: proxy.problem } : {}),
  };

  // Probes, all at once: DNS to every server, TCP to the Service and its endpoints.
  const dnsPromise = (async (): Promise<void> => {
    if (dnsServers.length === 0) {
      facts.dnsSkipped = `no clusterDNS in ${kubeletNet.source}`;
      return;
    }
    if (!domain) {
      facts.dnsSkipped = `no clusterDomain in ${kubeletNet.source}`;
      return;
    }
    const vip = service?.clusterIPs[0];
    const type = vip && !isIPv4(vip) ? "AAAA" : "A";
    const name = `kubernetes.default.svc.${domain}`;
    const probes = await Promise.all(dnsServers.slice(0, 3).map((server) => queryDns(clock, server, name, type, options.dnsTimeoutMs, signal)));
    const expected = service?.clusterIPs.filter((ip) => (type === "A") === isIPv4(ip));
    facts.dns = { servers: dnsServers, domain, source: dnsSource, probes, ...(expected?.length ? { expected } : {}) };
  })();
  const servicePathPromise = (async (): Promise<void> => {
    const vip = service?.clusterIPs[0];
    if (!service || !vip) {
      facts.serviceSkipped = serviceSkipped ?? "the kubernetes Service has no ClusterIP";
      return;
    }
    const [vipProbe, ...endpointProbes] = await Promise.all([
      probeConnect(clock, vip, service.port, options.connectTimeoutMs, signal),
      ...service.endpoints.map((e) => probeConnect(clock, e.address, e.port, options.connectTimeoutMs, signal)),
    ]);
    facts.servicePath = { service, vip: vipProbe as ConnectProbe, endpoints: endpointProbes, ...(stale ? { staleBecause: stale } : {}) };
  })();
  await Promise.all([dnsPromise, servicePathPromise]);
  return facts;
}

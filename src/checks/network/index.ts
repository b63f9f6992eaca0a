/**
 * The node's data path: can it carry traffic? Links (loopback, the default
 * routes' interfaces, carrier flaps), routes (a default route per address
 * family in use, a route to Service addresses when kube-proxy's mode needs
 * one), the forwarding and bridge-netfilter sysctls, CNI MTUs against the
 * link's, a cluster DNS query, and the `kubernetes` Service's ClusterIP
 * against the API server's endpoint. Only from the host's network namespace.
 *
 * Gather (gather.ts) then judge (judge.ts). Between runs the check keeps the
 * `kubernetes` Service (re-read every serviceRefreshSeconds), the interfaces
 * that carried default routes, and each one's carrier_changes samples.
 */
import { isIP } from "node:net";
import { checkSettings } from "../../config/config.js";
import { absolutePath, boolean, list, number, optional, string, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { HOST_NETWORK_REMEDY, networkNamespace } from "../../node/namespaces.js";
import { defaultRoutes } from "../../node/routes.js";
import type { Check, CheckContext, Finding } from "../../types.js";
import { gatherNetwork, type GatherMemory } from "./gather.js";
import { judgeNetwork, notHostNamespace } from "./judge.js";
import { defineCheck } from "../define.js";
import { REASONS } from "./reasons.js";
import { networkMetrics } from "./metrics.js";

function ipAddress(value: string): string | undefined {
  return isIP(value) ? undefined : `must be an IP address, got ${JSON.stringify(value)}`;
}

function domainName(value: string): string | undefined {
  return /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(value)
    ? undefined
    : `must be a DNS domain like cluster.local, got ${JSON.stringify(value)}`;
}

function httpUrl(value: string): string | undefined {
  if (value === "") return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "http:" ? undefined : `must be an http:// URL (kube-proxy serves /proxyMode over plain HTTP), got ${JSON.stringify(value)}`;
  } catch {
    return `must be a URL like http://127.0.0.1:10249/proxyMode, or "" to not ask, got ${JSON.stringify(value)}`;
  }
}

export const networkSettings = checkSettings(
  { intervalSeconds: 30, timeoutSeconds: 10 },
  {
    /** DNS servers to ask instead of kubelet's clusterDNS. */
    clusterDns: optional(list(string({ check: ipAddress }), { maxItems: 3 })),
    /** The cluster domain instead of kubelet's clusterDomain. */
    clusterDomain: optional(string({ check: domainName })),
    /** Deadline of each DNS query (UDP, one retry, TCP when truncated). */
    dnsTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 2),
    /** Deadline of each TCP connect to the kubernetes Service and its endpoints. */
    connectTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 2),
    /** A missing default route is critical; false for nodes that route only specific prefixes. */
    requireDefaultRoute: withDefault(boolean(), true),
    /** Carrier flaps (a down and an up) of a default route's interface within linkFlapWindowSeconds that warn. */
    linkFlapsWarning: withDefault(number({ min: 1, max: 10000, integer: true }), 3),
    linkFlapWindowSeconds: withDefault(number({ min: 60, max: 86400 }), 600),
    /** kube-proxy's /proxyMode (its metrics address); "" to not ask, which skips the Service-route rule. */
    kubeProxyModeUrl: withDefault(string({ check: httpUrl }), "http://127.0.0.1:10249/proxyMode"),
    /** Re-read the kubernetes Service and its EndpointSlice at most this often. */
    serviceRefreshSeconds: withDefault(number({ min: 10, max: 86400 }), 300),
    /** CNI config directory; by default containerd's conf_dir, else /etc/cni/net.d. */
    cniConfDir: optional(string({ check: absolutePath })),
  },
);

export type NetworkSettings = Infer<typeof networkSettings>;

/** API server endpoints probed at most: enough to tell one bad control-plane node from all. */
const MAX_ENDPOINTS = 3;
/** Interfaces remembered as default-route interfaces. */
const MAX_UPLINKS = 4;

export function createNetworkCheck(settings: NetworkSettings, deps: { kubelet: KubeletLocator }): Check {
  const memory: GatherMemory = { uplinks: [] };
  /** carrier_changes samples per interface, oldest first, within the flap window. */
  const carrier = new Map<string, Array<{ atMs: number; changes: number }>>();
  const windowMs = settings.linkFlapWindowSeconds * 1000;

  function flapsSince(name: string, nowMs: number, changes: number | undefined): number | undefined {
    if (changes === undefined) return undefined;
    const samples = (carrier.get(name) ?? []).filter((s) => nowMs - s.atMs <= windowMs && s.changes <= changes);
    samples.push({ atMs: nowMs, changes });
    carrier.set(name, samples);
    const first = samples[0] as { changes: number };
    return samples.length > 1 ? changes - first.changes : undefined;
  }

  return {
    name: "network",
    conditions: ["NodeNetworkUnhealthy"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx: CheckContext): Promise<Finding[]> {
      const ns = await networkNamespace(ctx.host);
      if (ns.host !== true) return notHostNamespace(ns.detail, HOST_NETWORK_REMEDY);
      const kubelet = await deps.kubelet.locate(ctx.signal);
      const facts = await gatherNetwork(
        ctx,
        kubelet,
        {
          cniConfDir: settings.cniConfDir,
          clusterDns: settings.clusterDns,
          clusterDomain: settings.clusterDomain,
          kubeProxyModeUrl: settings.kubeProxyModeUrl,
          dnsTimeoutMs: settings.dnsTimeoutSeconds * 1000,
          connectTimeoutMs: settings.connectTimeoutSeconds * 1000,
          serviceRefreshMs: settings.serviceRefreshSeconds * 1000,
          maxEndpoints: MAX_ENDPOINTS,
        },
        memory,
      );
      const nowMs = ctx.clock.monotonic();
      const uplinks = new Set<string>();
      for (const family of ["ipv4", "ipv6"] as const) for (const r of defaultRoutes(facts.routes, family)) if (r.iface) uplinks.add(r.iface);
      const flaps: Record<string, number> = {};
      for (const name of uplinks) {
        const changes = flapsSince(name, nowMs, facts.links[name]?.carrierChanges);
        if (changes !== undefined) flaps[name] = changes;
      }
      for (const name of carrier.keys()) if (!uplinks.has(name) && !memory.uplinks.includes(name)) carrier.delete(name);
      const remembered = memory.uplinks;
      if (uplinks.size) memory.uplinks = [...uplinks, ...remembered.filter((n) => !uplinks.has(n))].slice(0, MAX_UPLINKS);
      return judgeNetwork(
        { facts, rememberedUplinks: remembered, flaps },
        {
          requireDefaultRoute: settings.requireDefaultRoute,
          linkFlapsWarning: settings.linkFlapsWarning,
          linkFlapWindowSeconds: settings.linkFlapWindowSeconds,
          dnsTimeoutMs: settings.dnsTimeoutSeconds * 1000,
          ...(ctx.cluster ? { nodeName: ctx.cluster.nodeName } : {}),
        },
      );
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const networkCheck = defineCheck({ settings: networkSettings, create: createNetworkCheck, reasons: REASONS, metrics: networkMetrics });

/**
 * The network settings kubelet runs with, read through the one kubelet
 * reader: clusterDNS and clusterDomain (a flag over the config file with its
 * --config-dir drop-ins merged) and --node-ip, which has no config key.
 */
import { canonicalIp } from "../addresses.js";
import { listSetting, stringSetting, type KubeletConfigFiles, type Setting } from "./config.js";
import type { KubeletFlags } from "./flags.js";

export interface KubeletNetworkSettings {
  /** clusterDNS: the nameservers kubelet writes into pods' resolv.conf. */
  servers: string[];
  /** clusterDomain, without a trailing dot. */
  domain?: string;
  /** --node-ip, canonical, without the "any" addresses. */
  nodeIPs: string[];
  /** Where clusterDNS and clusterDomain were read, for messages: "kubelet's config /etc/kubernetes/kubelet/config.json.d/10-dns.conf". */
  source: string;
}

function describeSources(settings: ReadonlyArray<[string, Setting<unknown> | undefined]>): string | undefined {
  const flags = settings.flatMap(([flag, s]) => (s?.from === "flag" ? [`--${flag}`] : []));
  const files = [...new Set(settings.flatMap(([, s]) => (s?.from === "config" && s.path ? [s.path] : [])))];
  const parts = [
    ...(flags.length > 0 ? [`kubelet's ${flags.join("/")} flag${flags.length > 1 ? "s" : ""}`] : []),
    ...(files.length > 0 ? [`kubelet's config ${files.join(", ")}`] : []),
  ];
  return parts.length > 0 ? parts.join(" and ") : undefined;
}

/** clusterDNS, clusterDomain and --node-ip as kubelet runs with them. Pure. */
export function kubeletNetworkSettings(setup: { flags: KubeletFlags; configFiles?: KubeletConfigFiles; configPath?: string }): KubeletNetworkSettings {
  const dns = listSetting(setup.flags, setup.configFiles, "cluster-dns", "clusterDNS");
  const domain = stringSetting(setup.flags, setup.configFiles, "cluster-domain", "clusterDomain");
  const nodeIPs = (stringSetting(setup.flags, setup.configFiles, "node-ip")?.value ?? "")
    .split(",")
    .map((s) => canonicalIp(s.trim()))
    .filter((s): s is string => s !== undefined && s !== "0.0.0.0" && s !== "::");
  const source =
    describeSources([
      ["cluster-dns", dns],
      ["cluster-domain", domain],
    ]) ?? (setup.configPath ? `kubelet's config ${setup.configPath}` : "kubelet's flags");
  return {
    servers: dns?.value ?? [],
    ...(domain?.value ? { domain: domain.value.replace(/\.$/, "") } : {}),
    nodeIPs,
    source,
  };
}

/**
 * The interfaces a CNI configuration makes on the node and the MTU it asks
 * for: the `bridge` plugin's bridge ("bridge", default "cni0", the name the
 * plugin itself defaults to) and the `mtu` of plugins that take one (bridge,
 * ptp, macvlan, ipvlan, calico, …). The file is the one the runtime loads
 * (node/cni.ts readCniState says which); this reads only what the network
 * check compares with the node's links.
 */
import { isRecord } from "../types.js";
import { parseUntrustedJson } from "../text/json.js";

/** The bridge plugin's default bridge name (containernetworking/plugins, plugins/main/bridge). */
export const DEFAULT_CNI_BRIDGE = "cni0";

/** Plugin types that put pods on a Linux bridge on the node: bridge itself, and flannel, which delegates to it. */
export const BRIDGE_PLUGIN_TYPES = ["bridge", "flannel"];

export interface CniPluginLink {
  /** The plugin's type ("bridge", "calico"). */
  type: string;
  /** The Linux bridge it attaches pods to, for bridge plugins. */
  bridge?: string;
  /** The MTU it sets on the pod side, when the file says. */
  mtu?: number;
}

/** The plugins of a .conflist (or the one plugin of a .conf) with their bridge and MTU; [] for anything that is not a CNI config. */
export function cniPluginLinks(text: string): CniPluginLink[] {
  let value: unknown;
  try {
    value = parseUntrustedJson(text);
  } catch {
    return [];
  }
  if (!isRecord(value)) return [];
  const plugins = Array.isArray(value["plugins"]) ? value["plugins"] : [value];
  const out: CniPluginLink[] = [];
  for (const plugin of plugins.slice(0, 64)) {
    if (!isRecord(plugin) || typeof plugin["type"] !== "string") continue;
    const type = plugin["type"];
    const link: CniPluginLink = { type };
    const mtu = plugin["mtu"];
    if (typeof mtu === "number" && Number.isInteger(mtu) && mtu > 0 && mtu <= 65535) link.mtu = mtu;
    if (type === "bridge") link.bridge = typeof plugin["bridge"] === "string" && plugin["bridge"] !== "" ? plugin["bridge"] : DEFAULT_CNI_BRIDGE;
    if (type === "flannel") {
      // flannel hands its "delegate" to the bridge plugin, which then names the bridge.
      const delegate = plugin["delegate"];
      const bridge = isRecord(delegate) && typeof delegate["bridge"] === "string" && delegate["bridge"] !== "" ? delegate["bridge"] : DEFAULT_CNI_BRIDGE;
      link.bridge = bridge;
    }
    out.push(link);
  }
  return out;
}

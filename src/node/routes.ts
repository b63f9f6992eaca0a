/**
 * The node's routing tables as the kernel prints them, read without netlink
 * (which node has no API for) and without spawning `ip route`:
 *
 * - /proc/net/route: IPv4, the main table only (net/ipv4/fib_trie.c
 *   fib_route_seq_show skips every other table and broadcast/multicast
 *   routes). Columns: Iface, Destination, Gateway, Flags, RefCnt, Use,
 *   Metric, Mask, MTU, Window, IRTT; addresses are 8 hex digits in the
 *   kernel's (network) byte order printed as a host-order word, so on a
 *   little-endian machine 10.96.0.0 reads "0000600A".
 * - /proc/net/ipv6_route: IPv6, every table (net/ipv6/route.c
 *   ipv6_route_native_seq_show): destination (32 hex), prefix length (2
 *   hex), source and its length, next hop, metric, refcount, use, flags
 *   (8 hex each), device.
 *
 * Both describe the network namespace of the process that reads them.
 */
import { isIPv4, isIPv6 } from "node:net";
import { canonicalIp } from "./addresses.js";

export type Family = "ipv4" | "ipv6";

/** Route flags (include/uapi/linux/route.h, ipv6_route.h). */
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;
export const RTF_REJECT = 0x200;
export const RTF_LOCAL = 0x80000000;

export interface Route {
  family: Family;
  /** The network in canonical text, "0.0.0.0" or "::" for a default route. */
  destination: string;
  prefixLength: number;
  /** The next hop, when the route has one. */
  gateway?: string;
  /** The output device; undefined for a route with none (blackhole, unreachable: "*" in /proc/net/route). */
  iface?: string;
  metric: number;
  flags: number;
}

export interface RouteTable {
  routes: Route[];
  /** Lines that could not be read, "line N: why": never silently skipped. */
  errors: string[];
}

/** Lines read at most: a node with a full BGP table has far fewer routes in the main table than this. */
const MAX_ROUTES = 100_000;

/** An IPv4 address printed by the kernel as a host-order word of network-order bytes (little-endian machines). */
function ipv4FromKernelHex(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const word = Number.parseInt(hex, 16);
  // The kernel prints the __be32 with %08X, i.e. as the CPU reads those four bytes.
  const bytes = LITTLE_ENDIAN
    ? [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24]
    : [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff];
  return bytes.join(".");
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The prefix length of a contiguous netmask; undefined for one with holes (the kernel never prints those). */
function prefixFromMask(mask: string): number | undefined {
  const parts = mask.split(".").map(Number);
  let bits = 0;
  let ended = false;
  for (const part of parts) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = ((part >> bit) & 1) === 1;
      if (set && ended) return undefined;
      if (set) bits++;
      else ended = true;
    }
  }
  return bits;
}

/** Parses /proc/net/route. */
export function parseRoute(text: string): RouteTable {
  const table: RouteTable = { routes: [], errors: [] };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length && table.routes.length < MAX_ROUTES; i++) {
    const line = (lines[i] as string).trim();
    if (line === "" || (i === 0 && line.startsWith("Iface"))) continue;
    const fields = line.split(/\s+/);
    const [iface, destHex, gwHex, flagsHex, , , metricText, maskHex] = fields;
    const destination = ipv4FromKernelHex(destHex ?? "");
    const gateway = ipv4FromKernelHex(gwHex ?? "");
    const mask = ipv4FromKernelHex(maskHex ?? "");
    const prefixLength = mask === undefined ? undefined : prefixFromMask(mask);
    const flags = /^[0-9A-Fa-f]{1,8}$/.test(flagsHex ?? "") ? Number.parseInt(flagsHex as string, 16) : undefined;
    const metric = /^\d{1,10}$/.test(metricText ?? "") ? Number(metricText) : undefined;
    if (
      fields.length < 8 ||
      !iface ||
      destination === undefined ||
      gateway === undefined ||
      prefixLength === undefined ||
      flags === undefined ||
      metric === undefined
    ) {
      table.errors.push(`line ${i + 1}: not a route (expected Iface Destination Gateway Flags RefCnt Use Metric Mask …)`);
      continue;
    }
    table.routes.push({
      family: "ipv4",
      destination,
      prefixLength,
      ...(flags & RTF_GATEWAY ? { gateway } : {}),
      ...(iface === "*" ? {} : { iface }),
      metric,
      flags,
    });
  }
  return table;
}

function ipv6FromHex(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  return canonicalIp((hex.match(/.{4}/g) as string[]).join(":"));
}

/** Parses /proc/net/ipv6_route. */
export function parseIpv6Route(text: string): RouteTable {
  const table: RouteTable = { routes: [], errors: [] };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length && table.routes.length < MAX_ROUTES; i++) {
    const line = (lines[i] as string).trim();
    if (line === "") continue;
    const fields = line.split(/\s+/);
    const [destHex, lengthHex, , , gwHex, metricHex, , , flagsHex, iface] = fields;
    const destination = ipv6FromHex(destHex ?? "");
    const gateway = ipv6FromHex(gwHex ?? "");
    const prefixLength = /^[0-9A-Fa-f]{2}$/.test(lengthHex ?? "") ? Number.parseInt(lengthHex as string, 16) : undefined;
    const hex8 = (v: string | undefined) => (/^[0-9A-Fa-f]{8}$/.test(v ?? "") ? Number.parseInt(v as string, 16) : undefined);
    const metric = hex8(metricHex);
    const flags = hex8(flagsHex);
    if (
      fields.length !== 10 ||
      !iface ||
      destination === undefined ||
      gateway === undefined ||
      prefixLength === undefined ||
      prefixLength > 128 ||
      metric === undefined ||
      flags === undefined
    ) {
      table.errors.push(`line ${i + 1}: not a route (expected destination/length source/length next-hop metric refcount use flags device)`);
      continue;
    }
    table.routes.push({
      family: "ipv6",
      destination,
      prefixLength,
      ...(gateway !== "::" ? { gateway } : {}),
      // The kernel's null entry ("unreachable" everywhere) is printed on lo.
      ...(flags & RTF_REJECT ? {} : { iface }),
      metric,
      flags,
    });
  }
  return table;
}

/** Routes that send everything else somewhere: destination 0/0 (::/0), not a reject or blackhole route, not a local one. */
export function defaultRoutes(routes: readonly Route[], family: Family): Route[] {
  return routes
    .filter((r) => r.family === family && r.prefixLength === 0 && r.iface !== undefined && (r.flags & RTF_REJECT) === 0 && (r.flags & RTF_LOCAL) === 0)
    .sort((a, b) => a.metric - b.metric);
}

function addressBits(ip: string): bigint | undefined {
  if (isIPv4(ip)) return ip.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  if (!isIPv6(ip)) return undefined;
  const canonical = canonicalIp(ip);
  if (!canonical) return undefined;
  const [head = "", tail = ""] = canonical.includes("::") ? canonical.split("::") : [canonical, ""];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** Whether `ip` lies in `network`/`prefixLength` (same family). */
export function inPrefix(ip: string, network: string, prefixLength: number): boolean {
  const width = isIPv4(ip) ? 32 : 128;
  if (isIPv4(network) !== isIPv4(ip)) return false;
  const a = addressBits(ip);
  const b = addressBits(network);
  if (a === undefined || b === undefined) return false;
  const shift = BigInt(width - prefixLength);
  return a >> shift === b >> shift;
}

/**
 * The route the kernel's main table would pick for `ip`: the longest matching
 * prefix, then the lowest metric (policy rules and other tables aside). Reject
 * and blackhole routes match too: they are the answer, and it is "no".
 */
export function routeFor(routes: readonly Route[], ip: string): Route | undefined {
  const family: Family = isIPv4(ip) ? "ipv4" : "ipv6";
  let best: Route | undefined;
  for (const route of routes) {
    if (route.family !== family || (route.flags & RTF_LOCAL) !== 0 || !inPrefix(ip, route.destination, route.prefixLength)) continue;
    if (!best || route.prefixLength > best.prefixLength || (route.prefixLength === best.prefixLength && route.metric < best.metric)) best = route;
  }
  return best;
}

/** "10.96.0.0/12 via 10.0.0.1 dev eth0" — as `ip route` would say it. */
export function describeRoute(route: Route): string {
  const destination = route.prefixLength === 0 ? "default" : `${route.destination}/${route.prefixLength}`;
  const via = route.gateway ? ` via ${route.gateway}` : "";
  const dev = route.iface ? ` dev ${route.iface}` : (route.flags & RTF_REJECT) !== 0 ? " (unreachable)" : " (blackhole)";
  return `${destination}${via}${dev}`;
}

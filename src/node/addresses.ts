/**
 * The addresses configured on the node's interfaces, read without spawning
 * `ip` and without netlink (which node has no API for): IPv4 from
 * /proc/net/fib_trie (the kernel's LOCAL routes are exactly the addresses
 * assigned to interfaces) and IPv6 from /proc/net/if_inet6.
 *
 * /proc/net is the network namespace of the process that reads it, so these
 * are the node's addresses only when the agent runs with hostNetwork (the
 * chart does; kubelet's healthz on 127.0.0.1 needs it too).
 */
import { isIPv4, isIPv6 } from "node:net";
import type { Host } from "../types.js";
import { errorText } from "../text/format.js";

export interface HostAddresses {
  /** Canonical text form (IPv6 compressed, lowercase). */
  addresses: Set<string>;
  /** IPv6 address → interface name, for messages. */
  interfaces: Map<string, string>;
  /** Files that could not be read (a missing family is not an error: IPv6 may be off). */
  problems: string[];
}

/** Canonical text of an IP address, so "fe80:0:0::1" and "fe80::1" compare equal; undefined when not an IP. */
export function canonicalIp(text: string): string | undefined {
  const value = text.trim().replace(/^\[|\]$/g, "");
  if (isIPv4(value)) return value;
  if (!isIPv6(value)) return undefined;
  // WHATWG URL serialises IPv6 hosts canonically (RFC 5952).
  return new URL(`http://[${value}]/`).hostname.slice(1, -1);
}

/** Local IPv4 addresses in /proc/net/fib_trie: leaves followed by a "/32 host LOCAL" line. */
export function parseFibTrie(text: string): string[] {
  const found = new Set<string>();
  let leaf: string | undefined;
  for (const line of text.split("\n")) {
    const leafMatch = /^[\s|]*\|-- (\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line);
    if (leafMatch) {
      leaf = leafMatch[1];
      continue;
    }
    if (/^\s*\+--/.test(line) || /^\S/.test(line)) {
      leaf = undefined;
      continue;
    }
    if (leaf && /^\s*\/32 host LOCAL\b/.test(line) && isIPv4(leaf)) found.add(leaf);
  }
  return [...found];
}

/** /proc/net/if_inet6 lines: 32 hex digits, index, prefix length, scope, flags, interface name. */
export function parseIfInet6(text: string): Array<{ address: string; iface: string }> {
  const out: Array<{ address: string; iface: string }> = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const hex = fields[0];
    if (!hex || !/^[0-9a-fA-F]{32}$/.test(hex) || fields.length < 6) continue;
    const address = canonicalIp(hex.match(/.{4}/g)?.join(":") ?? "");
    if (address) out.push({ address, iface: fields[5] as string });
  }
  return out;
}

export async function readHostAddresses(host: Host, signal?: AbortSignal): Promise<HostAddresses> {
  const result: HostAddresses = { addresses: new Set(), interfaces: new Map(), problems: [] };
  const options = { maxBytes: 4 * 1024 * 1024, ...(signal ? { signal } : {}) };
  try {
    for (const address of parseFibTrie(await host.readText("/proc/net/fib_trie", options))) result.addresses.add(address);
  } catch (error) {
    result.problems.push(errorText(error));
  }
  try {
    for (const { address, iface } of parseIfInet6(await host.readText("/proc/net/if_inet6", options))) {
      result.addresses.add(address);
      result.interfaces.set(address, iface);
    }
  } catch {
    // No IPv6 on this node: not a problem.
  }
  return result;
}

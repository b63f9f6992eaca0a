/**
 * Network interfaces as /sys/class/net shows them (Documentation/ABI/testing/
 * sysfs-class-net): operstate (RFC 2863 words), carrier, carrier_changes,
 * mtu, flags (IFF_*), type (ARPHRD_*) and the DEVTYPE in uevent ("bridge",
 * "vxlan", "geneve", "wireguard"…). Like /proc/net, /sys/class/net lists the
 * interfaces of the network namespace sysfs was mounted in.
 */
import type { Host } from "../types.js";
import { HostPathError } from "./host.js";

export const SYS_CLASS_NET = "/sys/class/net";
export const IFF_UP = 0x1;
/** ARPHRD_TUNNEL (ipip) and ARPHRD_TUNNEL6, from include/uapi/linux/if_arp.h. */
export const ARPHRD_TUNNEL = 768;
export const ARPHRD_TUNNEL6 = 769;

export const OPERSTATES = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"] as const;
export type OperState = (typeof OPERSTATES)[number];

export interface Link {
  name: string;
  operstate?: OperState;
  /**
   * Physical link up; undefined when the kernel will not say: reading `carrier`
   * fails with EINVAL while the interface is administratively down.
   */
  carrier?: boolean;
  /** Carrier up and down transitions since the interface was created. */
  carrierChanges?: number;
  mtu?: number;
  /** IFF_* flags; `flags & IFF_UP` is "administratively up". */
  flags?: number;
  /** ARPHRD_* type: 1 Ethernet, 772 loopback, 768 ipip … */
  type?: number;
  /** DEVTYPE from uevent, when the driver sets one. */
  devtype?: string;
  /** Files that exist but could not be read or parsed, "mtu: …". */
  problems: string[];
}

/** Interface names as the kernel allows them (dev_valid_name): 1-15 bytes, no "/", ":" or whitespace, not "." or "..". */
export function isInterfaceName(name: string): boolean {
  return /^[^/:\s]{1,15}$/.test(name) && name !== "." && name !== "..";
}

export function parseOperstate(text: string): OperState | undefined {
  const word = text.trim();
  return (OPERSTATES as readonly string[]).includes(word) ? (word as OperState) : undefined;
}

/** A decimal counter or size as sysfs prints it ("1500\n"); undefined otherwise. */
export function parseSysfsNumber(text: string): number | undefined {
  const value = text.trim();
  if (!/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/** flags: "0x1003\n". */
export function parseSysfsHex(text: string): number | undefined {
  const value = text.trim();
  return /^0x[0-9a-fA-F]{1,8}$/.test(value) ? Number.parseInt(value.slice(2), 16) : undefined;
}

/** DEVTYPE=… from a uevent file ("INTERFACE=cni0\nIFINDEX=5\nDEVTYPE=bridge\n"). */
export function parseUeventDevtype(text: string): string | undefined {
  const match = /^DEVTYPE=([A-Za-z0-9_.-]{1,32})$/m.exec(text);
  return match?.[1];
}

/** The interfaces of the namespace, by name, in order; at most `max` (a node with thousands of pod veths is read that far). */
export async function listLinks(host: Host, max = 4096): Promise<string[]> {
  const names = await host.list(SYS_CLASS_NET);
  return names.filter(isInterfaceName).sort().slice(0, max);
}

const SMALL = { maxBytes: 4096 };

/** Reads one interface. Throws HostPathError when it does not exist; other files missing or unreadable are problems. */
export async function readLink(host: Host, name: string, signal?: AbortSignal): Promise<Link> {
  if (!isInterfaceName(name)) throw new HostPathError(`${SYS_CLASS_NET}/${name}`, "EINVAL", "is not an interface name");
  const dir = `${SYS_CLASS_NET}/${name}`;
  const options = { ...SMALL, ...(signal ? { signal } : {}) };
  const link: Link = { name, problems: [] };
  // The directory itself: a missing interface is the caller's finding, not a problem of a file.
  await host.stat(dir);
  const read = async (file: string): Promise<string | undefined> => {
    try {
      return await host.readText(`${dir}/${file}`, options);
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof HostPathError && error.code === "ENOENT") return undefined;
      // carrier (and speed, duplex) answer EINVAL while the interface is down: the kernel's way of saying "not known".
      if (error instanceof HostPathError && error.code === "EINVAL") return undefined;
      link.problems.push(`${file}: ${error instanceof HostPathError ? error.problem : String(error)}`);
      return undefined;
    }
  };
  const [operstate, carrier, carrierChanges, mtu, flags, type, uevent] = await Promise.all(
    ["operstate", "carrier", "carrier_changes", "mtu", "flags", "type", "uevent"].map(read),
  );
  const parsed = <T>(file: string, text: string | undefined, parse: (t: string) => T | undefined): T | undefined => {
    if (text === undefined) return undefined;
    const value = parse(text);
    if (value === undefined) link.problems.push(`${file}: unexpected content ${JSON.stringify(text.trim().slice(0, 40))}`);
    return value;
  };
  const op = parsed("operstate", operstate, parseOperstate);
  if (op !== undefined) link.operstate = op;
  const c = parsed("carrier", carrier, parseSysfsNumber);
  if (c !== undefined) link.carrier = c === 1;
  const changes = parsed("carrier_changes", carrierChanges, parseSysfsNumber);
  if (changes !== undefined) link.carrierChanges = changes;
  const m = parsed("mtu", mtu, parseSysfsNumber);
  if (m !== undefined) link.mtu = m;
  const f = parsed("flags", flags, parseSysfsHex);
  if (f !== undefined) link.flags = f;
  const t = parsed("type", type, parseSysfsNumber);
  if (t !== undefined) link.type = t;
  const devtype = uevent === undefined ? undefined : parseUeventDevtype(uevent);
  if (devtype !== undefined) link.devtype = devtype;
  return link;
}

/** Administratively up (IFF_UP). */
export function isAdminUp(link: Link): boolean {
  return link.flags !== undefined && (link.flags & IFF_UP) !== 0;
}

/**
 * Carries traffic: administratively up, with carrier, and an operstate that is
 * "up" — or "unknown", which drivers without operstate support (loopback,
 * tun, dummy, some wireguard builds) report while working.
 */
export function isRunning(link: Link): boolean {
  if (!isAdminUp(link) || link.carrier === false) return false;
  return link.operstate === undefined || link.operstate === "up" || link.operstate === "unknown";
}

/** "down, no carrier" — the state of a link as a short clause for messages. */
export function describeLinkState(link: Link): string {
  const parts: string[] = [];
  if (!isAdminUp(link)) parts.push("administratively down");
  if (link.carrier === false) parts.push("no carrier");
  if (link.operstate && link.operstate !== "up" && link.operstate !== "unknown") parts.push(`operstate ${link.operstate}`);
  return parts.length ? parts.join(", ") : "up";
}

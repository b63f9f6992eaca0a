/**
 * The node's mount table, from /proc/<pid>/mountinfo (proc(5)). PID 1's view
 * is the node's; the agent's own (/proc/self) would be its container's.
 */
import type { Host } from "../types.js";

export interface MountEntry {
  mountId: number;
  /** "major:minor" of the filesystem's device. */
  device: string;
  /** Mount point as on the node, octal escapes decoded. */
  mountPoint: string;
  /** Per-mount options, e.g. ["ro", "relatime"]. */
  mountOptions: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

function unescapeOctal(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses mountinfo; malformed lines are reported with their line number. */
export function parseMountinfo(text: string): { mounts: MountEntry[]; errors: string[] } {
  const mounts: MountEntry[] = [];
  const errors: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    const separator = line.indexOf(" - ");
    const left = (separator === -1 ? "" : line.slice(0, separator)).split(" ");
    const right = separator === -1 ? [] : line.slice(separator + 3).split(" ");
    const [id, , device, , mountPoint, options] = left;
    const [fsType, source, superOptions] = right;
    if (!id || !device || !mountPoint || !options || !fsType || !/^\d+$/.test(id)) {
      errors.push(`line ${index + 1}: not a mountinfo entry`);
      return;
    }
    mounts.push({
      mountId: Number(id),
      device,
      mountPoint: unescapeOctal(mountPoint),
      mountOptions: options.split(","),
      fsType,
      source: unescapeOctal(source ?? ""),
      superOptions: (superOptions ?? "").split(","),
    });
  });
  return { mounts, errors };
}

/** The mount holding `nodePath`: the last mounted entry with the longest matching mount point. */
export function mountFor(mounts: readonly MountEntry[], nodePath: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const mount of mounts) {
    const mp = mount.mountPoint;
    const covers = mp === "/" || nodePath === mp || nodePath.startsWith(mp.endsWith("/") ? mp : mp + "/");
    if (covers && (!best || mp.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

/**
 * Why the kernel refuses writes to a mount: `ro` on the mount or its
 * superblock, or ext4's `emergency_ro` / `shutdown` superblock options —
 * since 6.6 an ext4 error with errors=remount-ro (or a forced shutdown)
 * leaves the mount `rw` in mountinfo and adds one of these instead.
 */
export function readOnlyBecause(mount: MountEntry): "ro" | "emergency_ro" | "shutdown" | undefined {
  if (mount.mountOptions.includes("ro") || mount.superOptions.includes("ro")) return "ro";
  if (mount.superOptions.includes("emergency_ro")) return "emergency_ro";
  if (mount.superOptions.includes("shutdown")) return "shutdown";
  return undefined;
}

export function isReadOnly(mount: MountEntry): boolean {
  return readOnlyBecause(mount) !== undefined;
}

/**
 * The kernel's name of a mount's block device ("sdb1", "loop0", "dm-3"), as
 * /sys/fs/ext4/<name> and its messages use it: /sys/dev/block/<major:minor>'s
 * target, else the source's basename for a /dev path; undefined otherwise.
 */
export async function blockDeviceName(host: Host, mount: MountEntry): Promise<string | undefined> {
  if (/^\d+:\d+$/.test(mount.device)) {
    try {
      const target = await host.readLink(`/sys/dev/block/${mount.device}`);
      const name = target.split("/").pop();
      if (name) return name;
    } catch {
      // no sysfs under the host root: the source's name
    }
  }
  const match = /^\/dev\/([\w.-]+)$/.exec(mount.source);
  return match?.[1];
}

/** The node's mount table; PID 1's view first, then the reader's own as a fallback. */
export async function readNodeMounts(host: Host, signal?: AbortSignal): Promise<{ source: string; mounts: MountEntry[]; errors: string[] }> {
  let lastError: unknown;
  for (const source of ["/proc/1/mountinfo", "/proc/self/mountinfo"]) {
    try {
      const text = await host.readText(source, signal ? { signal } : {});
      return { source, ...parseMountinfo(text) };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * What the disk check reads, I/O only: the node's mount table, statfs of
 * kubelet's filesystems (its root dir, the runtime's image filesystem, the
 * node's root and configured extras), ext4's error count in sysfs, and what
 * the kernel check said about each filesystem's device.
 */
import { blockDeviceName, type MountEntry, mountFor, readNodeMounts, readOnlyBecause } from "../../node/mountinfo.js";
import type { CheckContext } from "../../types.js";
import { errorText } from "../../text/format.js";
import type { DiskSettings } from "./index.js";
import type { FilesystemRole, ObservedFilesystem } from "./judge.js";

export async function gatherDisk(ctx: CheckContext, settings: DiskSettings, rootDir: string): Promise<ObservedFilesystem[]> {
  const { host, signal } = ctx;
  let mounts: MountEntry[] = [];
  try {
    mounts = (await readNodeMounts(host, signal)).mounts;
  } catch (error) {
    ctx.log.debug({ err: String(error) }, "no mount table; grouping filesystems by device only");
  }

  const wanted: Array<{ role: FilesystemRole; path: string }> = [];
  if (await host.exists(rootDir)) wanted.push({ role: "nodefs", path: rootDir });
  const imageFsFromRuntime = ctx.facts.imageFs?.mountpoint;
  const runtimeDirs = imageFsFromRuntime ? [imageFsFromRuntime, ...settings.runtimeRootDirs] : settings.runtimeRootDirs;
  for (const dir of runtimeDirs) {
    if (await host.exists(dir)) {
      wanted.push({ role: "imagefs", path: dir });
      break;
    }
  }
  wanted.push({ role: "root", path: "/" });
  for (const extra of settings.extraMounts) wanted.push({ role: "extra", path: extra });

  const byDevice = new Map<string, ObservedFilesystem>();
  for (const entry of wanted) {
    let key: string;
    try {
      key = `dev:${(await host.stat(entry.path)).dev}`;
    } catch (error) {
      key = `path:${entry.path}`;
      if (entry.role === "extra") {
        byDevice.set(key, { paths: [entry], mountPoint: entry.path, readOnly: false, error: errorText(error) });
        continue;
      }
    }
    const existing = byDevice.get(key);
    if (existing) {
      existing.paths.push(entry);
      continue;
    }
    const mount = mountFor(mounts, entry.path);
    const why = mount ? readOnlyBecause(mount) : undefined;
    const fs: ObservedFilesystem = {
      paths: [entry],
      mountPoint: mount?.mountPoint ?? entry.path,
      ...(mount ? { fsType: mount.fsType, source: mount.source } : {}),
      readOnly: why !== undefined,
      ...(why === "emergency_ro" || why === "shutdown" ? { readOnlyWhy: why } : {}),
    };
    if (mount) await kernelView(ctx, mount, fs);
    byDevice.set(key, fs);
  }

  await Promise.all(
    [...byDevice.values()].map(async (fs) => {
      if (fs.error) return;
      const first = fs.paths[0];
      if (!first) return;
      try {
        fs.stats = await host.statfs(first.path, signal);
      } catch (error) {
        signal.throwIfAborted();
        fs.error = errorText(error);
      }
    }),
  );
  return [...byDevice.values()];
}

/** ext4's own error count and what the kernel check read about the filesystem's device. */
async function kernelView(ctx: CheckContext, mount: MountEntry, fs: ObservedFilesystem): Promise<void> {
  const device = await blockDeviceName(ctx.host, mount);
  if (!device) return;
  fs.blockDevice = device;
  if (mount.fsType === "ext4") {
    try {
      const count = Number((await ctx.host.readText(`/sys/fs/ext4/${device}/errors_count`, { signal: ctx.signal })).trim());
      if (Number.isSafeInteger(count) && count >= 0) fs.errorsCount = count;
    } catch {
      // no sysfs under the host root, or an older kernel: mountinfo alone decides
    }
  }
  const report = ctx.facts.kernelFilesystems?.devices[device];
  if (!report) return;
  fs.kernel = report;
  const remountRo = mount.superOptions.includes("errors=remount-ro");
  if (!fs.readOnly && (report.refusesWrites || (remountRo && report.reason === "Ext4Error"))) {
    fs.readOnly = true;
    fs.readOnlyWhy = "kernel";
  }
}

/** Every reason the disk check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "disk",
  intro:
    "Condition `DiskSpaceLow`. Judged against kubelet's own eviction thresholds,\nread from its KubeletConfiguration (`evictionHard`, `evictionSoft`) or its\n`--eviction-hard`/`--eviction-soft` flags; kubelet's defaults otherwise\n(`nodefs.available<10%`, `nodefs.inodesFree<5%`, `imagefs.available<15%`,\n`imagefs.inodesFree<5%`). When the image store shares kubelet's filesystem,\nboth sets of thresholds apply to it, as in kubelet — which is why a\nsingle-disk node reports DiskPressure at 85% used.",
  reasons: {
    NodeFsAvailableLow: {
      severities: ["warning", "critical"],
      severity:
        "critical below the hard `nodefs.available` threshold (kubelet reports DiskPressure and evicts pods); warning within `checks.disk.warningHeadroomPercent` (default 5%) above it or below a soft threshold.",
      meaning:
        "the filesystem holding kubelet's root dir (`/var/lib/kubelet`) is running out of space. The message gives the mount, available and total bytes and the threshold with where it came from.",
      remedy:
        "find what fills it (`du -xh --max-depth=3 <mount> | sort -h | tail`); usual causes are container logs (`/var/log/pods`, set `containerLogMaxSize`), emptyDir volumes, unused images (`crictl rmi --prune`), journal files (`journalctl --vacuum-size=500M`).",
      repair: "none",
    },
    NodeFsInodesLow: {
      severities: ["warning", "critical"],
      severity: "as NodeFsAvailableLow, against `nodefs.inodesFree`.",
      meaning: "kubelet's filesystem is out of inodes while bytes may be plentiful.",
      remedy:
        "find the directories with the most files (`find <mount> -xdev -printf '%h\\n' | sort | uniq -c | sort -n | tail`); usually a pod writing many small files into an emptyDir, or unrotated logs.",
      repair: "none",
    },
    ImageFsAvailableLow: {
      severities: ["warning", "critical"],
      severity: "as NodeFsAvailableLow, against `imagefs.available`.",
      meaning: "the filesystem holding the container runtime's images (`/var/lib/containerd`, the runtime's reported image filesystem) is low.",
      remedy: "`crictl rmi --prune`; kubelet's image GC starts at `imageGCHighThresholdPercent` (default 85%) — lower it or enlarge the disk.",
      repair: "none",
    },
    ImageFsInodesLow: {
      severities: ["warning", "critical"],
      severity: "as NodeFsAvailableLow, against `imagefs.inodesFree`.",
      meaning: "the image filesystem is out of inodes (many small image layers).",
      remedy: "prune images (`crictl rmi --prune`) and look for leftover snapshots under the runtime's root.",
      repair: "none",
    },
    FilesystemAvailableLow: {
      severities: ["warning", "critical"],
      severity: "as NodeFsAvailableLow, using the nodefs thresholds.",
      meaning: "`/` (when it is not kubelet's filesystem) or a mount listed in `checks.disk.extraMounts` is low on space.",
      remedy: "as NodeFsAvailableLow.",
      repair: "none",
    },
    FilesystemInodesLow: {
      severities: ["warning", "critical"],
      severity: "as NodeFsInodesLow, using the nodefs thresholds.",
      meaning: "`/` or an extra mount is low on inodes.",
      remedy: "as NodeFsInodesLow.",
      repair: "none",
    },
    FilesystemReadOnly: {
      severities: ["warning", "critical"],
      severity: "critical for kubelet's or the runtime's filesystem, warning for others.",
      meaning:
        "the filesystem refuses writes: mounted read-only (usually the kernel remounted it after I/O errors), or — kernels ≥ 6.6 after an ext4 error with `errors=remount-ro` — still `rw` in mountinfo with `emergency_ro` or `shutdown` among its superblock options, or reported by the kernel check (an aborted journal, an XFS shutdown). The message quotes ext4's `errors_count` and the kernel's line when there are any; kubelet and the runtime cannot write pod data.",
      remedy: "`dmesg | grep -iE 'remount|I/O error|EXT4-fs error'`; drain the node, repair (fsck) or replace the disk, reboot.",
      repair: "reboot",
    },
    FilesystemErrorsRecorded: {
      severities: ["warning"],
      meaning:
        "the filesystem is writable but ext4 recorded errors since its last fsck (`/sys/fs/ext4/<dev>/errors_count` > 0, e.g. with `errors=continue`), or the kernel check read an error for its device; the message quotes the count and the kernel's line.",
      remedy: "drain the node, unmount and `fsck.ext4 -f` (or `xfs_repair`) it; check the device's health first.",
      repair: "none",
    },
    FilesystemUnreadable: {
      severities: ["unknown"],
      meaning: "statfs failed for a watched path (not mounted into the pod, does not exist, hung mount). The message names the path and the error.",
      remedy:
        "check the chart's host mounts (the node's `/`, or `hostPaths` with `hostRootFsMount.enabled=false`), and `timeout 5 stat -f <path>` on the node for a hung mount.",
      repair: "none",
    },
    EvictionThresholdsUnreadable: {
      severities: ["warning"],
      meaning:
        "kubelet's eviction thresholds could not be read (its config file is malformed, or a threshold has bad syntax); disk space is judged against kubelet's defaults meanwhile. The message names the file, key and line.",
      remedy: "fix the named key (kubelet itself will refuse it at its next restart), then `systemctl restart kubelet`.",
      repair: "none",
    },
    FilesystemOk: {
      severities: ["ok"],
      meaning: "the filesystem has space and inodes above every threshold; the message gives the figures.",
      remedy: "none.",
      repair: "none",
    },
  },
});

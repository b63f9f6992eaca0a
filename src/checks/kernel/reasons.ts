/** Every reason the kernel check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "kernel",
  intro:
    "Reads the kernel's own messages (the journal's `_TRANSPORT=kernel`, or\n`/dev/kmsg` when `checks.kernel.kmsg` is on) and names known signatures;\nsee [kernel.md](kernel.md) for the sources, the catalogue, its windows and\nthe noise list. Each finding's evidence names the `signature`, the number of\nmatches in its window, the last match's time and a sample line. A finding\nclears when its window passes without a new line (the kernel logs no\nrecovery for these). A container killed at its own memory limit is an\nEvent and a counter, never a node problem.",
  reasons: {
    NodeOutOfMemory: {
      severities: ["warning", "critical"],
      condition: "KernelUnhealthy",
      severity: "warning on one kill; critical at 3 within 30 min",
      meaning:
        "the kernel's OOM killer ran because the node ran out of memory (`constraint=CONSTRAINT_NONE`, `Out of memory: Killed process …`; 4.19's `Out of memory: Kill process … score … or sacrifice child`). kubelet's eviction did not keep up: system reserved memory is too small or pods run without limits. The message names the victim and, from `task_memcg`, its pod and container.",
      remedy:
        "raise `systemReserved`/`kubeReserved` and the `memory.available` eviction threshold, give pods memory limits, find what grew (`kubectl top pods -A --sort-by=memory`).",
      repair: "none",
    },
    ContainerOOMKilled: {
      severities: ["warning"],
      condition: "KernelUnhealthy",
      severity: "warning (an Event; the condition stays False)",
      meaning:
        "a container reached its own memory limit (`constraint=CONSTRAINT_MEMCG`, `Memory cgroup out of memory: Killed process …`): the pod's problem, not the node's. Reported as an Event naming the pod UID and container ID from `task_memcg`, and counted in `node_doctor_kernel_oom_kills_total{kind=\"memcg\"}`.",
      remedy: "raise the container's memory limit or fix its usage; `kubectl get pods -A -o wide | grep <pod UID>` finds the pod.",
      repair: "none",
    },
    TaskHung: {
      severities: ["warning", "critical"],
      condition: "KernelUnhealthy",
      severity: "warning; critical at 3 within 30 min",
      meaning:
        "`INFO: task <name>:<pid> blocked for more than N seconds`: a task sat in uninterruptible sleep (D state) past `kernel.hung_task_timeout_secs`, usually on storage or NFS that stopped answering; processes touching the same mount hang too.",
      remedy:
        "look at the blocked task's stack in the lines after it and at the storage it waits on (`cat /proc/<pid>/stack`, NFS server, disk latency); a node whose tasks keep hanging needs a drain and reboot.",
      repair: "none",
    },
    SoftLockup: {
      severities: ["critical"],
      condition: "KernelUnhealthy",
      meaning: "`watchdog: BUG: soft lockup - CPU#N stuck for Ns!`: a CPU ran kernel code without scheduling for longer than the watchdog allows.",
      remedy: "drain the node and reboot it; look for the kernel function in the trace and for a hypervisor stealing CPU (steal time).",
      repair: "reboot",
    },
    HardLockup: {
      severities: ["critical"],
      condition: "KernelUnhealthy",
      meaning: "`Watchdog detected hard LOCKUP on cpu N`: a CPU stopped taking interrupts.",
      remedy: "drain and reboot the node; repeated hard lockups are hardware or firmware: replace the node.",
      repair: "reboot",
    },
    RcuStall: {
      severities: ["critical"],
      condition: "KernelUnhealthy",
      meaning:
        "`rcu: INFO: rcu_sched self-detected stall on CPU` (4.19: without `rcu: `): RCU grace periods stopped completing; the kernel degrades until it hangs.",
      remedy: "drain and reboot the node; report the trace to the distribution's kernel maintainers.",
      repair: "reboot",
    },
    KernelOops: {
      severities: ["critical"],
      condition: "KernelUnhealthy",
      meaning:
        "a kernel BUG or oops (`kernel BUG at …`, `BUG: kernel NULL pointer dereference`, 4.19's `BUG: unable to handle kernel NULL pointer dereference`, `Oops: …`, `general protection fault`): a kernel thread died, possibly holding locks; the kernel is tainted.",
      remedy: "drain and reboot the node; keep the trace for the kernel's maintainers.",
      repair: "reboot",
    },
    KernelPanic: {
      severities: ["critical"],
      condition: "KernelUnhealthy",
      meaning: "`Kernel panic - not syncing: …`, read back from the journal after the reboot it caused (within the look-back).",
      remedy: "read the lines before the panic (`journalctl -k -b -1`); a repeat needs the kernel or the hardware changed.",
      repair: "none",
    },
    NetdeviceRefcountLeak: {
      severities: ["warning", "critical"],
      condition: "KernelUnhealthy",
      severity: "warning at 2 within 5 min; critical at 6",
      meaning:
        "`unregister_netdevice: waiting for <dev> to become free. Usage count = N` persisting: a network namespace's device cannot be freed, so pod sandboxes hang in teardown and new ones may not start. When the runtime check reports the runtime unhealthy at the same time, the message says so.",
      remedy: "drain the node and reboot it; upgrade the kernel (the known leaks are fixed in stable kernels).",
      repair: "reboot",
    },
    ConntrackTableFull: {
      severities: ["critical"],
      condition: "KernelUnhealthy",
      meaning: "`nf_conntrack: table full, dropping packet`: new connections are dropped until entries expire.",
      remedy:
        "raise `net.netfilter.nf_conntrack_max` (kube-proxy's `conntrack.maxPerCore`), find who opens so many connections (`conntrack -S`, `conntrack -L | awk …`).",
      repair: "none",
    },
    TcpOutOfMemory: {
      severities: ["warning", "critical"],
      condition: "KernelUnhealthy",
      severity: "warning; critical at 5 within 10 min",
      meaning: "`TCP: out of memory -- consider tuning tcp_mem`: TCP's memory pool is exhausted and sockets are being reset.",
      remedy: "raise `net.ipv4.tcp_mem` or find the sockets holding buffers (`ss -tm`).",
      repair: "none",
    },
    ForkRejectedByPidsLimit: {
      severities: ["warning", "critical"],
      condition: "KernelUnhealthy",
      severity: "warning for a pod's cgroup (its own pids limit); critical for a node-level cgroup",
      meaning:
        "`cgroup: fork rejected by pids controller in <cgroup>`: a cgroup reached `pids.max`. In a pod's cgroup that is the pod's limit (`podPidsLimit`); in kubepods or a system slice, every pod or service under it can no longer start processes.",
      remedy:
        "find the process that forks (`ps -eLf | wc -l`, the cgroup's `pids.current`); raise `podPidsLimit` or the slice's `TasksMax` only once it is understood.",
      repair: "none",
    },
    Ext4Error: {
      severities: ["critical"],
      condition: "FilesystemErrors",
      meaning:
        "`EXT4-fs error (device <dev>): <function>:<line>: …`: ext4 found an inconsistency; with `errors=remount-ro` the filesystem is now read-only (on kernels ≥ 6.6 mountinfo still says `rw`).",
      remedy: "drain the node, unmount and `fsck.ext4 -f /dev/<dev>`; check the disk's health (`smartctl -a`).",
      repair: "none",
    },
    Ext4JournalAborted: {
      severities: ["critical"],
      condition: "FilesystemErrors",
      meaning:
        "`Aborting journal on device <dev>` or `Detected aborted journal`: ext4's journal stopped; writes fail until the filesystem is checked and remounted.",
      remedy: "drain the node, unmount and `fsck.ext4 -f`; check the underlying device for I/O errors.",
      repair: "none",
    },
    FilesystemRemountedReadOnly: {
      severities: ["critical"],
      condition: "FilesystemErrors",
      meaning:
        "`EXT4-fs (<dev>): Remounting filesystem read-only`: after an error, `errors=remount-ro` took the filesystem read-only; kubelet and the runtime fail to write to it.",
      remedy: "drain the node; `fsck` the device and reboot, or replace the disk.",
      repair: "none",
    },
    XfsShutdown: {
      severities: ["critical"],
      condition: "FilesystemErrors",
      meaning:
        "XFS shut the filesystem down (`Corruption of in-memory data … Shutting down filesystem`, `Log I/O Error Detected`, `xfs_do_force_shutdown`, `Filesystem has been shut down`): every access fails with EIO.",
      remedy: "drain the node, unmount and `xfs_repair /dev/<dev>`; check the device for I/O errors.",
      repair: "none",
    },
    XfsCorruption: {
      severities: ["critical"],
      condition: "FilesystemErrors",
      meaning: "`XFS (<dev>): Metadata corruption detected at …` or `Metadata CRC error detected`: XFS read damaged metadata.",
      remedy: "drain the node, unmount and `xfs_repair -n /dev/<dev>` to see the damage, then repair.",
      repair: "none",
    },
    DiskIOError: {
      severities: ["warning", "critical"],
      condition: "HardwareErrors",
      severity: "warning; critical at 5 within 10 min",
      meaning:
        "block I/O errors in either format: `blk_update_request: I/O error, dev sdb, sector N` (4.19/5.4/5.10, also `print_req_error:`) and `I/O error, dev sdb, sector N op 0x1:(WRITE) …` (5.16+), and `critical medium error`/`critical target error`. Floppy and CD-ROM probes (fd0, sr0) are noise.",
      remedy: "check the device (`smartctl -a /dev/<dev>`, the cloud volume's state); replace the disk or move the workload.",
      repair: "none",
    },
    BufferIOError: {
      severities: ["warning", "critical"],
      condition: "HardwareErrors",
      severity: "warning; critical at 5 within 10 min",
      meaning: "`Buffer I/O error on dev <dev>, logical block N` (4.x: `on device`): a page-cache read or write-back to the device failed.",
      remedy: "as for DiskIOError: check and replace the device.",
      repair: "none",
    },
    HardwareErrorCorrected: {
      severities: ["warning"],
      condition: "HardwareErrors",
      meaning:
        "corrected hardware errors: `mce: [Hardware Error]: Machine check events logged`, `[Hardware Error]: event severity: corrected`, `EDAC MC0: N CE …`. Nothing failed yet; a rising rate predicts an uncorrectable one.",
      remedy: "read the details (`rasdaemon`'s `ras-mc-ctl --errors`, `mcelog`); plan to replace the DIMM or CPU they name.",
      repair: "none",
    },
    HardwareErrorUncorrectable: {
      severities: ["critical"],
      condition: "HardwareErrors",
      meaning:
        "uncorrectable hardware errors: `[Hardware Error]: CPU N: Machine Check Exception`, `[Hardware Error]: event severity: fatal` or `recoverable`, `EDAC MC0: N UE …`, `Memory failure: …`, `Uncorrected hardware memory error`.",
      remedy: "drain the node and have the hardware checked; data it processed may be corrupt.",
      repair: "replace",
    },
    GpuFallenOffBus: {
      severities: ["critical"],
      condition: "HardwareErrors",
      meaning: "`NVRM: GPU <pci>: GPU has fallen off the bus` (Xid 79): the GPU is gone from PCIe; NVIDIA's catalogue says reboot (RESTART_BM).",
      remedy: "drain the node and reboot it; a repeat is a hardware fault (GPU, riser, power).",
      repair: "reboot",
    },
    GpuXidNeedsReset: {
      severities: ["critical"],
      condition: "HardwareErrors",
      meaning: "an NVIDIA Xid whose catalogue action is RESET_GPU (48 double-bit ECC, 63/64 row remapping, 74 NVLink, 95 uncontained ECC, 119/120 GSP, …).",
      remedy: "drain the GPU's pods and reset it (`nvidia-smi -r -i <gpu>`), or reboot the node.",
      repair: "none",
    },
    GpuXidApplication: {
      severities: ["warning"],
      condition: "HardwareErrors",
      meaning: "an NVIDIA Xid the catalogue files under RESTART_APP or IGNORE (13, 31, 43, 45, 94, …): the application's own fault; the GPU is fine.",
      remedy: "look at the pod named by the Xid's pid; restart it.",
      repair: "none",
    },
    GpuXid: {
      severities: ["warning"],
      condition: "HardwareErrors",
      meaning: "an NVIDIA Xid code not in node-doctor's table; the message quotes it.",
      remedy: "look the code up in NVIDIA's Xid catalogue.",
      repair: "none",
    },
    KernelMessagesRead: {
      severities: ["ok"],
      condition: "KernelUnhealthy",
      meaning:
        "how many kernel messages were read from which source, how many were known noise, how many `/dev/kmsg` records were lost to the ring buffer wrapping, and which signatures are active; its evidence carries the counters behind `node_doctor_kernel_events_total` and `node_doctor_kernel_oom_kills_total`.",
      remedy: "none.",
      repair: "none",
    },
    KernelMessagesUnreadable: {
      severities: ["unknown"],
      condition: "KernelUnhealthy",
      meaning:
        "no source of kernel messages could be read: no journal (or journalctl cannot read it) and `/dev/kmsg` is off or unreadable; the message lists what was tried.",
      remedy:
        "mount the node's journal into the pod read-only, or turn on `checks.kernel.kmsg` and mount `/dev/kmsg` (it needs CAP_SYSLOG where `kernel.dmesg_restrict=1`).",
      repair: "none",
    },
  },
});

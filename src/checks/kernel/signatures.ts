/**
 * The kernel check's knowledge, as data: which kernel messages name a
 * problem, the condition each feeds, how many within what window it takes,
 * what to tell the operator, and when it clears (its window passing without
 * a new line: the kernel logs no recovery for these). Wordings are the
 * kernel's own printk formats across 4.19, 5.4, 5.10 and 6.x (each entry
 * names its source file); recorded lines are in test/fixtures/kernel/ with
 * SOURCES.md.
 *
 * Order matters: the first matching signature takes the line (the memcg OOM
 * line before the global one, a soft lockup before the generic BUG).
 */
import type { NoisePattern, Signature } from "../../node/logs/signatures.js";
import { REASONS } from "./reasons.js";
import { xidCodes, xidPattern } from "./xid.js";

export const KERNEL_REASONS = REASONS.names;

const MINUTE = 60_000;
const DRAIN = "`kubectl drain <node> --ignore-daemonsets --delete-emptydir-data`";

export const SIGNATURES: readonly Signature[] = [
  // ------------------------------------------------------------------ OOM (mm/oom_kill.c)
  {
    // mm/oom_kill.c dump_oom_summary (4.19+): "oom-kill:constraint=%s,nodemask=%*pbl" ",cpuset=" ",mems_allowed=" [",global_oom" | ",oom_memcg="] ",task_memcg=" ",task=%s,pid=%d,uid=%d"
    kind: "context",
    id: "oom-summary",
    components: ["kernel"],
    needles: ["oom-kill:constraint="],
    // Only a cgroup's own limit is a flood worth counting from bytes; a global OOM's summary is always read.
    tally: "oom-kill:constraint=CONSTRAINT_MEMCG,",
    pattern:
      /oom-kill:constraint=(?<constraint>CONSTRAINT_\w+)(?:.*?,oom_memcg=(?<oomMemcg>[^,]*))?.*?,task_memcg=(?<taskMemcg>[^,]*),task=(?<task>[^,]*),pid=(?<pid>\d+)/,
  },
  {
    // 5.1+: "Memory cgroup out of memory: Killed process %d (%s) total-vm:…"; 4.19: "Memory cgroup out of memory: Kill process %d (%s) score %u or sacrifice child"
    kind: "problem",
    id: "oom-memcg",
    components: ["kernel"],
    needles: ["memory cgroup out of memory"],
    tally: "Memory cgroup out of memory: Kill",
    pattern: /Memory cgroup out of memory: Kill(?:ed)? process (?<pid>\d+) \((?<task>[^)]*)\)/,
    severity: "warning",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.ContainerOOMKilled,
    message:
      "A container reached its own memory limit: the kernel killed {task} (pid {pid}){pod? in pod }{pod}{container? container }{container} ({count} memcg OOM kills in {window}, last at {last}).",
    remedy:
      "This is the pod's limit, not the node: raise the container's memory limit or fix its usage.{pod? Find the pod: `kubectl get pods -A -o custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,UID:.metadata.uid | grep -F }{pod}{pod?`.}",
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // 5.1+: "Out of memory: Killed process %d (%s) total-vm:…"; 4.19: "Out of memory: Kill process %d (%s) score %u or sacrifice child". Capital O: the memcg line says "out of memory".
    kind: "problem",
    id: "oom-global",
    components: ["kernel"],
    needles: ["out of memory: kill"],
    pattern: /Out of memory: Kill(?:ed)? process (?<pid>\d+) \((?<task>[^)]*)\)/,
    severity: "warning",
    criticalCount: 3,
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.NodeOutOfMemory,
    message:
      "The node ran out of memory: the kernel's OOM killer killed {task} (pid {pid}){pod? of pod }{pod} ({count} system OOM kills in {window}, last at {last}); kubelet's eviction did not free memory in time.",
    remedy:
      "Give the system room: raise kubelet's `systemReserved`/`kubeReserved` and the `memory.available` eviction threshold (/var/lib/kubelet/config.yaml), set memory limits on pods that have none, and find what grew (`kubectl top pods -A --sort-by=memory`).",
    windowMs: 30 * MINUTE,
    minCount: 1,
  },
  {
    // 4.19 follows "… or sacrifice child" with "Killed process %d (%s) total-vm:…": the same kill, counted once.
    kind: "context",
    id: "oom-killed-process",
    components: ["kernel"],
    needles: ["killed process"],
    pattern: /^Killed process (?<pid>\d+) \((?<task>[^)]*)\)/,
  },
  // ------------------------------------------------------------------ hangs and lockups (kernel/hung_task.c, kernel/watchdog*.c, kernel/rcu/tree_stall.h)
  {
    // kernel/hung_task.c: "INFO: task %s:%d blocked for more than %ld seconds."
    kind: "problem",
    id: "hung-task",
    components: ["kernel"],
    needles: ["blocked for more than"],
    pattern: /INFO: task (?<task>.+):(?<pid>\d+) blocked for more than (?<seconds>\d+) seconds/,
    severity: "warning",
    criticalCount: 3,
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.TaskHung,
    message: "Task {task} (pid {pid}) was blocked in the kernel for more than {seconds} s ({count} hung-task reports in {window}, last at {last}).",
    remedy:
      "Find what it waits on: its stack follows the report in `journalctl -k`, and `cat /proc/{pid}/stack`; usually storage or an NFS server that stopped answering. If tasks keep hanging, " +
      `${DRAIN} and reboot the node.`,
    windowMs: 30 * MINUTE,
    minCount: 1,
  },
  {
    // kernel/watchdog.c: "BUG: soft lockup - CPU#%d stuck for %us! [%s:%d]" (4.19: "NMI watchdog: BUG: soft lockup"; 5.x+: "watchdog: BUG: soft lockup")
    kind: "problem",
    id: "soft-lockup",
    components: ["kernel"],
    needles: ["soft lockup"],
    pattern: /BUG: soft lockup - CPU#(?<cpu>\d+) stuck for (?<seconds>\d+)s!(?: \[(?<task>[^\]]*)\])?/,
    severity: "critical",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.SoftLockup,
    message: "Soft lockup: CPU {cpu} was stuck in the kernel for {seconds} s{task? running }{task} ({count} in {window}, last at {last}).",
    remedy: `${DRAIN} and reboot the node; the trace after the report names the kernel function. On a VM, check the hypervisor's CPU steal time.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // kernel/watchdog_perf.c (4.19: kernel/watchdog_hld.c): "Watchdog detected hard LOCKUP on cpu %d"
    kind: "problem",
    id: "hard-lockup",
    components: ["kernel"],
    needles: ["hard lockup"],
    pattern: /Watchdog detected hard LOCKUP on cpu (?<cpu>\d+)/,
    severity: "critical",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.HardLockup,
    message: "Hard lockup: CPU {cpu} stopped taking interrupts ({count} in {window}, last at {last}).",
    remedy: `${DRAIN} and reboot the node; repeated hard lockups are hardware or firmware: replace the node.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // kernel/rcu/tree_stall.h: "INFO: %s self-detected stall on CPU", "INFO: %s detected stalls on CPUs/tasks:" (5.0+ prefixed "rcu: "); "INFO: %s detected expedited stalls on CPUs/tasks"
    kind: "problem",
    id: "rcu-stall",
    components: ["kernel"],
    needles: ["stall on cpu", "stalls on cpus"],
    pattern: /INFO: (?<flavor>rcu_\w+) (?:self-detected stall on CPU|detected (?:expedited )?stalls on CPUs\/tasks)/,
    severity: "critical",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.RcuStall,
    message: "RCU stall ({flavor}): grace periods stopped completing ({count} reports in {window}, last at {last}).",
    remedy: `${DRAIN} and reboot the node; keep the stall's trace for the kernel's maintainers.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // kernel/panic.c: "Kernel panic - not syncing: %s"
    kind: "problem",
    id: "kernel-panic",
    components: ["kernel"],
    needles: ["kernel panic - not syncing"],
    pattern: /Kernel panic - not syncing: (?<why>.*)/,
    severity: "critical",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.KernelPanic,
    message: "The kernel panicked: {why} (last at {last}).",
    remedy: "Read what came before it (`journalctl -k -b -1`); if it repeats, change the kernel or have the hardware checked.",
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // lib/bug.c "kernel BUG at %s:%u!"; arch/x86/mm/fault.c "BUG: kernel NULL pointer dereference, address: %px" (5.1+),
    // "BUG: unable to handle kernel NULL pointer dereference at %px" (4.19), "BUG: unable to handle page fault for address: %px";
    // arch/x86/kernel/dumpstack.c "Oops: %s%s%s%s%s%s" (6.x, e.g. "Oops: general protection fault, …"), "general protection fault: %04lx [#%d]" (4.19–5.x)
    kind: "problem",
    id: "kernel-oops",
    components: ["kernel"],
    needles: [
      "kernel bug at",
      "bug: kernel null",
      "bug: unable to handle",
      "bug: scheduling while atomic",
      "bug: bad page",
      "bug: spinlock",
      "oops: ",
      "general protection fault",
    ],
    pattern:
      /(?<what>kernel BUG at \S+|BUG: (?:kernel NULL pointer dereference|unable to handle (?:kernel )?(?:NULL pointer dereference|paging request|page fault)|scheduling while atomic|Bad page (?:state|map)|spinlock \w+ on CPU)[^\n]*|Oops: [^\n]*|general protection fault[^\n]*)/,
    severity: "critical",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.KernelOops,
    message: "The kernel hit a bug: {what} ({count} in {window}, last at {last}); the kernel is tainted and a kernel thread may have died holding locks.",
    remedy: `${DRAIN} and reboot the node; keep the trace (\`journalctl -k\`) for the kernel's maintainers.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // net/core/dev.c netdev_wait_allrefs: "unregister_netdevice: waiting for %s to become free. Usage count = %d"
    kind: "problem",
    id: "unregister-netdevice",
    components: ["kernel"],
    needles: ["unregister_netdevice: waiting for"],
    pattern: /unregister_netdevice: waiting for (?<device>\S+) to become free\. Usage count = (?<usage>-?\d+)/,
    severity: "warning",
    criticalCount: 6,
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.NetdeviceRefcountLeak,
    message:
      "The kernel cannot free network device {device} (usage count {usage}; {count} reports in {window}, last at {last}): pod sandboxes on this node hang in teardown and new ones may not start.",
    remedy: `${DRAIN} and reboot the node; upgrade to a kernel with the refcount leak fixed (the distribution's stable kernel).`,
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  // ------------------------------------------------------------------ resources (net/netfilter, net/ipv4, kernel/cgroup/pids.c)
  {
    // net/netfilter/nf_conntrack_core.c: "nf_conntrack: table full, dropping packet" (5.x+: net_warn_ratelimited("nf_conntrack: table full, dropping packet") after the module prefix)
    kind: "problem",
    id: "conntrack-full",
    components: ["kernel"],
    needles: ["table full, dropping packet"],
    pattern: /nf_conntrack: (?:nf_conntrack: )?table full, dropping packet/,
    severity: "critical",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.ConntrackTableFull,
    message:
      "The connection-tracking table is full: the kernel drops new connections ({count} reports in {window}, last at {last}; the kernel rate-limits the line).",
    remedy:
      "Raise `net.netfilter.nf_conntrack_max` (kube-proxy sets it from `conntrack.maxPerCore`), and find who opens so many connections (`conntrack -S`, `conntrack -L -o extended | awk '{print $3}' | sort | uniq -c`).",
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // net/ipv4/tcp_timer.c tcp_out_of_resources: "out of memory -- consider tuning tcp_mem" (pr_fmt "TCP: ")
    kind: "problem",
    id: "tcp-out-of-memory",
    components: ["kernel"],
    needles: ["consider tuning tcp_mem"],
    pattern: /TCP: out of memory -- consider tuning tcp_mem/,
    severity: "warning",
    criticalCount: 5,
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.TcpOutOfMemory,
    message: "TCP's memory pool is exhausted; the kernel resets sockets ({count} reports in {window}, last at {last}).",
    remedy: "Raise `net.ipv4.tcp_mem` (pages: min, pressure, max) or find the sockets holding buffers (`ss -tmn | sort -k…`).",
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // kernel/cgroup/pids.c pids_event: pr_info("cgroup: fork rejected by pids controller in ") + the cgroup's path (once per cgroup)
    kind: "problem",
    id: "pids-fork-rejected",
    components: ["kernel"],
    needles: ["fork rejected by pids controller"],
    pattern: /cgroup: fork rejected by pids controller in (?<cgroup>\S+)/,
    severity: "warning",
    condition: "KernelUnhealthy",
    reason: KERNEL_REASONS.ForkRejectedByPidsLimit,
    message:
      "A fork was refused: cgroup {cgroup} reached its pids.max{pod? (pod }{pod}{pod?)} ({count} in {window}, last at {last}; the kernel reports each cgroup once).",
    remedy:
      "Find the process that forks (`cat /sys/fs/cgroup{cgroup}/pids.current`, `ps -eLf`); raise kubelet's `podPidsLimit` or the slice's `TasksMax` only once it is understood.",
    windowMs: 30 * MINUTE,
    minCount: 1,
  },
  // ------------------------------------------------------------------ filesystems (fs/ext4/super.c, fs/jbd2, fs/xfs)
  {
    // fs/ext4/super.c __ext4_error: "EXT4-fs error (device %s): %s:%d: comm %s: %pV" (and "… inode #%lu: …", "… block %llu: …")
    kind: "problem",
    id: "ext4-error",
    components: ["kernel"],
    needles: ["ext4-fs error"],
    pattern: /EXT4-fs error \(device (?<device>[^)]+)\): (?<function>\w+)(?::(?<line>\d+))?: (?<detail>.*)/,
    severity: "critical",
    condition: "FilesystemErrors",
    reason: KERNEL_REASONS.Ext4Error,
    message: "ext4 reported an error on {device} in {function}: {detail} ({count} in {window}, last at {last}).",
    remedy: `${DRAIN}, unmount the filesystem and run \`fsck.ext4 -f /dev/{device}\`; check the device (\`smartctl -a\`, the cloud volume's state). With errors=remount-ro it is read-only until then.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // fs/jbd2/journal.c jbd2_journal_abort: "Aborting journal on device %s."; fs/ext4/ext4_jbd2.c: "Detected aborted journal"
    kind: "problem",
    id: "ext4-journal-abort",
    components: ["kernel"],
    needles: ["aborting journal on device", "detected aborted journal"],
    pattern: /(?:Aborting journal on device (?<journal>[^\s.]+(?:\.\S+)?)|EXT4-fs \((?<device>[^)]+)\): \S*:?\d*:? ?Detected aborted journal)/,
    severity: "critical",
    condition: "FilesystemErrors",
    reason: KERNEL_REASONS.Ext4JournalAborted,
    message: "The ext4 journal on {journal}{device} was aborted: writes fail until it is checked ({count} in {window}, last at {last}).",
    remedy: `${DRAIN}, unmount the filesystem and \`fsck.ext4 -f\` it; look for I/O errors on the device first.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // fs/ext4/super.c ext4_handle_error: "Remounting filesystem read-only" (ext4_msg: "EXT4-fs (%s): …")
    kind: "problem",
    id: "ext4-remount-ro",
    components: ["kernel"],
    needles: ["remounting filesystem read-only"],
    pattern: /EXT4-fs \((?<device>[^)]+)\): Remounting filesystem read-only/,
    severity: "critical",
    condition: "FilesystemErrors",
    reason: KERNEL_REASONS.FilesystemRemountedReadOnly,
    message: "ext4 remounted {device} read-only after an error (last at {last}): kubelet and the runtime cannot write to it.",
    remedy: `${DRAIN}; \`fsck.ext4 -f /dev/{device}\` and reboot, or replace the disk.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // fs/xfs/xfs_fsops.c xfs_do_force_shutdown: "xfs_do_force_shutdown(0x%x) called from line %d of file %s." (4.19),
    // "Corruption of in-memory data (0x%x) detected at %pS (%s:%d).  Shutting down filesystem.", "Log I/O Error (0x%x) detected at …",
    // "Log I/O Error Detected. Shutting down filesystem" (4.19), "Filesystem has been shut down due to log error (0x%x)." (6.x)
    kind: "problem",
    id: "xfs-shutdown",
    components: ["kernel"],
    needles: ["xfs ("],
    pattern:
      /XFS \((?<device>[^)]+)\): (?<detail>xfs_do_force_shutdown\(0x[0-9a-f]+\)[^\n]*|[^\n]*Shutting down filesystem[^\n]*|Filesystem has been shut down[^\n]*|Log I\/O Error[^\n]*)/,
    severity: "critical",
    condition: "FilesystemErrors",
    reason: KERNEL_REASONS.XfsShutdown,
    message: "XFS shut down the filesystem on {device}: {detail} (last at {last}); every access to it fails.",
    remedy: `${DRAIN}, unmount it and run \`xfs_repair /dev/{device}\`; check the device for I/O errors first.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  {
    // fs/xfs/xfs_message.c xfs_corruption_error: "Metadata corruption detected at %pS, %s block 0x%llx"; xfs_verifier_error: "Metadata CRC error detected at %pS, …"
    kind: "problem",
    id: "xfs-corruption",
    components: ["kernel"],
    needles: ["metadata corruption detected", "metadata crc error detected"],
    pattern: /XFS \((?<device>[^)]+)\): Metadata (?:corruption|CRC error) detected at (?<where>[^\s,]+)/,
    severity: "critical",
    condition: "FilesystemErrors",
    reason: KERNEL_REASONS.XfsCorruption,
    message: "XFS found damaged metadata on {device} at {where} ({count} in {window}, last at {last}).",
    remedy: `${DRAIN}, unmount it and run \`xfs_repair -n /dev/{device}\` to see the damage, then repair it.`,
    windowMs: 60 * MINUTE,
    minCount: 1,
  },
  // ------------------------------------------------------------------ block devices (block/blk-core.c, fs/buffer.c)
  {
    // block/blk-core.c: 4.19 print_req_error "%s: %s error, dev %s, sector %llu" (func = blk_update_request / print_req_error),
    // 5.4–5.15 "blk_update_request: %s error, dev %s, sector %llu op 0x%x:(%s) flags 0x%x phys_seg %u prio class %u",
    // 5.16+ blk_print_req_error "%s error, dev %s, sector %llu op 0x%x:(%s) flags 0x%x phys_seg %u prio class %u"
    kind: "problem",
    id: "io-error",
    components: ["kernel"],
    needles: [" error, dev "],
    pattern:
      /(?<kind>I\/O|critical medium|critical target|critical nexus|critical space allocation|recoverable transport|timeout) error, dev (?<device>[^,\s]+), sector (?<sector>\d+)(?: op 0x[0-9a-f]+:\((?<op>\w+)\))?/,
    severity: "warning",
    criticalCount: 5,
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.DiskIOError,
    message: "{kind} error on {device} at sector {sector}{op? (}{op}{op?)} ({count} in {window}, last at {last}).",
    remedy:
      "Check the device: `smartctl -a /dev/{device}`, `dmesg | grep {device}`, or the cloud volume's state (detached, throttled); replace it or move the workload.",
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // fs/buffer.c: "Buffer I/O error on dev %pg, logical block %llu%s" (4.x: "Buffer I/O error on device %s, logical block %llu")
    kind: "problem",
    id: "buffer-io-error",
    components: ["kernel"],
    needles: ["buffer i/o error on dev"],
    pattern: /Buffer I\/O error on dev(?:ice)? (?<device>[^,\s]+), logical block (?<block>\d+)/,
    severity: "warning",
    criticalCount: 5,
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.BufferIOError,
    message: "The page cache could not read or write {device} (logical block {block}; {count} in {window}, last at {last}).",
    remedy: "Check the device: `smartctl -a /dev/{device}` or the cloud volume's state; replace it or move the workload.",
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  // ------------------------------------------------------------------ machine checks (arch/x86/kernel/cpu/mce, drivers/acpi/apei/ghes.c, drivers/edac)
  {
    // arch/x86/kernel/cpu/mce/core.c print_mce: "[Hardware Error]: CPU %d: Machine Check%s: %Lx Bank %d: %016Lx" (Exception for fatal);
    // drivers/firmware/efi/cper.c: "[Hardware Error]: event severity: fatal|recoverable"; drivers/edac/edac_mc.c: "EDAC MC%d: %d UE %s…";
    // mm/memory-failure.c: "Memory failure: %#lx: …"; arch/x86/kernel/cpu/mce/core.c: "Uncorrected hardware memory error in user-access at %llx"
    kind: "problem",
    id: "hardware-uncorrectable",
    components: ["kernel"],
    needles: ["[hardware error]", "edac mc", "memory failure:", "uncorrected hardware memory error"],
    pattern:
      /(?<what>\[Hardware Error\]: (?:CPU \d+: Machine Check Exception|event severity: (?:fatal|recoverable))[^\n]*|EDAC MC\d+: \d+ UE [^\n]*|Memory failure: [^\n]*|Uncorrected hardware memory error[^\n]*)/,
    severity: "critical",
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.HardwareErrorUncorrectable,
    message: "An uncorrectable hardware error: {what} ({count} in {window}, last at {last}); data this node processed may be corrupt.",
    remedy: `${DRAIN} and have the hardware checked (\`ras-mc-ctl --errors\`, \`mcelog\`, the BMC's event log); replace what it names.`,
    windowMs: 24 * 60 * MINUTE,
    minCount: 1,
  },
  {
    // arch/x86/kernel/cpu/mce/core.c: "Machine check events logged" (CMCI, corrected); cper.c "event severity: corrected"; edac "EDAC MC%d: %d CE …"
    kind: "problem",
    id: "hardware-corrected",
    components: ["kernel"],
    needles: ["[hardware error]", "edac mc"],
    pattern: /(?<what>\[Hardware Error\]: (?:Machine check events logged|event severity: corrected)|EDAC MC\d+: \d+ CE [^\n]*)/,
    severity: "warning",
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.HardwareErrorCorrected,
    message: "Corrected hardware errors: {what} ({count} in {window}, last at {last}); nothing failed yet, a rising rate predicts an uncorrectable error.",
    remedy: "Read the details (`ras-mc-ctl --errors`, `mcelog --client`) and plan to replace the DIMM or CPU they name.",
    windowMs: 24 * 60 * MINUTE,
    minCount: 1,
  },
  // ------------------------------------------------------------------ NVIDIA GPUs (NVIDIA's driver: NVRM; Xid actions from NVIDIA's Xid catalogue, xid.ts)
  {
    // NVIDIA driver: "NVRM: GPU %04x:%02x:%02x.%x: GPU has fallen off the bus." and the Xid 79 line that names it
    kind: "problem",
    id: "gpu-fallen-off-bus",
    components: ["kernel"],
    needles: ["fallen off the bus"],
    pattern: /NVRM: (?:GPU (?<gpu>[0-9a-fA-F:.]+): |Xid \((?:PCI:)?(?<pci>[0-9a-fA-F:.]+)\): 79, [^\n]*?)GPU has fallen off the bus/,
    severity: "critical",
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.GpuFallenOffBus,
    message: "GPU {gpu}{pci} has fallen off the bus (Xid 79; last at {last}): NVIDIA's catalogue says reboot the node (RESTART_BM).",
    remedy: `${DRAIN} and reboot the node; if it repeats, the GPU, its riser or its power is faulty.`,
    windowMs: 24 * 60 * MINUTE,
    minCount: 1,
  },
  {
    kind: "problem",
    id: "gpu-xid-reset",
    components: ["kernel"],
    needles: ["nvrm: xid"],
    pattern: xidPattern(xidCodes("reset")),
    severity: "critical",
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.GpuXidNeedsReset,
    message: "GPU {pci} reported Xid {xid}: {detail} ({count} in {window}, last at {last}); NVIDIA's catalogue says reset the GPU (RESET_GPU).",
    remedy:
      "Drain the GPU's pods, then reset it (`nvidia-smi -r -i <gpu index>`, the index `nvidia-smi -L` lists for PCI {pci}) or reboot the node; repeated resets: have the GPU replaced.",
    windowMs: 24 * 60 * MINUTE,
    minCount: 1,
  },
  {
    kind: "problem",
    id: "gpu-xid-application",
    components: ["kernel"],
    needles: ["nvrm: xid"],
    pattern: xidPattern(xidCodes("application")),
    severity: "warning",
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.GpuXidApplication,
    message:
      "GPU {pci} reported Xid {xid}: {detail} ({count} in {window}, last at {last}); NVIDIA's catalogue files it as the application's fault (RESTART_APP).",
    remedy: "Look at the pod whose process the Xid names (its pid) and restart it; the GPU itself is fine.",
    windowMs: 30 * MINUTE,
    minCount: 1,
  },
  {
    kind: "problem",
    id: "gpu-xid-other",
    components: ["kernel"],
    needles: ["nvrm: xid"],
    pattern: xidPattern("any"),
    severity: "warning",
    condition: "HardwareErrors",
    reason: KERNEL_REASONS.GpuXid,
    message: "GPU {pci} reported Xid {xid}: {detail} ({count} in {window}, last at {last}).",
    remedy: "Look Xid {xid} up in NVIDIA's Xid catalogue (https://docs.nvidia.com/deploy/xid-errors/) and follow its resolution.",
    windowMs: 30 * MINUTE,
    minCount: 1,
  },
];

/** Kernel lines that look like a signature and are not one; each says why (docs/kernel.md lists them). */
export const NOISE: readonly NoisePattern[] = [
  {
    id: "removable-media-probe",
    needles: ["dev fd0", "dev sr0", "dev sr1"],
    pattern: /(?:I\/O|critical \w+) error, dev (?:fd\d|sr\d)\b|Buffer I\/O error on dev(?:ice)? (?:fd\d|sr\d)\b/,
    why: "A VM's emulated floppy or CD-ROM probed at boot with nothing in it; no disk is failing.",
  },
  {
    id: "ext4-daily-error-summary",
    needles: ["error count since last fsck", "error at time"],
    pattern: /EXT4-fs \([^)]+\): (?:error count since last fsck|(?:initial|last) error at time)/,
    why: "ext4 repeats, once a day, how many errors the superblock recorded since the last fsck: old news (the disk check reads errors_count itself).",
  },
  {
    id: "oom-reaper",
    needles: ["oom_reaper: reaped process"],
    pattern: /oom_reaper: reaped process/,
    why: "The OOM reaper freeing a victim's memory: the tail of a kill already counted.",
  },
  {
    id: "hung-task-hint",
    needles: ["hung_task_timeout_secs"],
    pattern: /hung_task_timeout_secs" disables this message/,
    why: "The hint printed under every hung-task report; the report itself is counted.",
  },
  {
    id: "mcelog-hint",
    needles: ["mcelog --ascii"],
    pattern: /\[Hardware Error\]: Run the above through 'mcelog --ascii'/,
    why: "The hint under a machine check's dump; the check line itself is counted.",
  },
  {
    id: "gpu-xid-154-none",
    needles: ["nvrm: xid"],
    pattern: /NVRM: Xid \([^)]*\): 154, GPU recovery action changed from 0x\w+ \([^)]*\) to 0x0 \(None\)/,
    why: "Xid 154 moving the GPU's recovery action back to None: the GPU needs nothing.",
  },
];

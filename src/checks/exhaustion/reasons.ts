/** Every reason the exhaustion check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "exhaustion",
  intro:
    "Condition `NodeResourceExhausted`: is the node about to run out of something the\nkernel counts — tasks (`kernel.pid_max`, `kernel.threads-max`, a pod's\n`pids.max`), conntrack entries, file handles — or already stalling on memory\nor I/O? Read from `/proc/loadavg`, `/proc/sys/kernel/{pid_max,threads-max}`,\n`/proc/sys/fs/{file-nr,file-max}`, `/proc/sys/net/netfilter/nf_conntrack_{count,max}`,\n`/proc/net/stat/nf_conntrack`, `/proc/pressure/{memory,io,cpu}` and the pod\ncgroups' `pids.current`/`pids.max`/`pids.events`; conntrack only from the\nhost's network namespace. Thresholds: `checks.exhaustion` in\n[configuration.md](configuration.md); see [exhaustion.md](exhaustion.md).",
  reasons: {
    ResourcesSufficient: {
      severities: ["ok"],
      meaning:
        "every counter is below its warning threshold. The message gives the tasks against their limit, the conntrack entries, the file handles and the share of the last minute memory and I/O stalled.",
      repair: "none",
    },
    ThreadsExhausted: {
      severities: ["warning", "critical"],
      severity: "warning at `checks.exhaustion.threadsWarningPercent` (default 75) of the limit, critical at `threadsCriticalPercent` (default 90).",
      meaning:
        "the tasks on the node (processes and threads, /proc/loadavg field 4) approach the smaller of `kernel.pid_max` and `kernel.threads-max`, where fork() and pthread_create() fail with EAGAIN. When `threads-max` is the smaller, kubelet's PIDPressure (which compares with `pid_max` only) stays False. The message names the cgroups (pods) holding the most tasks.",
      remedy:
        "find the leak (`crictl pods --label io.kubernetes.pod.uid=<uid>` for the pod named, `ps -eLo pid,comm | … | uniq -c` by program); set `podPidsLimit` in kubelet's config so one pod cannot take every task; raising `kernel.threads-max`/`kernel.pid_max` buys time.",
      repair: "none",
    },
    PidAvailableBelowEviction: {
      severities: ["warning", "critical"],
      severity:
        "critical below kubelet's hard `pid.available` threshold, warning below its soft one; critical whenever the threshold is crossed against `threads-max` while kubelet, counting against `pid_max`, does not see it.",
      meaning:
        "the tasks left before the kernel's limit are fewer than kubelet's `pid.available` eviction threshold (evictionHard/evictionSoft, --eviction-hard/--eviction-soft; kubelet has no default). Either kubelet reports PIDPressure and evicts, or — with `threads-max` below `pid_max` — it never will, and forks fail first (kubernetes/kubernetes#107111).",
      remedy:
        "stop the pod holding the tasks; make `pid_max` no larger than `threads-max` (or raise `threads-max`) so pid.available measures what the kernel enforces; set `podPidsLimit`.",
      repair: "none",
    },
    PodPidsLimitReached: {
      severities: ["warning"],
      meaning:
        "a pod's cgroup holds `checks.exhaustion.podPidsWarningPercent` (default 90) of its `pids.max` (kubelet's `podPidsLimit`), or the kernel refused forks there since the last look (`pids.events` max): that pod's processes cannot fork or start threads, while the rest of the node is protected. Also for the cgroup of all pods (kubepods), whose limit comes from the node's allocatable pid.",
      remedy:
        "`crictl pods --label io.kubernetes.pod.uid=<uid>` names the pod; find what leaks threads or forks in it; raise podPidsLimit only if the workload needs that many.",
      repair: "none",
    },
    NotHostNetworkNamespace: {
      severities: ["unknown"],
      meaning:
        "node-doctor runs in a network namespace of its own (a pod without `hostNetwork: true`), or cannot tell: the conntrack counters it reads there are the pod's namespace's, so it does not judge them — never ok.",
      remedy: "run node-doctor with `hostNetwork: true` (the chart's default).",
      repair: "none",
    },
    ConntrackTableFull: {
      severities: ["warning", "critical"],
      severity:
        "warning at `checks.exhaustion.conntrackWarningPercent` (default 75) of `nf_conntrack_max`, critical at `conntrackCriticalPercent` (default 90).",
      meaning:
        "the conntrack table approaches `net.netfilter.nf_conntrack_max`. When full, the kernel drops the first packet of new connections (`nf_conntrack: table full, dropping packet`): DNS and Service traffic time out while the node stays Ready.",
      remedy:
        "`conntrack -S`, `conntrack -L | … | uniq -c` to find what fills it; raise `net.netfilter.nf_conntrack_max` (kube-proxy's `conntrack.maxPerCore` sets it at start) and persist it in /etc/sysctl.d/.",
      repair: "none",
    },
    ConntrackDropping: {
      severities: ["warning", "critical"],
      severity:
        "critical when `drop` grows by `checks.exhaustion.conntrackDropsPerMinuteCritical` (default 1) per minute or more; warning when only `early_drop` does.",
      meaning:
        "between two looks the per-CPU counters in `/proc/net/stat/nf_conntrack` grew: `drop` (a packet dropped because the table had no room) or `early_drop` (an unreplied entry evicted to make room). The table is at its limit now, whatever its fill when looked at.",
      remedy: "raise `net.netfilter.nf_conntrack_max` and find what fills the table.",
      repair: "none",
    },
    ConntrackInsertFailed: {
      severities: ["warning"],
      meaning:
        "`insert_failed` in `/proc/net/stat/nf_conntrack` grew by `checks.exhaustion.conntrackInsertFailedPerMinuteWarning` (default 1) per minute or more: two packets of one new UDP flow raced through NAT and one was dropped — pods' 5 s DNS timeouts.",
      remedy: "a node-local DNS cache, or `options single-request-reopen` in pods' dnsConfig; kernels from 5.0 carry the race fixes.",
      repair: "none",
    },
    FileHandlesExhausted: {
      severities: ["warning", "critical"],
      severity:
        "warning at `checks.exhaustion.fileHandlesWarningPercent` (default 80) of `fs.file-max`, critical at `fileHandlesCriticalPercent` (default 90).",
      meaning:
        "the file handles allocated on the node (`/proc/sys/fs/file-nr`) approach `fs.file-max`; at the limit every open(), socket() and accept() fails with ENFILE, kubelet's and the runtime's included.",
      remedy: "find the process holding the most descriptors (`ls /proc/<pid>/fd | wc -l`), restart it; raise `fs.file-max`.",
      repair: "none",
    },
    MemoryPressureStall: {
      severities: ["warning", "critical"],
      severity:
        'warning when "full" avg60 reaches `checks.exhaustion.pressureFullAvg60WarningPercent` (default 10), critical when avg300 reaches `pressureFullAvg300CriticalPercent` (default 20).',
      meaning:
        "`/proc/pressure/memory` says every non-idle task was stalled on memory (reclaim, swap-in, refaults) for that share of the time: the node thrashes, often before kubelet's memory.available threshold is reached.",
      remedy: "name the consumers (`kubectl top pods -A --sort-by=memory`), set memory limits, raise kubelet's memory.available threshold or add memory.",
      repair: "none",
    },
    IoPressureStall: {
      severities: ["warning", "critical"],
      severity: "as MemoryPressureStall, from `/proc/pressure/io`.",
      meaning: "every non-idle task was stalled on block I/O for that share of the time: the node's disk is saturated.",
      remedy:
        "`iotop -oPa`, `pidstat -d 5`, `iostat -x 5`: the process and the device; a pod writing to the root disk, image pulls, swap, or a network disk at its IOPS limit.",
      repair: "none",
    },
  },
});

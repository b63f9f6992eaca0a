/**
 * The exhaustion check's verdicts: facts in (gather.ts), findings out. Pure:
 * no I/O, no clock; the rates (per minute, over the time between two looks)
 * come in computed. Table-tested in test/unit/exhaustion-judge.test.ts.
 */
import { formatThreshold, thresholdAmount, type Threshold } from "../../node/kubelet/eviction.js";
import { sh } from "../../text/shell.js";
import type { Finding, Severity } from "../../types.js";
import type { CgroupPids, ExhaustionFacts, PressureResource } from "./gather.js";
import { REASONS } from "./reasons.js";
import type { CommonCheckSettings } from "../../config/config.js";
import type { ExhaustionSettings } from "./index.js";

export const EXHAUSTION_REASONS = REASONS.names;
type Reason = keyof typeof REASONS.reasons;

export const CONDITION = "NodeResourceExhausted";

/** The thresholds the judge reads: the check's settings (inferred from their schema) but the scheduling and where to gather. */
export type JudgeSettings = Omit<ExhaustionSettings, keyof CommonCheckSettings | "podCgroupParents">;

export const CONNTRACK_EVENTS = ["drop", "early_drop", "insert_failed"] as const;
export type ConntrackEvent = (typeof CONNTRACK_EVENTS)[number];

export interface JudgeInput {
  facts: ExhaustionFacts;
  /** conntrack events per minute since the last look; absent on the first look (or after the counters went back). */
  conntrackRates?: { perMinute: Record<ConntrackEvent, number>; overSeconds: number };
  /** Forks each cgroup's pids controller refused since the last look, by cgroup. */
  refusedSinceLastLook?: Readonly<Record<string, number>>;
  /** Between scans of the pod cgroups (facts.pids absent): the pod findings of the last scan, given again. */
  podFindings?: readonly Finding[];
}

/** The figures behind a run, for the metrics: on the first finding of every run. */
export type ExhaustionEvidence = {
  kind: "exhaustion";
  threads: number;
  threadsMax: number;
  pidMax: number;
  threadsMaxSysctl: number;
  fileHandles: { allocated: number; max: number };
  inotify: { maxUserInstances?: number; maxUserWatches?: number };
  /** Absent when not read (another namespace, nf_conntrack not loaded). */
  conntrack?: { entries: number; max: number; totals: Partial<Record<ConntrackEvent, number>> };
  /** Shares as the kernel gives them, in percent; totals in microseconds. */
  pressure: Partial<Record<PressureResource, { some: PressureFigures; full?: PressureFigures }>>;
};

type PressureFigures = { avg10: number; avg60: number; avg300: number; totalUs: number };

export function isExhaustionEvidence(value: unknown): value is ExhaustionEvidence {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as ExhaustionEvidence).kind === "exhaustion" &&
    typeof (value as ExhaustionEvidence).threads === "number"
  );
}

function finding(reason: Reason, severity: Severity, message: string, remedy?: string, evidence?: Record<string, unknown>): Finding {
  return { check: "exhaustion", condition: CONDITION, severity, reason, message, ...(remedy ? { remedy } : {}), ...(evidence ? { evidence } : {}) };
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "n/a";
}

function rate(perMinute: number): string {
  return perMinute >= 10 ? `${Math.round(perMinute)}/min` : `${perMinute.toFixed(1)}/min`;
}

function level(share: number, warning: number, critical: number): Severity | undefined {
  if (share >= critical) return "critical";
  if (share >= warning) return "warning";
  return undefined;
}

/** The smaller of kernel.pid_max and kernel.threads-max: where the kernel refuses the next fork or thread. */
export function threadLimit(facts: ExhaustionFacts["threads"]): { limit: number; sysctl: "kernel.threads-max" | "kernel.pid_max" } {
  return facts.threadsMax < facts.pidMax ? { limit: facts.threadsMax, sysctl: "kernel.threads-max" } : { limit: facts.pidMax, sysctl: "kernel.pid_max" };
}

function describeConsumer(c: CgroupPids): string {
  return c.podUid ? `pod ${c.podUid} (${c.current})` : `${c.cgroup} (${c.current})`;
}

function consumersSentence(top: readonly CgroupPids[] | undefined): string {
  if (!top?.length) return "";
  return ` Most tasks by cgroup: ${top.map(describeConsumer).join(", ")}.`;
}

function podCommand(top: readonly CgroupPids[] | undefined): string {
  const uid = top?.find((c) => c.podUid)?.podUid;
  return uid ? `${sh`crictl pods --label io.kubernetes.pod.uid=${uid}`} names the pod with the most tasks; ` : "";
}

function podLimitAdvice(facts: ExhaustionFacts): string {
  return facts.kubelet.podPidsLimit === undefined
    ? `kubelet sets no podPidsLimit (${facts.kubelet.podPidsLimitSource}): set \`podPidsLimit\` in kubelet's config (e.g. 4096) so one pod cannot take every task on the node`
    : `kubelet limits each pod to ${facts.kubelet.podPidsLimit} tasks (${facts.kubelet.podPidsLimitSource}): many pods near that limit add up`;
}

function judgeThreads(facts: ExhaustionFacts, settings: JudgeSettings): Finding[] {
  const t = facts.threads;
  const { limit, sysctl } = threadLimit(t);
  const out: Finding[] = [];
  const other = sysctl === "kernel.threads-max" ? `kernel.pid_max is ${t.pidMax}` : `kernel.threads-max is ${t.threadsMax}`;
  const severity = level((100 * t.threads) / limit, settings.threadsWarningPercent, settings.threadsCriticalPercent);
  if (severity) {
    const blind =
      sysctl === "kernel.threads-max"
        ? " kubelet's PIDPressure compares tasks with kernel.pid_max only, so it stays False while the kernel refuses new threads at kernel.threads-max."
        : "";
    out.push(
      finding(
        "ThreadsExhausted",
        severity,
        `${t.threads} tasks run on the node, ${pct(t.threads, limit)} of the ${limit} the kernel allows (${sysctl}; ${other}): at the limit fork() and pthread_create() fail with EAGAIN and kubelet, the runtime and every pod start failing.${blind}${consumersSentence(facts.topConsumers)}`,
        `${podCommand(facts.topConsumers)}\`ps -eLo pid,comm --no-headers | awk '{print $2}' | sort | uniq -c | sort -n | tail\` counts threads by program (a thread or process leak). ${podLimitAdvice(facts)}. Raising the limit buys time: ${sh`sysctl -w ${sysctl}=${Math.min(4194304, limit * 2)}`} (and in /etc/sysctl.d/).`,
        { threads: t.threads, limit, sysctl },
      ),
    );
  }
  out.push(...judgePidEviction(facts, limit, sysctl));
  return out;
}

/** kubelet's pid.available thresholds, judged as kubelet judges them (against pid_max) and as the kernel will (against the smaller limit). */
function judgePidEviction(facts: ExhaustionFacts, limit: number, sysctl: string): Finding[] {
  const t = facts.threads;
  const k = facts.kubelet;
  const kubeletAvailable = t.pidMax - t.threads;
  const realAvailable = limit - t.threads;
  for (const [kind, threshold, severity] of [
    ["hard", k.hard, "critical"],
    ["soft", k.soft, "warning"],
  ] as Array<[string, Threshold | undefined, Severity]>) {
    if (!threshold) continue;
    // kubelet takes a percentage of its capacity, pid_max; what the operator meant is a share of what the kernel allows.
    const amount = thresholdAmount(threshold, limit);
    if (realAvailable >= amount) continue;
    const share = threshold.kind === "percent" ? `, ${Math.ceil(amount)} of the ${limit} the kernel allows` : "";
    const named = `kubelet's ${kind} eviction threshold pid.available<${formatThreshold(threshold, "inodes").replace(" inodes", "")} (${kind === "soft" ? k.softSource : k.evictionSource}${share})`;
    const sees = kubeletAvailable < thresholdAmount(threshold, t.pidMax);
    const message = sees
      ? `Only ${kubeletAvailable} tasks are left before kernel.pid_max (${t.pidMax}), below ${named}: kubelet reports PIDPressure and evicts pods${kind === "soft" ? " once its grace period passes" : ""}.`
      : `Only ${realAvailable} tasks are left before the kernel refuses new ones at ${sysctl} (${limit}), below ${named}, but kubelet counts them against kernel.pid_max (${t.pidMax}: ${kubeletAvailable} left): it reports no PIDPressure and evicts nothing while forks start failing.`;
    const remedy = sees
      ? `${podCommand(facts.topConsumers)}find the pod that holds the tasks and stop it; ${podLimitAdvice(facts)}.`
      : `Make kubelet see the real limit: raise ${sh`sysctl -w kernel.threads-max=${t.pidMax}`} if memory allows, or lower kernel.pid_max to ${limit} (${sh`sysctl -w kernel.pid_max=${limit}`}) so pid.available measures what the kernel enforces; persist it in /etc/sysctl.d/. ${podCommand(facts.topConsumers)}${podLimitAdvice(facts)}.`;
    return [
      finding("PidAvailableBelowEviction", sees ? severity : "critical", message, remedy, {
        available: realAvailable,
        kubeletAvailable,
        threshold: amount,
        kind,
      }),
    ];
  }
  return [];
}

/** Pods (and the cgroup of all pods) at their pids.max: judged when the pod cgroups were read at this look. */
export function judgePods(input: JudgeInput, settings: Pick<JudgeSettings, "podPidsWarningPercent">): Finding[] {
  const pids = input.facts.pids;
  if (!pids) return [...(input.podFindings ?? [])];
  const out: Finding[] = [];
  for (const c of [...pids.parents, ...pids.pods]) {
    if (c.max === "max" || c.max <= 0) continue;
    const refused = input.refusedSinceLastLook?.[c.cgroup] ?? 0;
    const near = (100 * c.current) / c.max >= settings.podPidsWarningPercent;
    if (!near && refused === 0) continue;
    const who = c.podUid ? `Pod ${c.podUid} (cgroup ${c.cgroup})` : `The cgroup of every pod, ${c.cgroup},`;
    const refusedText =
      refused > 0
        ? `; the kernel refused ${refused} fork${refused === 1 ? "" : "s"} there since the last look`
        : c.refused
          ? `; ${c.refused} forks refused since it was made`
          : "";
    out.push(
      finding(
        "PodPidsLimitReached",
        "warning",
        `${who} holds ${c.current} of its ${c.max} tasks (pids.max${refusedText}): its processes cannot fork or start threads.`,
        c.podUid
          ? `${sh`crictl pods --label io.kubernetes.pod.uid=${c.podUid}`} names the pod; \`kubectl logs\` and \`crictl exec <container> ps -eLf\` show what leaks threads or forks. Raise podPidsLimit in kubelet's config only if the workload needs that many (${input.facts.kubelet.podPidsLimitSource}).`
          : "kubelet sets it from the node's allocatable pid (the pid entries of systemReserved and kubeReserved): find the pod holding the tasks (the largest pids.current under it) or lower the reservations.",
        { cgroup: c.cgroup, current: c.current, max: c.max, refused, ...(c.podUid ? { podUid: c.podUid } : {}) },
      ),
    );
  }
  return out;
}

function judgeConntrack(input: JudgeInput, settings: JudgeSettings): Finding[] {
  const c = input.facts.conntrack;
  if (c.namespace.host !== true) {
    return [
      finding(
        "NotHostNetworkNamespace",
        "unknown",
        `conntrack's counters describe the namespace of whoever reads them: ${c.namespace.detail}, so node-doctor does not judge the node's conntrack table.`,
        "Run node-doctor with hostNetwork: true (the chart's default) so it reads the node's own conntrack table.",
      ),
    ];
  }
  if (c.count === undefined || c.max === undefined) return [];
  const out: Finding[] = [];
  const severity = c.max > 0 ? level((100 * c.count) / c.max, settings.conntrackWarningPercent, settings.conntrackCriticalPercent) : undefined;
  if (severity) {
    out.push(
      finding(
        "ConntrackTableFull",
        severity,
        `The conntrack table holds ${c.count} of ${c.max} entries (${pct(c.count, c.max)}, net.netfilter.nf_conntrack_max): when it is full the kernel drops new connections' first packets ("nf_conntrack: table full, dropping packet"), and DNS, Service and pod traffic time out while the node stays Ready.`,
        `\`conntrack -S\` and \`conntrack -L | awk '{print $1, $3}' | sort | uniq -c | sort -n | tail\` show what fills it (often UDP to DNS, or a client opening connections in a loop); raise the limit: ${sh`sysctl -w net.netfilter.nf_conntrack_max=${c.max * 2}`} (kube-proxy's conntrack.maxPerCore sets it at its start), and persist it in /etc/sysctl.d/.`,
        { entries: c.count, max: c.max },
      ),
    );
  }
  const rates = input.conntrackRates;
  if (rates) {
    const { drop, early_drop, insert_failed } = rates.perMinute;
    const threshold = settings.conntrackDropsPerMinuteCritical;
    if (drop >= threshold || early_drop >= threshold) {
      const critical = drop >= threshold;
      out.push(
        finding(
          "ConntrackDropping",
          critical ? "critical" : "warning",
          critical
            ? `The kernel dropped ${rate(drop)} packets over the last ${Math.round(rates.overSeconds)} s because the conntrack table had no room (drop in /proc/net/stat/nf_conntrack; ${c.count} of ${c.max} entries now): new connections fail.`
            : `The kernel evicted ${rate(early_drop)} unreplied conntrack entries over the last ${Math.round(rates.overSeconds)} s to make room (early_drop in /proc/net/stat/nf_conntrack; ${c.count} of ${c.max} entries now): the table is at its limit.`,
          `Raise ${sh`sysctl -w net.netfilter.nf_conntrack_max=${(c.max || 65536) * 2}`} and find what fills the table (\`conntrack -L | awk '{print $1, $3}' | sort | uniq -c | sort -n | tail\`); kube-proxy's conntrack.maxPerCore sets the limit when it starts.`,
          { drop, early_drop },
        ),
      );
    }
    if (insert_failed >= settings.conntrackInsertFailedPerMinuteWarning) {
      out.push(
        finding(
          "ConntrackInsertFailed",
          "warning",
          `The kernel failed to insert ${rate(insert_failed)} conntrack entries over the last ${Math.round(rates.overSeconds)} s (insert_failed in /proc/net/stat/nf_conntrack): two packets of one new UDP flow raced through SNAT/DNAT and one was dropped — the cause of pods' 5 s DNS timeouts (the A and AAAA queries of one lookup share a socket).`,
          "Run a node-local DNS cache (NodeLocal DNSCache) or set `options single-request-reopen` in pods' dnsConfig; on kernels before 5.0 upgrade (the race fixes in nf_conntrack are in 5.0 and later).",
          { insert_failed },
        ),
      );
    }
  }
  return out;
}

function judgeFileHandles(facts: ExhaustionFacts, settings: JudgeSettings): Finding[] {
  const f = facts.fileHandles;
  const used = f.allocated - f.unused;
  const max = f.fileMax > 0 ? f.fileMax : f.max;
  const severity = max > 0 ? level((100 * used) / max, settings.fileHandlesWarningPercent, settings.fileHandlesCriticalPercent) : undefined;
  if (!severity) return [];
  return [
    finding(
      "FileHandlesExhausted",
      severity,
      `${used} file handles are open on the node, ${pct(used, max)} of fs.file-max (${max}): at the limit every open(), socket() and accept() fails with ENFILE ("Too many open files in system"), kubelet and the runtime included.`,
      `\`for p in /proc/[0-9]*; do echo "$(ls $p/fd 2>/dev/null | wc -l) $(cat $p/comm 2>/dev/null)"; done | sort -n | tail\` names the processes holding the most; restart the leaking one, and raise ${sh`sysctl -w fs.file-max=${max * 2}`} (persist in /etc/sysctl.d/).`,
      { used, max },
    ),
  ];
}

const PRESSURE_WORDS: Record<"memory" | "io", { reason: Reason; what: string; remedy: string }> = {
  memory: {
    reason: "MemoryPressureStall",
    what: "every non-idle task waited for memory (reclaim, swap-in, refaults)",
    remedy:
      "The node is thrashing before kubelet's memory.available threshold is reached: `kubectl top pods -A --sort-by=memory` and `ps aux --sort=-rss | head` name the consumers; set memory limits, raise kubelet's evictionHard memory.available, or add memory.",
  },
  io: {
    reason: "IoPressureStall",
    what: "every non-idle task waited for block I/O",
    remedy:
      "`iotop -oPa` or `pidstat -d 5` name the processes doing the I/O; `iostat -x 5` shows the saturated device. Usual causes: a pod writing to the node's root disk (logs, emptyDir), image pulls, swap, or a slow network disk (check its IOPS and throughput limits).",
  },
};

function judgePressure(facts: ExhaustionFacts, settings: JudgeSettings): Finding[] {
  const out: Finding[] = [];
  for (const resource of ["memory", "io"] as const) {
    const full = facts.pressure[resource]?.full;
    if (!full) continue;
    const words = PRESSURE_WORDS[resource];
    let severity: Severity | undefined;
    if (full.avg300 >= settings.pressureFullAvg300CriticalPercent) severity = "critical";
    else if (full.avg60 >= settings.pressureFullAvg60WarningPercent) severity = "warning";
    if (!severity) continue;
    out.push(
      finding(
        words.reason,
        severity,
        `For ${full.avg60.toFixed(1)}% of the last minute and ${full.avg300.toFixed(1)}% of the last 5 minutes ${words.what} (/proc/pressure/${resource} "full"): work on the node stalls.`,
        words.remedy,
        { resource, avg60: full.avg60, avg300: full.avg300 },
      ),
    );
  }
  return out;
}

function evidenceOf(facts: ExhaustionFacts): ExhaustionEvidence {
  const c = facts.conntrack;
  const pressure: ExhaustionEvidence["pressure"] = {};
  for (const [resource, p] of Object.entries(facts.pressure) as Array<[PressureResource, NonNullable<ExhaustionFacts["pressure"][PressureResource]>]>) {
    pressure[resource] = { some: p.some, ...(p.full ? { full: p.full } : {}) };
  }
  const totals: Partial<Record<ConntrackEvent, number>> = {};
  for (const event of CONNTRACK_EVENTS) {
    const value = c.stats?.totals[event];
    if (value !== undefined) totals[event] = value;
  }
  return {
    kind: "exhaustion",
    threads: facts.threads.threads,
    threadsMax: threadLimit(facts.threads).limit,
    pidMax: facts.threads.pidMax,
    threadsMaxSysctl: facts.threads.threadsMax,
    fileHandles: { allocated: facts.fileHandles.allocated - facts.fileHandles.unused, max: facts.fileHandles.fileMax },
    inotify: facts.inotify,
    ...(c.count !== undefined && c.max !== undefined ? { conntrack: { entries: c.count, max: c.max, totals } } : {}),
    pressure,
  };
}

function healthyMessage(facts: ExhaustionFacts): string {
  const t = facts.threads;
  const { limit, sysctl } = threadLimit(t);
  const parts = [`${t.threads} tasks of ${limit} (${sysctl})`];
  const c = facts.conntrack;
  if (c.count !== undefined && c.max !== undefined) parts.push(`${c.count} conntrack entries of ${c.max}`);
  else if (c.namespace.host === true) parts.push("nf_conntrack not loaded");
  parts.push(`${facts.fileHandles.allocated - facts.fileHandles.unused} file handles of ${facts.fileHandles.fileMax}`);
  const psi = (["memory", "io"] as const).filter((r) => facts.pressure[r]?.full).map((r) => `${r} stalled ${facts.pressure[r]?.full?.avg60.toFixed(1)}%`);
  parts.push(psi.length ? `${psi.join(", ")} of the last minute` : "no PSI in this kernel");
  return `Nothing runs out: ${parts.join(", ")}.`;
}

/** Every verdict of one look. The first finding carries the figures for the metrics. */
export function judgeExhaustion(input: JudgeInput, settings: JudgeSettings): Finding[] {
  const { facts } = input;
  const problems = [
    ...judgeThreads(facts, settings),
    ...judgePods(input, settings),
    ...judgeConntrack(input, settings),
    ...judgeFileHandles(facts, settings),
    ...judgePressure(facts, settings),
  ];
  const findings = problems.length ? problems : [finding("ResourcesSufficient", "ok", healthyMessage(facts))];
  // A copy: a pod finding given again from the last scan is not written into.
  const first = findings[0] as Finding;
  findings[0] = { ...first, evidence: { ...(first.evidence ?? {}), ...evidenceOf(facts) } };
  return findings;
}

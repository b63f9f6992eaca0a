/**
 * Resources the kernel runs out of before kubelet notices: tasks against the
 * smaller of kernel.pid_max and kernel.threads-max (and kubelet's pid.available
 * and podPidsLimit), conntrack entries and drops (host network namespace only),
 * file handles, and memory and I/O stalls (PSI). One condition,
 * NodeResourceExhausted, whose reason names the resource (docs/exhaustion.md
 * says why one).
 *
 * Gather (gather.ts) then judge (judge.ts). Between runs the check keeps the
 * last conntrack counters (three numbers and a time), the limits (four
 * sysctls and kubelet's pid settings, read again every limitsRefreshSeconds,
 * when the pod cgroups are read too), the pod findings of that scan, and the refused-fork count of
 * each pod cgroup that had any, so drops and refusals are rates, not totals
 * since boot.
 */
import { checkSettings } from "../../config/config.js";
import { list, number, string, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { kubeletPidSettings, type KubeletPidSettings } from "../../node/kubelet/pids.js";
import { networkNamespace } from "../../node/namespaces.js";
import type { Check, CheckContext, Finding } from "../../types.js";
import { defineCheck } from "../define.js";
import { gatherExhaustion, type ExhaustionFacts, type Limits } from "./gather.js";
import { CONDITION, CONNTRACK_EVENTS, judgeExhaustion, judgePods, threadLimit, type ConntrackEvent, type JudgeInput } from "./judge.js";
import { exhaustionMetrics } from "./metrics.js";
import { REASONS } from "./reasons.js";

function percent(): ReturnType<typeof number> {
  return number({ min: 1, max: 100 });
}

function cgroupName(value: string): string | undefined {
  return /^[A-Za-z0-9_.:@-]+(\/[A-Za-z0-9_.:@-]+)*$/.test(value) && !value.split("/").includes("..")
    ? undefined
    : `must be a cgroup path below the hierarchy's root such as kubepods.slice, got ${JSON.stringify(value)}`;
}

export const exhaustionSettings = checkSettings(
  { intervalSeconds: 30, timeoutSeconds: 10 },
  {
    /** Tasks (processes and threads) as a share of min(kernel.pid_max, kernel.threads-max). */
    threadsWarningPercent: withDefault(percent(), 75),
    threadsCriticalPercent: withDefault(percent(), 90),
    /** A pod's tasks as a share of its pids.max (kubelet's podPidsLimit). */
    podPidsWarningPercent: withDefault(percent(), 90),
    /** conntrack entries as a share of net.netfilter.nf_conntrack_max. */
    conntrackWarningPercent: withDefault(percent(), 75),
    conntrackCriticalPercent: withDefault(percent(), 90),
    /** Packets dropped for want of a conntrack entry, per minute, that make the condition critical (early_drop at this rate warns). */
    conntrackDropsPerMinuteCritical: withDefault(number({ min: 0.01, max: 1e9 }), 1),
    /** Failed conntrack inserts (the NAT race behind 5 s DNS timeouts) per minute that warn. */
    conntrackInsertFailedPerMinuteWarning: withDefault(number({ min: 0.01, max: 1e9 }), 1),
    /** Open file handles as a share of fs.file-max. */
    fileHandlesWarningPercent: withDefault(percent(), 80),
    fileHandlesCriticalPercent: withDefault(percent(), 90),
    /** PSI "full" of memory and I/O: the last minute's share that warns, the last five minutes' that is critical. */
    pressureFullAvg60WarningPercent: withDefault(percent(), 10),
    pressureFullAvg300CriticalPercent: withDefault(percent(), 20),
    /** How often the limits (pid_max, threads-max, nf_conntrack_max, inotify) and every pod cgroup's pids files are read again; every look while tasks are high. */
    limitsRefreshSeconds: withDefault(number({ min: 30, max: 86400 }), 300),
    /** Where kubelet puts pods' cgroups, below the pids hierarchy's root: kubepods.slice (systemd driver), kubepods (cgroupfs). */
    podCgroupParents: withDefault(list(string({ check: cgroupName }), { maxItems: 8 }), ["kubepods.slice", "kubepods"]),
  },
);

export type ExhaustionSettings = Infer<typeof exhaustionSettings>;

/** Pod cgroups whose refused-fork count is remembered (only those with refusals), and pod findings given again between scans. */
const MAX_REMEMBERED_CGROUPS = 520;
const MAX_POD_FINDINGS = 16;

export function createExhaustionCheck(settings: ExhaustionSettings, deps: { kubelet: KubeletLocator }): Check {
  let lastConntrack: { atMs: number; totals: Record<ConntrackEvent, number> } | undefined;
  /** Forks refused per cgroup at the last scan, for cgroups with any; undefined before the first scan (no baseline). */
  let lastRefused: Map<string, number> | undefined;
  let limits: { atMs: number; value: Limits; pidSettings: KubeletPidSettings } | undefined;
  let podFindings: readonly Finding[] = [];
  const refreshMs = settings.limitsRefreshSeconds * 1000;
  const high = (t: ExhaustionFacts["threads"]) => (100 * t.threads) / threadLimit(t).limit >= settings.threadsWarningPercent;

  function conntrackRates(facts: ExhaustionFacts, nowMs: number): JudgeInput["conntrackRates"] {
    const stats = facts.conntrack.stats;
    if (!stats) {
      lastConntrack = undefined;
      return undefined;
    }
    const totals = Object.fromEntries(CONNTRACK_EVENTS.map((e) => [e, stats.totals[e] ?? 0])) as Record<ConntrackEvent, number>;
    const previous = lastConntrack;
    lastConntrack = { atMs: nowMs, totals };
    if (!previous || nowMs <= previous.atMs) return undefined;
    // A counter that went back (a 32-bit per-CPU wrap, the module reloaded): no rate from this pair.
    if (CONNTRACK_EVENTS.some((e) => totals[e] < previous.totals[e])) return undefined;
    const minutes = (nowMs - previous.atMs) / 60_000;
    const perMinute = Object.fromEntries(CONNTRACK_EVENTS.map((e) => [e, (totals[e] - previous.totals[e]) / minutes])) as Record<ConntrackEvent, number>;
    return { perMinute, overSeconds: minutes * 60 };
  }

  /** Forks refused since the last scan; a cgroup the last scan did not remember had none then (or did not exist). */
  function refusedSince(facts: ExhaustionFacts): Record<string, number> {
    const out: Record<string, number> = Object.create(null) as Record<string, number>;
    const next = new Map<string, number>();
    for (const c of [...(facts.pids?.parents ?? []), ...(facts.pids?.pods ?? [])]) {
      if (!c.refused || c.max === "max" || next.size >= MAX_REMEMBERED_CGROUPS) continue;
      next.set(c.cgroup, c.refused);
      const before = lastRefused?.get(c.cgroup) ?? 0;
      if (lastRefused && c.refused > before) out[c.cgroup] = c.refused - before;
    }
    lastRefused = next;
    return out;
  }

  return {
    name: "exhaustion",
    conditions: [CONDITION],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx: CheckContext): Promise<Finding[]> {
      const nowMs = ctx.clock.monotonic();
      const due = !limits || nowMs - limits.atMs >= refreshMs;
      // kubelet's settings change when it restarts with another config: read with the limits.
      const pidSettings = due || !limits ? kubeletPidSettings(await deps.kubelet.locate(ctx.signal)) : limits.pidSettings;
      const namespace = await networkNamespace(ctx.host);
      const gathered = await gatherExhaustion(
        ctx.host,
        pidSettings,
        namespace,
        {
          podCgroupParents: settings.podCgroupParents,
          ...(due || !limits ? {} : { limits: limits.value }),
          scanPods: (t) => due || high(t),
          podNearShare: settings.podPidsWarningPercent / 100,
          topConsumers: high,
        },
        ctx.signal,
      );
      if (due) limits = { atMs: nowMs, value: gathered.limits, pidSettings };
      const { facts } = gathered;
      const rates = conntrackRates(facts, nowMs);
      if (facts.pids) podFindings = judgePods({ facts, refusedSinceLastLook: refusedSince(facts) }, settings).slice(0, MAX_POD_FINDINGS);
      return judgeExhaustion({ facts: { ...facts, pids: undefined }, podFindings, ...(rates ? { conntrackRates: rates } : {}) }, settings);
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const exhaustionCheck = defineCheck({ settings: exhaustionSettings, create: createExhaustionCheck, reasons: REASONS, metrics: exhaustionMetrics });

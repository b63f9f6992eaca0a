/**
 * Resources the kernel runs out of before kubelet notices: tasks against the
 * smaller of kernel.pid_max and kernel.threads-max (and kubelet's pid.available
 * and podPidsLimit), conntrack entries and drops (host network namespace only),
 * file handles, and memory and I/O stalls (PSI). One condition,
 * NodeResourceExhausted, whose reason names the resource (docs/exhaustion.md
 * says why one).
 *
 * Gather (gather.ts) then judge (judge.ts). Between runs the check keeps the
 * last conntrack counters (three numbers and a time) and each limited
 * cgroup's refused-fork count, so drops and refusals are rates, not totals
 * since boot.
 */
import { checkSettings } from "../../config/config.js";
import { list, number, string, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { networkNamespace } from "../../node/namespaces.js";
import type { Check, CheckContext, Finding } from "../../types.js";
import { defineCheck } from "../define.js";
import { gatherExhaustion, type ExhaustionFacts } from "./gather.js";
import { CONDITION, CONNTRACK_EVENTS, judgeExhaustion, threadLimit, type ConntrackEvent, type JudgeInput } from "./judge.js";
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
    /** Where kubelet puts pods' cgroups, below the pids hierarchy's root: kubepods.slice (systemd driver), kubepods (cgroupfs). */
    podCgroupParents: withDefault(list(string({ check: cgroupName }), { maxItems: 8 }), ["kubepods.slice", "kubepods"]),
  },
);

export type ExhaustionSettings = Infer<typeof exhaustionSettings>;

/** Limited cgroups whose refused-fork count is remembered: as many as gather.ts reads. */
const MAX_REMEMBERED_CGROUPS = 520;

export function createExhaustionCheck(settings: ExhaustionSettings, deps: { kubelet: KubeletLocator }): Check {
  let lastConntrack: { atMs: number; totals: Record<ConntrackEvent, number> } | undefined;
  let lastRefused = new Map<string, number>();

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

  function refusedSince(facts: ExhaustionFacts): Record<string, number> {
    const out: Record<string, number> = Object.create(null) as Record<string, number>;
    const next = new Map<string, number>();
    for (const c of [...(facts.pids?.parents ?? []), ...(facts.pids?.pods ?? [])]) {
      if (c.refused === undefined || c.max === "max" || next.size >= MAX_REMEMBERED_CGROUPS) continue;
      next.set(c.cgroup, c.refused);
      const before = lastRefused.get(c.cgroup);
      if (before !== undefined && c.refused > before) out[c.cgroup] = c.refused - before;
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
      const [kubelet, namespace] = await Promise.all([deps.kubelet.locate(ctx.signal), networkNamespace(ctx.host)]);
      const facts = await gatherExhaustion(
        ctx.host,
        kubelet,
        namespace,
        {
          podCgroupParents: settings.podCgroupParents,
          topConsumers: (t) => (100 * t.threads) / threadLimit(t).limit >= settings.threadsWarningPercent,
        },
        ctx.signal,
      );
      const rates = conntrackRates(facts, ctx.clock.monotonic());
      return judgeExhaustion({ facts, refusedSinceLastLook: refusedSince(facts), ...(rates ? { conntrackRates: rates } : {}) }, settings);
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const exhaustionCheck = defineCheck({ settings: exhaustionSettings, create: createExhaustionCheck, reasons: REASONS, metrics: exhaustionMetrics });

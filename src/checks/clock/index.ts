/**
 * The node's clock against its references: the API server (its Date header,
 * bounded by the round trip) and NTP (an SNTP query to the servers the
 * node's own time service uses), the time service's state, and jumps of the
 * wall clock between runs. A clock hours wrong is what made kubelet rotate
 * into a certificate from the future (docs/incidents.md).
 *
 * The best fresh estimate becomes ctx.facts.clockOffset, which corrects
 * ctx.trustedNow() for the other checks (certificates). This check is that
 * fact's only writer.
 *
 * Gather (gather.ts: API probe, SNTP, /proc and config files) then judge
 * (judge.ts, pure).
 */
import { checkSettings } from "../../config/config.js";
import { boolean, list, number, optional, string, withDefault, type Infer } from "../../config/schema.js";
import type { Check } from "../../types.js";
import { gatherClock, newClockMemory, parseNtpServer } from "./gather.js";
import { bestEstimate, judgeClock, thresholdsFrom } from "./judge.js";
import { REASONS } from "./reasons.js";
import { defineCheck } from "../define.js";
import { clockMetrics } from "./metrics.js";

export const CLOCK_REASONS = REASONS.names;

function ntpServerSyntax(value: string): string | undefined {
  const parsed = parseNtpServer(value);
  return typeof parsed === "string" ? parsed : undefined;
}

export const clockSettings = checkSettings(
  { intervalSeconds: 60, timeoutSeconds: 10 },
  {
    /** Offset from the API server's clock (Date header, 1 s resolution) beyond which to warn / go critical. */
    apiServerWarningSeconds: withDefault(number({ min: 0 }), 2),
    apiServerCriticalSeconds: withDefault(number({ min: 0 }), 30),
    /** Ask the API server for its time at most this often; runs in between reuse the last answer. */
    apiServerPollSeconds: withDefault(number({ min: 1, max: 86400 }), 300),
    /** Offset from NTP beyond which to warn / go critical. */
    ntpWarningSeconds: withDefault(number({ min: 0 }), 0.1),
    ntpCriticalSeconds: withDefault(number({ min: 0 }), 1),
    /** NTP servers to ask (HOST, HOST:PORT); default: the node's chrony, ntpd or timesyncd servers. [] turns NTP off. */
    ntpServers: optional(list(string({ check: ntpServerSyntax }), { maxItems: 16 })),
    /** At most this many servers are asked per query round. */
    ntpMaxServers: withDefault(number({ min: 1, max: 16, integer: true }), 3),
    ntpTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 2),
    /** Queries per server per round; the least disturbed one counts (a lost packet is retried within the timeout). */
    ntpSamples: withDefault(number({ min: 1, max: 8, integer: true }), 3),
    /** Ask NTP servers at most this often (public pools ask for no more than one query a minute); runs in between reuse the last answer. */
    ntpPollSeconds: withDefault(number({ min: 1, max: 86400 }), 300),
    /** A wall-clock step larger than this between runs is reported as ClockJumped… */
    jumpWarningSeconds: withDefault(number({ min: 0.5 }), 10),
    /** …for this long after it was seen. */
    jumpReportSeconds: withDefault(number({ min: 0 }), 3600),
    /** systemd-timesyncd unsynchronised for longer than this → ClockNotSynchronized. */
    notSynchronizedWarningSeconds: withDefault(number({ min: 0 }), 1800),
    /** Warn when no time service (chronyd, ntpd, systemd-timesyncd) runs on the node. */
    expectSyncService: withDefault(boolean(), true),
  },
);

export type ClockSettings = Infer<typeof clockSettings>;

export function createClockCheck(settings: ClockSettings): Check {
  const thresholds = thresholdsFrom(settings);
  const memory = newClockMemory();

  return {
    name: "clock",
    conditions: ["ClockSkewed"],
    // Its offset corrects every other check's "now" (certificates above all): it goes first.
    writesFacts: true,
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const observation = await gatherClock(ctx, settings, memory);
      const estimate = bestEstimate(observation);
      if (estimate) ctx.facts.clockOffset = estimate;
      return judgeClock(observation, thresholds);
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const clockCheck = defineCheck({ settings: clockSettings, create: createClockCheck, reasons: REASONS, metrics: clockMetrics });

/**
 * What the clock check reads, I/O only: the API server's Date (GET /version),
 * SNTP from the node's own time servers, the time service's state (files,
 * /proc, timedated over D-Bus), and the wall clock against the monotonic one.
 *
 * What the check keeps between runs is `ClockMemory`: the last readings of
 * each reference (each asked at most once per poll interval), the last jump
 * and since when the kernel says it is not synchronised.
 */
import { describeTarget, querySntpBest, SntpError, type SntpTarget } from "../../wire/sntp.js";
import { readTimeSync, type TimeSyncState } from "../../node/timesync.js";
import type { ApiTiming, CheckContext } from "../../types.js";
import type { ClockSettings } from "./index.js";
import { apiServerOffset, type ClockJump, type ClockObservation, type NtpRound, type OffsetMeasurement } from "./judge.js";
import { errorText } from "../../text/format.js";

/** "host", "host:port", "[v6]:port" or a bare IPv6 address → target; a string is the problem. */
export function parseNtpServer(value: string): SntpTarget | string {
  const text = value.trim();
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  const hostPort = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(text);
  const bareV6 = /^[0-9a-fA-F]*:[0-9a-fA-F:.]+$/.test(text) && text.split(":").length > 2;
  let host: string | undefined;
  let portText: string | undefined;
  if (bracketed) [, host, portText] = bracketed;
  else if (bareV6) host = text;
  else if (hostPort) [, host, portText] = hostPort;
  if (!host) return `expected HOST, HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(value)}`;
  if (portText === undefined) return { host };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be 1-65535, got ${portText}`;
  return { host, port };
}

async function probeApiServer(ctx: CheckContext): Promise<OffsetMeasurement | string | undefined> {
  const cluster = ctx.cluster;
  if (!cluster) return undefined;
  let timing: ApiTiming;
  try {
    timing = await cluster.probeTime(ctx.signal);
  } catch (error) {
    ctx.signal.throwIfAborted();
    return `GET /version failed: ${errorText(error)}`;
  }
  const offset = apiServerOffset(timing);
  if (!offset) return "its reply to GET /version had no Date header";
  return {
    source: "apiserver",
    ...offset,
    reference: "GET /version",
    atMs: timing.receivedAtMs,
    measuredAtMonotonicMs: ctx.clock.monotonic(),
    details: { roundTripSeconds: (timing.receivedAtMs - timing.sentAtMs) / 1000 },
  };
}

async function queryNtp(ctx: CheckContext, targets: SntpTarget[], from: string, settings: ClockSettings): Promise<NtpRound> {
  const round: NtpRound = {
    from,
    servers: targets.map(describeTarget),
    results: [],
    failures: [],
    atMs: ctx.clock.now(),
    measuredAtMonotonicMs: ctx.clock.monotonic(),
  };
  await Promise.all(
    targets.map(async (target) => {
      try {
        round.results.push(
          await querySntpBest(target, { clock: ctx.clock, timeoutMs: settings.ntpTimeoutSeconds * 1000, samples: settings.ntpSamples, signal: ctx.signal }),
        );
      } catch (error) {
        ctx.signal.throwIfAborted();
        round.failures.push({ server: describeTarget(target), kind: error instanceof SntpError ? error.kind : "error", message: errorText(error) });
      }
    }),
  );
  round.atMs = ctx.clock.now();
  round.measuredAtMonotonicMs = ctx.clock.monotonic();
  return round;
}

function ntpTargets(settings: ClockSettings, sync: TimeSyncState | undefined): { targets: SntpTarget[]; from: string } {
  if (settings.ntpServers) {
    const targets = settings.ntpServers.map(parseNtpServer).filter((t): t is SntpTarget => typeof t !== "string");
    return { targets: targets.slice(0, settings.ntpMaxServers), from: "checks.clock.ntpServers" };
  }
  const configured = sync?.servers ?? [];
  const unique = new Map<string, SntpTarget>();
  for (const s of configured) unique.set(describeTarget(s), { host: s.host, ...(s.port !== undefined ? { port: s.port } : {}) });
  const files = [...new Set(configured.map((s) => s.file))];
  return { targets: [...unique.values()].slice(0, settings.ntpMaxServers), from: files.join(", ") };
}

/** Everything the clock check carries from one run to the next. */
export interface ClockMemory {
  /** The previous run's wall and monotonic times: their difference changing is a jump. */
  previous: { nowMs: number; monotonicMs: number } | undefined;
  lastJump: ClockJump | undefined;
  lastNtp: NtpRound | undefined;
  lastApi: OffsetMeasurement | undefined;
  lastTimedated: { atMonotonicMs: number; value: TimeSyncState["timedated"] } | undefined;
  unsynchronizedSinceMs: number | undefined;
}

export function newClockMemory(): ClockMemory {
  return { previous: undefined, lastJump: undefined, lastNtp: undefined, lastApi: undefined, lastTimedated: undefined, unsynchronizedSinceMs: undefined };
}

/** One run's observation; a jump also drops ctx.facts.clockOffset (measured against the old clock). */
export async function gatherClock(ctx: CheckContext, settings: ClockSettings, memory: ClockMemory): Promise<ClockObservation> {
  const nowMs = ctx.clock.now();
  const monotonicMs = ctx.clock.monotonic();
  if (memory.previous) {
    const sizeMs = nowMs - memory.previous.nowMs - (monotonicMs - memory.previous.monotonicMs);
    if (Math.abs(sizeMs) > settings.jumpWarningSeconds * 1000) {
      memory.lastJump = { sizeMs, beforeMs: memory.previous.nowMs, afterMs: nowMs, seenAtMonotonicMs: monotonicMs };
      memory.lastNtp = undefined; // measured against the old clock
      memory.lastApi = undefined;
      delete ctx.facts.clockOffset;
      memory.unsynchronizedSinceMs = undefined;
    }
  }
  memory.previous = { nowMs, monotonicMs };

  // timedated is bus-activated and exits when idle: ask it no more often than NTP.
  const askTimedated = !memory.lastTimedated || monotonicMs - memory.lastTimedated.atMonotonicMs >= settings.ntpPollSeconds * 1000;
  let sync: TimeSyncState | undefined;
  try {
    sync = await readTimeSync(ctx.host, ctx.signal, askTimedated ? { timedatedTimeoutMs: Math.min(2000, settings.timeoutSeconds * 500) } : {});
    if (askTimedated) memory.lastTimedated = { atMonotonicMs: monotonicMs, value: sync.timedated };
    else if (memory.lastTimedated?.value) sync.timedated = memory.lastTimedated.value;
  } catch (error) {
    ctx.signal.throwIfAborted();
    ctx.log.debug({ err: errorText(error) }, "time service state unreadable");
  }
  const kernel = sync?.timedated && "synchronized" in sync.timedated ? sync.timedated.synchronized : undefined;
  if (kernel === false) memory.unsynchronizedSinceMs ??= nowMs;
  else memory.unsynchronizedSinceMs = undefined;

  const { targets, from } = ntpTargets(settings, sync);
  // Ask again after the poll interval; sooner only after a failure that was not a kiss-o'-death (which asks us to back off).
  const ntpDue =
    !memory.lastNtp ||
    monotonicMs - memory.lastNtp.measuredAtMonotonicMs >= settings.ntpPollSeconds * 1000 ||
    (memory.lastNtp.results.length === 0 && !memory.lastNtp.failures.some((f) => f.kind === "kiss-of-death"));
  const [apiServer, ntp] = await Promise.all([
    // A failed probe is retried next run; a good one is reused for apiServerPollSeconds (GET /version from every node adds up).
    memory.lastApi && ctx.cluster && monotonicMs - memory.lastApi.measuredAtMonotonicMs < settings.apiServerPollSeconds * 1000
      ? memory.lastApi
      : probeApiServer(ctx),
    targets.length === 0 ? undefined : ntpDue ? queryNtp(ctx, targets, from, settings) : memory.lastNtp,
  ]);
  memory.lastNtp = ntp;
  memory.lastApi = typeof apiServer === "object" ? apiServer : undefined;

  return {
    nowMs,
    monotonicMs,
    ...(apiServer !== undefined ? { apiServer } : {}),
    ...(ntp ? { ntp } : {}),
    ...(sync ? { sync } : {}),
    ...(memory.unsynchronizedSinceMs !== undefined ? { unsynchronizedSinceMs: memory.unsynchronizedSinceMs } : {}),
    ...(memory.lastJump ? { jump: memory.lastJump } : {}),
  };
}

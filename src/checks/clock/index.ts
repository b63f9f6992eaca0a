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
 * Gather (API probe, SNTP, /proc and config files) then judge (pure).
 */
import { checkSettings, type CommonCheckSettings } from "../../config/config.js";
import { boolean, list, number, optional, string, withDefault } from "../../config/schema.js";
import { describeTarget, querySntpBest, SntpError, type SntpResult, type SntpTarget } from "../../wire/sntp.js";
import { readTimeSync, TIMESYNCD_SYNCHRONIZED_FLAG, type SyncService, type TimeSyncState } from "../../node/timesync.js";
import type { ApiTiming, Check, CheckContext, ClockEstimate, Finding, Severity } from "../../types.js";
import { REASONS } from "./reasons.js";

export const CLOCK_REASONS = REASONS.names;

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

export type ClockSettings = CommonCheckSettings & {
  apiServerWarningSeconds: number;
  apiServerCriticalSeconds: number;
  apiServerPollSeconds: number;
  ntpWarningSeconds: number;
  ntpCriticalSeconds: number;
  ntpServers?: string[] | undefined;
  ntpMaxServers: number;
  ntpTimeoutSeconds: number;
  ntpSamples: number;
  ntpPollSeconds: number;
  jumpWarningSeconds: number;
  jumpReportSeconds: number;
  notSynchronizedWarningSeconds: number;
  expectSyncService: boolean;
};

export type ClockSource = "apiserver" | "ntp";

/** Evidence on offset findings; the metrics sink reads it. Offsets are reference − local (positive: local behind). */
export interface OffsetEvidence {
  kind: "offset";
  source: ClockSource;
  offsetSeconds: number;
  uncertaintySeconds: number;
  [key: string]: unknown;
}

/** Evidence on sync-state findings; `synchronized` is absent when the service's state is not readable. */
export interface SyncEvidence {
  kind: "sync";
  synchronized?: boolean;
  /** Who says so: the service whose state was read, or "none" when no service runs. */
  reportedBy?: SyncService | "timedated" | "none";
  services: SyncService[];
  [key: string]: unknown;
}

export function isOffsetEvidence(value: unknown): value is OffsetEvidence {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Partial<OffsetEvidence>;
  return (
    e.kind === "offset" && (e.source === "apiserver" || e.source === "ntp") && typeof e.offsetSeconds === "number" && typeof e.uncertaintySeconds === "number"
  );
}

export function isSyncEvidence(value: unknown): value is SyncEvidence {
  return (
    typeof value === "object" && value !== null && (value as Partial<SyncEvidence>).kind === "sync" && Array.isArray((value as Partial<SyncEvidence>).services)
  );
}

/** An offset measured against one reference. */
export interface OffsetMeasurement {
  source: ClockSource;
  offsetMs: number;
  uncertaintyMs: number;
  /** What was asked: "GET /version", "127.0.0.1:123". */
  reference: string;
  /** Local wall time of the measurement. */
  atMs: number;
  measuredAtMonotonicMs: number;
  details?: Record<string, unknown>;
}

/**
 * Offset from one API response. The server stamped Date (truncated to the
 * second) at some instant between our send and our receipt, so the true
 * offset lies in [date − received, date + 1 s − sent]: report its midpoint
 * and half-width.
 */
export function apiServerOffset(timing: ApiTiming): { offsetMs: number; uncertaintyMs: number } | undefined {
  if (timing.serverDateMs === undefined || !Number.isFinite(timing.serverDateMs)) return undefined;
  const roundTrip = Math.max(0, timing.receivedAtMs - timing.sentAtMs);
  const low = timing.serverDateMs - timing.receivedAtMs;
  const high = timing.serverDateMs + 1000 - timing.sentAtMs;
  return { offsetMs: (low + high) / 2, uncertaintyMs: roundTrip / 2 + 500 };
}

export interface NtpRound {
  /** Where the server list came from: "/etc/chrony/chrony.conf", "checks.clock.ntpServers". */
  from: string;
  servers: string[];
  results: SntpResult[];
  failures: Array<{ server: string; kind: string; message: string }>;
  atMs: number;
  measuredAtMonotonicMs: number;
}

export interface ClockJump {
  /** Wall-clock change minus monotonic change: positive when the clock stepped forward. */
  sizeMs: number;
  /** Wall time of the runs either side of the step. */
  beforeMs: number;
  afterMs: number;
  /** Monotonic ms when it was seen. */
  seenAtMonotonicMs: number;
}

export interface ClockObservation {
  nowMs: number;
  monotonicMs: number;
  /** Undefined without a cluster; a string when the API server could not be asked. */
  apiServer?: OffsetMeasurement | string;
  /** Undefined when no NTP server is configured. */
  ntp?: NtpRound;
  sync?: TimeSyncState;
  /** Local wall time since which timedated has said NTPSynchronized=false (as seen by this check). */
  unsynchronizedSinceMs?: number;
  jump?: ClockJump;
}

export interface ClockThresholds {
  apiServerWarningMs: number;
  apiServerCriticalMs: number;
  ntpWarningMs: number;
  ntpCriticalMs: number;
  jumpReportMs: number;
  notSynchronizedWarningMs: number;
  expectSyncService: boolean;
}

/** "350 ms", "5.0 s", "12 min 5 s", "3 h 2 min", "2 d 4 h". */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${abs < 10 ? abs.toFixed(1) : Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(1)} s`;
  const s = Math.round(abs / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  // Rounded to the last unit shown: an offset measured at 2:59:59.6 (the API
  // server's Date header has whole seconds) reads "3 h 0 min", not "2 h 59 min".
  const minutes = Math.round(s / 60);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  const hours = Math.round(s / 3600);
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function aheadBehind(offsetMs: number): string {
  // offset = reference − local: positive means the local clock is behind.
  return offsetMs >= 0 ? "behind" : "ahead of";
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : String(ms);
}

function severityFor(offsetMs: number, uncertaintyMs: number, warningMs: number, criticalMs: number): Severity {
  // Judge the smallest offset the measurement allows, so a slow round trip cannot raise a false alarm.
  const certain = Math.max(0, Math.abs(offsetMs) - uncertaintyMs);
  if (certain > criticalMs) return "critical";
  if (certain > warningMs) return "warning";
  return "ok";
}

const SERVICE_CHECK: Record<SyncService, string> = {
  chronyd: "`chronyc tracking` and `chronyc sources -v`",
  ntpd: "`ntpq -p`",
  "systemd-timesyncd": "`timedatectl timesync-status`",
};

function stepCommands(services: readonly SyncService[]): string {
  const steps: string[] = [];
  if (services.includes("chronyd") || services.length === 0) steps.push("`chronyc makestep` (chrony)");
  if (services.includes("systemd-timesyncd") || services.length === 0)
    steps.push("`timedatectl set-ntp true && systemctl restart systemd-timesyncd` (timesyncd)");
  if (services.includes("ntpd")) steps.push("`systemctl stop ntpd && ntpd -gq && systemctl start ntpd` (ntpd)");
  return steps.join(" or ");
}

function checkCommands(services: readonly SyncService[]): string {
  const known = services.map((s) => SERVICE_CHECK[s]);
  return known.length > 0 ? known.join(", ") : "`timedatectl status`";
}

const FUTURE_CERTIFICATES =
  "Certificates kubelet rotated while the clock was wrong may be from the future (NotBefore after the real time) and the API server rejects them as Unauthorized: " +
  "see the KubeletCertificateInvalid condition and /var/lib/kubelet/pki/kubelet-client-current.pem, and point that link back at the newest kubelet-client-<date>.pem that is valid now.";

/** Beyond this the clock was not drifting but set wrong: a hardware clock that lost the time (the certificate from the future, docs/incidents.md). */
const SET_WRONG_MS = 5 * 60_000;

/** Remedy for a clock that disagrees with its reference. */
function skewRemedy(severity: Severity, services: readonly SyncService[], apiServerSuspect: boolean, offsetMs: number): string {
  if (apiServerSuspect) {
    return "NTP agrees with this node's clock, so the API server's clock may be the wrong one: compare `date -u` on a control-plane node with NTP (`chronyc tracking` there) and fix its time service; every node will report this.";
  }
  const step = `Step the clock to the right time now: ${stepCommands(services)}; then check with ${checkCommands(services)}.`;
  if (severity !== "critical" || Math.abs(offsetMs) < SET_WRONG_MS)
    return `${step} Make sure the time service reaches its servers (UDP port 123 out of the node).`;
  return (
    `${step} A clock this far off after a reboot or power cut means the hardware clock lost the time: check the RTC battery (compare \`hwclock --show\` with the real time) and write the corrected time back with \`hwclock --systohc\`. ` +
    FUTURE_CERTIFICATES
  );
}

function offsetEvidence(m: OffsetMeasurement): OffsetEvidence {
  return {
    kind: "offset",
    source: m.source,
    offsetSeconds: m.offsetMs / 1000,
    uncertaintySeconds: m.uncertaintyMs / 1000,
    reference: m.reference,
    measuredAt: iso(m.atMs),
    ...(m.details ?? {}),
  };
}

function bestNtp(round: NtpRound): OffsetMeasurement | undefined {
  const best = [...round.results].sort((a, b) => a.uncertaintyMs - b.uncertaintyMs)[0];
  if (!best) return undefined;
  return {
    source: "ntp",
    offsetMs: best.offsetMs,
    uncertaintyMs: best.uncertaintyMs,
    reference: describeTarget({ host: best.server, port: best.port }),
    atMs: round.atMs,
    measuredAtMonotonicMs: round.measuredAtMonotonicMs,
    details: {
      address: best.address,
      stratum: best.stratum,
      delaySeconds: best.delayMs / 1000,
      servers: round.results.map((r) => ({
        server: describeTarget({ host: r.server, port: r.port }),
        offsetSeconds: r.offsetMs / 1000,
        uncertaintySeconds: r.uncertaintyMs / 1000,
      })),
      failures: round.failures.map((f) => f.message),
      configuredIn: round.from,
    },
  };
}

/** The estimate other checks should trust: the freshest-and-tightest measurement. Pure. */
export function bestEstimate(observation: ClockObservation): ClockEstimate | undefined {
  const candidates: OffsetMeasurement[] = [];
  if (observation.apiServer && typeof observation.apiServer !== "string") candidates.push(observation.apiServer);
  const ntp = observation.ntp && bestNtp(observation.ntp);
  if (ntp) candidates.push(ntp);
  const best = candidates.sort((a, b) => a.uncertaintyMs - b.uncertaintyMs)[0];
  return best && { source: best.source, offsetMs: best.offsetMs, uncertaintyMs: best.uncertaintyMs, measuredAtMonotonicMs: best.measuredAtMonotonicMs };
}

/** Judges one observation. Pure. */
export function judgeClock(observation: ClockObservation, thresholds: ClockThresholds, checkName = "clock"): Finding[] {
  const base = { check: checkName, condition: "ClockSkewed" as const };
  const findings: Finding[] = [];
  const services = observation.sync?.running ?? [];
  const ntp = observation.ntp && bestNtp(observation.ntp);

  // API server.
  const api = observation.apiServer;
  if (typeof api === "string") {
    findings.push({
      ...base,
      severity: "unknown",
      reason: CLOCK_REASONS.ApiServerTimeUnavailable,
      message: `Could not compare the clock with the API server's: ${api}.`,
      remedy:
        "Check that the API server answers from this node (`kubectl get --raw /version` with the node's kubeconfig); node-doctor's own log has the request's error.",
    });
  } else if (api) {
    const severity = severityFor(api.offsetMs, api.uncertaintyMs, thresholds.apiServerWarningMs, thresholds.apiServerCriticalMs);
    const facts = `${formatDuration(api.offsetMs)} ${aheadBehind(api.offsetMs)} the API server's (offset ${(api.offsetMs / 1000).toFixed(1)} s ± ${(api.uncertaintyMs / 1000).toFixed(1)} s, from the Date header of ${api.reference})`;
    const ntpAgrees = ntp !== undefined && severityFor(ntp.offsetMs, ntp.uncertaintyMs, thresholds.ntpWarningMs, thresholds.ntpCriticalMs) === "ok";
    if (severity === "ok") {
      findings.push({
        ...base,
        severity,
        reason: CLOCK_REASONS.ClockOffsetOk,
        message: `The node's clock is within ${formatDuration(Math.abs(api.offsetMs) + api.uncertaintyMs)} of the API server's (offset ${(api.offsetMs / 1000).toFixed(1)} s ± ${(api.uncertaintyMs / 1000).toFixed(1)} s).`,
        evidence: offsetEvidence(api),
      });
    } else {
      findings.push({
        ...base,
        severity,
        reason: CLOCK_REASONS.ApiServerOffsetHigh,
        message:
          `The node's clock (${iso(api.atMs)}) is ${facts}${ntpAgrees ? `, while NTP server ${ntp.reference} agrees with the node` : ""}; ` +
          `the ${severity} threshold is ${(severity === "critical" ? thresholds.apiServerCriticalMs : thresholds.apiServerWarningMs) / 1000} s${severity === "critical" ? " (certificates, tokens and leases are judged wrongly)" : ""}.`,
        remedy: skewRemedy(severity, services, ntpAgrees, api.offsetMs),
        evidence: offsetEvidence(api),
      });
    }
  }

  // NTP.
  const round = observation.ntp;
  if (round && ntp) {
    const severity = severityFor(ntp.offsetMs, ntp.uncertaintyMs, thresholds.ntpWarningMs, thresholds.ntpCriticalMs);
    const stated = `offset ${(ntp.offsetMs / 1000).toFixed(4)} s ± ${(ntp.uncertaintyMs / 1000).toFixed(4)} s from NTP server ${ntp.reference} (stratum ${String(ntp.details?.["stratum"])}, servers from ${round.from})`;
    if (severity === "ok") {
      findings.push({
        ...base,
        severity,
        reason: CLOCK_REASONS.ClockOffsetOk,
        message: `The node's clock agrees with NTP: ${stated}.`,
        evidence: offsetEvidence(ntp),
      });
    } else {
      findings.push({
        ...base,
        severity,
        reason: CLOCK_REASONS.NtpOffsetHigh,
        message: `The node's clock (${iso(ntp.atMs)}) is ${formatDuration(ntp.offsetMs)} ${aheadBehind(ntp.offsetMs)} NTP: ${stated}; the ${severity} threshold is ${(severity === "critical" ? thresholds.ntpCriticalMs : thresholds.ntpWarningMs) / 1000} s.`,
        remedy: skewRemedy(severity, services, false, ntp.offsetMs),
        evidence: offsetEvidence(ntp),
      });
    }
  } else if (round) {
    const why = round.failures.map((f) => f.message).join("; ") || "no server answered";
    const denied = round.failures.some((f) => f.kind === "kiss-of-death");
    findings.push({
      ...base,
      severity: "unknown",
      reason: CLOCK_REASONS.NtpQueryFailed,
      message: `Could not measure the clock against NTP (servers from ${round.from}): ${why}.`,
      remedy: denied
        ? "A server sent a kiss-o'-death (it refuses or rate-limits us): use servers that allow this node, e.g. the cluster's own NTP servers, in checks.clock.ntpServers."
        : `Check that the node reaches its NTP servers over UDP port 123 (firewalls, security groups); ${checkCommands(services)} shows what the time service sees. Set checks.clock.ntpServers to reachable servers, or [] to stop asking.`,
      evidence: { servers: round.servers, failures: round.failures.map((f) => f.message), configuredIn: round.from },
    });
  }

  if (api === undefined && round === undefined) {
    findings.push({
      ...base,
      severity: "ok",
      reason: CLOCK_REASONS.NoClockReference,
      message:
        "Nothing to compare the clock with: no API server is configured and no NTP server is named in the node's chrony, ntpd or timesyncd configuration or in checks.clock.ntpServers.",
      remedy: "Give node-doctor a kubeconfig (it runs in-cluster as a DaemonSet), or set checks.clock.ntpServers.",
    });
  }

  // Time service.
  const sync = observation.sync;
  if (sync) findings.push(...judgeSync(sync, observation, thresholds, base));

  // Clock jumps.
  const jump = observation.jump;
  if (jump && observation.monotonicMs - jump.seenAtMonotonicMs <= thresholds.jumpReportMs) {
    findings.push({
      ...base,
      severity: "warning",
      reason: CLOCK_REASONS.ClockJumped,
      message:
        `The wall clock jumped ${jump.sizeMs >= 0 ? "forward" : "back"} by ${formatDuration(jump.sizeMs)} between ${iso(jump.beforeMs)} and ${iso(jump.afterMs)} (by the clock after the jump), ` +
        "more than the time that passed: something stepped the clock (a time service correcting it, an operator, or a resumed VM).",
      remedy:
        `Find what stepped it: \`journalctl --since '${iso(Math.min(jump.beforeMs, jump.afterMs - 60_000))}' -u chrony -u chronyd -u systemd-timesyncd -u ntp\`. ` +
        "If the clock was wrong before the step, anything stamped meanwhile is wrong too: " +
        FUTURE_CERTIFICATES,
      evidence: { jumpSeconds: jump.sizeMs / 1000, before: iso(jump.beforeMs), after: iso(jump.afterMs) },
    });
  }
  return findings;
}

function judgeSync(sync: TimeSyncState, observation: ClockObservation, thresholds: ClockThresholds, base: Pick<Finding, "check" | "condition">): Finding[] {
  const nowMs = observation.nowMs;
  const services = sync.running;
  const evidenceBase = {
    kind: "sync" as const,
    services,
    ...(sync.problems.length ? { problems: sync.problems } : {}),
    ...(sync.timedated && "error" in sync.timedated ? { timedatedError: sync.timedated.error } : {}),
  };
  const kernel = sync.timedated && "synchronized" in sync.timedated ? sync.timedated : undefined;
  const named = services.length ? services.join(", ") : "no time service";
  if (kernel?.synchronized) {
    return [
      {
        ...base,
        severity: "ok",
        reason: CLOCK_REASONS.TimeSyncServiceOk,
        message: `The kernel reports the clock synchronised (timedated NTPSynchronized=yes; ${named} runs).`,
        evidence: { ...evidenceBase, synchronized: true, reportedBy: "timedated" },
      },
    ];
  }
  if (kernel && (services.length > 0 || !sync.processesVisible)) {
    const since = observation.unsynchronizedSinceMs ?? nowMs;
    const forMs = nowMs - since;
    const evidence: SyncEvidence = { ...evidenceBase, synchronized: false, reportedBy: "timedated", unsynchronizedSince: iso(since) };
    if (forMs < thresholds.notSynchronizedWarningMs) {
      return [
        {
          ...base,
          severity: "ok",
          reason: CLOCK_REASONS.TimeSyncServiceOk,
          message: `The kernel has reported the clock unsynchronised for ${formatDuration(forMs)} (timedated NTPSynchronized=no; ${named} runs); within the ${formatDuration(thresholds.notSynchronizedWarningMs)} allowed.`,
          evidence,
        },
      ];
    }
    return [
      {
        ...base,
        severity: "warning",
        reason: CLOCK_REASONS.ClockNotSynchronized,
        message: `The kernel has reported the clock unsynchronised for at least ${formatDuration(forMs)} (timedated NTPSynchronized=no) although ${named} runs.`,
        remedy: `See what the time service sees: ${checkCommands(services)}; usually its servers are unreachable over UDP port 123, or it was told not to steer the clock.`,
        evidence,
      },
    ];
  }
  const td = sync.timesyncd;
  if (td && (services.includes("systemd-timesyncd") || !sync.processesVisible)) {
    if (td.synchronized) {
      return [
        {
          ...base,
          severity: "ok",
          reason: CLOCK_REASONS.TimeSyncServiceOk,
          message: `systemd-timesyncd is synchronised (last at ${iso(td.lastSyncMs ?? Number.NaN)}).`,
          evidence: { ...evidenceBase, synchronized: true, reportedBy: "systemd-timesyncd" },
        },
      ];
    }
    const since = td.serviceStartMs;
    const forMs = since !== undefined ? nowMs - since : undefined;
    const evidence: SyncEvidence = {
      ...evidenceBase,
      synchronized: false,
      reportedBy: "systemd-timesyncd",
      ...(since !== undefined ? { unsynchronizedSince: iso(since) } : {}),
    };
    if (forMs !== undefined && forMs <= thresholds.notSynchronizedWarningMs) {
      return [
        {
          ...base,
          severity: "ok",
          reason: CLOCK_REASONS.TimeSyncServiceOk,
          message: `systemd-timesyncd started ${formatDuration(forMs)} ago and has not synchronised yet.`,
          evidence,
        },
      ];
    }
    return [
      {
        ...base,
        severity: "warning",
        reason: CLOCK_REASONS.ClockNotSynchronized,
        message: `systemd-timesyncd has not synchronised the clock${forMs !== undefined ? ` in the ${formatDuration(forMs)} since it started` : ""} (${TIMESYNCD_SYNCHRONIZED_FLAG} is missing).`,
        remedy:
          "See why with `timedatectl timesync-status` and `journalctl -u systemd-timesyncd`: usually its servers (NTP= in /etc/systemd/timesyncd.conf) are unreachable over UDP port 123.",
        evidence,
      },
    ];
  }
  if (!sync.processesVisible) return [];
  if (services.length === 0) {
    if (!thresholds.expectSyncService) return [];
    return [
      {
        ...base,
        severity: "warning",
        reason: CLOCK_REASONS.ClockNotSynchronized,
        message:
          "No time service runs on the node (no chronyd, ntpd or systemd-timesyncd in /proc): nothing keeps its clock right, and after a power cut it starts from whatever the hardware clock says.",
        remedy:
          "Install and enable one: `apt-get install chrony` / `dnf install chrony`, then `systemctl enable --now chronyd`; or `timedatectl set-ntp true` for systemd-timesyncd. Set checks.clock.expectSyncService to false if the clock is kept some other way.",
        evidence: { ...evidenceBase, synchronized: false, reportedBy: "none" },
      },
    ];
  }
  return [
    {
      ...base,
      severity: "ok",
      reason: CLOCK_REASONS.TimeSyncServiceOk,
      message: `${services.join(", ")} runs${sync.servers.length ? ` with servers ${[...new Set(sync.servers.map((s) => describeTarget(s)))].slice(0, 4).join(", ")}` : ""}.`,
      evidence: evidenceBase,
    },
  ];
}

export function thresholdsFrom(settings: ClockSettings): ClockThresholds {
  return {
    apiServerWarningMs: settings.apiServerWarningSeconds * 1000,
    apiServerCriticalMs: settings.apiServerCriticalSeconds * 1000,
    ntpWarningMs: settings.ntpWarningSeconds * 1000,
    ntpCriticalMs: settings.ntpCriticalSeconds * 1000,
    jumpReportMs: settings.jumpReportSeconds * 1000,
    notSynchronizedWarningMs: settings.notSynchronizedWarningSeconds * 1000,
    expectSyncService: settings.expectSyncService,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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

export function createClockCheck(settings: ClockSettings): Check {
  const thresholds = thresholdsFrom(settings);
  let previous: { nowMs: number; monotonicMs: number } | undefined;
  let lastJump: ClockJump | undefined;
  let lastNtp: NtpRound | undefined;
  let lastApi: OffsetMeasurement | undefined;
  let lastTimedated: { atMonotonicMs: number; value: TimeSyncState["timedated"] } | undefined;
  let unsynchronizedSinceMs: number | undefined;

  return {
    name: "clock",
    conditions: ["ClockSkewed"],
    // Its offset corrects every other check's "now" (certificates above all): it goes first.
    writesFacts: true,
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const nowMs = ctx.clock.now();
      const monotonicMs = ctx.clock.monotonic();
      if (previous) {
        const sizeMs = nowMs - previous.nowMs - (monotonicMs - previous.monotonicMs);
        if (Math.abs(sizeMs) > settings.jumpWarningSeconds * 1000) {
          lastJump = { sizeMs, beforeMs: previous.nowMs, afterMs: nowMs, seenAtMonotonicMs: monotonicMs };
          lastNtp = undefined; // measured against the old clock
          lastApi = undefined;
          delete ctx.facts.clockOffset;
          unsynchronizedSinceMs = undefined;
        }
      }
      previous = { nowMs, monotonicMs };

      // timedated is bus-activated and exits when idle: ask it no more often than NTP.
      const askTimedated = !lastTimedated || monotonicMs - lastTimedated.atMonotonicMs >= settings.ntpPollSeconds * 1000;
      let sync: TimeSyncState | undefined;
      try {
        sync = await readTimeSync(ctx.host, ctx.signal, askTimedated ? { timedatedTimeoutMs: Math.min(2000, settings.timeoutSeconds * 500) } : {});
        if (askTimedated) lastTimedated = { atMonotonicMs: monotonicMs, value: sync.timedated };
        else if (lastTimedated?.value) sync.timedated = lastTimedated.value;
      } catch (error) {
        ctx.signal.throwIfAborted();
        ctx.log.debug({ err: errorText(error) }, "time service state unreadable");
      }
      const kernel = sync?.timedated && "synchronized" in sync.timedated ? sync.timedated.synchronized : undefined;
      if (kernel === false) unsynchronizedSinceMs ??= nowMs;
      else unsynchronizedSinceMs = undefined;

      const { targets, from } = ntpTargets(settings, sync);
      // Ask again after the poll interval; sooner only after a failure that was not a kiss-o'-death (which asks us to back off).
      const ntpDue =
        !lastNtp ||
        monotonicMs - lastNtp.measuredAtMonotonicMs >= settings.ntpPollSeconds * 1000 ||
        (lastNtp.results.length === 0 && !lastNtp.failures.some((f) => f.kind === "kiss-of-death"));
      const [apiServer, ntp] = await Promise.all([
        // A failed probe is retried next run; a good one is reused for apiServerPollSeconds (GET /version from every node adds up).
        lastApi && ctx.cluster && monotonicMs - lastApi.measuredAtMonotonicMs < settings.apiServerPollSeconds * 1000 ? lastApi : probeApiServer(ctx),
        targets.length === 0 ? undefined : ntpDue ? queryNtp(ctx, targets, from, settings) : lastNtp,
      ]);
      lastNtp = ntp;
      lastApi = typeof apiServer === "object" ? apiServer : undefined;

      const observation: ClockObservation = {
        nowMs,
        monotonicMs,
        ...(apiServer !== undefined ? { apiServer } : {}),
        ...(ntp ? { ntp } : {}),
        ...(sync ? { sync } : {}),
        ...(unsynchronizedSinceMs !== undefined ? { unsynchronizedSinceMs } : {}),
        ...(lastJump ? { jump: lastJump } : {}),
      };
      const estimate = bestEstimate(observation);
      if (estimate) ctx.facts.clockOffset = estimate;
      return judgeClock(observation, thresholds);
    },
  };
}

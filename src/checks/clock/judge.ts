/**
 * The clock's verdict, pure: offsets against the API server and NTP, the
 * time service's state and jumps between runs in; findings (with the offset
 * and sync evidence metrics.ts reads) and the best estimate out.
 */
import type { SyncService, TimeSyncState } from "../../node/timesync.js";
import { TIMESYNCD_SYNCHRONIZED_FLAG } from "../../node/timesync.js";
import { describeTarget, type SntpResult } from "../../wire/sntp.js";
import type { ApiTiming, ClockEstimate, Finding, Severity } from "../../types.js";
import type { ClockSettings } from "./index.js";
import { REASONS } from "./reasons.js";
import { sh } from "../../text/shell.js";
import { formatDuration, isoTime } from "../../text/format.js";

const CLOCK_REASONS = REASONS.names;

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

function aheadBehind(offsetMs: number): string {
  // offset = reference − local: positive means the local clock is behind.
  return offsetMs >= 0 ? "behind" : "ahead of";
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
    measuredAt: isoTime(m.atMs),
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
          `The node's clock (${isoTime(api.atMs)}) is ${facts}${ntpAgrees ? `, while NTP server ${ntp.reference} agrees with the node` : ""}; ` +
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
        message: `The node's clock (${isoTime(ntp.atMs)}) is ${formatDuration(ntp.offsetMs)} ${aheadBehind(ntp.offsetMs)} NTP: ${stated}; the ${severity} threshold is ${(severity === "critical" ? thresholds.ntpCriticalMs : thresholds.ntpWarningMs) / 1000} s.`,
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
        `The wall clock jumped ${jump.sizeMs >= 0 ? "forward" : "back"} by ${formatDuration(jump.sizeMs)} between ${isoTime(jump.beforeMs)} and ${isoTime(jump.afterMs)} (by the clock after the jump), ` +
        "more than the time that passed: something stepped the clock (a time service correcting it, an operator, or a resumed VM).",
      remedy:
        `Find what stepped it: \`${sh`journalctl --since ${isoTime(Math.min(jump.beforeMs, jump.afterMs - 60_000))}`} -u chrony -u chronyd -u systemd-timesyncd -u ntp\`. ` +
        "If the clock was wrong before the step, anything stamped meanwhile is wrong too: " +
        FUTURE_CERTIFICATES,
      evidence: { jumpSeconds: jump.sizeMs / 1000, before: isoTime(jump.beforeMs), after: isoTime(jump.afterMs) },
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
    const evidence: SyncEvidence = { ...evidenceBase, synchronized: false, reportedBy: "timedated", unsynchronizedSince: isoTime(since) };
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
          message: `systemd-timesyncd is synchronised (last at ${isoTime(td.lastSyncMs ?? Number.NaN)}).`,
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
      ...(since !== undefined ? { unsynchronizedSince: isoTime(since) } : {}),
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

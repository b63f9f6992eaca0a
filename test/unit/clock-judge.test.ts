/**
 * judgeClock as a table: offsets against the API server and NTP, the time
 * service's state and jumps in; findings out, on reason, severity and the
 * remedy's key facts. Real chronyd, faketime, timedated over D-Bus and the
 * fake API server are in test/checks/clock.test.ts; here the thresholds'
 * edges, which reference wins as the trusted offset, and the wording.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clockSettings } from "../../src/checks/clock/index.js";
import {
  bestEstimate,
  isOffsetEvidence,
  isSyncEvidence,
  judgeClock,
  thresholdsFrom,
  type ClockObservation,
  type NtpRound,
  type OffsetMeasurement,
} from "../../src/checks/clock/judge.js";
import type { TimeSyncState } from "../../src/node/timesync.js";
import type { Finding } from "../../src/types.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const THRESHOLDS = thresholdsFrom(clockSettings.parse({}, "checks.clock"));

function api(offsetMs: number, uncertaintyMs = 500): OffsetMeasurement {
  return { source: "apiserver", offsetMs, uncertaintyMs, reference: "GET /version", atMs: NOW, measuredAtMonotonicMs: 1000 };
}

function ntp(offsetMs: number, uncertaintyMs = 5): NtpRound {
  return {
    from: "/etc/chrony/chrony.conf",
    servers: ["ntp.example:123"],
    results: [{ server: "ntp.example", address: "192.0.2.10", port: 123, offsetMs, delayMs: 8, uncertaintyMs, stratum: 2, refId: "GPS" }],
    failures: [],
    atMs: NOW,
    measuredAtMonotonicMs: 2000,
  };
}

const CHRONY_SYNCED: TimeSyncState = { processesVisible: true, running: ["chronyd"], servers: [], timedated: { synchronized: true }, problems: [] };

function obs(extra: Partial<ClockObservation> = {}): ClockObservation {
  return { nowMs: NOW, monotonicMs: 10_000, ...extra };
}

interface Row {
  name: string;
  observation: ClockObservation;
  /** Every finding, as [reason, severity], in order. */
  findings: Array<[string, Finding["severity"]]>;
  /** Patterns on the first finding above ok (else the first). */
  message?: RegExp[];
  remedy?: RegExp[];
}

const ROWS: Row[] = [
  {
    name: "the API server agrees within its Date header's second",
    observation: obs({ apiServer: api(300) }),
    findings: [["ClockOffsetOk", "ok"]],
    message: [/within 800 ms of the API server's \(offset 0\.3 s ± 0\.5 s\)/],
  },
  {
    name: "3 s behind the API server, ± 0.5 s: still above the 2 s warning",
    observation: obs({ apiServer: api(3000) }),
    findings: [["ApiServerOffsetHigh", "warning"]],
    message: [/is 3\.0 s behind the API server's/, /the warning threshold is 2 s/],
    remedy: [/chronyc makestep/, /UDP port 123/],
  },
  {
    name: "2.4 s behind with a 0.5 s uncertainty: the smallest offset allowed (1.9 s) is under 2 s, ok",
    observation: obs({ apiServer: api(2400) }),
    findings: [["ClockOffsetOk", "ok"]],
  },
  {
    name: "the certificate from the future: 3 h ahead of the API server after a power cut, critical with the RTC and the rotated certificate",
    observation: obs({ apiServer: api(-3 * 3600_000), sync: { ...CHRONY_SYNCED, timedated: { synchronized: false } }, unsynchronizedSinceMs: NOW }),
    findings: [
      ["ApiServerOffsetHigh", "critical"],
      ["TimeSyncServiceOk", "ok"],
    ],
    message: [/is 3 h 0 min ahead of the API server's/, /certificates, tokens and leases are judged wrongly/],
    remedy: [/`chronyc makestep` \(chrony\)/, /hwclock --systohc/, /kubelet-client-current\.pem/],
  },
  {
    name: "the API server is off while NTP agrees with the node: the remedy points at the API server",
    observation: obs({ apiServer: api(45_000), ntp: ntp(1) }),
    findings: [
      ["ApiServerOffsetHigh", "critical"],
      ["ClockOffsetOk", "ok"],
    ],
    message: [/while NTP server ntp\.example agrees with the node/],
    remedy: [/the API server's clock may be the wrong one/],
  },
  {
    name: "the API server could not be asked: unknown with its error",
    observation: obs({ apiServer: "GET /version failed: connect ECONNREFUSED" }),
    findings: [["ApiServerTimeUnavailable", "unknown"]],
    message: [/Could not compare the clock with the API server's: GET \/version failed: connect ECONNREFUSED\./],
  },
  {
    name: "NTP agrees to a few ms",
    observation: obs({ ntp: ntp(2) }),
    findings: [["ClockOffsetOk", "ok"]],
    message: [/agrees with NTP: offset 0\.0020 s ± 0\.0050 s from NTP server ntp\.example \(stratum 2, servers from \/etc\/chrony\/chrony\.conf\)/],
  },
  {
    name: "NTP 0.5 s ahead: a warning",
    observation: obs({ ntp: ntp(-500) }),
    findings: [["NtpOffsetHigh", "warning"]],
    message: [/is 500 ms ahead of NTP/],
  },
  {
    name: "NTP 5 s behind: critical",
    observation: obs({ ntp: ntp(5000) }),
    findings: [["NtpOffsetHigh", "critical"]],
    message: [/5\.0 s behind NTP/, /the critical threshold is 1 s/],
  },
  {
    name: "no NTP server answered: unknown with each failure",
    observation: obs({
      ntp: { ...ntp(0), results: [], failures: [{ server: "ntp.example:123", kind: "timeout", message: "ntp.example:123: no reply within 2000 ms" }] },
    }),
    findings: [["NtpQueryFailed", "unknown"]],
    message: [/Could not measure the clock against NTP \(servers from \/etc\/chrony\/chrony\.conf\): ntp\.example:123: no reply within 2000 ms\./],
    remedy: [/UDP port 123/, /checks\.clock\.ntpServers/],
  },
  {
    name: "a kiss-o'-death: the remedy says the server refuses us",
    observation: obs({ ntp: { ...ntp(0), results: [], failures: [{ server: "pool:123", kind: "kiss-of-death", message: "pool:123 sent RATE" }] } }),
    findings: [["NtpQueryFailed", "unknown"]],
    remedy: [/kiss-o'-death/],
  },
  {
    name: "nothing to compare with (a laptop): ok, and says so",
    observation: obs(),
    findings: [["NoClockReference", "ok"]],
  },
  {
    name: "timedated says unsynchronised for 10 min: within the 30 min allowed",
    observation: obs({ ntp: ntp(1), sync: { ...CHRONY_SYNCED, timedated: { synchronized: false } }, unsynchronizedSinceMs: NOW - 600_000 }),
    findings: [
      ["ClockOffsetOk", "ok"],
      ["TimeSyncServiceOk", "ok"],
    ],
  },
  {
    name: "timedated says unsynchronised for an hour although chronyd runs",
    observation: obs({ ntp: ntp(1), sync: { ...CHRONY_SYNCED, timedated: { synchronized: false } }, unsynchronizedSinceMs: NOW - 3600_000 }),
    findings: [
      ["ClockOffsetOk", "ok"],
      ["ClockNotSynchronized", "warning"],
    ],
    message: [/unsynchronised for at least 1 h 0 min \(timedated NTPSynchronized=no\) although chronyd runs/],
    remedy: [/`chronyc tracking` and `chronyc sources -v`/],
  },
  {
    name: "timesyncd started 2 h ago and never synchronised",
    observation: obs({
      ntp: ntp(1),
      sync: {
        processesVisible: true,
        running: ["systemd-timesyncd"],
        servers: [],
        timesyncd: { synchronized: false, serviceStartMs: NOW - 7200_000 },
        problems: [],
      },
    }),
    findings: [
      ["ClockOffsetOk", "ok"],
      ["ClockNotSynchronized", "warning"],
    ],
    message: [/systemd-timesyncd has not synchronised the clock in the 2 h 0 min since it started \(\/run\/systemd\/timesync\/synchronized is missing\)/],
    remedy: [/timedatectl timesync-status/],
  },
  {
    name: "timesyncd synchronised",
    observation: obs({
      ntp: ntp(1),
      sync: { processesVisible: true, running: ["systemd-timesyncd"], servers: [], timesyncd: { synchronized: true, lastSyncMs: NOW - 60_000 }, problems: [] },
    }),
    findings: [
      ["ClockOffsetOk", "ok"],
      ["TimeSyncServiceOk", "ok"],
    ],
  },
  {
    name: "no time service runs at all",
    observation: obs({ ntp: ntp(1), sync: { processesVisible: true, running: [], servers: [], problems: [] } }),
    findings: [
      ["ClockOffsetOk", "ok"],
      ["ClockNotSynchronized", "warning"],
    ],
    message: [/No time service runs on the node/],
    remedy: [/systemctl enable --now chronyd/, /checks\.clock\.expectSyncService/],
  },
  {
    name: "/proc not visible (a copy of a node's files): nothing said about the service",
    observation: obs({ ntp: ntp(1), sync: { processesVisible: false, running: [], servers: [], problems: [] } }),
    findings: [["ClockOffsetOk", "ok"]],
  },
  {
    name: "a step forward of 2 h seen 10 min ago: ClockJumped",
    observation: obs({
      ntp: ntp(1),
      jump: { sizeMs: 7200_000, beforeMs: NOW - 7200_000 - 60_000, afterMs: NOW - 600_000, seenAtMonotonicMs: 10_000 - 600_000 },
    }),
    findings: [
      ["ClockOffsetOk", "ok"],
      ["ClockJumped", "warning"],
    ],
    message: [/jumped forward by 2 h 0 min between 2026-03-01T09:59:00Z and 2026-03-01T11:50:00Z/],
    remedy: [/journalctl --since 2026-03-01T09:59:00Z -u chrony/],
  },
  {
    name: "a jump seen more than jumpReportSeconds ago is no longer reported",
    observation: obs({ ntp: ntp(1), jump: { sizeMs: -60_000, beforeMs: NOW, afterMs: NOW, seenAtMonotonicMs: 10_000 - 3601_000 } }),
    findings: [["ClockOffsetOk", "ok"]],
  },
];

describe("judgeClock", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const findings = judgeClock(row.observation, THRESHOLDS);
      assert.deepEqual(
        findings.map((f) => [f.reason, f.severity]),
        row.findings,
      );
      for (const f of findings) {
        assert.equal(f.condition, "ClockSkewed");
        if (f.severity === "warning" || f.severity === "critical") assert.ok(f.remedy, `${f.reason} needs a remedy`);
      }
      const first = findings.find((f) => f.severity !== "ok") ?? findings[0];
      assert.ok(first);
      for (const pattern of row.message ?? []) assert.match(first.message, pattern);
      for (const pattern of row.remedy ?? []) assert.match(first.remedy ?? "", pattern);
    });
  }

  it("offset and sync findings carry the evidence metrics.ts reads", () => {
    const findings = judgeClock(obs({ apiServer: api(300), ntp: ntp(2), sync: CHRONY_SYNCED }), THRESHOLDS);
    assert.deepEqual(
      findings.filter((f) => isOffsetEvidence(f.evidence)).map((f) => (f.evidence as { source: string }).source),
      ["apiserver", "ntp"],
    );
    const sync = findings.find((f) => isSyncEvidence(f.evidence));
    assert.deepEqual(
      { synchronized: sync?.evidence?.["synchronized"], reportedBy: sync?.evidence?.["reportedBy"] },
      { synchronized: true, reportedBy: "timedated" },
    );
  });
});

describe("bestEstimate", () => {
  it("trusts the tighter measurement, and nothing without one", () => {
    assert.deepEqual(bestEstimate(obs({ apiServer: api(1000), ntp: ntp(3) })), { source: "ntp", offsetMs: 3, uncertaintyMs: 5, measuredAtMonotonicMs: 2000 });
    assert.deepEqual(bestEstimate(obs({ apiServer: api(1000), ntp: ntp(3, 900) })), {
      source: "apiserver",
      offsetMs: 1000,
      uncertaintyMs: 500,
      measuredAtMonotonicMs: 1000,
    });
    assert.equal(bestEstimate(obs({ apiServer: "GET /version failed" })), undefined);
    assert.equal(bestEstimate(obs({ ntp: { ...ntp(0), results: [] } })), undefined);
  });
});

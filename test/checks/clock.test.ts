/**
 * The clock check: offsets against a real chronyd (true, +5 s and −1 h under
 * faketime) and against an API server's Date header, the node's time service
 * from fixture trees, clock jumps with an injected clock, and the certificate from the future (docs/incidents.md).
 */
import assert from "node:assert/strict";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Registry } from "../../src/telemetry/prometheus.js";
import { clockSettings, createClockCheck, type ClockSettings } from "../../src/checks/clock/index.js";
import { parseNtpServer } from "../../src/checks/clock/gather.js";
import { apiServerOffset } from "../../src/checks/clock/judge.js";
import { formatDuration } from "../../src/text/format.js";
import { systemClock } from "../../src/time/clock.js";
import { RootedHost } from "../../src/node/host.js";
import { getDbusProperty, parseNtpConfig, parseTimesyncdConfig, readTimeSync } from "../../src/node/timesync.js";
import { clockMetrics } from "../../src/checks/clock/metrics.js";
import type { ApiTiming, CheckContext, Clock, ClusterReader, Finding, SharedFacts } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { freeUdpPort, startChronyd, type Chronyd } from "../support/chronyd.js";
import { FakeClock } from "../support/fake-clock.js";
import { fakeNtpServer, kissOfDeath, ntpReply } from "../support/fake-ntp.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { startTimedated } from "../support/timedated.js";

const HOUR = 3_600_000;

function settings(overrides: Partial<ClockSettings> = {}): ClockSettings {
  return { ...clockSettings.parse({}, "checks.clock"), ...overrides } as ClockSettings;
}

/** A ClusterReader whose GET /version answers with a Date `skewMs` off the given clock, after `rttMs`. */
function clusterStub(clock: Clock, options: { skewMs?: number; rttMs?: number; fail?: string; noDate?: boolean } = {}): ClusterReader & { probes: number } {
  const stub = {
    nodeName: "node30",
    probes: 0,
    getNode: async () => assert.fail("the clock check only probes the time"),
    getLease: async () => assert.fail("the clock check only probes the time"),
    getKubernetesService: async () => assert.fail("the clock check only probes the time"),
    async probeTime(): Promise<ApiTiming> {
      stub.probes++;
      if (options.fail) throw new Error(options.fail);
      const sentAtMs = clock.now();
      const rtt = options.rttMs ?? 20;
      // The server stamps Date (truncated to the second) halfway through the round trip.
      const serverNow = sentAtMs + rtt / 2 + (options.skewMs ?? 0);
      return { sentAtMs, receivedAtMs: sentAtMs + rtt, ...(options.noDate ? {} : { serverDateMs: Math.floor(serverNow / 1000) * 1000 }) };
    },
  };
  return stub;
}

function only(findings: Finding[], reason: string): Finding {
  const matching = findings.filter((f) => f.reason === reason);
  assert.equal(
    matching.length,
    1,
    `expected one ${reason}, got ${JSON.stringify(
      findings.map((f) => `${f.severity} ${f.reason}: ${f.message}`),
      null,
      1,
    )}`,
  );
  return matching[0] as Finding;
}

async function emptyRoot(): Promise<FixtureRoot> {
  return fixtureRoot();
}

describe("API server offset arithmetic", () => {
  it("bounds the offset by the round trip and the Date header's second", () => {
    const r = apiServerOffset({ sentAtMs: 10_000, receivedAtMs: 12_000, serverDateMs: 11_000 });
    assert.ok(r);
    assert.equal(r.offsetMs, 500); // [11000-12000, 12000-10000] = [-1000, 2000]
    assert.equal(r.uncertaintyMs, 1500);
    assert.equal(apiServerOffset({ sentAtMs: 1, receivedAtMs: 2 }), undefined);
  });

  it("formats durations for people", () => {
    assert.equal(formatDuration(350), "350 ms");
    assert.equal(formatDuration(-5000), "5.0 s");
    assert.equal(formatDuration(3 * HOUR + 120_000), "3 h 2 min");
    assert.equal(formatDuration(3 * HOUR - 400), "3 h 0 min", "rounded to the minute, not cut");
    assert.equal(formatDuration(24 * HOUR - 20_000), "1 d 0 h");
  });

  it("parses NTP server settings and names bad ones", () => {
    assert.deepEqual(parseNtpServer("127.0.0.1:1123"), { host: "127.0.0.1", port: 1123 });
    assert.deepEqual(parseNtpServer("[::1]:123"), { host: "::1", port: 123 });
    assert.deepEqual(parseNtpServer("time.example.com"), { host: "time.example.com" });
    assert.match(String(parseNtpServer("time:99999")), /port must be 1-65535/);
    assert.match(String(parseNtpServer("bad host")), /expected HOST/);
    assert.throws(() => clockSettings.parse({ ntpServers: ["a b"] }, "checks.clock"), /checks\.clock\.ntpServers.*expected HOST/);
  });
});

describe("clock check against the API server", () => {
  let root: FixtureRoot;
  before(async () => (root = await emptyRoot()));
  after(async () => root.cleanup());

  const rows: Array<{ name: string; skewMs: number; rttMs: number; severity: string; reason: string }> = [
    { name: "in step", skewMs: 0, rttMs: 20, severity: "ok", reason: "ClockOffsetOk" },
    { name: "in step over a 2 s round trip (no false alarm)", skewMs: 0, rttMs: 2000, severity: "ok", reason: "ClockOffsetOk" },
    { name: "5 s off", skewMs: 5000, rttMs: 20, severity: "warning", reason: "ApiServerOffsetHigh" },
    {
      name: "29 s off over a 2 s round trip (not critical: within the uncertainty)",
      skewMs: 29_000,
      rttMs: 2000,
      severity: "warning",
      reason: "ApiServerOffsetHigh",
    },
    { name: "40 s off over a 2 s round trip", skewMs: 40_000, rttMs: 2000, severity: "critical", reason: "ApiServerOffsetHigh" },
  ];
  for (const row of rows) {
    it(`${row.name} → ${row.severity} ${row.reason}`, async () => {
      const clock = new FakeClock();
      const facts: SharedFacts = {};
      const ctx = checkContext(root.root, { clock, facts, cluster: clusterStub(clock, { skewMs: row.skewMs, rttMs: row.rttMs }) });
      const findings = await createClockCheck(settings()).run(ctx);
      const f = only(findings, row.reason);
      assert.equal(f.severity, row.severity);
      const evidence = f.evidence as { offsetSeconds: number; uncertaintySeconds: number; source: string };
      assert.equal(evidence.source, "apiserver");
      assert.equal(evidence.uncertaintySeconds, row.rttMs / 2000 + 0.5);
      assert.ok(Math.abs(evidence.offsetSeconds * 1000 - row.skewMs) <= evidence.uncertaintySeconds * 1000, `offset ${evidence.offsetSeconds}`);
      assert.match(f.message, /± \d+\.\d s/);
      assert.equal(facts.clockOffset?.source, "apiserver");
    });
  }

  it("the certificate from the future: a clock hours behind after a power cut is critical, names the fix, and corrects trustedNow", async () => {
    const clock = new FakeClock();
    const facts: SharedFacts = {};
    const ctx = checkContext(root.root, { clock, facts, cluster: clusterStub(clock, { skewMs: 3 * HOUR + 17 * 60_000 }) });
    const f = only(await createClockCheck(settings()).run(ctx), "ApiServerOffsetHigh");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /3 h 17 min behind the API server's/);
    assert.match(f.remedy ?? "", /chronyc makestep/);
    assert.match(f.remedy ?? "", /timedatectl/);
    assert.match(f.remedy ?? "", /RTC battery/);
    assert.match(f.remedy ?? "", /hwclock/);
    assert.match(f.remedy ?? "", /from the future/);
    assert.match(f.remedy ?? "", /kubelet-client-current\.pem/);
    // The certificates check judges NotBefore against this, not the wrong local clock.
    const trusted = ctx.trustedNow();
    assert.equal(trusted.source, "apiserver");
    assert.ok(Math.abs(trusted.nowMs - (clock.now() + 3 * HOUR + 17 * 60_000)) <= trusted.uncertaintyMs);
  });

  it("when NTP agrees with the node, the remedy points at the API server's clock", async () => {
    const ntp = await fakeNtpServer((req) => ntpReply(req, 0));
    try {
      const findings = await createClockCheck(settings({ ntpServers: [`127.0.0.1:${ntp.port}`] })).run(
        checkContext(root.root, { cluster: clusterStub(systemClock, { skewMs: 60_000 }) }),
      );
      const f = only(findings, "ApiServerOffsetHigh");
      assert.equal(f.severity, "critical");
      assert.match(f.message, /while NTP server 127\.0\.0\.1:\d+ agrees with the node/);
      assert.match(f.remedy ?? "", /the API server's clock may be the wrong one/);
      assert.equal(only(findings, "ClockOffsetOk").evidence?.["source"], "ntp");
    } finally {
      await ntp.close();
    }
  });

  it("asks the API server again only after apiServerPollSeconds, and at once after a clock jump", async () => {
    const clock = new FakeClock();
    const cluster = clusterStub(clock, { skewMs: 0 });
    const check = createClockCheck(settings({ apiServerPollSeconds: 120 }));
    await check.run(checkContext(root.root, { clock, cluster }));
    await clock.advance(60_000);
    await check.run(checkContext(root.root, { clock, cluster }));
    assert.equal(cluster.probes, 1);
    await clock.advance(60_000);
    await check.run(checkContext(root.root, { clock, cluster }));
    assert.equal(cluster.probes, 2);
    await clock.advance(10_000);
    clock.jumpWall(HOUR);
    await check.run(checkContext(root.root, { clock, cluster }));
    assert.equal(cluster.probes, 3);
  });

  it("an API server that cannot be asked is unknown with the error, not a crash", async () => {
    const clock = new FakeClock();
    const failing = await createClockCheck(settings()).run(
      checkContext(root.root, { clock, cluster: clusterStub(clock, { fail: "connect ECONNREFUSED 10.96.0.1:443" }) }),
    );
    const f = only(failing, "ApiServerTimeUnavailable");
    assert.equal(f.severity, "unknown");
    assert.match(f.message, /ECONNREFUSED 10\.96\.0\.1:443/);
    const noDate = await createClockCheck(settings()).run(checkContext(root.root, { clock, cluster: clusterStub(clock, { noDate: true }) }));
    assert.match(only(noDate, "ApiServerTimeUnavailable").message, /no Date header/);
  });

  it("with no cluster and no NTP server, says so without alarm (a laptop)", async () => {
    const facts: SharedFacts = {};
    const findings = await createClockCheck(settings()).run(checkContext(root.root, { clock: new FakeClock(), facts }));
    assert.deepEqual(
      findings.map((f) => `${f.severity} ${f.reason}`),
      ["ok NoClockReference"],
    );
    assert.equal(facts.clockOffset, undefined);
  });
});

describe("clock check against a real chronyd", () => {
  let root: FixtureRoot;
  const servers: Record<string, Chronyd> = {};
  before(async () => {
    root = await emptyRoot();
    const [truth, five, hour] = await Promise.all([startChronyd(), startChronyd({ skew: "+5s" }), startChronyd({ skew: "-1h" })]);
    Object.assign(servers, { truth, five, hour });
  });
  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await root.cleanup();
  });

  const ntpAt = (name: string) => [`127.0.0.1:${(servers[name] as Chronyd).port}`];

  it("a clock in step with NTP is ok, within the measured uncertainty, and becomes the trusted offset", async () => {
    const facts: SharedFacts = {};
    const f = only(await createClockCheck(settings({ ntpServers: ntpAt("truth") })).run(checkContext(root.root, { facts })), "ClockOffsetOk");
    const e = f.evidence as { offsetSeconds: number; uncertaintySeconds: number; stratum: number };
    assert.equal(e.stratum, 8);
    assert.ok(Math.abs(e.offsetSeconds) <= e.uncertaintySeconds, `offset ${e.offsetSeconds} ± ${e.uncertaintySeconds}`);
    assert.ok(e.uncertaintySeconds < 0.05, `uncertainty ${e.uncertaintySeconds} s`);
    assert.equal(facts.clockOffset?.source, "ntp");
  });

  it("a server 5 s ahead: critical at the default thresholds, warning when the critical threshold is 10 s", async () => {
    const critical = only(await createClockCheck(settings({ ntpServers: ntpAt("five") })).run(checkContext(root.root)), "NtpOffsetHigh");
    assert.equal(critical.severity, "critical");
    assert.match(
      critical.message,
      /5\.0 s behind NTP: offset (4\.9|5\.0)\d+ s ± 0\.0\d+ s from NTP server 127\.0\.0\.1:\d+ \(stratum 8, servers from checks\.clock\.ntpServers\)/,
    );
    // Seconds off is a time service that cannot steer, not a clock set wrong: no RTC advice.
    assert.match(critical.remedy ?? "", /chronyc makestep/);
    assert.doesNotMatch(critical.remedy ?? "", /RTC battery/);
    const warning = only(
      await createClockCheck(settings({ ntpServers: ntpAt("five"), ntpWarningSeconds: 1, ntpCriticalSeconds: 10 })).run(checkContext(root.root)),
      "NtpOffsetHigh",
    );
    assert.equal(warning.severity, "warning");
    assert.ok(Math.abs((warning.evidence as { offsetSeconds: number }).offsetSeconds - 5) < 0.05);
  });

  it("a server an hour behind: critical, the node's clock is ahead", async () => {
    const f = only(await createClockCheck(settings({ ntpServers: ntpAt("hour") })).run(checkContext(root.root)), "NtpOffsetHigh");
    assert.equal(f.severity, "critical");
    assert.match(f.message, /is 1 h 0 min ahead of NTP/);
    assert.match(f.remedy ?? "", /chronyc makestep/);
    assert.match(f.remedy ?? "", /RTC battery/);
    assert.match(f.remedy ?? "", /from the future/);
  });

  it("prefers the tighter of NTP and the API server as the trusted offset", async () => {
    const clock = systemClock;
    const facts: SharedFacts = {};
    await createClockCheck(settings({ ntpServers: ntpAt("five") })).run(
      checkContext(root.root, { facts, cluster: clusterStub(clock, { skewMs: 5000, rttMs: 50 }) }),
    );
    assert.equal(facts.clockOffset?.source, "ntp");
    assert.ok(Math.abs((facts.clockOffset?.offsetMs ?? 0) - 5000) < 50);
  });

  it("reads the servers from the node's own chrony configuration", async () => {
    const node = await fixtureRoot("clock-chrony");
    try {
      // conf.d is read first, where chrony.conf names it: the real server is first; ntpMaxServers: 1 leaves out the rest.
      await appendFile(join(node.root, "etc/chrony/conf.d/local.conf"), `server 127.0.0.1 port ${(servers["five"] as Chronyd).port} iburst\n`);
      const state = await readTimeSync(new RootedHost(node.root));
      assert.deepEqual(state.running, ["chronyd"]);
      assert.equal(state.serversFrom, "chronyd");
      assert.deepEqual(
        state.servers.map((s) => `${s.host}${s.port ? `:${s.port}` : ""} ${s.file}`),
        [
          `127.0.0.1:${(servers["five"] as Chronyd).port} /etc/chrony/conf.d/local.conf`,
          "2.debian.pool.ntp.org /etc/chrony/chrony.conf",
          "ntp1.example.internal /etc/chrony/sources.d/site.sources",
          "10.0.0.5:1123 /etc/chrony/sources.d/site.sources",
        ],
      );
      const findings = await createClockCheck(settings({ ntpMaxServers: 1 })).run(checkContext(node.root));
      const f = only(findings, "NtpOffsetHigh");
      assert.match(f.message, /servers from \/etc\/chrony\/conf\.d\/local\.conf/);
      assert.match(f.remedy ?? "", /chronyc makestep/);
      assert.match(only(findings, "TimeSyncServiceOk").message, /chronyd runs with servers 127\.0\.0\.1:\d+, 2\.debian\.pool\.ntp\.org/);
    } finally {
      await node.cleanup();
    }
  });

  it("asks NTP again only after the poll interval", async () => {
    const server = await fakeNtpServer((req) => ntpReply(req, 0));
    try {
      // Real wall time (the server's answers are real), simulated monotonic time for the poll interval.
      const fake = new FakeClock();
      const clock: Clock = {
        now: () => Date.now(),
        monotonic: () => fake.monotonic(),
        setTimeout: (cb, ms) => fake.setTimeout(cb, ms),
        clearTimeout: (h) => fake.clearTimeout(h),
      };
      const advance = (ms: number) => fake.advance(ms);
      const check = createClockCheck(settings({ ntpServers: [`127.0.0.1:${server.port}`], ntpSamples: 1, ntpPollSeconds: 300, jumpWarningSeconds: 1e6 }));
      await check.run(checkContext(root.root, { clock }));
      await advance(60_000);
      const second = await check.run(checkContext(root.root, { clock }));
      assert.equal(server.requests, 1);
      assert.equal(only(second, "ClockOffsetOk").severity, "ok");
      await advance(300_000);
      await check.run(checkContext(root.root, { clock }));
      assert.equal(server.requests, 2);
    } finally {
      await server.close();
    }
  });
});

describe("clock check when NTP misbehaves (unknown, within the timeout, never a crash)", () => {
  let root: FixtureRoot;
  before(async () => (root = await emptyRoot()));
  after(async () => root.cleanup());

  async function runAgainst(servers: string[]): Promise<{ finding: Finding; ms: number }> {
    const started = Date.now();
    const findings = await createClockCheck(settings({ ntpServers: servers, ntpTimeoutSeconds: 0.5 })).run(checkContext(root.root, { timeoutMs: 5000 }));
    return { finding: only(findings, "NtpQueryFailed"), ms: Date.now() - started };
  }

  it("unreachable server", async () => {
    const port = await freeUdpPort();
    const { finding, ms } = await runAgainst([`127.0.0.1:${port}`]);
    assert.equal(finding.severity, "unknown");
    assert.match(finding.message, new RegExp(`127\\.0\\.0\\.1:${port} is unreachable: connection refused`));
    assert.match(finding.remedy ?? "", /UDP port 123/);
    assert.ok(ms < 1000, `${ms} ms`);
  });

  it("silent server", async () => {
    const server = await fakeNtpServer(() => undefined);
    const { finding, ms } = await runAgainst([`127.0.0.1:${server.port}`]);
    await server.close();
    assert.match(finding.message, /no reply from NTP server 127\.0\.0\.1:\d+ within 500 ms \(\d queries sent\)/);
    assert.ok(ms < 1500, `${ms} ms`);
  });

  it("garbage reply", async () => {
    const server = await fakeNtpServer(() => Buffer.from([0xff, 0x00, 0x13]));
    const { finding } = await runAgainst([`127.0.0.1:${server.port}`]);
    await server.close();
    assert.match(finding.message, /sent an unusable reply: reply of 3 bytes is too short for NTP/);
  });

  it("kiss-o'-death: says the server refuses us, and waits a poll interval before asking again", async () => {
    const server = await fakeNtpServer((req) => ntpReply(req, 0, kissOfDeath("DENY")));
    try {
      const clock = new FakeClock(Date.now());
      const check = createClockCheck(settings({ ntpServers: [`127.0.0.1:${server.port}`], ntpTimeoutSeconds: 0.5 }));
      const f = only(await check.run(checkContext(root.root, { clock })), "NtpQueryFailed");
      assert.match(f.message, /kiss-o'-death DENY \(the server denies access\)/);
      assert.match(f.remedy ?? "", /kiss-o'-death/);
      await clock.advance(60_000);
      await check.run(checkContext(root.root, { clock }));
      assert.equal(server.requests, 1);
    } finally {
      await server.close();
    }
  });

  it("one server refuses, another answers: the answer counts, the refusal is in the evidence", async () => {
    const server = await fakeNtpServer((req) => ntpReply(req, 0));
    const closed = await freeUdpPort();
    const findings = await createClockCheck(settings({ ntpServers: [`127.0.0.1:${closed}`, `127.0.0.1:${server.port}`], ntpTimeoutSeconds: 1 })).run(
      checkContext(root.root),
    );
    await server.close();
    const f = only(findings, "ClockOffsetOk");
    assert.match(JSON.stringify(f.evidence), new RegExp(`127\\.0\\.0\\.1:${closed} is unreachable`));
  });
});

describe("the node's time service", () => {
  it("parses chrony/ntpd and timesyncd configuration", () => {
    const parsed = parseNtpConfig(
      "server a.example iburst # comment\npool p.example\nserver 127.127.1.0\nconfdir /etc/chrony/conf.d\npeer 10.0.0.2 port 4123\n\x00\xff garbage line\n",
      "/etc/chrony.conf",
    );
    assert.deepEqual(
      parsed.map((item) => ("server" in item ? `${item.server.host}:${item.server.port ?? 123}` : `include ${item.include.pattern}/*${item.include.suffix}`)),
      ["a.example:123", "p.example:123", "include /etc/chrony/conf.d/*.conf", "10.0.0.2:4123"],
    );
    assert.deepEqual(parseTimesyncdConfig("[Time]\nNTP=a b\nNTP=\nNTP=c\nFallbackNTP=d\n[Other]\nNTP=x\n"), { ntp: ["c"], fallback: ["d"] });
  });

  it("timesyncd running for hours without synchronising → ClockNotSynchronized", async () => {
    const node = await fixtureRoot("clock-timesyncd-unsynced");
    try {
      const state = await readTimeSync(new RootedHost(node.root));
      assert.deepEqual(
        state.servers.map((s) => s.host),
        ["time.example.internal"],
      );
      const clock = new FakeClock(Date.parse("2026-11-24T12:00:00Z"));
      const findings = await createClockCheck(settings({ ntpServers: [] })).run(checkContext(node.root, { clock }));
      const f = only(findings, "ClockNotSynchronized");
      assert.equal(f.severity, "warning");
      assert.match(
        f.message,
        /systemd-timesyncd has not synchronised the clock in the 4 h 0 min since it started \(\/run\/systemd\/timesync\/synchronized is missing\)/,
      );
      assert.match(f.remedy ?? "", /timedatectl timesync-status/);
      assert.equal((f.evidence as { synchronized: boolean }).synchronized, false);

      // Ten minutes after boot it is still early days.
      const early = await createClockCheck(settings({ ntpServers: [] })).run(
        checkContext(node.root, { clock: new FakeClock(Date.parse("2026-11-24T08:10:00Z")) }),
      );
      assert.match(only(early, "TimeSyncServiceOk").message, /started 9 min 45 s ago and has not synchronised yet/);
    } finally {
      await node.cleanup();
    }
  });

  it("timesyncd with its synchronized flag → ok, synchronized", async () => {
    const node = await fixtureRoot("clock-timesyncd-unsynced");
    try {
      await appendFile(join(node.root, "run/systemd/timesync/synchronized"), "");
      const findings = await createClockCheck(settings({ ntpServers: [] })).run(checkContext(node.root, { clock: new FakeClock() }));
      const f = only(findings, "TimeSyncServiceOk");
      assert.match(f.message, /systemd-timesyncd is synchronised \(last at 20\d\d-/);
      assert.equal((f.evidence as { synchronized: boolean }).synchronized, true);
    } finally {
      await node.cleanup();
    }
  });

  it("no time service at all → ClockNotSynchronized, unless told the clock is kept another way", async () => {
    const node = await fixtureRoot("clock-no-time-service");
    try {
      const f = only(await createClockCheck(settings()).run(checkContext(node.root)), "ClockNotSynchronized");
      assert.match(f.message, /No time service runs on the node/);
      assert.match(f.remedy ?? "", /systemctl enable --now chronyd/);
      const quiet = await createClockCheck(settings({ expectSyncService: false })).run(checkContext(node.root));
      assert.deepEqual(
        quiet.map((x) => x.reason),
        ["NoClockReference"],
      );
    } finally {
      await node.cleanup();
    }
  });

  it("unreadable or binary configuration is tolerated", async () => {
    const node = await fixtureRoot("clock-chrony");
    try {
      await appendFile(join(node.root, "etc/chrony/chrony.conf"), Buffer.from([0, 255, 10, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 10]));
      const state = await readTimeSync(new RootedHost(node.root));
      assert.ok(state.servers.length >= 3);
    } finally {
      await node.cleanup();
    }
  });
});

describe("the kernel's sync flag from the real systemd-timedated over D-Bus", () => {
  it("reads NTPSynchronized as busctl does, and judges it with the running service", async () => {
    const node = await fixtureRoot("clock-chrony");
    const timedated = await startTimedated(node.root);
    try {
      const expected = await timedated.busctlNtpSynchronized();
      const state = await readTimeSync(new RootedHost(node.root), undefined, { timedatedTimeoutMs: 2000 });
      assert.deepEqual(state.timedated, { synchronized: expected });

      const findings = await createClockCheck(settings({ ntpServers: [], notSynchronizedWarningSeconds: 0 })).run(checkContext(node.root));
      if (expected) {
        const f = only(findings, "TimeSyncServiceOk");
        assert.match(f.message, /NTPSynchronized=yes; chronyd runs/);
        assert.equal((f.evidence as { synchronized: boolean }).synchronized, true);
      } else {
        const f = only(findings, "ClockNotSynchronized");
        assert.match(f.message, /The kernel has reported the clock unsynchronised for at least .* \(timedated NTPSynchronized=no\) although chronyd runs/);
        assert.match(f.remedy ?? "", /chronyc tracking/);
        assert.equal((f.evidence as { reportedBy: string }).reportedBy, "timedated");
      }
    } finally {
      await timedated.stop();
      await node.cleanup();
    }
  });

  it("names a missing service, a missing bus and a closed socket without hanging", async () => {
    const node = await fixtureRoot();
    const timedated = await startTimedated(node.root);
    try {
      const request = { destination: "org.freedesktop.nothing", path: "/x", interface: "x.y", property: "Z" };
      await assert.rejects(getDbusProperty(timedated.socket, request, { timeoutMs: 2000 }), /org\.freedesktop\.DBus\.Error\.ServiceUnknown/);
      await assert.rejects(getDbusProperty(join(node.root, "no-such-socket"), request, { timeoutMs: 2000 }), /cannot connect to .*no-such-socket/);
    } finally {
      await timedated.stop();
      await node.cleanup();
    }
  });
});

describe("clock jumps (injected clocks)", () => {
  let root: FixtureRoot;
  before(async () => (root = await emptyRoot()));
  after(async () => root.cleanup());

  async function runAt(check: ReturnType<typeof createClockCheck>, clock: FakeClock, facts: SharedFacts = {}): Promise<Finding[]> {
    const ctx: CheckContext = checkContext(root.root, { clock, facts });
    return check.run(ctx);
  }

  it("a step forward of hours is reported with its size, for jumpReportSeconds", async () => {
    const clock = new FakeClock();
    const check = createClockCheck(settings({ jumpReportSeconds: 600 }));
    assert.ok(!(await runAt(check, clock)).some((f) => f.reason === "ClockJumped"));
    await clock.advance(60_000);
    clock.jumpWall(3 * HOUR);
    const f = only(await runAt(check, clock), "ClockJumped");
    assert.equal(f.severity, "warning");
    assert.match(f.message, /jumped forward by 3 h 0 min between 2026-11-24T12:00:00Z and 2026-11-24T15:01:00Z/);
    assert.match(f.remedy ?? "", /journalctl --since/);
    assert.match(f.remedy ?? "", /from the future/);
    await clock.advance(300_000);
    only(await runAt(check, clock), "ClockJumped");
    await clock.advance(400_000);
    assert.ok(!(await runAt(check, clock)).some((f) => f.reason === "ClockJumped"));
  });

  it("a step back is reported; ordinary drift is not; the stale trusted offset is dropped", async () => {
    const clock = new FakeClock();
    const facts: SharedFacts = { clockOffset: { source: "ntp", offsetMs: 3 * HOUR, uncertaintyMs: 1, measuredAtMonotonicMs: 0 } };
    const check = createClockCheck(settings());
    await runAt(check, clock, facts);
    await clock.advance(60_000);
    clock.jumpWall(-2000); // slewing/drift-sized: below jumpWarningSeconds
    assert.ok(!(await runAt(check, clock, facts)).some((f) => f.reason === "ClockJumped"));
    await clock.advance(60_000);
    clock.jumpWall(-3 * HOUR);
    assert.match(only(await runAt(check, clock, facts), "ClockJumped").message, /jumped back by 3 h 0 min/);
    assert.equal(facts.clockOffset, undefined);
  });
});

describe("clock metrics", () => {
  it("exposes offset, uncertainty by source and the sync state, and drops sources that went away", async () => {
    const registry = new Registry();
    const metrics = clockMetrics(registry);
    const clock = new FakeClock();
    const root = await emptyRoot();
    try {
      const node = await fixtureRoot("clock-timesyncd-unsynced");
      const findings = await createClockCheck(settings({ ntpServers: [] })).run(
        checkContext(node.root, { clock, cluster: clusterStub(clock, { skewMs: 40_000, rttMs: 1000 }) }),
      );
      await node.cleanup();
      metrics.update(findings);
      const text = await registry.metrics();
      assert.match(text, /node_doctor_clock_offset_seconds\{source="apiserver"\} 40(\.\d+)?\n/);
      assert.match(text, /node_doctor_clock_offset_uncertainty_seconds\{source="apiserver"\} 1\n/);
      assert.match(text, /node_doctor_clock_synchronized\{service="systemd-timesyncd"\} 0\n/);
      metrics.update(await createClockCheck(settings()).run(checkContext(root.root, { clock })));
      const after = await registry.metrics();
      assert.doesNotMatch(after, /source="apiserver"/);
      assert.doesNotMatch(after, /node_doctor_clock_synchronized\{/);
    } finally {
      await root.cleanup();
    }
  });
});

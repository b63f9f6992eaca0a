/** The SNTP client against a real chronyd (true and faked clocks) and against UDP servers that misbehave. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { systemClock } from "../../src/time/clock.js";
import {
  encodeRequest,
  ntpTimestampToUnixMs,
  offsetAndDelay,
  parseReply,
  unixMsToNtpTimestamp,
  hostsFileLookup,
  querySntp,
  querySntpBest,
  SntpError,
} from "../../src/wire/sntp.js";
import { freeUdpPort, startChronyd, type Chronyd } from "../support/chronyd.js";
import { fakeNtpServer as udpServer, kissOfDeath, ntpReply as serverReply } from "../support/fake-ntp.js";

async function expectSntpError(promise: Promise<unknown>, kind: string, pattern: RegExp): Promise<SntpError> {
  const error = await promise.then(
    () => assert.fail("expected the query to fail"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SntpError, `expected SntpError, got ${String(error)}`);
  assert.equal(error.kind, kind);
  assert.match(error.message, pattern);
  return error;
}

describe("NTP arithmetic", () => {
  it("converts timestamps both ways, sub-millisecond, in both NTP eras", () => {
    for (const ms of [Date.parse("2026-11-25T12:00:00.123Z") + 0.25, Date.parse("2040-02-01T00:00:00Z") + 0.5]) {
      assert.ok(Math.abs(ntpTimestampToUnixMs(unixMsToNtpTimestamp(ms), 0) - ms) < 0.001);
    }
  });

  it("computes offset and delay as RFC 4330 §5 does", () => {
    // Server 5 s ahead, 10 ms each way, 1 ms processing.
    const t1 = 1000;
    const { offsetMs, delayMs } = offsetAndDelay(t1, t1 + 10 + 5000, t1 + 11 + 5000, t1 + 21);
    assert.equal(offsetMs, 5000);
    assert.equal(delayMs, 20);
  });

  it("rejects truncated and binary packets with the reason", () => {
    assert.throws(() => parseReply(Buffer.from("garbage")), /7 bytes is too short/);
    assert.equal(parseReply(encodeRequest(Buffer.alloc(8, 1))).mode, 3);
  });
});

describe("SNTP against a real chronyd", () => {
  const servers: Record<string, Chronyd> = {};
  before(async () => {
    const [truth, five, hour] = await Promise.all([startChronyd(), startChronyd({ skew: "+5s" }), startChronyd({ skew: "-1h" })]);
    Object.assign(servers, { truth, five, hour });
  });
  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  });

  const cases: Array<[string, number, number]> = [
    ["truth", 0, 5],
    ["five", 5000, 20],
    ["hour", -3_600_000, 1000],
  ];
  for (const [name, expectedMs, slackMs] of cases) {
    it(`measures ${expectedMs} ms against chronyd ${name === "truth" ? "serving the true time" : `under faketime`}`, async () => {
      const server = servers[name] as Chronyd;
      const result = await querySntpBest({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 2000, samples: 4 });
      assert.equal(result.stratum, 8);
      assert.ok(result.uncertaintyMs > 0 && result.uncertaintyMs < 50, `uncertainty ${result.uncertaintyMs} ms`);
      // faketime's offset is applied when chronyd starts, so allow for its start-up; the true clock must agree within the uncertainty.
      const tolerance = name === "truth" ? result.uncertaintyMs : slackMs;
      assert.ok(Math.abs(result.offsetMs - expectedMs) <= tolerance, `offset ${result.offsetMs} ms, expected ${expectedMs} ± ${tolerance}`);
    });
  }
});

describe("SNTP against servers that misbehave", () => {
  it("reports an unreachable server (nothing listening) at once", async () => {
    const port = await freeUdpPort();
    const started = Date.now();
    await expectSntpError(
      querySntp({ host: "127.0.0.1", port }, { clock: systemClock, timeoutMs: 2000 }),
      "unreachable",
      new RegExp(`127\\.0\\.0\\.1:${port} is unreachable: connection refused`),
    );
    assert.ok(Date.now() - started < 1500);
  });

  it("names a server whose name does not resolve (a DNS server on loopback that refuses)", async () => {
    const dnsPort = await freeUdpPort();
    await expectSntpError(
      querySntp({ host: "ntp.example.internal", port: 123 }, { clock: systemClock, timeoutMs: 1000, dnsServers: [`127.0.0.1:${dnsPort}`] }),
      "dns",
      /NTP server ntp\.example\.internal does not resolve \(/,
    );
  });

  it("finds a name only /etc/hosts knows (as the system resolver would), DNS refusing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "node-doctor-hosts-"));
    const server = await udpServer((req) => serverReply(req, 1_500));
    try {
      const hostsFile = join(dir, "hosts");
      await writeFile(
        hostsFile,
        "# kubelet-managed hosts file\n127.0.0.1\tlocalhost\n::1 ip6-localhost\n127.0.0.1 time.cluster.lan time # the node's NTP server\n",
      );
      const dnsServers = [`127.0.0.1:${await freeUdpPort()}`];
      const result = await querySntp({ host: "TIME.cluster.lan", port: server.port }, { clock: systemClock, timeoutMs: 2000, dnsServers, hostsFile });
      assert.ok(Math.abs(result.offsetMs - 1_500) < result.uncertaintyMs + 2, `offset ${result.offsetMs}`);
      assert.deepEqual(await hostsFileLookup("ip6-localhost", hostsFile), { address: "::1", family: 6 });
      assert.equal(await hostsFileLookup("absent", hostsFile), undefined);
      assert.equal(await hostsFileLookup("time", dir), undefined, "a directory is no hosts file");
      await expectSntpError(
        querySntp({ host: "elsewhere.lan", port: server.port }, { clock: systemClock, timeoutMs: 1000, dnsServers, hostsFile }),
        "dns",
        /NTP server elsewhere\.lan does not resolve \(.*; not in .*hosts either\)/,
      );
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("times out on a server that never answers, within the timeout", async () => {
    const server = await udpServer(() => undefined);
    const started = Date.now();
    await expectSntpError(
      querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 300 }),
      "timeout",
      /no reply from NTP server 127\.0\.0\.1:\d+ within 300 ms/,
    );
    assert.ok(Date.now() - started < 1000);
    await server.close();
  });

  it("names a garbage reply", async () => {
    const server = await udpServer(() => Buffer.from("HTTP/1.1 400 Bad Request\r\n"));
    await expectSntpError(
      querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 2000 }),
      "malformed",
      /sent an unusable reply: reply of 26 bytes is too short/,
    );
    await server.close();
  });

  it("names a reply in the wrong mode", async () => {
    const server = await udpServer((req) => serverReply(req, 0, (p) => (p[0] = (4 << 3) | 3)));
    await expectSntpError(querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 2000 }), "malformed", /mode 3, expected 4/);
    await server.close();
  });

  it("reports a kiss-o'-death with its code", async () => {
    const server = await udpServer((req) => serverReply(req, 0, kissOfDeath("RATE")));
    const error = await expectSntpError(
      querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 2000 }),
      "kiss-of-death",
      /kiss-o'-death RATE \(the server asks us to query less often\)/,
    );
    assert.equal(error.kissCode, "RATE");
    await server.close();
  });

  it("reports a server whose own clock is unsynchronised", async () => {
    const server = await udpServer((req) => serverReply(req, 0, (p) => (p[0] = (3 << 6) | (4 << 3) | 4)));
    await expectSntpError(
      querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 2000 }),
      "unsynchronized",
      /unsynchronised \(leap 3/,
    );
    await server.close();
  });

  it("ignores a reply that does not echo our request, and waits for the real one", async () => {
    const server = await udpServer((req) => serverReply(req, 99_000, (p) => p.fill(7, 24, 32)));
    await expectSntpError(querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 300 }), "timeout", /no reply/);
    await server.close();
  });

  it("measures a well-behaved server's offset", async () => {
    const server = await udpServer((req) => serverReply(req, 42_000));
    const result = await querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 2000 });
    assert.ok(Math.abs(result.offsetMs - 42_000) < result.uncertaintyMs + 2, `offset ${result.offsetMs}`);
    assert.equal(result.refId, "GPS");
    await server.close();
  });

  it("retries a lost packet within the timeout and keeps the best sample", async () => {
    let n = 0;
    const server = await udpServer((req) => (n++ === 0 ? undefined : serverReply(req, 1500)));
    const result = await querySntpBest({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 1000, samples: 3 });
    // Within the reported uncertainty, plus slack for a loaded machine's scheduling between the server's two timestamps.
    assert.ok(Math.abs(result.offsetMs - 1500) < result.uncertaintyMs + 20, `offset ${result.offsetMs} ± ${result.uncertaintyMs}`);
    assert.equal(server.requests, 3);
    await server.close();
  });

  it("stops at a kiss-o'-death instead of asking again", async () => {
    const server = await udpServer((req) => serverReply(req, 0, kissOfDeath("DENY")));
    await expectSntpError(
      querySntpBest({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 1000, samples: 3 }),
      "kiss-of-death",
      /DENY \(the server denies access\)/,
    );
    assert.equal(server.requests, 1);
    await server.close();
  });

  it("stops when the caller's signal aborts", async () => {
    const server = await udpServer(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("check timed out")), 50);
    await assert.rejects(
      querySntp({ host: "127.0.0.1", port: server.port }, { clock: systemClock, timeoutMs: 5000, signal: controller.signal }),
      /check timed out/,
    );
    await server.close();
  });
});

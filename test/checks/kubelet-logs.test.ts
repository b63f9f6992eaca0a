/**
 * The kubelet-logs check on fixture nodes: one sample log per signature
 * (real kubelet lines), the benign lines operators chase, the unregistered node and the certificate from the future (docs/incidents.md)
 * end to end, recovery, and the engine's treatment of a secondary check.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createKubeletLogsCheck, kubeletLogsSettings, renderTemplate, type LogReadEvidence } from "../../src/checks/kubelet-logs/index.js";
import { lineTotals } from "../../src/node/logs/watch.js";
import { CHECKS } from "../../src/checks/index.js";
import { LOG_REASONS, NOISE, SIGNATURES } from "../../src/checks/kubelet-logs/signatures.js";
import { testJournalReader, unitEntry, writeJournal as writeJournalFile } from "../support/journal.js";
import { certificateSettings, createCertificatesCheck } from "../../src/checks/certificates/index.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { RootedHost } from "../../src/node/host.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { Check, CheckRun, Finding } from "../../src/types.js";
import { CertificateMint } from "../support/certs.js";
import { runCli } from "../support/cli.js";
import { checkContext, silentLog } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { FIXTURES, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { writeKubeletClientPki } from "../support/kubelet-pki.js";

const LOGS = join(FIXTURES, "logs");

let fixture: FixtureRoot | undefined;
let fixture2: FixtureRoot | undefined;
let check: Check | undefined;
afterEach(async () => {
  await fixture2?.cleanup();
  fixture2 = undefined;
  await check?.close?.();
  check = undefined;
  await fixture?.cleanup();
  fixture = undefined;
});

function makeCheck(root: string, clock: FakeClock, settings: Record<string, unknown> = {}, journal: Record<string, unknown> = {}): Check {
  check = createKubeletLogsCheck(kubeletLogsSettings.parse({ journal: { enabled: false }, ...settings }, "checks.kubelet-logs"), {
    kubelet: new KubeletLocator(new RootedHost(root), clock),
    journal: testJournalReader(root, clock, journal),
  });
  return check;
}

const problems = (findings: readonly Finding[]) => findings.filter((f) => f.severity !== "ok");
const logRead = (findings: readonly Finding[]) => findings.find((f) => f.reason === "LogsRead")?.evidence as LogReadEvidence | undefined;

async function rootWithKubeletLog(source: string): Promise<FixtureRoot> {
  const root = await fixtureRoot();
  await mkdir(join(root.root, "var/log"), { recursive: true });
  await copyFile(source, join(root.root, "var/log/kubelet.log"));
  return root;
}

describe("kubelet-logs: one sample log per signature", () => {
  const problemIds = SIGNATURES.filter((s) => s.kind === "problem").map((s) => s.id);

  it("has a sample log for every problem signature", async () => {
    const files = new Set(await readdir(LOGS));
    for (const id of problemIds) assert.ok(files.has(`${id}.log`), `test/fixtures/logs/${id}.log is missing`);
  });

  for (const signature of SIGNATURES) {
    if (signature.kind !== "problem") continue;
    it(`${signature.id}.log fires exactly ${signature.reason}`, async () => {
      fixture = await rootWithKubeletLog(join(LOGS, `${signature.id}.log`));
      const clock = new FakeClock();
      const findings = await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock }));
      const found = problems(findings);
      assert.equal(found.length, 1, `expected one finding, got ${JSON.stringify(found.map((f) => f.reason))}`);
      const [finding] = found as [Finding];
      assert.equal(finding.reason, signature.reason);
      assert.equal(finding.condition, signature.condition);
      assert.equal(finding.severity, signature.severity);
      assert.equal((finding.evidence as { signature: string }).signature, signature.id);
      assert.doesNotMatch(finding.message, /\{\w+/, "message template fully rendered");
      assert.ok(finding.remedy && finding.remedy.length > 20);
      const counters = logRead(findings)?.logCounters;
      assert.ok(counters, "LogsRead evidence carries counters");
      const matchedOthers = Object.entries(counters.matches).filter(
        ([id, n]) => n > 0 && id !== signature.id && !SIGNATURES.some((s) => s.id === id && s.kind === "recovery"),
      );
      assert.deepEqual(matchedOthers, [], "no other problem signature matched any line");
    });
  }

  it("no reason of this check is also another check's (docs/reasons.md has one heading per reason)", () => {
    for (const [name, entry] of Object.entries(CHECKS)) {
      if (name === "kubelet-logs") continue;
      const shared = Object.values(entry.reasons).filter((r) => Object.values(LOG_REASONS).includes(r as never));
      assert.deepEqual(shared, [], `${name} emits the same reasons`);
    }
  });

  it("needles are lowercase ASCII without quotes or backslashes (they are matched on raw journal JSON too)", () => {
    for (const item of [...SIGNATURES, ...NOISE])
      for (const needle of item.needles) assert.match(needle, /^[a-z0-9 :.,()[\]/_-]+$/, `${item.id}: ${JSON.stringify(needle)}`);
  });

  it("messages carry the captured facts", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "cgroup-driver-mismatch.log"));
    const clock = new FakeClock();
    const [finding] = problems(await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock })));
    assert.match(finding?.message ?? "", /cgroup driver systemd differs from the docker cgroup driver cgroupfs/);
    assert.match(finding?.remedy ?? "", /cgroupDriver: systemd/);
  });

  it("benign.log (cAdvisor noise, probes, crash loops, a registration) fires nothing", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "benign.log"));
    const clock = new FakeClock();
    const findings = await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock }));
    assert.deepEqual(problems(findings), []);
    const counters = logRead(findings)?.logCounters;
    assert.equal(counters?.lines["file"]?.noise, 11);
    assert.equal(counters?.lines["file"]?.recovery, 1);
    assert.equal(counters?.lines["file"]?.matched, 0);
    assert.match(
      findings.find((f) => f.reason === "LogsRead")?.message ?? "",
      /Read 20 log lines from \/var\/log\/kubelet\.log: no failure signature active, 11 known-noise lines ignored/,
    );
  });
});

describe("kubelet-logs: the unregistered node, the decisive warning under cAdvisor errors", () => {
  it("names the missing --require-kubeconfig and ignores the cAdvisor errors", async () => {
    fixture = await fixtureRoot("unregistered-node-hidden-warning");
    const clock = new FakeClock();
    const findings = await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock }));
    const found = problems(findings);
    assert.equal(found.length, 1, JSON.stringify(found.map((f) => f.reason)));
    const [finding] = found as [Finding];
    assert.equal(finding.reason, "KubeletNoApiServer");
    assert.equal(finding.condition, "KubeletUnhealthy");
    assert.equal(finding.severity, "critical");
    assert.match(finding.message, /No api server defined - no node status update will be sent/);
    assert.match(finding.message, /--kubeconfig=\/etc\/kubernetes\/kubelet\.conf but without --require-kubeconfig/);
    assert.match(finding.remedy ?? "", /Add --require-kubeconfig/);
    assert.match(finding.remedy ?? "", /systemctl restart kubelet/);
    assert.equal((finding.evidence as { logtostderr?: boolean }).logtostderr, false);
    const counters = logRead(findings)?.logCounters;
    assert.equal(counters?.lines["file"]?.noise, 4, "the four cAdvisor ERROR lines are known noise");
    // It was read through --log-dir's kubelet.INFO symlink.
    assert.match(findings.find((f) => f.reason === "LogsRead")?.message ?? "", /\/var\/log\/kubernetes\/kubelet\.INFO/);
  });

  it("installed hours after the node broke: reads from kubelet's start, not just the last 10 minutes", async () => {
    fixture = await fixtureRoot("unregistered-node-hidden-warning");
    // kubelet started at 11:55 (/proc/stat btime + /proc/27521/stat); the agent starts at 14:00.
    const clock = new FakeClock(Date.parse("2026-11-24T14:00:00Z"));
    const found = problems(await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock })));
    assert.deepEqual(
      found.map((f) => f.reason),
      ["KubeletNoApiServer"],
    );
    await check?.close?.();
    fixture2 = await fixtureRoot("unregistered-node-hidden-warning");
    const off = problems(await makeCheck(fixture2.root, clock, { sinceKubeletStartMaxHours: 0 }).run(checkContext(fixture2.root, { clock })));
    assert.deepEqual(off, [], "with the setting off, only the last 10 minutes are read");
  });

  it("holds while kubelet runs (the line is logged once per start) and clears when kubelet restarts and registers", async () => {
    fixture = await fixtureRoot("unregistered-node-hidden-warning");
    const clock = new FakeClock();
    const c = makeCheck(fixture.root, clock);
    assert.equal(problems(await c.run(checkContext(fixture.root, { clock }))).length, 1);
    await clock.advance(60 * 60_000);
    assert.equal(problems(await c.run(checkContext(fixture.root, { clock })))[0]?.reason, "KubeletNoApiServer", "still firing an hour later");
    const log = join(fixture.root, "var/log/kubernetes/kubelet.node1.root.log.INFO.20261124-115500.27521");
    await appendFile(
      log,
      'I1124 13:00:30.000000   27600 server.go:440] "Kubelet version" kubeletVersion="v1.30.2"\nI1124 13:00:31.000000   27600 kubelet_node_status.go:108] "Successfully registered node" node="node1"\n',
    );
    await clock.advance(60_000);
    assert.deepEqual(problems(await c.run(checkContext(fixture.root, { clock }))), []);
  });
});

describe("node-doctor check on the unregistered node (the bundle, the real clock)", () => {
  it("exits 2 and prints the decisive warning's finding with its remedy", async () => {
    fixture = await fixtureRoot("unregistered-node-hidden-warning");
    // The fixture's lines, re-stamped a minute ago: the CLI reads with the real clock and a 10 min lookback.
    const stamp = (ms: number) => {
      const d = new Date(ms);
      const p = (n: number, w = 2) => String(n).padStart(w, "0");
      return `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
    };
    const log = join(fixture.root, "var/log/kubernetes/kubelet.node1.root.log.INFO.20261124-115500.27521");
    const recent = stamp(Date.now() - 60_000);
    await writeFile(log, (await readFile(log, "utf8")).replace(/^([IWEF])1124 11:55:0\d/gm, `$1${recent}`));
    const result = await runCli(["check", "--host-root", fixture.root, "--only", "kubelet-logs"]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout, /CRIT\s+KubeletUnhealthy=True\s+KubeletNoApiServer/);
    assert.match(result.stdout, /--require-kubeconfig/);
    assert.doesNotMatch(result.stdout, /unable to find data for container/, "the cAdvisor noise is not reported");
  });
});

describe("kubelet-logs: the certificate from the future, Unauthorized", () => {
  const certificateFinding: Finding = {
    check: "certificates",
    condition: "KubeletCertificateInvalid",
    severity: "critical",
    reason: "ClientCertificateNotYetValid",
    message:
      "/var/lib/kubelet/pki/kubelet-client-current.pem -> kubelet-client-2026-11-24-09-12-40.pem is not valid before 2026-11-24T17:12:40Z, 5.2 hours from now.",
    remedy: "ln -sfn /var/lib/kubelet/pki/kubelet-client-2026-08-26-10-01-02.pem /var/lib/kubelet/pki/kubelet-client-current.pem && systemctl restart kubelet",
  };

  /** The journal kubelet wrote, turned into a real journal file. */
  const writeJournal = (root: string, entries: Array<{ atMs: number; unit: string; pid: number; message: string }>, file?: string) =>
    writeJournalFile(
      root,
      entries.map((e) => unitEntry(e.atMs, e.unit, e.pid, e.message)),
      file,
    );

  const at = (hms: string) => Date.parse(`2026-11-24T${hms}Z`);

  it("reads a real journal and names the not-yet-valid client certificate the certificates check found", async () => {
    fixture = await fixtureRoot();
    await writeJournal(fixture.root, [
      {
        atMs: at("11:40:00"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'E1124 11:40:00.000000    1902 kubelet_node_status.go:92] "Unable to register node with API server" err="Unauthorized" node="node30"',
      },
      {
        atMs: at("11:58:40"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'E1124 11:58:40.012201    1902 kubelet_node_status.go:92] "Unable to register node with API server" err="Unauthorized" node="node30"',
      },
      {
        atMs: at("11:58:44"),
        unit: "kubelet.service",
        pid: 1902,
        message: "E1124 11:58:44.240417    1902 controller.go:144] failed to ensure node lease exists, will retry in 7s, error: Unauthorized",
      },
      {
        atMs: at("11:58:45"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'E1124 11:58:45.193156    1902 kubelet.go:2419] "Error getting node" err="node \\"node30\\" not found"',
      },
      {
        atMs: at("11:58:46"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'E1124 11:58:46.193156    1902 kubelet.go:2419] "Error getting node" err="node \\"node30\\" not found"',
      },
      {
        atMs: at("11:58:47"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'E1124 11:58:47.193156    1902 kubelet.go:2419] "Error getting node" err="node \\"node30\\" not found"',
      },
      {
        atMs: at("11:58:50"),
        unit: "containerd.service",
        pid: 880,
        message: 'time="2026-11-24T11:58:50.000000000Z" level=info msg="ImageCreate event name:\\"registry.k8s.io/pause:3.9\\""',
      },
      {
        atMs: at("11:59:05"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'E1124 11:59:05.512991    1902 kubelet_node_status.go:92] "Unable to register node with API server" err="Unauthorized" node="node30"',
      },
      {
        atMs: at("11:59:06"),
        unit: "sshd.service",
        pid: 77,
        message: "Accepted publickey for root from 10.0.0.5 port 50022 ssh2: Unauthorized keys are rejected elsewhere",
      },
    ]);
    const clock = new FakeClock(at("12:00:00"));
    const c = makeCheck(fixture.root, clock, { journal: { enabled: true } });
    const findings = await c.run(checkContext(fixture.root, { clock, peers: { certificates: [certificateFinding] } }));
    const unauthorized = findings.find((f) => f.reason === "KubeletUnauthorized");
    assert.ok(unauthorized, JSON.stringify(findings, null, 1));
    assert.equal(unauthorized.severity, "critical");
    assert.equal(unauthorized.condition, "KubeletCertificateInvalid");
    assert.match(unauthorized.message, /`Unauthorized` 3 times in 5 min/, "the 11:40 line is before the lookback; sshd is not followed");
    assert.match(unauthorized.message, /ClientCertificateNotYetValid/);
    assert.match(unauthorized.message, /not valid before 2026-11-24T17:12:40Z/);
    assert.match(unauthorized.remedy ?? "", /kubelet-client-2026-08-26-10-01-02\.pem/, "names the older valid certificate");
    const notFound = findings.find((f) => f.reason === "KubeletNodeNotFound");
    assert.equal(notFound?.severity, "warning");
    assert.match(notFound?.message ?? "", /node30/);
    const counters = logRead(findings)?.logCounters;
    assert.equal(counters?.lines["journal"]?.matched, 6);
    assert.equal(counters?.lines["journal"]?.unmatched, 1, "containerd's line is read and matches nothing");
    assert.match(findings.find((f) => f.reason === "LogsRead")?.message ?? "", /the journal in \/var\/log\/journal/);
  });

  it("end to end through the engine: the real certificates check on real certificates, then the log finding names the older valid one", async () => {
    fixture = await fixtureRoot();
    const root = fixture.root;
    const now = at("12:00:00");
    const mint = new CertificateMint();
    try {
      const day = 24 * 3_600_000;
      const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 400 * day), notAfter: new Date(now + 3000 * day) });
      const node = "/O=system:nodes/CN=system:node:node30";
      const older = mint.leaf(ca, { subject: node, notBefore: new Date(now - 23 * day), notAfter: new Date(now + 342 * day) });
      const future = mint.leaf(ca, { subject: node, notBefore: new Date(now + 5 * 3_600_000), notAfter: new Date(now + 365 * day) });
      await writeKubeletClientPki(root, {
        caPem: ca.certPem,
        clients: { "kubelet-client-2026-11-01-08-00-00.pem": older.combinedPem, "kubelet-client-2026-11-24-11-00-00.pem": future.combinedPem },
        current: "kubelet-client-2026-11-24-11-00-00.pem",
      });
      await writeJournal(root, [
        {
          atMs: at("11:58:40"),
          unit: "kubelet.service",
          pid: 1902,
          message: 'E1124 11:58:40.012201    1902 kubelet_node_status.go:92] "Unable to register node with API server" err="Unauthorized" node="node30"',
        },
        {
          atMs: at("11:58:44"),
          unit: "kubelet.service",
          pid: 1902,
          message: "E1124 11:58:44.240417    1902 controller.go:144] failed to ensure node lease exists, will retry in 7s, error: Unauthorized",
        },
      ]);
      const clock = new FakeClock(now);
      const host = new RootedHost(root);
      const locator = new KubeletLocator(host, clock);
      const certificates = createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), { kubelet: locator });
      const logs = createKubeletLogsCheck(kubeletLogsSettings.parse({}, "checks.kubelet-logs"), { kubelet: locator, journal: testJournalReader(root, clock) });
      const state = new NodeState([certificates, logs], [], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 1000 }, silentLog);
      const scheduler = new Scheduler([certificates, logs], { host, clock, state, log: silentLog, logFor: () => silentLog, jitterRatio: 0 });
      try {
        await scheduler.runOnce();
        const runs = await scheduler.runOnce(); // the second round sees the certificates check's latest findings
        const logFindings = runs.find((r) => r.check === "kubelet-logs")?.findings ?? [];
        const unauthorized = logFindings.find((f) => f.reason === "KubeletUnauthorized");
        assert.ok(unauthorized, JSON.stringify(logFindings, null, 1));
        assert.match(unauthorized.message, /The certificates check knows why \(ClientCertificateNotYetValid\)/);
        assert.ok(
          unauthorized.remedy?.includes("ln -sf /var/lib/kubelet/pki/kubelet-client-2026-11-01-08-00-00.pem /var/lib/kubelet/pki/kubelet-client-current.pem"),
          unauthorized.remedy,
        );
        const condition = state.condition("KubeletCertificateInvalid");
        assert.equal(condition?.status, "True");
        assert.deepEqual(
          condition?.findings
            .filter((f) => f.severity === "critical")
            .map((f) => f.reason)
            .sort(),
          ["ClientCertificateNotYetValid", "KubeletUnauthorized"],
        );
      } finally {
        await scheduler.stop(0);
      }
    } finally {
      mint.cleanup();
    }
  });

  it("without the certificates check's finding, says what to look at", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "unauthorized.log"));
    const clock = new FakeClock();
    const [finding] = problems(await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock })));
    assert.doesNotMatch(finding?.message ?? "", /certificates check/);
    assert.match(finding?.remedy ?? "", /openssl x509 -noout -dates -subject -in \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem/);
  });

  it("follows new journal entries after the first run", async () => {
    fixture = await fixtureRoot();
    await writeJournal(fixture.root, [
      {
        atMs: at("11:59:00"),
        unit: "kubelet.service",
        pid: 1902,
        message: 'I1124 11:59:00.000000    1902 server.go:440] "Kubelet version" kubeletVersion="v1.30.2"',
      },
    ]);
    const clock = new FakeClock(at("12:00:00"));
    const c = makeCheck(fixture.root, clock, { journal: { enabled: true } });
    assert.deepEqual(problems(await c.run(checkContext(fixture.root, { clock }))), []);
    const pleg = (s: string) => ({
      atMs: at(`12:00:${s}`),
      unit: "kubelet.service",
      pid: 1902,
      message: `E1124 12:00:${s}.000000    1902 kubelet.go:1870] "Skipping pod synchronization" err="PLEG is not healthy: pleg was last seen active 3m1s ago; threshold is 3m0s"`,
    });
    await writeJournal(fixture.root, [pleg("05"), pleg("06")], "system@later.journal");
    let reasons: string[] = [];
    for (let i = 0; i < 50 && !reasons.includes("PlegUnhealthy"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await clock.advance(100);
      reasons = problems(await c.run(checkContext(fixture.root, { clock }))).map((f) => f.reason);
    }
    assert.deepEqual(reasons, ["PlegUnhealthy"]);
  });
});

describe("kubelet-logs: a file flood larger than one run can read", () => {
  it("every run finishes within its timeout and counts what it read; the rest is read by the next runs", async () => {
    // A flood of 50,000 lines/s for ~8 s between two runs. Before reading was bounded in time, the run
    // that met it outlived its timeout and failed, and so did every run after it for as long as the flood
    // lasted: the check counted nothing — or, on a faster or idler machine, everything.
    fixture = await rootWithKubeletLog(join(LOGS, "benign.log"));
    const c = makeCheck(fixture.root, new FakeClock(), { timeoutSeconds: 1 });
    const run = () => c.run(checkContext(fixture!.root, { timeoutMs: 1000 }));
    const read = (findings: readonly Finding[]) => lineTotals(logRead(findings)?.logCounters ?? { lines: {}, matches: {} }).lines;
    const before = read(await run());
    const now = new Date();
    const stamp = `${String(now.getUTCMonth() + 1).padStart(2, "0")}${String(now.getUTCDate()).padStart(2, "0")} ${now.toISOString().slice(11, 23)}000`;
    const lines = 400_000;
    const flood = Array.from(
      { length: lines },
      (_, i) => `I${stamp}    2211 kubelet.go:2430] "SyncLoop (PLEG): event for pod" pod="default/app-${i}" event="ContainerStarted"\n`,
    ).join("");
    await appendFile(join(fixture.root, "var/log/kubelet.log"), flood);
    let counted = 0;
    let runs = 0;
    let sawBehind = false;
    while (counted < before + lines && runs < 40) {
      const started = performance.now();
      const findings = await run();
      runs++;
      assert.ok(performance.now() - started < 1000, `run ${runs} took ${Math.round(performance.now() - started)} ms, more than its timeout`);
      const logsRead = findings.find((f) => f.reason === "LogsRead");
      assert.ok(logsRead, `run ${runs} reports what it read`);
      if (/bytes not read yet/.test(logsRead.message)) sawBehind = true;
      const now = read(findings);
      assert.ok(now > counted, `run ${runs} counted more lines (${now} after ${counted})`);
      counted = now;
    }
    assert.equal(counted, before + lines, "every line is counted, none skipped");
    assert.ok(sawBehind, "a run that could not read it all says how much is left");
  });
});

describe("kubelet-logs: recovery and sources", () => {
  it("a finding clears after its window passes without a new match", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "pleg-unhealthy.log"));
    const clock = new FakeClock();
    const c = makeCheck(fixture.root, clock);
    assert.equal(problems(await c.run(checkContext(fixture.root, { clock })))[0]?.reason, "PlegUnhealthy");
    await clock.advance(4 * 60_000);
    assert.equal(problems(await c.run(checkContext(fixture.root, { clock })))[0]?.reason, "PlegUnhealthy", "still within 5 min of the last match");
    await clock.advance(2 * 60_000);
    assert.deepEqual(problems(await c.run(checkContext(fixture.root, { clock }))), []);
  });

  it("a registration clears Unauthorized at once", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "unauthorized.log"));
    const clock = new FakeClock();
    const c = makeCheck(fixture.root, clock);
    assert.equal(problems(await c.run(checkContext(fixture.root, { clock })))[0]?.reason, "KubeletUnauthorized");
    await appendFile(
      join(fixture.root, "var/log/kubelet.log"),
      'I1124 12:00:05.000000    1902 kubelet_node_status.go:108] "Successfully registered node" node="node30"\n',
    );
    await clock.advance(10_000);
    assert.deepEqual(problems(await c.run(checkContext(fixture.root, { clock }))), []);
  });

  it("lines older than the lookback are not judged", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "swap-enabled.log"));
    const clock = new FakeClock(Date.parse("2026-11-24T12:30:00Z"));
    const findings = await makeCheck(fixture.root, clock).run(checkContext(fixture.root, { clock }));
    assert.deepEqual(problems(findings), []);
    assert.equal(logRead(findings)?.logCounters.lines["file"]?.stale, 2);
  });

  it("no kubelet and no log at all: nothing to say (not a node)", async () => {
    fixture = await fixtureRoot();
    const clock = new FakeClock();
    assert.deepEqual(await makeCheck(fixture.root, clock, { journal: { enabled: true } }).run(checkContext(fixture.root, { clock })), []);
  });

  it("kubelet runs but no log is found: unknown (LogSourceMissing), naming what was tried", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "proc/4242"), { recursive: true });
    await writeFile(join(fixture.root, "proc/4242/comm"), "kubelet\n");
    await writeFile(join(fixture.root, "proc/4242/cmdline"), "/usr/bin/kubelet\0--kubeconfig=/etc/kubernetes/kubelet.conf\0");
    const clock = new FakeClock();
    const findings = await makeCheck(fixture.root, clock, { journal: { enabled: true } }).run(checkContext(fixture.root, { clock }));
    assert.equal(findings.length, 1);
    assert.equal(findings[0]?.reason, "LogSourceMissing");
    assert.equal(findings[0]?.severity, "unknown");
    assert.match(findings[0]?.message ?? "", /no journal in \/var\/log\/journal or \/run\/log\/journal; no readable file among \/var\/log\/kubelet\.log/);
  });

  it("a journal journalctl cannot read is named, and later runs do not wait for it", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "var/log/journal/5c0f6a2b9d8e4f7a8b1c2d3e4f5a6b7c"), { recursive: true });
    await writeFile(join(fixture.root, "var/log/journal/5c0f6a2b9d8e4f7a8b1c2d3e4f5a6b7c/system.journal"), "not a journal");
    const clock = new FakeClock();
    const c = makeCheck(fixture.root, clock, { journal: { enabled: true } }, { journalctl: join(fixture.root, "no-journalctl") });
    const findings = await c.run(checkContext(fixture.root, { clock }));
    assert.equal(findings[0]?.reason, "LogSourceMissing");
    assert.match(findings[0]?.message ?? "", /the journal in \/var\/log\/journal could not be read/);
    assert.match(findings[0]?.message ?? "", /journalctl: not installed/);
    const started = performance.now();
    await c.run(checkContext(fixture.root, { clock }));
    assert.ok(performance.now() - started < 1000, "the second run does not wait for the journal");
  });

  it("renders optional template parts only when the capture exists", () => {
    assert.equal(
      renderTemplate("expired{notAfter?: (NotAfter }{notAfter}{notAfter?)}.", { notAfter: "2026-01-01T00:00:00Z" }),
      "expired: (NotAfter 2026-01-01T00:00:00Z).",
    );
    assert.equal(renderTemplate("expired{notAfter?: (NotAfter }{notAfter}{notAfter?)}.", {}), "expired.");
  });
});

describe("engine: a secondary check's unknown", () => {
  function fakeCheck(name: string, conditions: Check["conditions"], secondary = false): Check {
    return { name, conditions, intervalMs: 1000, timeoutMs: 1000, ...(secondary ? { secondary: true } : {}), run: async () => [] };
  }
  const run = (check: string, findings: Finding[], outcome: CheckRun["outcome"] = "ok"): CheckRun => ({
    check,
    startedAtMs: 0,
    durationMs: 1,
    outcome,
    findings,
  });
  const damping = { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 1000 };

  it("does not hide a primary feeder's verdict", () => {
    const clock = new FakeClock();
    const logs = createKubeletLogsCheck(kubeletLogsSettings.parse({}, "k"), {
      kubelet: new KubeletLocator(new RootedHost("/nonexistent"), clock),
      journal: testJournalReader("/nonexistent", clock),
    });
    assert.equal(logs.secondary, true);
    assert.deepEqual([...logs.conditions].sort(), [
      "ContainerRuntimeUnhealthy",
      "DiskSpaceLow",
      "KubeletCertificateInvalid",
      "KubeletConfigInvalid",
      "KubeletUnhealthy",
    ]);
    const state = new NodeState([fakeCheck("disk", ["DiskSpaceLow"]), fakeCheck("kubelet-logs", ["DiskSpaceLow"], true)], [], damping, silentLog);
    state.record(run("disk", [{ check: "disk", condition: "DiskSpaceLow", severity: "warning", reason: "NodeFsAvailableLow", message: "low" }]), 0);
    state.record(
      run(
        "kubelet-logs",
        [{ check: "kubelet-logs", condition: "DiskSpaceLow", severity: "unknown", reason: "CheckFailed", message: "could not look" }],
        "error",
      ),
      0,
    );
    assert.equal(state.condition("DiskSpaceLow")?.status, "False");
    assert.equal(state.condition("DiskSpaceLow")?.reason, "NodeFsAvailableLow");
  });

  it("still counts when no primary feeder could look, and its problems always count", () => {
    const state = new NodeState([fakeCheck("disk", ["DiskSpaceLow"]), fakeCheck("kubelet-logs", ["DiskSpaceLow"], true)], [], damping, silentLog);
    state.record(run("disk", [{ check: "disk", condition: "DiskSpaceLow", severity: "unknown", reason: "CheckTimedOut", message: "timed out" }], "timeout"), 0);
    state.record(
      run("kubelet-logs", [{ check: "kubelet-logs", condition: "DiskSpaceLow", severity: "unknown", reason: "LogSourceMissing", message: "no log" }]),
      0,
    );
    assert.equal(state.condition("DiskSpaceLow")?.status, "Unknown");
    state.record(run("disk", [{ check: "disk", condition: "DiskSpaceLow", severity: "ok", reason: "FilesystemOk", message: "fine" }]), 1);
    state.record(
      run("kubelet-logs", [{ check: "kubelet-logs", condition: "DiskSpaceLow", severity: "critical", reason: "KubeletEvictingForDisk", message: "evicting" }]),
      1,
    );
    assert.equal(state.condition("DiskSpaceLow")?.status, "True");
  });
});

describe("metrics: node_doctor_log_matches_total and node_doctor_log_lines_total", () => {
  it("count what the check read, across runs", async () => {
    fixture = await rootWithKubeletLog(join(LOGS, "node-not-found.log"));
    const clock = new FakeClock();
    const c = makeCheck(fixture.root, clock);
    const sink = createMetricsSink({ nodeName: "node1", version: "test", checkNames: ["kubelet-logs"] });
    const state = new NodeState([c], [sink], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 1000 }, silentLog);
    const first = await c.run(checkContext(fixture.root, { clock }));
    state.record({ check: "kubelet-logs", startedAtMs: 0, durationMs: 1, outcome: "ok", findings: first }, clock.now());
    await appendFile(
      join(fixture.root, "var/log/kubelet.log"),
      'E1124 12:00:01.000000   69055 kubelet.go:2419] "Error getting node" err="node \\"k8s-master-1\\" not found"\nnot a log line\n',
    );
    await clock.advance(15_000);
    const second = await c.run(checkContext(fixture.root, { clock }));
    state.record({ check: "kubelet-logs", startedAtMs: 1, durationMs: 1, outcome: "ok", findings: second }, clock.now());
    const text = await sink.registry.metrics();
    assert.match(text, /node_doctor_log_matches_total\{signature="node-not-found",node="node1"\} 5/);
    assert.match(text, /node_doctor_log_matches_total\{signature="pleg-unhealthy",node="node1"\} 0/);
    assert.match(text, /node_doctor_log_lines_total\{source="file",result="matched",node="node1"\} 5/);
    assert.match(text, /node_doctor_log_lines_total\{source="file",result="unparseable",node="node1"\} 1/);
    await sink.close?.();
  });
});

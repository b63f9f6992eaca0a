/**
 * The exhaustion check on node roots laid out like /: a healthy node, and a
 * node running out of everything at once (test/fixtures/exhaustion-*, see
 * SOURCES.md). Findings are asserted on reason, severity and the remedy's
 * key facts; rates come from two looks, the clock moved between them.
 */
import assert from "node:assert/strict";
import { copyFile, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createExhaustionCheck, exhaustionSettings } from "../../src/checks/exhaustion/index.js";
import { isExhaustionEvidence } from "../../src/checks/exhaustion/judge.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { Check, Finding, StateView } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { FIXTURES, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { RecordingHost } from "../support/recording-host.js";
import { runTool } from "../support/tools.js";

const POD = "8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f";

let fixture: FixtureRoot | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

function check(root: string, clock: FakeClock, settings: Record<string, unknown> = {}): Check {
  return createExhaustionCheck(exhaustionSettings.parse(settings, "checks.exhaustion"), { kubelet: new KubeletLocator(new RootedHost(root), clock) });
}

function byReason(findings: readonly Finding[], reason: string): Finding {
  const found = findings.find((f) => f.reason === reason);
  assert.ok(found, `${reason} in ${findings.map((f) => `${f.reason}/${f.severity}`).join(", ")}`);
  return found;
}

describe("exhaustion check on node files", () => {
  it("healthy: one ok finding, NodeResourceExhausted False, with tasks, conntrack, file handles and PSI figures", async () => {
    const clock = new FakeClock();
    const root = join(FIXTURES, "exhaustion-healthy");
    const findings = await check(root, clock).run(checkContext(root, { clock }));
    assert.deepEqual(
      findings.map((f) => [f.reason, f.severity]),
      [["ResourcesSufficient", "ok"]],
    );
    assert.match(findings[0]?.message ?? "", /228 tasks of 32768 \(kernel\.pid_max\), 0 conntrack entries of 262144, 1123 file handles of 2466165/);
    const evidence = findings[0]?.evidence;
    assert.ok(isExhaustionEvidence(evidence));
    assert.equal(evidence.conntrack?.max, 262144);
    assert.equal(evidence.inotify.maxUserInstances, 128);
    assert.equal(evidence.pressure.cpu?.some.avg300, 21.13);
  });

  it("exhausted: threads past threads-max that kubelet cannot see, a pod at its pids.max, conntrack full and dropping, file handles, memory and I/O stalled", async () => {
    const clock = new FakeClock();
    fixture = await fixtureRoot("exhaustion-exhausted");
    const stat = join(fixture.root, "proc/net/stat/nf_conntrack");
    const exhausted = join(FIXTURES, "exhaustion-exhausted/proc/net/stat/nf_conntrack");
    // The first look: the namespace's counters before the table filled (all zero); the second, 30 s later, after.
    await copyFile(join(FIXTURES, "exhaustion-healthy/proc/net/stat/nf_conntrack"), stat);
    const exhaustion = check(fixture.root, clock);
    const first = await exhaustion.run(checkContext(fixture.root, { clock }));
    assert.ok(!first.some((f) => f.reason === "ConntrackDropping"), "no rate from one look");
    await clock.advance(30_000);
    await copyFile(exhausted, stat);
    const findings = await exhaustion.run(checkContext(fixture.root, { clock }));

    const threads = byReason(findings, "ThreadsExhausted");
    assert.equal(threads.severity, "critical");
    assert.match(threads.message, /29876 tasks run on the node, 95\.1% of the 31419 the kernel allows \(kernel\.threads-max; kernel\.pid_max is 4194304\)/);
    assert.match(
      threads.message,
      /Most tasks by cgroup: \/kubepods\.slice \(28740\), pod 8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f \(1024\), \/system\.slice \(611\)/,
    );
    assert.match(threads.remedy ?? "", new RegExp(`crictl pods --label io\\.kubernetes\\.pod\\.uid=${POD}`));
    assert.match(threads.remedy ?? "", /kubelet limits each pod to 1024 tasks \(podPidsLimit: 1024 in \/var\/lib\/kubelet\/config\.yaml\)/);

    const eviction = byReason(findings, "PidAvailableBelowEviction");
    assert.equal(eviction.severity, "critical");
    assert.match(
      eviction.message,
      /Only 1543 tasks are left .* kernel\.threads-max \(31419\), below kubelet's hard eviction threshold pid\.available<10% \(evictionHard in \/var\/lib\/kubelet\/config\.yaml, 3142 of the 31419 the kernel allows\)/,
    );
    assert.match(eviction.message, /4164428 left\): it reports no PIDPressure/);
    assert.match(eviction.remedy ?? "", /sysctl -w kernel\.pid_max=31419/);

    const pod = byReason(findings, "PodPidsLimitReached");
    assert.equal(pod.severity, "warning");
    assert.match(pod.message, new RegExp(`Pod ${POD} .* holds 1024 of its 1024 tasks \\(pids\\.max; 37 forks refused since it was made\\)`));

    const full = byReason(findings, "ConntrackTableFull");
    assert.equal(full.severity, "critical");
    assert.match(full.message, /64 of 64 entries \(100\.0%/);
    assert.match(full.remedy ?? "", /sysctl -w net\.netfilter\.nf_conntrack_max=128/);

    const dropping = byReason(findings, "ConntrackDropping");
    assert.equal(dropping.severity, "critical");
    assert.match(dropping.message, /dropped 64\/min packets over the last 30 s/);

    assert.equal(byReason(findings, "FileHandlesExhausted").severity, "critical");
    assert.match(byReason(findings, "FileHandlesExhausted").message, /2295040 file handles .* 93\.1% of fs\.file-max \(2466165\)/);
    const memory = byReason(findings, "MemoryPressureStall");
    assert.equal(memory.severity, "critical");
    assert.match(memory.message, /27\.4% of the last minute and 21\.7% of the last 5 minutes/);
    assert.equal(byReason(findings, "IoPressureStall").severity, "warning");
    assert.ok(findings.every((f) => f.condition === "NodeResourceExhausted"));
    assert.ok(isExhaustionEvidence(findings[0]?.evidence));
  });

  it("a node copy whose /proc/self/ns/net differs from pid 1's: conntrack unknown, the rest still judged", async () => {
    const clock = new FakeClock();
    fixture = await fixtureRoot("exhaustion-healthy");
    await rm(join(fixture.root, "proc/self/ns/net"));
    await symlink("net:[4026532301]", join(fixture.root, "proc/self/ns/net"));
    const findings = await check(fixture.root, clock).run(checkContext(fixture.root, { clock }));
    assert.deepEqual(
      findings.map((f) => [f.reason, f.severity]),
      [["NotHostNetworkNamespace", "unknown"]],
    );
    assert.match(findings[0]?.message ?? "", /net:\[4026532301\] is not the host's net:\[4026531833\]/);
    assert.match(findings[0]?.remedy ?? "", /hostNetwork: true/);
    const evidence = findings[0]?.evidence;
    assert.ok(isExhaustionEvidence(evidence));
    assert.equal(evidence.conntrack, undefined, "no conntrack figures from another namespace");
    assert.equal(evidence.threads, 228);
  });

  it("a FIFO where /proc/loadavg should be: could not look (a throw naming the file), never a hang", async () => {
    const clock = new FakeClock();
    fixture = await fixtureRoot("exhaustion-healthy");
    await rm(join(fixture.root, "proc/loadavg"));
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [join(fixture.root, "proc/loadavg")]);
    await assert.rejects(check(fixture.root, clock).run(checkContext(fixture.root, { clock })), /\/proc\/loadavg: is not a regular file/);
  });

  it("metrics: tasks, conntrack, file handles, inotify limits and PSI from the evidence, the conntrack counters following the kernel's; promtool accepts them and docs/metrics.md lists each", async () => {
    const clock = new FakeClock();
    fixture = await fixtureRoot("exhaustion-exhausted");
    const stat = join(fixture.root, "proc/net/stat/nf_conntrack");
    await copyFile(join(FIXTURES, "exhaustion-healthy/proc/net/stat/nf_conntrack"), stat);
    const exhaustion = check(fixture.root, clock);
    const state: StateView = { conditions: () => [], condition: () => undefined, lastRun: () => undefined, runs: () => [], firstRoundDone: () => true };
    const sink = createMetricsSink({ nodeName: "node7", version: "0.0.0", checkNames: ["exhaustion"] });
    const feed = async () =>
      sink.onCheckRun?.(
        {
          check: "exhaustion",
          startedAtMs: clock.now(),
          durationMs: 3,
          outcome: "ok",
          findings: await exhaustion.run(checkContext(fixture?.root ?? "", { clock })),
        },
        state,
      );
    await feed();
    await clock.advance(30_000);
    await copyFile(join(FIXTURES, "exhaustion-exhausted/proc/net/stat/nf_conntrack"), stat);
    await feed();
    const text = await sink.registry.metrics();
    await sink.close?.();
    const sample = (series: string) => new RegExp(`^${series.replace(/[{}.]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1];
    assert.equal(sample('node_doctor_threads{node="node7"}'), "29876");
    assert.equal(sample('node_doctor_threads_max{node="node7"}'), "31419");
    assert.equal(sample('node_doctor_threads_limit{sysctl="kernel.pid_max",node="node7"}'), "4194304");
    assert.equal(sample('node_doctor_conntrack_entries{node="node7"}'), "64");
    assert.equal(sample('node_doctor_conntrack_entries_max{node="node7"}'), "64");
    assert.equal(sample('node_doctor_conntrack_events_total{event="drop",node="node7"}'), "32");
    assert.equal(sample('node_doctor_file_handles_allocated{node="node7"}'), "2295040");
    assert.equal(sample('node_doctor_file_handles_inotify_limit{limit="max_user_watches",node="node7"}'), "192536");
    assert.equal(sample('node_doctor_pressure_stall_ratio{resource="memory",kind="full",window="300s",node="node7"}'), "0.2166");
    assert.equal(sample('node_doctor_pressure_stalled_seconds_total{resource="memory",kind="full",node="node7"}'), "208.817392");
    const result = await runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(result.code, 0, `promtool check metrics: ${result.stdout}${result.stderr}`);
    const doc = await readFile(new URL("../../docs/metrics.md", import.meta.url), "utf8");
    const families = [...text.matchAll(/^# TYPE (node_doctor_(?:threads|conntrack|file_handles|pressure)\w*) /gm)].map((m) => m[1]);
    assert.ok(families.length >= 10, families.join(", "));
    for (const family of families) assert.ok(doc.includes(`\`${family}\``), `${family} is not in docs/metrics.md`);
  });

  it("between scans a look reads 7 files (and the 2 namespace links); the limits and the pod cgroups again every limitsRefreshSeconds, a pod's finding kept until the next scan", async () => {
    const clock = new FakeClock();
    fixture = await fixtureRoot("exhaustion-healthy");
    const root = fixture.root;
    const current = join(root, `sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll("-", "_")}.slice/pids.current`);
    const recording = new RecordingHost(root);
    const exhaustion = check(root, clock);
    const look = async () => {
      recording.asked.clear();
      const ctx = { ...checkContext(root, { clock }), host: recording };
      const findings = await exhaustion.run(ctx);
      return { reasons: findings.map((f) => f.reason), read: [...recording.asked].filter(([, m]) => m.has("readText")).map(([p]) => p) };
    };
    const first = await look();
    assert.deepEqual(first.reasons, ["ResourcesSufficient"]);
    assert.ok(
      first.read.includes("/proc/sys/kernel/threads-max") && first.read.some((p) => p.endsWith("/pids.max")),
      "the first look reads the limits and the pods",
    );

    await writeFile(current, "4096\n");
    await clock.advance(60_000);
    const between = await look();
    assert.deepEqual(between.reasons, ["ResourcesSufficient"], "the pod is not read between scans");
    assert.deepEqual(between.read.sort(), [
      "/proc/loadavg",
      "/proc/net/stat/nf_conntrack",
      "/proc/pressure/cpu",
      "/proc/pressure/io",
      "/proc/pressure/memory",
      "/proc/sys/fs/file-nr",
      "/proc/sys/net/netfilter/nf_conntrack_count",
    ]);

    await clock.advance(240_000);
    assert.deepEqual((await look()).reasons, ["PodPidsLimitReached"], "read again 300 s after the first look");
    await writeFile(current, "12\n");
    await clock.advance(60_000);
    assert.deepEqual((await look()).reasons, ["PodPidsLimitReached"], "kept until the next scan, not flapping");
    await clock.advance(240_000);
    assert.deepEqual((await look()).reasons, ["ResourcesSufficient"]);
  });
});

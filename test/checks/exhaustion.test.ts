/**
 * The exhaustion check on node roots laid out like /: a healthy node, and a
 * node running out of everything at once (test/fixtures/exhaustion-*, see
 * SOURCES.md). Findings are asserted on reason, severity and the remedy's
 * key facts; rates come from two looks, the clock moved between them.
 */
import assert from "node:assert/strict";
import { copyFile, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createExhaustionCheck, exhaustionSettings } from "../../src/checks/exhaustion/index.js";
import { isExhaustionEvidence } from "../../src/checks/exhaustion/judge.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import type { Check, Finding } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { FIXTURES, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

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
      /Only 1543 tasks are left .* kernel\.threads-max \(31419\), below kubelet's hard eviction threshold pid\.available<10% \(evictionHard in \/var\/lib\/kubelet\/config\.yaml\)/,
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
});

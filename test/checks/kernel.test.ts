/**
 * The kernel check through the agent's journal reader: kernel messages
 * written into a real journal file (systemd-journal-remote), read as
 * `_TRANSPORT=kernel` entries beside a unit's lines, judged, and cleared by
 * the injected clock once a window passes: the condition goes back to False
 * (NPD's kernel conditions never clear). Also the look-back bound and the
 * engine's conditions.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { afterEach, describe, it } from "node:test";
import { createKernelCheck, kernelSettings, type KernelReadEvidence } from "../../src/checks/kernel/index.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { RootedHost } from "../../src/node/host.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { Check, Finding } from "../../src/types.js";
import { runTool } from "../support/tools.js";
import { silentLog } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { kernelEntry, testJournalReader, unitEntry, writeJournal } from "../support/journal.js";

let fixture: FixtureRoot | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
  await fixture?.cleanup();
  fixture = undefined;
});

const T0 = Date.parse("2026-12-02T03:00:00Z");
const MINUTE = 60_000;

async function agent(root: string, clock: FakeClock): Promise<{ check: Check; state: NodeState; scheduler: Scheduler }> {
  const host = new RootedHost(root);
  const check = createKernelCheck(kernelSettings.parse({}, "checks.kernel"), {
    kubelet: new KubeletLocator(host, clock),
    journal: testJournalReader(root, clock),
  });
  const state = new NodeState([check], [], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 1000 }, silentLog);
  const scheduler = new Scheduler([check], { host, clock, state, log: silentLog, logFor: () => silentLog, jitterRatio: 0 });
  stop = async () => {
    await scheduler.stop(0);
    await check.close?.();
  };
  return { check, state, scheduler };
}

describe("kernel check: the journal's kernel messages, judged and cleared", () => {
  it("three system OOM kills make KernelUnhealthy True; 30 minutes without one and it is False again", async () => {
    fixture = await fixtureRoot();
    await writeJournal(fixture.root, [
      unitEntry(T0 - 2 * MINUTE, "kubelet.service", 900, 'I1202 02:58:00.000000     900 kubelet.go:2400] "SyncLoop ADD" source="api"'),
      // Before the look-back (10 min): never read.
      kernelEntry(T0 - 20 * MINUTE, "Out of memory: Killed process 1001 (java) total-vm:4512340kB, anon-rss:2096112kB, file-rss:0kB, shmem-rss:0kB", 3),
      kernelEntry(
        T0 - 3 * MINUTE,
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/kubepods/besteffort/pod7c1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6/0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9,task=python3,pid=7734,uid=0",
      ),
      kernelEntry(T0 - 3 * MINUTE, "Out of memory: Killed process 7734 (python3) total-vm:10252388kB, anon-rss:7816320kB, file-rss:0kB, shmem-rss:0kB", 3),
      kernelEntry(T0 - 2 * MINUTE, "Out of memory: Killed process 7801 (python3) total-vm:10252388kB, anon-rss:7816320kB, file-rss:0kB, shmem-rss:0kB", 3),
      kernelEntry(T0 - 1 * MINUTE, "Out of memory: Killed process 7902 (python3) total-vm:10252388kB, anon-rss:7816320kB, file-rss:0kB, shmem-rss:0kB", 3),
      kernelEntry(
        T0 - 1 * MINUTE,
        "Memory cgroup out of memory: Killed process 48211 (java) total-vm:4512340kB, anon-rss:2096112kB, file-rss:20212kB, shmem-rss:0kB",
        3,
      ),
      kernelEntry(T0 - 1 * MINUTE, "oom_reaper: reaped process 7902 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"),
    ]);
    const clock = new FakeClock(T0);
    const { state, scheduler } = await agent(fixture.root, clock);

    const [run] = await scheduler.runOnce();
    const oom = run?.findings.find((f) => f.reason === "NodeOutOfMemory");
    assert.ok(oom, JSON.stringify(run?.findings, null, 1));
    assert.equal(oom.severity, "critical");
    assert.match(oom.message, /killed python3 \(pid 7902\) \(3 system OOM kills in 30 min/);
    const read = run?.findings.find((f) => f.reason === "KernelMessagesRead");
    const evidence = read?.evidence as unknown as KernelReadEvidence;
    assert.deepEqual(evidence.oom.kills, { global: 3, memcg: 1 }, "the kill before the look-back is not read; the unit's line is not the kernel's");
    assert.equal(evidence.kernelCounters.lines["journal"]?.noise, 1);
    assert.match(read?.message ?? "", /OOM kills since start: 3 system, 1 at a container's limit/);
    assert.equal(state.condition("KernelUnhealthy")?.status, "True");
    assert.equal(state.condition("KernelUnhealthy")?.reason, "NodeOutOfMemory");
    assert.equal(state.condition("FilesystemErrors")?.status, "False");

    // 20 minutes on: still within the window.
    await clock.advance(20 * MINUTE);
    await scheduler.runOnce();
    assert.equal(state.condition("KernelUnhealthy")?.status, "True");

    // The window (30 min) has passed since the last kill: the condition clears by itself.
    await clock.advance(11 * MINUTE);
    await scheduler.runOnce();
    const cleared = state.condition("KernelUnhealthy");
    assert.equal(cleared?.status, "False");
    assert.equal(cleared?.reason, "KernelHealthy");
  });
});

describe("kernel check: its series", () => {
  it("node_doctor_kernel_events_total by reason and node_doctor_kernel_oom_kills_total by kind count what was read, pass promtool and are documented", async () => {
    fixture = await fixtureRoot();
    const kills = Array.from({ length: 5 }, (_, i) =>
      kernelEntry(
        T0 - 5 * MINUTE + i * 1000,
        `Memory cgroup out of memory: Killed process ${2000 + i} (stress) total-vm:268380kB, anon-rss:262144kB, file-rss:264kB, shmem-rss:0kB`,
        3,
      ),
    );
    await writeJournal(fixture.root, [
      ...kills,
      kernelEntry(T0 - 4 * MINUTE, "Out of memory: Killed process 7734 (python3) total-vm:10252388kB, anon-rss:7816320kB, file-rss:0kB, shmem-rss:0kB", 3),
      kernelEntry(T0 - 4 * MINUTE, "INFO: task jbd2/sda1-8:412 blocked for more than 120 seconds.", 3),
      kernelEntry(
        T0 - 4 * MINUTE,
        "NVRM: Xid (PCI:0000:86:00): 48, pid=20374, name=python, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 6, subpartition 0.",
        4,
      ),
    ]);
    const clock = new FakeClock(T0);
    const { scheduler, check } = await agent(fixture.root, clock);
    const metrics = createMetricsSink({ nodeName: "w", version: "1", checkNames: [check.name] });
    const view = { conditions: () => [], condition: () => undefined, lastRun: () => undefined, runs: () => [], firstRoundDone: () => true };
    for (let i = 0; i < 2; i++) {
      const [run] = await scheduler.runOnce();
      metrics.onCheckRun?.({ check: check.name, startedAtMs: 0, durationMs: 1, outcome: "ok", findings: run?.findings ?? ([] as Finding[]) }, view);
    }
    const text = await metrics.registry.metrics();
    assert.match(text, /node_doctor_kernel_events_total\{reason="ContainerOOMKilled",node="w"\} 5\n/);
    assert.match(text, /node_doctor_kernel_events_total\{reason="NodeOutOfMemory",node="w"\} 1\n/);
    assert.match(text, /node_doctor_kernel_events_total\{reason="TaskHung",node="w"\} 1\n/);
    assert.match(text, /node_doctor_kernel_events_total\{reason="GpuXidNeedsReset",node="w"\} 1\n/);
    assert.match(text, /node_doctor_kernel_events_total\{reason="Ext4Error",node="w"\} 0\n/);
    assert.match(text, /node_doctor_kernel_oom_kills_total\{kind="memcg",node="w"\} 5\n/);
    assert.match(text, /node_doctor_kernel_oom_kills_total\{kind="global",node="w"\} 1\n/);
    assert.match(text, /node_doctor_kernel_messages_total\{source="journal",result="matched",node="w"\} 8\n/);
    const lint = await runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
    const doc = await readFile(new URL("../../docs/metrics.md", import.meta.url), "utf8");
    for (const family of [
      "node_doctor_kernel_events_total",
      "node_doctor_kernel_oom_kills_total",
      "node_doctor_kernel_messages_total",
      "node_doctor_kernel_kmsg_lost_total",
    ]) {
      assert.ok(doc.includes(`\`${family}\``), `${family} is not in docs/metrics.md`);
    }
  });
});

describe("kernel check: an OOM storm", () => {
  it("100 containers hitting their limits in one second: every kill counted, the first two a second read in full, a system OOM among them still judged", async () => {
    fixture = await fixtureRoot();
    const memcg = (i: number) =>
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3b8e6c2a_1f4d_4e0a_9b7c_${String(i).padStart(12, "0")}.slice/cri-containerd-${"ab".repeat(32)}.scope`;
    const at = T0 - MINUTE;
    const storm = Array.from({ length: 100 }, (_, i) => [
      kernelEntry(
        at,
        `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=x,mems_allowed=0,oom_memcg=${memcg(i)},task_memcg=${memcg(i)},task=stress,pid=${3000 + i},uid=0`,
      ),
      kernelEntry(
        at,
        `Memory cgroup out of memory: Killed process ${3000 + i} (stress) total-vm:268380kB, anon-rss:262144kB, file-rss:264kB, shmem-rss:0kB`,
        3,
      ),
    ]).flat();
    storm.splice(
      101,
      0,
      kernelEntry(at, "Out of memory: Killed process 7734 (python3) total-vm:10252388kB, anon-rss:7816320kB, file-rss:0kB, shmem-rss:0kB", 3),
    );
    await writeJournal(fixture.root, storm);
    const clock = new FakeClock(T0);
    const { scheduler, check } = await agent(fixture.root, clock);
    const metrics = createMetricsSink({ nodeName: "w", version: "1", checkNames: [check.name] });
    const view = { conditions: () => [], condition: () => undefined, lastRun: () => undefined, runs: () => [], firstRoundDone: () => true };
    const [run] = await scheduler.runOnce();
    metrics.onCheckRun?.({ check: check.name, startedAtMs: 0, durationMs: 1, outcome: "ok", findings: run?.findings ?? ([] as Finding[]) }, view);
    const evidence = run?.findings.find((f) => f.reason === "KernelMessagesRead")?.evidence as unknown as KernelReadEvidence;
    assert.deepEqual(evidence.oom.kills, { global: 1, memcg: 100 });
    assert.ok(
      evidence.oom.recent.some((k) => k.kind === "memcg" && k.podUid === "3b8e6c2a-1f4d-4e0a-9b7c-000000000000"),
      "the first kills are attributed to their pods",
    );
    assert.ok(
      run?.findings.some((f) => f.reason === "NodeOutOfMemory"),
      "the system OOM in the storm is judged",
    );
    const oomKilled = run?.findings.find((f) => f.reason === "ContainerOOMKilled");
    assert.equal(oomKilled?.severity, "warning", "a pod's own limit, never a node problem");
    const text = await metrics.registry.metrics();
    assert.match(text, /node_doctor_kernel_events_total\{reason="ContainerOOMKilled",node="w"\} 100\n/);
    assert.match(text, /node_doctor_kernel_oom_kills_total\{kind="memcg",node="w"\} 100\n/);
    assert.match(text, /node_doctor_kernel_messages_total\{source="journal",result="matched",node="w"\} 201\n/);
  });
});

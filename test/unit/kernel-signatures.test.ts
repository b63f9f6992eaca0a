/**
 * The kernel check's catalogue over recorded kernel lines
 * (test/fixtures/kernel/recorded.txt, sources in its SOURCES.md): each line is
 * taken by the signature it names, across 4.19, 5.4, 5.10 and 6.x wordings
 * and NVIDIA's drivers; the noise list and ordinary lines stay silent. Then
 * the judge: OOM kills attributed to pod and container, a pod's own limits
 * kept apart from the node's, repeats escalating, windows clearing.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FilesystemTracker, OomTracker } from "../../src/checks/kernel/gather.js";
import { judgeKernel } from "../../src/checks/kernel/judge.js";
import { NOISE, SIGNATURES } from "../../src/checks/kernel/signatures.js";
import { XID_ACTIONS } from "../../src/checks/kernel/xid.js";
import { cgroupOwner } from "../../src/node/cgroup-path.js";
import { readOnlyBecause, type MountEntry } from "../../src/node/mountinfo.js";
import { SignatureMatcher, type ActiveSignature } from "../../src/node/logs/matcher.js";
import type { Finding } from "../../src/types.js";
import { FIXTURES } from "../support/fixture-root.js";

interface Recorded {
  expect: string;
  kernel: string;
  source: string;
  line: string;
}

function recorded(): Recorded[] {
  const lines = readFileSync(join(FIXTURES, "kernel/recorded.txt"), "utf8").split("\n");
  const cases: Recorded[] = [];
  for (let i = 0; i < lines.length; i++) {
    const header = /^# (\S+) \| ([^|]+) \| (.*)$/.exec(lines[i] ?? "");
    if (!header) continue;
    cases.push({ expect: header[1] as string, kernel: (header[2] as string).trim(), source: header[3] as string, line: lines[i + 1] ?? "" });
  }
  return cases;
}

const T0 = Date.parse("2026-12-02T04:00:00Z");

function matcher(tracker?: OomTracker): { m: SignatureMatcher; hits: string[] } {
  const hits: string[] = [];
  const m = new SignatureMatcher(SIGNATURES, NOISE, ["journal"], {
    onMatch: (signature, groups, timeMs) => {
      hits.push(signature.id);
      tracker?.onMatch(signature, groups, timeMs);
    },
  });
  return { m, hits };
}

function feed(m: SignatureMatcher, text: string, timeMs = T0): string {
  return m.feed({ format: "text", text }, "kernel", "journal", timeMs);
}

function judge(actives: ActiveSignature[], tracker = new OomTracker(), runtimeFindings: Finding[] = []): Finding[] {
  return judgeKernel(actives, { oom: tracker.snapshot(), runtimeFindings });
}

describe("kernel catalogue: recorded lines", () => {
  const cases = recorded();

  it("has recorded lines for every signature and every noise pattern", () => {
    const named = new Set(cases.map((c) => c.expect.replace(/^noise:/, "")));
    for (const s of SIGNATURES) assert.ok(named.has(s.id), `no recorded line for ${s.id}`);
    for (const n of NOISE) assert.ok(named.has(n.id), `no recorded line for noise ${n.id}`);
    for (const kernel of ["4.19", "5.4", "5.10"])
      assert.ok(
        cases.some((c) => c.kernel === kernel),
        `no ${kernel} wording`,
      );
  });

  for (const c of cases) {
    it(`${c.expect} (${c.kernel}): ${c.line.slice(0, 70)}`, () => {
      const { m, hits } = matcher();
      const result = feed(m, c.line);
      if (c.expect === "silent") {
        assert.equal(result, "unmatched", `${c.line} should match nothing, matched ${hits.join(",")}`);
      } else if (c.expect.startsWith("noise:")) {
        assert.equal(result, "noise", `${c.line} is noise`);
        assert.deepEqual(m.active(T0), []);
      } else {
        assert.equal(result, "matched");
        assert.deepEqual(hits, [c.expect], `${c.line} was taken by ${hits.join(",")}`);
      }
    });
  }
});

describe("kernel catalogue: data", () => {
  it("every problem signature has a reason, a remedy, a window and needles that its own lines contain", () => {
    const cases = recorded();
    for (const s of SIGNATURES) {
      assert.ok(s.needles.length > 0 && s.needles.every((n) => n === n.toLowerCase() && !/["\\]/.test(n)), `${s.id}: lowercase needles`);
      if (s.kind !== "problem") continue;
      assert.ok(s.remedy.length > 20 && s.windowMs >= 60_000 && s.minCount >= 1, s.id);
      for (const c of cases.filter((x) => x.expect === s.id)) {
        assert.ok(
          s.needles.some((n) => c.line.toLowerCase().includes(n)),
          `${s.id}: no needle in ${c.line}`,
        );
      }
    }
  });

  it("classifies NVIDIA's Xids as the catalogue does: 79 reboot, 48/63/95/119 reset, 13/31/43/94 the application's", () => {
    assert.equal(XID_ACTIONS[79], "reboot");
    for (const code of [48, 63, 64, 74, 95, 119]) assert.equal(XID_ACTIONS[code], "reset", `Xid ${code}`);
    for (const code of [13, 31, 43, 45, 94]) assert.equal(XID_ACTIONS[code], "application", `Xid ${code}`);
  });
});

describe("cgroup paths: pod and container", () => {
  const cases: Array<[string, string | undefined, string | undefined, boolean]> = [
    [
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3b8e6c2a_1f4d_4e0a_9b7c_2d5e8f1a6c3b.slice/cri-containerd-8f0c6bd5d1a2f6b1f4b0f4f7f1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4.scope",
      "3b8e6c2a-1f4d-4e0a-9b7c-2d5e8f1a6c3b",
      "8f0c6bd5d1a2f6b1f4b0f4f7f1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4",
      true,
    ],
    [
      "/kubepods/besteffort/pod7c1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6/0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
      "7c1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
      "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
      true,
    ],
    [
      "/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555.slice/crio-" + "a".repeat(64) + ".scope",
      "11111111-2222-3333-4444-555555555555",
      "a".repeat(64),
      true,
    ],
    ["/kubepods.slice", undefined, undefined, true],
    ["/system.slice/containerd.service", undefined, undefined, false],
    ["/leaker", undefined, undefined, false],
  ];
  for (const [path, pod, container, kubepods] of cases) {
    it(path.slice(0, 60), () => {
      const owner = cgroupOwner(path);
      assert.equal(owner.podUid, pod);
      assert.equal(owner.containerId, container);
      assert.equal(owner.underKubepods, kubepods);
    });
  }
});

const MEMCG_SUMMARY = recorded().find((c) => c.expect === "oom-summary" && c.line.includes("CONSTRAINT_MEMCG"))?.line as string;
const MEMCG_KILL = "Memory cgroup out of memory: Killed process 48211 (java) total-vm:4512340kB, anon-rss:2096112kB, file-rss:20212kB, shmem-rss:0kB";
const GLOBAL_SUMMARY = recorded().find((c) => c.expect === "oom-summary" && c.line.includes("CONSTRAINT_NONE"))?.line as string;
const globalKill = (pid: number) => `Out of memory: Killed process ${pid} (python3) total-vm:10252388kB, anon-rss:7816320kB, file-rss:0kB, shmem-rss:0kB`;

describe("kernel judge", () => {
  it("a container at its own memory limit: a warning naming the pod UID and container, never critical however often", () => {
    const tracker = new OomTracker();
    const { m } = matcher(tracker);
    for (let i = 0; i < 20; i++) {
      feed(m, MEMCG_SUMMARY, T0 + i * 1000);
      feed(m, MEMCG_KILL, T0 + i * 1000);
    }
    const [finding, ...rest] = judge(m.active(T0 + 30_000), tracker);
    assert.equal(rest.length, 0);
    assert.equal(finding?.reason, "ContainerOOMKilled");
    assert.equal(finding?.severity, "warning");
    assert.equal(finding?.condition, "KernelUnhealthy");
    assert.match(finding?.message ?? "", /killed java \(pid 48211\) in pod 3b8e6c2a-1f4d-4e0a-9b7c-2d5e8f1a6c3b container 8f0c6bd5d1a2f/);
    assert.equal(finding?.evidence?.["containerId"], "8f0c6bd5d1a2f6b1f4b0f4f7f1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4");
    assert.deepEqual(tracker.snapshot().kills, { global: 0, memcg: 20 });
  });

  it("the node out of memory: a warning once, critical at the third kill within 30 min, clear after the window", () => {
    const tracker = new OomTracker();
    const { m } = matcher(tracker);
    feed(m, GLOBAL_SUMMARY, T0);
    feed(m, globalKill(7734), T0);
    let [finding] = judge(m.active(T0 + 1000), tracker);
    assert.equal(finding?.reason, "NodeOutOfMemory");
    assert.equal(finding?.severity, "warning");
    assert.match(finding?.message ?? "", /killed python3 \(pid 7734\) of pod 7c1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6/);
    feed(m, globalKill(7801), T0 + 60_000);
    feed(m, globalKill(7902), T0 + 120_000);
    [finding] = judge(m.active(T0 + 121_000), tracker);
    assert.equal(finding?.severity, "critical");
    assert.match(finding?.remedy ?? "", /systemReserved/);
    assert.deepEqual(tracker.snapshot().kills, { global: 3, memcg: 0 });
    assert.deepEqual(m.active(T0 + 120_000 + 30 * 60_000 + 1), [], "clears 30 min after the last kill");
  });

  it("4.19's two-line kill counts once", () => {
    const tracker = new OomTracker();
    const { m } = matcher(tracker);
    feed(m, "Memory cgroup out of memory: Kill process 31502 (stress) score 1968 or sacrifice child");
    feed(m, "Killed process 31502 (stress) total-vm:268380kB, anon-rss:262144kB, file-rss:264kB, shmem-rss:0kB");
    assert.deepEqual(tracker.snapshot().kills, { global: 0, memcg: 1 });
    assert.equal(m.active(T0)[0]?.count, 1);
  });

  it("a fork refused in a pod's cgroup is a warning naming the pod; in kubepods itself it is critical", () => {
    const { m: pod } = matcher();
    feed(pod, "cgroup: fork rejected by pids controller in /kubepods/burstable/pod1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718/" + "6f".repeat(32));
    const [podFinding] = judge(pod.active(T0));
    assert.equal(podFinding?.severity, "warning");
    assert.match(podFinding?.message ?? "", /\(pod 1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718\)/);
    const { m: node } = matcher();
    feed(node, "cgroup: fork rejected by pids controller in /kubepods.slice");
    const [nodeFinding] = judge(node.active(T0));
    assert.equal(nodeFinding?.severity, "critical");
    assert.equal(nodeFinding?.reason, "ForkRejectedByPidsLimit");
  });

  it("unregister_netdevice: one report is nothing, repeats warn, a storm is critical and names the runtime's trouble", () => {
    const { m } = matcher();
    const line = "unregister_netdevice: waiting for eth0 to become free. Usage count = 1";
    feed(m, line, T0);
    assert.deepEqual(judge(m.active(T0)), []);
    feed(m, line, T0 + 10_000);
    assert.equal(judge(m.active(T0 + 10_000))[0]?.severity, "warning");
    for (let i = 2; i < 6; i++) feed(m, line, T0 + i * 10_000);
    const runtime: Finding = {
      check: "runtime",
      condition: "ContainerRuntimeUnhealthy",
      severity: "critical",
      reason: "RuntimeNotResponding",
      message: "containerd does not answer",
    };
    const [finding] = judge(m.active(T0 + 60_000), new OomTracker(), [runtime]);
    assert.equal(finding?.severity, "critical");
    assert.match(finding?.message ?? "", /cannot free network device eth0.*runtime check finds the container runtime unhealthy too \(RuntimeNotResponding\)/);
  });

  it("an ext4 error feeds FilesystemErrors with the device; an Xid 79 feeds HardwareErrors with reboot", () => {
    const { m } = matcher();
    feed(m, "EXT4-fs error (device loop3): trigger_test_error:1234: comm bash: node-doctor test");
    feed(m, "NVRM: Xid (PCI:0000:3b:00): 79, pid=2201, name=python3, GPU has fallen off the bus.");
    const findings = judge(m.active(T0));
    const ext4 = findings.find((f) => f.reason === "Ext4Error");
    assert.equal(ext4?.condition, "FilesystemErrors");
    assert.match(ext4?.remedy ?? "", /fsck\.ext4 -f \/dev\/loop3/);
    const gpu = findings.find((f) => f.reason === "GpuFallenOffBus");
    assert.equal(gpu?.condition, "HardwareErrors");
    assert.equal(gpu?.severity, "critical");
    assert.match(gpu?.message ?? "", /GPU 0000:3b:00 has fallen off the bus/);
  });
});

describe("filesystem reports for the disk check", () => {
  it("keeps the latest report per device, a write-stopping one over a later plain error, and forgets it after the window", () => {
    const tracker = new FilesystemTracker();
    const lines = [
      "EXT4-fs error (device sdb1): ext4_lookup:1855: inode #1311: comm kubelet: deleted inode referenced: 1313",
      "Aborting journal on device sdb1-8.",
      "EXT4-fs error (device sdb1): ext4_journal_check_start:83: comm containerd: Detected aborted journal",
      "XFS (dm-3): Log I/O Error Detected.  Shutting down filesystem",
    ];
    const hook = new SignatureMatcher(SIGNATURES, NOISE, ["journal"], { onMatch: (s, g, t, text) => tracker.onMatch(s, g, t, text) });
    lines.forEach((line, i) => hook.feed({ format: "text", text: line }, "kernel", "journal", T0 + i * 1000));
    const current = tracker.current(T0 + 10_000);
    assert.deepEqual(Object.keys(current).sort(), ["dm-3", "sdb1"]);
    assert.equal(current["sdb1"]?.reason, "Ext4JournalAborted");
    assert.equal(current["sdb1"]?.refusesWrites, true);
    assert.equal(current["dm-3"]?.reason, "XfsShutdown");
    assert.deepEqual(Object.keys(tracker.current(T0 + 61 * 60_000)), []);
  });

  it("a mount that says rw but whose superblock says emergency_ro or shutdown refuses writes", () => {
    const mount = (mountOptions: string, superOptions: string): MountEntry => ({
      mountId: 1,
      device: "7:0",
      mountPoint: "/var/lib/kubelet",
      mountOptions: mountOptions.split(","),
      fsType: "ext4",
      source: "/dev/loop0",
      superOptions: superOptions.split(","),
    });
    assert.equal(readOnlyBecause(mount("rw,relatime", "rw,errors=remount-ro")), undefined);
    assert.equal(readOnlyBecause(mount("rw,relatime", "rw,errors=remount-ro,emergency_ro")), "emergency_ro");
    assert.equal(readOnlyBecause(mount("rw,relatime", "rw,shutdown")), "shutdown");
    assert.equal(readOnlyBecause(mount("ro,relatime", "ro,errors=remount-ro")), "ro");
  });
});

/**
 * The exhaustion check's judge over tables: a healthy node's facts, then one
 * exhaustion per row, with the reason, severity and the remedy's key facts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExhaustionFacts } from "../../src/checks/exhaustion/gather.js";
import { exhaustionSettings } from "../../src/checks/exhaustion/index.js";
import { isExhaustionEvidence, judgeExhaustion, type JudgeInput } from "../../src/checks/exhaustion/judge.js";
import type { Finding } from "../../src/types.js";

const SETTINGS = exhaustionSettings.parse({}, "checks.exhaustion");
const POD = "8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f";
const POD_CGROUP = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll("-", "_")}.slice`;

function healthy(): ExhaustionFacts {
  return {
    threads: { threads: 412, pidMax: 4194304, threadsMax: 63437 },
    kubelet: {
      podPidsLimitSource: "kubelet's default (no limit)",
      evictionSource: "kubelet's defaults (no pid.available threshold)",
      softSource: "kubelet's defaults (no pid.available threshold)",
      problems: [],
    },
    pids: {
      version: "v2",
      mount: "/sys/fs/cgroup",
      parents: [{ cgroup: "/kubepods.slice", current: 180, max: "max", refused: 0 }],
      pods: [{ cgroup: POD_CGROUP, podUid: POD, current: 12, max: 4096, refused: 0 }],
    },
    fileHandles: { allocated: 3104, unused: 0, max: 9223372036854775807, fileMax: 9223372036854775807 },
    inotify: { maxUserInstances: 128, maxUserWatches: 65536 },
    conntrack: {
      namespace: { host: true, via: "ns-link" },
      count: 1803,
      max: 131072,
      stats: { columns: [], totals: { drop: 0, early_drop: 0, insert_failed: 2 }, cpus: 4 },
    },
    pressure: {
      memory: { some: { avg10: 0, avg60: 0.4, avg300: 0.2, totalUs: 1 }, full: { avg10: 0, avg60: 0.1, avg300: 0.05, totalUs: 1 } },
      io: { some: { avg10: 1, avg60: 2, avg300: 1, totalUs: 9 }, full: { avg10: 0.5, avg60: 1.1, avg300: 0.8, totalUs: 5 } },
      cpu: { some: { avg10: 30, avg60: 40, avg300: 35, totalUs: 99 } },
    },
  };
}

function judge(change: (f: ExhaustionFacts) => void, extra: Omit<JudgeInput, "facts"> = {}): Finding[] {
  const facts = healthy();
  change(facts);
  return judgeExhaustion({ facts, ...extra }, SETTINGS);
}

function only(findings: Finding[], reason: string): Finding {
  const found = findings.filter((f) => f.reason === reason);
  assert.equal(found.length, 1, `one ${reason} in ${JSON.stringify(findings.map((f) => f.reason))}`);
  return found[0] as Finding;
}

describe("exhaustion judge", () => {
  it("healthy: one ok finding with the figures, CPU pressure (40%) judged as a metric only", () => {
    const findings = judge(() => {});
    assert.deepEqual(
      findings.map((f) => [f.reason, f.severity, f.condition]),
      [["ResourcesSufficient", "ok", "NodeResourceExhausted"]],
    );
    assert.match(findings[0]?.message ?? "", /412 tasks of 63437 \(kernel\.threads-max\), 1803 conntrack entries of 131072/);
    assert.ok(isExhaustionEvidence(findings[0]?.evidence));
  });

  const rows: Array<{
    name: string;
    change: (f: ExhaustionFacts) => void;
    extra?: Omit<JudgeInput, "facts">;
    reason: string;
    severity: string;
    message: RegExp[];
    remedy: RegExp[];
  }> = [
    {
      name: "threads at 95% of threads-max, far below pid_max: critical, kubelet blind, the largest pod named",
      change: (f) => {
        f.threads.threads = 60300;
        f.topConsumers = [
          { cgroup: "/kubepods.slice", current: 59000, max: "max" },
          { cgroup: POD_CGROUP, podUid: POD, current: 58100, max: "max" },
        ];
      },
      reason: "ThreadsExhausted",
      severity: "critical",
      message: [
        /60300 tasks/,
        /95\.1% of the 63437 .*kernel\.threads-max; kernel\.pid_max is 4194304/,
        /PIDPressure compares tasks with kernel\.pid_max only/,
        new RegExp(`pod ${POD} \\(58100\\)`),
      ],
      remedy: [new RegExp(`crictl pods --label io\\.kubernetes\\.pod\\.uid=${POD}`), /set `podPidsLimit`/, /sysctl -w kernel\.threads-max=126874/],
    },
    {
      name: "threads at 80% of pid_max (the smaller): warning, no blind-kubelet sentence",
      change: (f) => Object.assign(f.threads, { threads: 26300, pidMax: 32768, threadsMax: 192729 }),
      reason: "ThreadsExhausted",
      severity: "warning",
      message: [/80\.3% of the 32768 the kernel allows \(kernel\.pid_max; kernel\.threads-max is 192729\)/],
      remedy: [/sysctl -w kernel\.pid_max=65536/],
    },
    {
      name: "pid.available<10% crossed against threads-max while kubelet, counting against pid_max, sees 4 million left: critical",
      change: (f) => {
        f.threads = { threads: 58000, pidMax: 4194304, threadsMax: 63437 };
        f.kubelet = { ...f.kubelet, hard: { kind: "absolute", value: 10000 }, evictionSource: "evictionHard in /var/lib/kubelet/config.yaml" };
      },
      reason: "PidAvailableBelowEviction",
      severity: "critical",
      message: [
        /Only 5437 tasks are left .* kernel\.threads-max \(63437\)/,
        /pid\.available<10000 \(evictionHard in \/var\/lib\/kubelet\/config\.yaml\)/,
        /reports no PIDPressure/,
      ],
      remedy: [/sysctl -w kernel\.pid_max=63437/],
    },
    {
      name: "pid.available soft threshold crossed where kubelet sees it too: warning, kubelet evicts after its grace period",
      change: (f) => {
        f.threads = { threads: 30000, pidMax: 32768, threadsMax: 192729 };
        f.kubelet = { ...f.kubelet, soft: { kind: "percent", value: 10 }, softSource: "kubelet's --eviction-soft flag" };
      },
      reason: "PidAvailableBelowEviction",
      severity: "warning",
      message: [
        /Only 2768 tasks are left before kernel\.pid_max \(32768\)/,
        /soft eviction threshold pid\.available<10% \(kubelet's --eviction-soft flag, 3277 of the 32768 the kernel allows\)/,
        /grace period/,
      ],
      remedy: [/kubelet sets no podPidsLimit/],
    },
    {
      name: "a pod at its pids.max with forks refused since the last look: warning naming the pod",
      change: (f) => {
        const pod = f.pids?.pods[0];
        if (pod) Object.assign(pod, { current: 4096, refused: 51 });
      },
      extra: { refusedSinceLastLook: { [POD_CGROUP]: 14 } },
      reason: "PodPidsLimitReached",
      severity: "warning",
      message: [new RegExp(`Pod ${POD}`), /holds 4096 of its 4096 tasks \(pids\.max; the kernel refused 14 forks there since the last look\)/],
      remedy: [new RegExp(`crictl pods --label io\\.kubernetes\\.pod\\.uid=${POD}`)],
    },
    {
      name: "conntrack at 92% of nf_conntrack_max: critical, the limit's double in the remedy",
      change: (f) => Object.assign(f.conntrack, { count: 120600 }),
      reason: "ConntrackTableFull",
      severity: "critical",
      message: [/120600 of 131072 entries \(92\.0%, net\.netfilter\.nf_conntrack_max\)/, /table full, dropping packet/],
      remedy: [/sysctl -w net\.netfilter\.nf_conntrack_max=262144/, /conntrack -S/],
    },
    {
      name: "conntrack drops since the last look: critical, whatever the fill now",
      change: () => {},
      extra: { conntrackRates: { perMinute: { drop: 64, early_drop: 0, insert_failed: 0 }, overSeconds: 30 } },
      reason: "ConntrackDropping",
      severity: "critical",
      message: [/dropped 64\/min packets over the last 30 s/, /1803 of 131072 entries now/],
      remedy: [/nf_conntrack_max=262144/],
    },
    {
      name: "early drops only: warning",
      change: () => {},
      extra: { conntrackRates: { perMinute: { drop: 0, early_drop: 3, insert_failed: 0 }, overSeconds: 60 } },
      reason: "ConntrackDropping",
      severity: "warning",
      message: [/evicted 3\.0\/min unreplied conntrack entries/],
      remedy: [/nf_conntrack_max/],
    },
    {
      name: "insert_failed at 6/min: warning naming the 5 s DNS timeouts",
      change: () => {},
      extra: { conntrackRates: { perMinute: { drop: 0, early_drop: 0, insert_failed: 6 }, overSeconds: 30 } },
      reason: "ConntrackInsertFailed",
      severity: "warning",
      message: [/6\.0\/min/, /5 s DNS timeouts/],
      remedy: [/NodeLocal DNSCache/, /single-request-reopen/],
    },
    {
      name: "another network namespace: conntrack unknown, never ok",
      change: (f) => {
        f.conntrack = { namespace: { host: false, detail: "the agent's network namespace net:[4026532301] is not the host's net:[4026531833] (pid 1)" } };
      },
      reason: "NotHostNetworkNamespace",
      severity: "unknown",
      message: [/net:\[4026532301\] is not the host's/],
      remedy: [/hostNetwork: true/],
    },
    {
      name: "file handles at 85% of file-max: warning",
      change: (f) => Object.assign(f.fileHandles, { allocated: 850000, fileMax: 1000000, max: 1000000 }),
      reason: "FileHandlesExhausted",
      severity: "warning",
      message: [/850000 file handles .* 85\.0% of fs\.file-max \(1000000\)/, /ENFILE/],
      remedy: [/sysctl -w fs\.file-max=2000000/],
    },
    {
      name: "memory full avg300 at 25%: critical",
      change: (f) => {
        const memory = f.pressure.memory;
        if (memory) memory.full = { avg10: 40, avg60: 31, avg300: 25, totalUs: 1 };
      },
      reason: "MemoryPressureStall",
      severity: "critical",
      message: [/31\.0% of the last minute and 25\.0% of the last 5 minutes/, /\/proc\/pressure\/memory "full"/],
      remedy: [/kubectl top pods -A --sort-by=memory/],
    },
    {
      name: "io full avg60 at 12% only: warning",
      change: (f) => {
        const io = f.pressure.io;
        if (io) io.full = { avg10: 20, avg60: 12, avg300: 4, totalUs: 1 };
      },
      reason: "IoPressureStall",
      severity: "warning",
      message: [/12\.0% of the last minute/],
      remedy: [/iostat -x 5/],
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const findings = judge(row.change, row.extra);
      const f = only(findings, row.reason);
      assert.equal(f.severity, row.severity);
      assert.equal(f.condition, "NodeResourceExhausted");
      for (const m of row.message) assert.match(f.message, m);
      for (const r of row.remedy) assert.match(f.remedy ?? "", r);
      assert.ok(!findings.some((x) => x.severity === "ok"), "no ok finding beside a problem");
      assert.ok(isExhaustionEvidence(findings[0]?.evidence), "the first finding carries the figures");
    });
  }

  it("no PSI in the kernel and nf_conntrack not loaded: ok, saying so", () => {
    const [f] = judge((facts) => {
      facts.pressure = {};
      facts.conntrack = { namespace: { host: true, via: "proc-net-inode" } };
    });
    assert.equal(f?.reason, "ResourcesSufficient");
    assert.match(f?.message ?? "", /nf_conntrack not loaded/);
    assert.match(f?.message ?? "", /no PSI in this kernel/);
  });

  it("a pod without a limit (pids.max max) is never at its limit", () => {
    const findings = judge((facts) => {
      const pod = facts.pids?.pods[0];
      if (pod) Object.assign(pod, { current: 9000, max: "max" });
    });
    assert.deepEqual(
      findings.map((f) => f.reason),
      ["ResourcesSufficient"],
    );
  });
});

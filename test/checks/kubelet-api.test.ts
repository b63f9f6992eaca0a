/**
 * Registration, heartbeat and stale-condition stories through the real API
 * client against the fake API server (HTTPS, token auth, real 404s, resets
 * and hangs), on fixture nodes. The remedy's `kubectl patch` is run for real
 * against the same server.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { NodeCondition } from "kubernetes-types/core/v1.js";
import type { ClusterReader } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeReaderFor } from "../support/kube.js";
import { find, kubeletHarness, kubeletTestSettings, NOW, startHealthz, summary, type Healthz, type KubeletHarness } from "../support/kubelet-harness.js";
import { runCli, startAgentProcess } from "../support/cli.js";
import { fixtureRoot } from "../support/fixture-root.js";
import { execTool, requireTool } from "../support/tools.js";

let api: FakeApiServer;
let healthz: Healthz;
const closers: Array<() => void | Promise<void>> = [];

before(async () => {
  // The API server's "now" is the fixtures' now, as the FakeClock sees it.
  api = await FakeApiServer.start({ now: () => NOW });
  healthz = await startHealthz();
});
after(async () => {
  await healthz.close();
  await api.close();
});
afterEach(async () => {
  healthz.mode = "ok";
  api.setDown(false);
  api.clearFaults();
  for (const close of closers.splice(0).reverse()) await close();
});

async function harness(fixture: string, overrides: Record<string, unknown> = {}): Promise<KubeletHarness> {
  const h = await kubeletHarness(fixture, kubeletTestSettings(healthz.url, overrides));
  closers.push(() => h.close());
  return h;
}

async function reader(nodeName: string, options: { timeoutMs?: number } = {}): Promise<ClusterReader> {
  const r = await kubeReaderFor(api, nodeName, options);
  closers.push(r.close);
  return r.reader;
}

const kubeletConditions = (at: string): NodeCondition[] =>
  (
    [
      ["MemoryPressure", "False", "KubeletHasSufficientMemory"],
      ["DiskPressure", "False", "KubeletHasNoDiskPressure"],
      ["PIDPressure", "False", "KubeletHasSufficientPID"],
      ["Ready", "True", "KubeletReady"],
    ] as const
  ).map(([type, status, reason]) => ({ type, status, reason, message: reason, lastHeartbeatTime: at, lastTransitionTime: "2026-11-01T00:00:00Z" }));

describe("kubelet check through the API client: a healthy node", () => {
  it("registered, Lease renewed 8 s ago → nothing above ok; only GETs, two per read", async () => {
    api.seedNode("node-a", { at: new Date(NOW - 60_000) });
    api.seedLease("node-a", { renewTime: new Date(NOW - 8_000) });
    const h = await harness("kubelet-healthy");
    const before = api.requests.length;
    const findings = await h.run({ cluster: await reader("node-a") });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
    const asked = api.requests.slice(before);
    assert.deepEqual(asked.map((r) => `${r.verb} ${r.resource} ${r.status}`).sort(), ["get leases 200", "get nodes 200"]);
  });
});

describe("kubelet check through the API client: the unregistered node (docs/incidents.md)", () => {
  it("kubelet 1.7 runs, GET nodes/node30 is 404 → critical NodeNotRegistered", async () => {
    api.deleteNode("node30");
    const h = await harness("kubelet-never-registers");
    const findings = await h.run({ cluster: await reader("node30") });
    assert.deepEqual(summary(findings), [["NodeNotRegistered", "critical"]]);
    assert.match(find(findings, "NodeNotRegistered").message, /no Node named "node30"/);
    assert.match(find(findings, "NodeNotRegistered").remedy ?? "", /--require-kubeconfig/);
    assert.ok(api.requestsTo({ verb: "get", resource: "nodes", name: "node30" }).some((r) => r.status === 404));
  });
});

describe("kubelet check through the API client: the Lease", () => {
  it("renewed 10 min ago (40 s duration) → critical KubeletLeaseStale with the age", async () => {
    api.seedNode("node-a", { at: new Date(NOW - 60_000) });
    api.seedLease("node-a", { renewTime: new Date(NOW - 600_000) });
    const h = await harness("kubelet-healthy");
    const findings = await h.run({ cluster: await reader("node-a") });
    assert.deepEqual(summary(findings), [["KubeletLeaseStale", "critical"]]);
    assert.match(find(findings, "KubeletLeaseStale").message, /kube-node-lease\/node-a 10 min ago .*lease duration 40 s/);
  });

  it("a longer lease duration moves the threshold: 150 s old with 60 s duration is fine", async () => {
    api.seedNode("node-a", { at: new Date(NOW - 60_000) });
    api.seedLease("node-a", { renewTime: new Date(NOW - 150_000), durationSeconds: 60 });
    const h = await harness("kubelet-healthy");
    assert.deepEqual(summary(await h.run({ cluster: await reader("node-a") })), [["KubeletRunning", "ok"]]);
  });
});

describe("kubelet check through the API client: what it reads", () => {
  it("takes the node IP from the Node's InternalIP when kubelet has no --node-ip", async () => {
    api.seedNode("node30"); // InternalIP 10.0.0.10; the fixture node has 10.0.0.30
    api.seedLease("node30", { renewTime: new Date(NOW - 8_000) });
    const h = await harness("kubelet-never-registers");
    const findings = await h.run({ cluster: await reader("node30") });
    assert.deepEqual(summary(findings), [["NodeIPNotPresent", "critical"]]);
    assert.match(
      find(findings, "NodeIPNotPresent").message,
      /10\.0\.0\.10 \(InternalIP of Node node30\) is on none of the node's interfaces \(addresses present: 10\.0\.0\.30\)/,
    );
  });

  it("a registered Node without a Lease is a warning", async () => {
    api.seedNode("node-nolease");
    const h = await harness("kubelet-healthy");
    const findings = await h.run({ cluster: await reader("node-nolease") });
    assert.deepEqual(summary(findings), [["KubeletLeaseStale", "warning"]]);
    assert.match(find(findings, "KubeletLeaseStale").message, /has no Lease kube-node-lease\/node-nolease/);
  });

  it("judges the Lease's age with the clock check's trusted time, not the node's wrong clock", async () => {
    api.seedNode("node-a");
    api.seedLease("node-a", { renewTime: new Date(NOW - 8_000) });
    const h = await harness("kubelet-healthy");
    const cluster = await reader("node-a");
    // The clock check found the node's clock an hour slow: the Lease is really an hour old.
    const facts = { clockOffset: { source: "apiserver" as const, offsetMs: 3_600_000, uncertaintyMs: 50, measuredAtMonotonicMs: 0 } };
    const findings = await h.check.run(checkContext(h.fixture.root, { clock: h.clock, cluster, facts }));
    assert.equal(find(findings, "KubeletLeaseStale").severity, "critical");
  });

  it("judges the Lease's age when it was read: five minutes between reads is no stale Lease", async () => {
    api.seedNode("node-a");
    api.seedLease("node-a", { renewTime: new Date(NOW - 8_000) });
    const h = await harness("kubelet-healthy", { clusterIntervalSeconds: 300 });
    const cluster = await reader("node-a");
    for (let i = 0; i < 25; i++) {
      const findings = await h.run({ cluster, advanceMs: i === 0 ? 0 : 10_000 });
      assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]], `run ${i}, ${i * 10} s after the read`);
    }
  });

  it("asks at most once per clusterIntervalSeconds, failures included, and recovers", async () => {
    api.seedNode("node-a");
    api.seedLease("node-a", { renewTime: new Date(NOW - 8_000) });
    const h = await harness("kubelet-healthy");
    const cluster = await reader("node-a", { timeoutMs: 1_000 });
    api.fault({ verb: "get", resource: "nodes", name: "node-a" }, { status: 503, retryAfterSeconds: 1 });
    const nodeGets = () => api.requestsTo({ verb: "get", resource: "nodes", name: "node-a" }).length;
    const before = nodeGets();
    let findings = await h.run({ cluster });
    assert.deepEqual(summary(findings), [["KubeletRegistrationUnknown", "unknown"]]);
    assert.match(find(findings, "KubeletRegistrationUnknown").message, /503/);
    const afterFirst = nodeGets();
    await h.run({ cluster, advanceMs: 10_000 });
    await h.run({ cluster, advanceMs: 10_000 });
    assert.equal(nodeGets(), afterFirst, "no new request within the minute");
    api.clearFaults();
    api.seedLease("node-a", { renewTime: new Date(NOW + 55_000) }); // kubelet kept renewing meanwhile
    findings = await h.run({ cluster, advanceMs: 41_000 });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
    assert.ok(nodeGets() > afterFirst && afterFirst > before);
  });
});

describe("kubelet check through the API client: the stale condition, OutOfDisk stuck at Unknown", () => {
  it("warns with the condition, its age and a kubectl command that removes exactly it", async () => {
    const conditions = [
      ...kubeletConditions("2026-11-24T11:58:00Z"),
      {
        type: "OutOfDisk",
        status: "Unknown",
        reason: "NodeStatusNeverUpdated",
        message: "Kubelet never posted node status.",
        lastHeartbeatTime: "2026-06-02T08:00:00Z",
        lastTransitionTime: "2026-06-02T08:01:00Z",
      },
      {
        type: "KernelDeadlock",
        status: "False",
        reason: "KernelHasNoDeadlock",
        message: "kernel has no deadlock",
        lastHeartbeatTime: "2026-11-24T11:59:00Z",
        lastTransitionTime: "2026-11-01T00:00:00Z",
      },
    ];
    api.seedNode("node-b", { conditions });
    api.seedLease("node-b", { renewTime: new Date(NOW - 5_000) });
    const h = await harness("kubelet-outofdisk-after-upgrade");
    const findings = await h.run({ cluster: await reader("node-b") });
    assert.deepEqual(summary(findings), [["StaleNodeCondition", "warning"]]);
    const finding = find(findings, "StaleNodeCondition");
    assert.match(finding.message, /OutOfDisk=Unknown has last heartbeat 175 days ago/);
    assert.equal(api.requests.filter((r) => r.verb !== "get").length, 0, "the check never writes");

    // The remedy, run as the operator would, against the same API server.
    const command = finding.remedy?.match(/`(kubectl patch [^`]+)`/)?.[1];
    assert.ok(command, "the remedy gives a kubectl command");
    const dir = await mkdtemp(join(tmpdir(), "nd-kubectl-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = await api.writeKubeconfig(dir);
    requireTool("kubectl"); // the remedy is a kubectl command: a missing kubectl is a clear failure, not "sh: not found"
    const result = await execTool("sh", ["-c", `${command} --kubeconfig=${kubeconfig}`]);
    assert.equal(result.code, 0, result.stderr);
    const types = (api.node("node-b")?.status?.conditions ?? []).map((c) => c.type);
    assert.deepEqual(types, ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready", "KernelDeadlock"]);
    // Run again after the list moved: the test operation refuses, nothing else is removed.
    const again = await execTool("sh", ["-c", `${command} --kubeconfig=${kubeconfig}`]);
    assert.notEqual(again.code, 0);
    assert.equal(api.node("node-b")?.status?.conditions?.length, 5);

    const next = await h.run({ cluster: await reader("node-b"), advanceMs: 61_000 });
    assert.deepEqual(summary(next), [["KubeletRunning", "ok"]]);
  });
});

describe("kubelet check through the API client: the API server in trouble", () => {
  it("down → unknown KubeletRegistrationUnknown beside the local verdict, never ok", async () => {
    api.seedNode("node-a");
    api.seedLease("node-a", { renewTime: new Date(NOW - 8_000) });
    api.setDown(true);
    healthz.mode = "500";
    const h = await harness("kubelet-healthy");
    const findings = await h.run({ cluster: await reader("node-a", { timeoutMs: 1_000 }) });
    assert.deepEqual(summary(findings), [
      ["KubeletHealthzFailing", "critical"],
      ["KubeletRegistrationUnknown", "unknown"],
    ]);
  });

  it("403 on the Lease (RBAC) → unknown naming the problem", async () => {
    api.seedNode("node-a");
    api.fault({ verb: "get", resource: "leases" }, { status: 403 });
    const h = await harness("kubelet-healthy");
    const findings = await h.run({ cluster: await reader("node-a") });
    assert.deepEqual(summary(findings), [["KubeletRegistrationUnknown", "unknown"]]);
    assert.match(find(findings, "KubeletRegistrationUnknown").message, /403|forbidden/i);
  });

  it("hanging → the run still ends within about 2 s", async () => {
    api.seedNode("node-a");
    api.fault({ verb: "get", resource: "nodes" }, { hang: true });
    // The run waits about 2 s for the API server, then judges: well before the cluster timeout (10 s) or the reader's (20 s).
    // The bound leaves room for a loaded machine; a run that waited for either timeout would take 10 s or more.
    const h = await harness("kubelet-healthy", { clusterTimeoutSeconds: 10 });
    const started = performance.now();
    const findings = await h.run({ cluster: await reader("node-a", { timeoutMs: 20_000 }), drive: true });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 7000, `run took ${Math.round(elapsed)} ms`);
    assert.deepEqual(summary(findings), [["KubeletRegistrationUnknown", "unknown"]]);
  });
});

describe("the bundled agent against the fake API server", () => {
  async function configFile(extra = ""): Promise<{ dir: string; config: string; kubeconfig: string }> {
    const dir = await mkdtemp(join(tmpdir(), "nd-kubelet-agent-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, "node-doctor.yaml");
    await writeFile(config, `checks:\n  kubelet:\n    healthzUrl: ${healthz.url}\n${extra}`);
    return { dir, config, kubeconfig: await api.writeKubeconfig(dir) };
  }

  it("the unregistered node from the command line: `node-doctor check` names the unregistered node and exits 2", async () => {
    api.deleteNode("node30");
    const fixture = await fixtureRoot("kubelet-never-registers");
    closers.push(() => fixture.cleanup());
    const { config, kubeconfig } = await configFile();
    const result = await runCli([
      "check",
      "--only",
      "kubelet",
      "--host-root",
      fixture.root,
      "--config",
      config,
      "--kubeconfig",
      kubeconfig,
      "--node-name",
      "node30",
      "--output",
      "json",
    ]);
    assert.equal(result.code, 2, result.stderr);
    const { findings } = JSON.parse(result.stdout) as { findings: Array<{ reason: string; severity: string }> };
    assert.deepEqual(
      findings.map((f) => [f.reason, f.severity]),
      [["NodeNotRegistered", "critical"]],
    );
  });

  it("kubelet dies → KubeletUnhealthy=True on the API server within 30 s", async (t) => {
    // A second API server on real time: the agent runs on the real clock.
    const live = await FakeApiServer.start();
    closers.push(() => live.close());
    live.seedNode("node-a");
    live.seedLease("node-a");
    const fixture = await fixtureRoot("kubelet-healthy");
    closers.push(() => fixture.cleanup());
    const dir = await mkdtemp(join(tmpdir(), "nd-kubelet-agent-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, "node-doctor.yaml");
    // kubelet's healthz for this test goes away with kubelet; the Lease stays fresh enough for 30 s.
    const own = await startHealthz();
    closers.push(() => own.close());
    await writeFile(config, `checks:\n  kubelet:\n    healthzUrl: ${own.url}\n`);
    const kubeconfig = await live.writeKubeconfig(dir);
    const agent = await startAgentProcess([
      "--host-root",
      fixture.root,
      "--listen",
      "127.0.0.1:0",
      "--node-name",
      "node-a",
      "--kubeconfig",
      kubeconfig,
      "--config",
      config,
    ]);
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          if (agent.child.exitCode !== null) return resolve();
          agent.child.once("exit", () => resolve());
          agent.child.kill("SIGTERM");
        }),
    );
    const condition = () => live.node("node-a")?.status?.conditions?.find((c) => c.type === "KubeletUnhealthy");
    const waitFor = async (want: string, limitMs: number): Promise<number> => {
      const started = performance.now();
      while (performance.now() - started < limitMs) {
        if (condition()?.status === want) return performance.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.fail(`KubeletUnhealthy did not become ${want} within ${limitMs} ms: ${JSON.stringify(condition())}\n${agent.output()}`);
    };
    await waitFor("False", 30_000);
    await rm(join(fixture.root, "proc/4242"), { recursive: true });
    await own.close();
    const tookMs = await waitFor("True", 30_000);
    t.diagnostic(`KubeletUnhealthy=True on the API server ${(tookMs / 1000).toFixed(1)} s after kubelet died`);
    assert.equal(condition()?.reason, "KubeletNotRunning");
    assert.match(condition()?.message ?? "", /kubelet is not running/);
  });
});

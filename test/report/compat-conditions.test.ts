/**
 * The repairers act on what node-doctor writes (docs/remediation.md,
 * Compatibility conditions): with `compat.conditions: eks` the runtime that
 * stops answering shows as ContainerRuntimeReady=False, and Karpenter's repair
 * rule (test/support/repairers.ts) replaces the node once the toleration has
 * passed since lastTransitionTime — a time that holds while the problem goes
 * on under another reason. Without compat it never does; on a Node where the
 * EKS node monitoring agent writes those types node-doctor writes none.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, afterEach, before, describe, it } from "node:test";
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { EKS_FEEDERS } from "../../src/sinks/compat.js";
import { EKS_CONDITION_TYPES } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck, type Harness } from "../support/conditions-harness.js";
import { karpenterDecides } from "../support/repairers.js";

const MIN = 60_000;

function condition(api: FakeApiServer, node: string, type: string): NodeCondition | undefined {
  return api.node(node)?.status?.conditions?.find((c) => c.type === type);
}

/** The runtime check as the incident goes: healthy for the first runs, its socket gone from `from`, then up but not ready from `notReadyFrom`. */
function runtimeScript(from: number, notReadyFrom = Number.POSITIVE_INFINITY, healedFrom = Number.POSITIVE_INFINITY) {
  return scriptedCheck("runtime", "ContainerRuntimeUnhealthy", (run) => {
    if (run < from || run >= healedFrom) return [finding("ContainerRuntimeUnhealthy", "ok", "RuntimeHealthy", "containerd answers")];
    if (run < notReadyFrom) return [finding("ContainerRuntimeUnhealthy", "critical", "RuntimeSocketMissing", "/run/containerd/containerd.sock does not exist")];
    return [finding("ContainerRuntimeUnhealthy", "critical", "RuntimeNotReady", "containerd reports RuntimeReady=false")];
  });
}

const disk = () => scriptedCheck("disk", "DiskSpaceLow", () => [finding("DiskSpaceLow", "ok", "FilesystemOk", "space is fine")]);

describe("compatibility conditions read by the repairers", () => {
  let api: FakeApiServer;
  const harnesses: Harness[] = [];
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.stop();
  });

  const pool = (...names: string[]): Node[] => names.map((n) => api.node(n) as Node);

  it("Karpenter replaces the node 30 minutes after the runtime went, not before, with lastTransitionTime held across the reason's change", async () => {
    api.seedNode("eks-1");
    // Runs every 10 s: healthy for 30 s, the socket missing for 10 minutes, then not ready.
    const h = await conditionsHarness(api, [runtimeScript(3, 63), disk()], { nodeName: "eks-1", compat: "eks" });
    harnesses.push(h);
    void h.scheduler.start();
    await h.advance(20_000);
    assert.equal(condition(api, "eks-1", "ContainerRuntimeReady")?.status, "True", "healthy: True, the EKS polarity");
    assert.equal(condition(api, "eks-1", "StorageReady")?.status, "True");
    assert.equal(condition(api, "eks-1", "NetworkingReady"), undefined, "no network check: not written");
    assert.equal(condition(api, "eks-1", "KernelReady"), undefined, "no kernel check here: not written");
    assert.equal(condition(api, "eks-1", "AcceleratedHardwareReady"), undefined, "node-doctor does not look at GPUs");

    await h.advance(2 * MIN);
    const down = condition(api, "eks-1", "ContainerRuntimeReady");
    assert.equal(down?.status, "False");
    assert.equal(down?.reason, "RuntimeSocketMissing");
    assert.match(down?.message ?? "", /^node-doctor: ContainerRuntimeUnhealthy: \/run\/containerd\/containerd\.sock does not exist/);
    assert.equal(condition(api, "eks-1", "ContainerRuntimeUnhealthy")?.status, "True", "our own condition beside it");
    const since = down?.lastTransitionTime;
    const at = (n: Node) => karpenterDecides(n, pool("eks-1"), h.clock.now());
    assert.deepEqual(at(api.node("eks-1") as Node), { repair: false, why: "tolerating" });

    await h.advance(13 * MIN);
    const later = condition(api, "eks-1", "ContainerRuntimeReady");
    assert.equal(later?.reason, "RuntimeNotReady", "the reason moved on");
    assert.equal(later?.lastTransitionTime, since, "the time the repairers count from did not");
    assert.deepEqual(at(api.node("eks-1") as Node), { repair: false, why: "tolerating" });

    const due = Date.parse(since ?? "") + 30 * MIN;
    await h.advance(due - h.clock.now() - 5_000);
    assert.deepEqual(at(api.node("eks-1") as Node), { repair: false, why: "tolerating" }, "5 s before the toleration ends");
    await h.advance(10_000);
    assert.deepEqual(at(api.node("eks-1") as Node), { repair: true, condition: "ContainerRuntimeReady" });
  });

  it("a runtime that comes back writes True with a new lastTransitionTime, and Karpenter leaves the node", async () => {
    api.seedNode("eks-2");
    const h = await conditionsHarness(api, [runtimeScript(0, Number.POSITIVE_INFINITY, 60)], { nodeName: "eks-2", compat: "eks" });
    harnesses.push(h);
    void h.scheduler.start();
    await h.advance(2 * MIN);
    const down = condition(api, "eks-2", "ContainerRuntimeReady");
    assert.equal(down?.status, "False");
    await h.advance(10 * MIN);
    const up = condition(api, "eks-2", "ContainerRuntimeReady");
    assert.equal(up?.status, "True");
    assert.equal(up?.reason, "ContainerRuntimeHealthy");
    assert.ok(Date.parse(up?.lastTransitionTime ?? "") > Date.parse(down?.lastTransitionTime ?? ""));
    await h.advance(30 * MIN);
    assert.deepEqual(karpenterDecides(api.node("eks-2") as Node, pool("eks-2"), h.clock.now()), { repair: false, why: "healthy" });
  });

  it("with compat off Karpenter never acts on node-doctor's findings", async () => {
    api.seedNode("plain-1");
    const h = await conditionsHarness(api, [runtimeScript(0), disk()], { nodeName: "plain-1" });
    harnesses.push(h);
    void h.scheduler.start();
    await h.advance(45 * MIN);
    assert.equal(condition(api, "plain-1", "ContainerRuntimeUnhealthy")?.status, "True");
    for (const type of EKS_CONDITION_TYPES) assert.equal(condition(api, "plain-1", type), undefined, `${type} is not written`);
    assert.deepEqual(karpenterDecides(api.node("plain-1") as Node, pool("plain-1"), h.clock.now()), { repair: false, why: "healthy" });
  });

  it("turning compat off removes the types node-doctor added, at the next start", async () => {
    api.seedNode("off-1");
    const on = await conditionsHarness(api, [runtimeScript(0)], { nodeName: "off-1", compat: "eks" });
    void on.scheduler.start();
    await on.advance(2 * MIN);
    await on.stop();
    assert.equal(condition(api, "off-1", "ContainerRuntimeReady")?.status, "False");
    const off = await conditionsHarness(api, [runtimeScript(0)], { nodeName: "off-1" });
    harnesses.push(off);
    void off.scheduler.start();
    await off.advance(2 * MIN);
    assert.equal(condition(api, "off-1", "ContainerRuntimeReady"), undefined);
    assert.equal(condition(api, "off-1", "ContainerRuntimeUnhealthy")?.status, "True");
  });

  it("on a Node where the EKS node monitoring agent writes its types node-doctor writes none of them, and says so once", async () => {
    api.seedNode("nma-1");
    const agentAt = new Date(Date.now() - 60 * MIN).toISOString().replace(/\.\d{3}Z$/, "Z");
    const theirs = EKS_CONDITION_TYPES.map((type) => ({
      type,
      status: "True",
      reason: `${type.replace(/Ready$/, "")}IsReady`,
      message: "Monitoring for the node is active",
      lastHeartbeatTime: agentAt,
      lastTransitionTime: agentAt,
    }));
    // The agent's binary name is its field manager (controller-runtime's default).
    api.patchStatusAs("eks-node-monitoring-agent", "nma-1", { status: { conditions: theirs } });
    const before = JSON.stringify(EKS_CONDITION_TYPES.map((t) => condition(api, "nma-1", t)));
    const h = await conditionsHarness(api, [runtimeScript(0), disk()], { nodeName: "nma-1", compat: "eks" });
    harnesses.push(h);
    void h.scheduler.start();
    await h.advance(25 * MIN); // the transition and two heartbeats

    assert.equal(JSON.stringify(EKS_CONDITION_TYPES.map((t) => condition(api, "nma-1", t))), before, "the agent's conditions are byte-identical");
    assert.equal(condition(api, "nma-1", "ContainerRuntimeUnhealthy")?.status, "True", "node-doctor's own types are written");
    const sent = api
      .requestsTo({ verb: "patch", resource: "nodes/status", name: "nma-1" })
      .filter((r) => r.fieldManager === "node-doctor")
      .flatMap((r) => (r.body as { status: { conditions: Array<{ type: string }> } }).status.conditions.map((c) => c.type));
    assert.ok(sent.length > 0);
    for (const type of EKS_CONDITION_TYPES) assert.ok(!sent.includes(type), `${type} is never sent`);
    const said = h.log.lines.filter((l) => l.level === "warn" && /another agent \(eks-node-monitoring-agent\) writes the EKS condition types/.test(l.message));
    assert.equal(said.length, 1);
    assert.equal(
      h.log.lines.filter((l) => /ContainerRuntimeReady on this Node belongs to another field manager/.test(l.message)).length,
      0,
      "one line, not one per type",
    );
  });

  it("Karpenter's breaker holds the repair while more than 20 % of the pool is unhealthy", async () => {
    const old = new Date(Date.now() - 3 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const names = Array.from({ length: 10 }, (_, i) => `pool-${i}`);
    for (const name of names) api.seedNode(name);
    const runtimeDown = {
      type: "ContainerRuntimeReady",
      status: "False",
      reason: "RuntimeNotReady",
      message: "m",
      lastHeartbeatTime: old,
      lastTransitionTime: old,
    };
    api.patchStatusAs("node-doctor", "pool-1", { status: { conditions: [runtimeDown] } });
    const h = await conditionsHarness(api, [runtimeScript(0)], { nodeName: "pool-0", compat: "eks" });
    harnesses.push(h);
    void h.scheduler.start();
    await h.advance(35 * MIN);
    const now = h.clock.now();
    assert.deepEqual(
      karpenterDecides(api.node("pool-0") as Node, pool(...names), now),
      { repair: true, condition: "ContainerRuntimeReady" },
      "2 of 10: at the line",
    );
    api.patchStatusAs("node-doctor", "pool-2", { status: { conditions: [runtimeDown] } });
    assert.deepEqual(karpenterDecides(api.node("pool-0") as Node, pool(...names), now), { repair: false, why: "breaker" }, "3 of 10: over it");
  });

  it("docs/remediation.md's table is the mapping in the code", async () => {
    const doc = await readFile(new URL("../../docs/remediation.md", import.meta.url), "utf8");
    const rows = [...doc.matchAll(/^\| `([A-Za-z]+Ready)` \| ([^|]+) \|/gm)].map((m) => [
      m[1],
      (m[2] ?? "").match(/`[A-Za-z]+`/g)?.map((t) => t.slice(1, -1)) ?? [],
    ]);
    assert.deepEqual(Object.fromEntries(rows), EKS_FEEDERS);
  });
});

/**
 * NodeConditions on a Node the fake API server holds, written by the real
 * sink from the real engine on a simulated clock: kubelet's conditions stay
 * byte-identical, ours carry the right status, reason, message and times,
 * and the write policy keeps a steady node at one write per heartbeat.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NodeCondition } from "kubernetes-types/core/v1.js";
import { ConditionsSink } from "../../src/report/conditions.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../support/conditions-harness.js";

const MIN = 60_000;
const KUBELET = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"];

function kubeletConditions(conditions: NodeCondition[] | undefined): string {
  return JSON.stringify((conditions ?? []).filter((c) => KUBELET.includes(c.type)));
}

function ours(api: FakeApiServer, node: string, type: string): NodeCondition | undefined {
  return api.node(node)?.status?.conditions?.find((c) => c.type === type);
}

describe("NodeConditions sink", () => {
  let api: FakeApiServer;
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());

  it("writes our conditions beside kubelet's, which stay byte-identical, with correct status, reason, message and times", async () => {
    const seeded = api.seedNode("node-a");
    const before = kubeletConditions(seeded.status?.conditions);
    let full = false;
    const disk = scriptedCheck("disk", "DiskSpaceLow", () =>
      full
        ? [finding("DiskSpaceLow", "critical", "NodeFsAvailableLow", "/var/lib/kubelet has 2% available (0.6 GiB of 30 GiB), below kubelet's hard eviction threshold 10%", "free space on /var/lib/kubelet: crictl rmi --prune")]
        : [],
    );
    const h = await conditionsHarness(api, [disk], { nodeName: "node-a" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      assert.equal(h.patches(), 1, "the first state is written once, after the 1 s coalescing window");
      const start = ours(api, "node-a", "DiskSpaceLow");
      assert.equal(start?.status, "False");
      assert.equal(start?.reason, "DiskSpaceSufficient");
      assert.match(start?.message ?? "", /space and inodes above their thresholds/);
      assert.equal(kubeletConditions(api.node("node-a")?.status?.conditions), before);

      full = true;
      await h.advance(30_000); // two runs to be accepted by damping, then 1 s coalescing
      const sick = ours(api, "node-a", "DiskSpaceLow");
      assert.equal(h.patches(), 2);
      assert.equal(sick?.status, "True");
      assert.equal(sick?.reason, "NodeFsAvailableLow");
      assert.match(sick?.message ?? "", /2% available .* Remedy: free space on \/var\/lib\/kubelet: crictl rmi --prune/);
      assert.notEqual(sick?.lastTransitionTime, start?.lastTransitionTime);
      assert.ok(Date.parse(sick?.lastHeartbeatTime ?? "") <= h.clock.now() && Date.parse(sick?.lastHeartbeatTime ?? "") > h.clock.now() - 30_000);
      assert.equal(kubeletConditions(api.node("node-a")?.status?.conditions), before);

      await h.advance(12 * MIN); // a heartbeat: new lastHeartbeatTime, same lastTransitionTime
      const beat = ours(api, "node-a", "DiskSpaceLow");
      assert.equal(h.patches(), 3);
      assert.equal(beat?.lastTransitionTime, sick?.lastTransitionTime);
      assert.ok(Date.parse(beat?.lastHeartbeatTime ?? "") >= Date.parse(sick?.lastHeartbeatTime ?? "") + 10 * MIN);
      assert.equal(kubeletConditions(api.node("node-a")?.status?.conditions), before);
      for (const r of api.requestsTo({ verb: "patch", resource: "nodes/status", name: "node-a" })) {
        assert.equal(r.contentType, "application/strategic-merge-patch+json");
        const sent = (r.body as { status: { conditions: Array<{ type: string }> } }).status.conditions.map((c) => c.type);
        assert.deepEqual(sent, ["DiskSpaceLow"], "only our types are ever sent");
      }
    } finally {
      await h.stop();
    }
  });

  it("writes a stable node at most 3 times in 30 simulated minutes (heartbeat 10 min)", async () => {
    api.seedNode("node-stable");
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const clock = scriptedCheck("clock", "ClockSkewed", () => [], 30_000);
    const h = await conditionsHarness(api, [disk, clock], { nodeName: "node-stable" });
    try {
      void h.scheduler.start();
      await h.advance(30 * MIN);
      assert.ok(h.patches() <= 3, `${h.patches()} writes`);
      assert.ok(h.patches() >= 2, "the heartbeat writes");
      assert.equal(h.events.counts.created, 0, "no Events for a healthy start or a heartbeat");
    } finally {
      await h.stop();
    }
  });

  it("does not write when only the message changes (a percentage every run)", async () => {
    api.seedNode("node-churn");
    const disk = scriptedCheck("disk", "DiskSpaceLow", (run) => [finding("DiskSpaceLow", "warning", "NodeFsAvailableLow", `/var/lib/kubelet has ${(20 - run * 0.01).toFixed(2)}% available`)]);
    const h = await conditionsHarness(api, [disk], { nodeName: "node-churn" });
    try {
      void h.scheduler.start();
      await h.advance(30 * MIN);
      assert.ok(h.patches() <= 3, `${h.patches()} writes for message-only churn`);
      const c = ours(api, "node-churn", "DiskSpaceLow");
      assert.equal(c?.status, "False", "a warning rides on False");
      assert.equal(c?.reason, "NodeFsAvailableLow");
      assert.match(c?.message ?? "", /% available/);
    } finally {
      await h.stop();
    }
  });

  it("damps a check flapping every run for 10 minutes to at most 2 writes and 1 Event (docs/conditions.md)", async () => {
    api.seedNode("node-flap");
    const disk = scriptedCheck("disk", "DiskSpaceLow", (run) => (run > 0 && run % 2 === 1 ? [finding("DiskSpaceLow", "critical", "NodeFsAvailableLow", "2% available")] : []));
    const h = await conditionsHarness(api, [disk], { nodeName: "node-flap" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      const initial = h.patches();
      assert.equal(initial, 1);
      await h.advance(10 * MIN);
      const flapping = h.patches() - initial;
      // One transition into the flapping state (held at the worst: True) and at most one heartbeat.
      assert.ok(flapping <= 2, `${flapping} writes while flapping`);
      assert.equal(ours(api, "node-flap", "DiskSpaceLow")?.status, "True", "an intermittent failure is a failure");
      assert.equal(h.events.counts.created + h.events.counts.aggregated, 1, "one Event: into the flapping state");
    } finally {
      await h.stop();
    }
  });

  it("removes our condition types no enabled check produces, keeps a still-produced one's transition time, and leaves others alone", async () => {
    const seeded = api.seedNode("node-stale");
    const old = "2026-01-01T00:00:00Z";
    const conditions = [
      ...(seeded.status?.conditions ?? []),
      { type: "OutOfDisk", status: "Unknown", reason: "NodeStatusNeverUpdated", message: "Kubelet never posted node status.", lastHeartbeatTime: old, lastTransitionTime: old },
      { type: "KubeletCertificateInvalid", status: "False", reason: "KubeletCertificatesValid", message: "valid", lastHeartbeatTime: old, lastTransitionTime: old },
      { type: "DiskSpaceLow", status: "False", reason: "DiskSpaceSufficient", message: "ok", lastHeartbeatTime: old, lastTransitionTime: old },
    ];
    api.seedNode("node-stale", { conditions });
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "node-stale" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      const after = api.node("node-stale")?.status?.conditions ?? [];
      assert.deepEqual(after.map((c) => c.type), [...KUBELET, "OutOfDisk", "DiskSpaceLow"]);
      assert.equal(JSON.stringify(after.slice(0, 5)), JSON.stringify(conditions.slice(0, 5)), "kubelet's and a foreign condition untouched");
      const disk2 = after.find((c) => c.type === "DiskSpaceLow");
      assert.equal(disk2?.lastTransitionTime, old, "same status as before the restart: transition time kept");
      assert.notEqual(disk2?.lastHeartbeatTime, old);
      assert.ok(h.log.lines.some((l) => l.message.includes("removed node-doctor conditions") && JSON.stringify(l.fields).includes("KubeletCertificateInvalid")));
    } finally {
      await h.stop();
    }
  });

  it("waits for a Node that is not registered yet, with backoff, and writes once it appears", async () => {
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "node-late", random: () => 0.5 });
    try {
      void h.scheduler.start();
      await h.advance(30_000);
      assert.equal(h.patches(), 0);
      assert.ok(api.requestsTo({ verb: "get", resource: "nodes", name: "node-late" }).length >= 2);
      api.seedNode("node-late");
      await h.advance(5 * MIN);
      assert.equal(h.patches(), 1);
      assert.equal(ours(api, "node-late", "DiskSpaceLow")?.status, "False");
    } finally {
      await h.stop();
    }
  });

  it("corrects written times by the clock check's offset when the node's clock is wrong (incident 5)", async () => {
    api.seedNode("node-behind");
    const disk = scriptedCheck("disk", "DiskSpaceLow", (run) => (run < 1 ? [] : [finding("DiskSpaceLow", "critical", "NodeFsAvailableLow", "2% available")]));
    const behind = 3 * 3_600_000; // the host's clock is 3 h behind the cluster's
    const h = await conditionsHarness(api, [disk], { nodeName: "node-behind", clockOffsetMs: behind });
    try {
      void h.scheduler.start();
      await h.advance(60_000);
      const c = ours(api, "node-behind", "DiskSpaceLow");
      assert.ok(Math.abs(Date.parse(c?.lastHeartbeatTime ?? "") - (h.clock.now() + behind)) < 60_000, `${c?.lastHeartbeatTime}`);
      assert.ok(Math.abs(Date.parse(c?.lastTransitionTime ?? "") - (h.clock.now() + behind)) < 60_000);
      const event = api.storedEvents("node-behind")[0];
      assert.ok(Math.abs(Date.parse(event?.lastTimestamp ?? "") - (h.clock.now() + behind)) < 60_000);
    } finally {
      await h.stop();
    }
  });

  it("full jitter: backoff delays lie in [0, min(cap, base·2^n)], vary, and honour Retry-After", () => {
    const sink = new ConditionsSink({
      api: { getNode: async () => ({ node: null }), patchNodeStatus: async () => ({}) },
      nodeName: "n",
      managedTypes: [],
      clock: { now: () => 0, monotonic: () => 0, setTimeout: () => ({ timer: 0 }), clearTimeout: () => undefined },
      log: { debug() {}, info() {}, warn() {}, error() {} },
      policy: { backoffBaseMs: 1_000, backoffCapMs: 300_000 },
    });
    for (let failures = 1; failures <= 12; failures++) {
      const ceiling = Math.min(300_000, 1_000 * 2 ** (failures - 1));
      const samples = Array.from({ length: 50 }, () => sink.backoffDelay(failures));
      assert.ok(samples.every((d) => d >= 0 && d <= ceiling), `attempt ${failures}`);
      assert.ok(new Set(samples).size > 10, "jittered");
    }
    assert.ok(sink.backoffDelay(1, 120_000) >= 120_000);
    assert.equal(sink.backoffDelay(1, 86_400_000), 300_000, "a day-long Retry-After is capped at the backoff cap");
  });
});

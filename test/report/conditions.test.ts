/**
 * NodeConditions on a Node the fake API server holds, written by the real
 * sink from the real engine on a simulated clock: kubelet's conditions stay
 * byte-identical, ours carry the right status, reason, message and times,
 * and the write policy keeps a steady node at one write per heartbeat.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NodeCondition } from "kubernetes-types/core/v1.js";
import { apiTime, ConditionsSink } from "../../src/sinks/conditions.js";
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
        ? [
            finding(
              "DiskSpaceLow",
              "critical",
              "NodeFsAvailableLow",
              "/var/lib/kubelet has 2% available (0.6 GiB of 30 GiB), below kubelet's hard eviction threshold 10%",
              "free space on /var/lib/kubelet: crictl rmi --prune",
            ),
          ]
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
    const disk = scriptedCheck("disk", "DiskSpaceLow", (run) => [
      finding("DiskSpaceLow", "warning", "NodeFsAvailableLow", `/var/lib/kubelet has ${(20 - run * 0.01).toFixed(2)}% available`),
    ]);
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
    const disk = scriptedCheck("disk", "DiskSpaceLow", (run) =>
      run > 0 && run % 2 === 1 ? [finding("DiskSpaceLow", "critical", "NodeFsAvailableLow", "2% available")] : [],
    );
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
      {
        type: "OutOfDisk",
        status: "Unknown",
        reason: "NodeStatusNeverUpdated",
        message: "Kubelet never posted node status.",
        lastHeartbeatTime: old,
        lastTransitionTime: old,
      },
      {
        type: "KubeletCertificateInvalid",
        status: "False",
        reason: "KubeletCertificatesValid",
        message: "valid",
        lastHeartbeatTime: old,
        lastTransitionTime: old,
      },
      { type: "DiskSpaceLow", status: "False", reason: "DiskSpaceSufficient", message: "ok", lastHeartbeatTime: old, lastTransitionTime: old },
    ];
    api.seedNode("node-stale", { conditions });
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "node-stale" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      const after = api.node("node-stale")?.status?.conditions ?? [];
      assert.deepEqual(
        after.map((c) => c.type),
        [...KUBELET, "OutOfDisk", "DiskSpaceLow"],
      );
      assert.equal(JSON.stringify(after.slice(0, 5)), JSON.stringify(conditions.slice(0, 5)), "kubelet's and a foreign condition untouched");
      const disk2 = after.find((c) => c.type === "DiskSpaceLow");
      assert.equal(disk2?.lastTransitionTime, old, "same status as before the restart: transition time kept");
      assert.notEqual(disk2?.lastHeartbeatTime, old);
      assert.ok(
        h.log.lines.some((l) => l.message.includes("removed node-doctor conditions") && JSON.stringify(l.fields).includes("KubeletCertificateInvalid")),
      );
    } finally {
      await h.stop();
    }
  });

  describe("restart (a DaemonSet rollout): no write when the Node is already current", () => {
    const HEARTBEAT = 10 * MIN;
    const at = (ms: number) => apiTime(ms);
    /** Kubelet's conditions as seeded, then ours as a previous agent left them. */
    function seedRestart(node: string, ourConditions: NodeCondition[]): NodeCondition[] {
      const kubelet = api.seedNode(node).status?.conditions ?? [];
      const conditions = [...kubelet, ...ourConditions];
      api.seedNode(node, { conditions });
      return conditions;
    }
    function condition(type: string, status: string, reason: string, heartbeatMs: number, transition = "2026-01-01T00:00:00Z"): NodeCondition {
      return { type, status, reason, message: "as the previous agent wrote it", lastHeartbeatTime: at(heartbeatMs), lastTransitionTime: transition };
    }
    const disk = () => scriptedCheck("disk", "DiskSpaceLow", () => []);
    const clockCheck = () => scriptedCheck("clock", "ClockSkewed", () => [], 30_000);
    const gets = (node: string) => api.requestsTo({ verb: "get", resource: "nodes", name: node }).length;

    it("unchanged state: no PATCH at start, and the next heartbeat lands at the old phase", async () => {
      const h = await conditionsHarness(api, [disk(), clockCheck()], { nodeName: "restart-same", random: () => 0.5 });
      try {
        const now = h.clock.now();
        const oldest = Math.floor((now - 4 * MIN) / 1000) * 1000;
        seedRestart("restart-same", [
          condition("DiskSpaceLow", "False", "DiskSpaceSufficient", oldest),
          condition("ClockSkewed", "False", "ClockSynchronized", now - 2 * MIN),
        ]);
        void h.scheduler.start();
        await h.advance(5_000);
        assert.equal(h.patches(), 0, "the Node already says it all");
        assert.equal(gets("restart-same"), 1, "one GET at start");
        assert.equal(h.conditions.startupWritesSkipped, 1);
        assert.ok(h.log.lines.some((l) => l.level === "debug" && l.message.includes("no write at start")));
        assert.equal(h.conditions.writtenConditions().length, 2, "what the Node shows is what was written");

        // The previous agent's phase: the oldest heartbeat + 10 min × (1 + 0.5 × 10%) = 630 s.
        const due = oldest + 630_000;
        await h.advance(due - h.clock.now() - 2_000);
        assert.equal(h.patches(), 0, "nothing before the old phase's heartbeat");
        await h.advance(4_000);
        assert.equal(h.patches(), 1);
        assert.equal(h.conditions.writes.heartbeat, 1);
        const beat = ours(api, "restart-same", "DiskSpaceLow");
        assert.ok(Math.abs(Date.parse(beat?.lastHeartbeatTime ?? "") - due) <= 1_000, `${beat?.lastHeartbeatTime} vs ${at(due)}`);
        assert.equal(beat?.lastTransitionTime, "2026-01-01T00:00:00Z", "same status: transition time kept");
        assert.match(beat?.message ?? "", /space and inodes above their thresholds/, "the heartbeat carries the latest message");
        assert.equal(ours(api, "restart-same", "ClockSkewed")?.lastHeartbeatTime, beat?.lastHeartbeatTime, "one PATCH carries every condition");
      } finally {
        await h.stop();
      }
    });

    it("judges the heartbeat's age with the clock check's offset (a node clock 3 h behind)", async () => {
      const behind = 3 * 3_600_000;
      const h = await conditionsHarness(api, [disk()], { nodeName: "restart-behind", clockOffsetMs: behind });
      try {
        seedRestart("restart-behind", [condition("DiskSpaceLow", "False", "DiskSpaceSufficient", h.clock.now() + behind - 3 * MIN)]);
        void h.scheduler.start();
        await h.advance(5_000);
        assert.equal(h.patches(), 0, "3 minutes old in the cluster's time");
        assert.equal(h.conditions.startupWritesSkipped, 1);
      } finally {
        await h.stop();
      }
    });

    it("a changed reason: one PATCH at start", async () => {
      const h = await conditionsHarness(api, [disk()], { nodeName: "restart-reason" });
      try {
        seedRestart("restart-reason", [condition("DiskSpaceLow", "False", "NodeFsAvailableLow", h.clock.now() - MIN)]);
        void h.scheduler.start();
        await h.advance(5_000);
        assert.equal(h.patches(), 1);
        assert.equal(h.conditions.startupWritesSkipped, 0);
        const c = ours(api, "restart-reason", "DiskSpaceLow");
        assert.equal(c?.reason, "DiskSpaceSufficient");
        assert.equal(c?.lastTransitionTime, "2026-01-01T00:00:00Z", "same status: transition time kept");
      } finally {
        await h.stop();
      }
    });

    it("a heartbeat already in its jitter window: no PATCH at start, the heartbeat before it is overdue", async () => {
      const h = await conditionsHarness(api, [disk()], { nodeName: "restart-due", random: () => 0.5 });
      try {
        const beat = Math.floor((h.clock.now() - 640_000) / 1000) * 1000; // due at 630 s (jitter 0.5 × 10%), overdue at 660 s
        seedRestart("restart-due", [condition("DiskSpaceLow", "False", "DiskSpaceSufficient", beat)]);
        void h.scheduler.start();
        await h.advance(5_000);
        assert.equal(h.patches(), 0, "not written in the restart's second");
        assert.equal(h.conditions.startupWritesSkipped, 1);
        await h.advance(beat + HEARTBEAT * 1.1 - h.clock.now());
        assert.equal(h.patches(), 1, "the heartbeat came before it was overdue");
        assert.equal(h.conditions.writes.heartbeat, 1);
        assert.ok(Date.parse(ours(api, "restart-due", "DiskSpaceLow")?.lastHeartbeatTime ?? "") - beat <= HEARTBEAT * 1.1);
      } finally {
        await h.stop();
      }
    });

    it("an overdue heartbeat (older than heartbeatMs × 1.1), or one from the future: a PATCH at start", async () => {
      for (const [node, offsetMs] of [
        ["restart-stale", -(HEARTBEAT * 1.1 + 1_000)],
        ["restart-future", 10 * MIN],
      ] as const) {
        const h = await conditionsHarness(api, [disk()], { nodeName: node });
        try {
          seedRestart(node, [condition("DiskSpaceLow", "False", "DiskSpaceSufficient", h.clock.now() + offsetMs)]);
          void h.scheduler.start();
          await h.advance(5_000);
          assert.equal(h.patches(), 1, node);
          assert.equal(h.conditions.startupWritesSkipped, 0, node);
          assert.ok(Math.abs(Date.parse(ours(api, node, "DiskSpaceLow")?.lastHeartbeatTime ?? "") - h.clock.now()) < 10_000, node);
        } finally {
          await h.stop();
        }
      }
    });

    it("a condition of ours no enabled check produces any more: a delete PATCH, even with fresh heartbeats", async () => {
      const h = await conditionsHarness(api, [disk()], { nodeName: "restart-removed" });
      try {
        const now = h.clock.now();
        seedRestart("restart-removed", [
          condition("DiskSpaceLow", "False", "DiskSpaceSufficient", now - MIN),
          condition("KubeletCertificateInvalid", "False", "KubeletCertificatesValid", now - MIN),
        ]);
        void h.scheduler.start();
        await h.advance(5_000);
        assert.equal(h.patches(), 1);
        const sent = api.requestsTo({ verb: "patch", resource: "nodes/status", name: "restart-removed" })[0]?.body as {
          status: { conditions: Array<{ type: string; $patch?: string }> };
        };
        assert.deepEqual(
          sent.status.conditions.filter((c) => c.$patch === "delete").map((c) => c.type),
          ["KubeletCertificateInvalid"],
        );
        assert.equal(ours(api, "restart-removed", "KubeletCertificateInvalid"), undefined);
        assert.ok(ours(api, "restart-removed", "DiskSpaceLow"));
      } finally {
        await h.stop();
      }
    });

    it("a condition we produce that the Node lacks: a PATCH at start", async () => {
      const h = await conditionsHarness(api, [disk(), clockCheck()], { nodeName: "restart-added" });
      try {
        seedRestart("restart-added", [condition("DiskSpaceLow", "False", "DiskSpaceSufficient", h.clock.now() - MIN)]);
        void h.scheduler.start();
        await h.advance(5_000);
        assert.equal(h.patches(), 1);
        assert.equal(ours(api, "restart-added", "ClockSkewed")?.reason, "ClockSynchronized");
      } finally {
        await h.stop();
      }
    });
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

  it("corrects written times by the clock check's offset when the node's clock is wrong (the certificate from the future, docs/incidents.md)", async () => {
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
      assert.ok(
        samples.every((d) => d >= 0 && d <= ceiling),
        `attempt ${failures}`,
      );
      assert.ok(new Set(samples).size > 10, "jittered");
    }
    assert.ok(sink.backoffDelay(1, 120_000) >= 120_000);
    assert.equal(sink.backoffDelay(1, 86_400_000), 300_000, "a day-long Retry-After is capped at the backoff cap");
  });
});

/**
 * A Node with 10,000 stale conditions another client left behind: the
 * kubelet check reads it through the real client from the fake API server
 * and reports each, and the engine keeps the worst 100 plus one finding
 * that counts the rest — not 10,000 findings and a 14.7 MB /findings.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { MAX_FINDINGS_PER_CHECK } from "../../src/engine/cap.js";
import { RootedHost } from "../../src/node/host.js";
import type { ClusterReader } from "../../src/types.js";
import { silentLog } from "../support/check-context.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeReaderFor } from "../support/kube.js";
import { kubeletHarness, kubeletTestSettings, NOW, startHealthz } from "../support/kubelet-harness.js";

describe("the engine caps one check's findings", () => {
  it("10,000 stale foreign conditions: 100 findings and one FindingsCapped counting 9,900 StaleNodeCondition", async () => {
    const api = await FakeApiServer.start({ now: () => NOW });
    const healthz = await startHealthz();
    const h = await kubeletHarness("kubelet-outofdisk-after-upgrade", kubeletTestSettings(healthz.url));
    const heartbeat = "2026-06-02T08:00:00Z";
    api.seedNode("node-b", {
      conditions: Array.from({ length: 10_000 }, (_, i) => ({
        type: `example.com/Stale${i}`,
        status: "True",
        reason: "Left",
        message: "left behind",
        lastHeartbeatTime: heartbeat,
        lastTransitionTime: heartbeat,
      })),
    });
    api.seedLease("node-b", { renewTime: new Date(NOW - 5_000) });
    const { reader, close } = await kubeReaderFor(api, "node-b");
    try {
      const state = new NodeState([h.check], [], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 60_000 }, silentLog);
      const scheduler = new Scheduler([h.check], {
        host: new RootedHost(h.fixture.root),
        clock: h.clock,
        state,
        log: silentLog,
        logFor: () => silentLog,
        cluster: reader as ClusterReader,
        jitterRatio: 0,
      });
      await scheduler.runOnce();
      await scheduler.stop();
      const findings = state.lastRun("kubelet")?.findings ?? [];
      assert.equal(findings.length, MAX_FINDINGS_PER_CHECK + 1, JSON.stringify(findings.slice(0, 3)));
      assert.equal(findings.filter((f) => f.reason === "StaleNodeCondition").length, MAX_FINDINGS_PER_CHECK);
      const capped = findings.find((f) => f.reason === "FindingsCapped");
      assert.ok(capped);
      assert.equal(capped.severity, "warning");
      assert.match(
        capped.message,
        /reported 10000 findings; the 100 worst are kept and 9900 more on KubeletUnhealthy are left out \(9900 StaleNodeCondition\), the first of them: Node condition example\.com\/Stale100=True/,
      );
      assert.ok(JSON.stringify(findings).length < 256 * 1024, `${JSON.stringify(findings).length} bytes`);
    } finally {
      close();
      await h.close();
      await healthz.close();
      await api.close();
    }
  });
});

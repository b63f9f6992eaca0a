import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeTotals, FleetTally, summariseNode } from "../../src/fleet/node-summary.js";
import { formatAge } from "../../src/fleet/render-status.js";
import { CONDITION_TYPES } from "../../src/types.js";
import { FLEET_NOW_MS, fleetKindCounts, fleetNode, makeFleet } from "../support/fleet-nodes.js";

const options = { nowMs: FLEET_NOW_MS, heartbeatSeconds: 600 };

describe("a node's node-doctor state, read from its conditions", () => {
  it("names the failing condition and its reason", () => {
    const summary = summariseNode(fleetNode("n1", "KubeletCertificateInvalid"), options);
    assert.equal(summary.state, "sick");
    assert.equal(summary.worstCondition, "KubeletCertificateInvalid");
    assert.equal(summary.worstReason, "ClientCertificateNotYetValid");
    assert.equal(summary.lastHeartbeatMs, FLEET_NOW_MS - 120_000);
    assert.equal(summary.ready, "True");
  });

  it("flags an agent whose heartbeat is older than three heartbeats as silent, whatever its stale conditions say", () => {
    const summary = summariseNode(fleetNode("n1", "silent"), options);
    assert.equal(summary.state, "agent silent");
    assert.equal(summary.lastHeartbeatMs, FLEET_NOW_MS - 4 * 3_600_000);
  });

  it("lists a node without any of our conditions as not covered, leaving kubelet's conditions out of it", () => {
    const summary = summariseNode(fleetNode("n1", "uncovered"), options);
    assert.equal(summary.state, "not covered");
    assert.deepEqual(summary.conditions, {});
    assert.equal(summary.lastHeartbeatMs, undefined);
  });

  it("says unknown when a check could not look, and healthy when all are False", () => {
    assert.equal(summariseNode(fleetNode("n1", "unknown"), options).state, "unknown");
    assert.equal(summariseNode(fleetNode("n1", "unknown"), options).worstReason, "CheckTimedOut");
    assert.equal(summariseNode(fleetNode("n1", "healthy"), options).state, "healthy");
    assert.equal(summariseNode(fleetNode("n1", "healthy"), options).worstReason, "");
  });

  it("survives a Node with no status, no name and unparseable times", () => {
    const odd = summariseNode({ metadata: {}, status: { conditions: [{ type: "DiskSpaceLow", status: "bogus", lastHeartbeatTime: "not a time" }] } }, options);
    assert.equal(odd.name, "");
    assert.equal(odd.state, "agent silent");
    assert.equal(odd.conditions.DiskSpaceLow?.status, "Unknown");
    assert.equal(summariseNode({}, options).state, "not covered");
  });

  it("totals a mixed fleet in one line", () => {
    const tally = new FleetTally();
    for (const node of makeFleet(50)) tally.add(summariseNode(node, options));
    const counts = fleetKindCounts(50);
    const sick = CONDITION_TYPES.reduce((sum, type) => sum + counts[type], 0);
    assert.equal(
      describeTotals(tally.totals),
      `50 nodes, ${sick} sick (${CONDITION_TYPES.map((type) => `${type} ${counts[type]}`).join(", ")}), ${counts.unknown} unknown, ${counts.silent} agents silent, ${counts.uncovered} not covered`,
    );
  });

  it("formats ages the way kubectl does", () => {
    assert.deepEqual([45_000, 600_000, 3 * 3_600_000, 3 * 86_400_000, undefined].map(formatAge), ["45s", "10m", "3h", "3d", "-"]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeTotals, FleetTally, summariseNode } from "../../src/fleet/node-summary.js";
import { CONDITION_COLUMNS, formatAge, renderStatusTable } from "../../src/fleet/render-status.js";
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

  it("the custom checks' condition types are ours where node-doctor's field manager added them, a column each", () => {
    const beat = new Date(FLEET_NOW_MS - 60_000).toISOString();
    const added = (manager: string, types: string[]) => ({
      manager,
      operation: "Update",
      fieldsType: "FieldsV1",
      subresource: "status",
      fieldsV1: { "f:status": { "f:conditions": Object.fromEntries(types.map((type) => [`k:${JSON.stringify({ type })}`, { ".": {}, "f:status": {} }])) } },
    });
    const condition = (type: string, status: string, reason: string) => ({ type, status, reason, message: `${type} says ${reason}`, lastHeartbeatTime: beat });
    const node = (name: string, conditions: ReturnType<typeof condition>[], managedFields: ReturnType<typeof added>[]) => ({
      metadata: { name, managedFields },
      status: { conditions: [condition("DiskSpaceLow", "False", "DiskSpaceSufficient"), ...conditions] },
    });
    const sick = summariseNode(
      node(
        "n1",
        [
          condition("NfsDataMountMissing", "True", "NfsDataNotMounted"),
          condition("KernelDeadlock", "True", "DockerHung"),
          condition("Ready", "True", "KubeletReady"),
        ],
        [added("node-doctor", ["DiskSpaceLow", "NfsDataMountMissing"]), added("node-problem-detector", ["KernelDeadlock"]), added("kubelet", ["Ready"])],
      ),
      options,
    );
    assert.deepEqual(sick.custom, ["NfsDataMountMissing"], "NPD's KernelDeadlock and kubelet's Ready are not ours");
    assert.equal(sick.state, "sick");
    assert.equal(sick.worstReason, "NfsDataNotMounted");
    const fine = summariseNode(
      node("n2", [condition("ScratchMissing", "False", "CheckPassed")], [added("node-doctor", ["DiskSpaceLow", "ScratchMissing"])]),
      options,
    );
    assert.equal(fine.state, "healthy");
    const unmanaged = summariseNode(node("n3", [condition("NfsDataMountMissing", "True", "NfsDataNotMounted")], []), options);
    assert.deepEqual(unmanaged.custom, [], "without managedFields a name alone cannot say whose it is");
    assert.equal(unmanaged.state, "healthy");

    const tally = new FleetTally();
    for (const summary of [sick, fine, unmanaged]) tally.add(summary);
    assert.deepEqual(tally.customTypes(), ["NfsDataMountMissing", "ScratchMissing"]);
    const table = renderStatusTable([sick, fine, unmanaged], tally.totals, {
      wide: false,
      colour: false,
      nowMs: FLEET_NOW_MS,
      customTypes: tally.customTypes(),
    });
    const [header, ...lines] = table.split("\n");
    const lastBuiltin = CONDITION_COLUMNS[CONDITION_TYPES[CONDITION_TYPES.length - 1] ?? "KubeletUnhealthy"];
    assert.match(header ?? "", new RegExp(` ${lastBuiltin} {3}NfsDataMountMissing {3}ScratchMissing {3}REASON +HEARTBEAT$`), "after the built-in columns");
    const disk = CONDITION_TYPES.indexOf("DiskSpaceLow");
    const after = CONDITION_TYPES.length - disk - 1;
    assert.match(lines[0] ?? "", new RegExp(`^n1 +sick +(- +){${disk}}ok +(- +){${after}}FAIL +- +NfsDataNotMounted +60s$`));
    assert.match(lines[1] ?? "", /^n2 +healthy .*ok +- +60s$/);
    assert.match(table, /\n3 nodes, 1 sick \(NfsDataMountMissing 1\), 0 unknown/);
  });

  it("formats ages the way kubectl does", () => {
    assert.deepEqual([45_000, 600_000, 3 * 3_600_000, 3 * 86_400_000, undefined].map(formatAge), ["45s", "10m", "3h", "3d", "-"]);
  });
});

/**
 * Who owns a condition, from managedFields: a table over entry shapes as the
 * API server writes them. The node-problem-detector entry is the shape of a
 * real Node's (Kubernetes 1.20, recorded in openyurtio/kole's storm-test Node
 * template): manager "node-problem-detector", operation Update, and for each
 * condition it added `.` plus every field.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import type { ManagedFieldsEntry } from "kubernetes-types/meta/v1.js";
import { conditionOwners, describeOwners, ownershipOf, tracksManagers } from "../../src/kube/ownership.js";

const ALL = { ".": {}, "f:lastHeartbeatTime": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {} };
const key = (type: string) => `k:${JSON.stringify({ type })}`;

function entry(manager: string, conditions: Record<string, object>, time = "2021-12-27T07:35:35Z"): ManagedFieldsEntry {
  const fields: Record<string, object> = {};
  for (const [type, held] of Object.entries(conditions)) fields[key(type)] = held;
  return {
    apiVersion: "v1",
    fieldsType: "FieldsV1",
    fieldsV1: { "f:status": { "f:conditions": fields } },
    manager,
    operation: "Update",
    time,
    subresource: "status",
  };
}

function node(managedFields: unknown): Node {
  return { metadata: { name: "n", managedFields: managedFields as ManagedFieldsEntry[] } };
}

describe("conditionOwnership", () => {
  const rows: Array<[string, unknown, string, "ours" | "foreign", string[]]> = [
    [
      "node-problem-detector added it (GKE's health-checker-kubelet.json)",
      [entry("node-problem-detector", { KubeletUnhealthy: ALL })],
      "KubeletUnhealthy",
      "foreign",
      ["node-problem-detector"],
    ],
    ["node-doctor added it", [entry("node-doctor", { DiskSpaceLow: ALL })], "DiskSpaceLow", "ours", []],
    [
      "node-doctor added it, someone forged its status since",
      [entry("node-doctor", { DiskSpaceLow: { ".": {}, "f:type": {}, "f:reason": {} } }), entry("kubectl-patch", { DiskSpaceLow: { "f:status": {} } })],
      "DiskSpaceLow",
      "ours",
      ["kubectl-patch"],
    ],
    [
      "node-problem-detector added it, an earlier node-doctor overwrote its fields",
      [
        entry("node-problem-detector", { KubeletUnhealthy: { ".": {}, "f:type": {} } }),
        entry("node-doctor", { KubeletUnhealthy: { "f:status": {}, "f:reason": {} } }),
      ],
      "KubeletUnhealthy",
      "foreign",
      ["node-problem-detector"],
    ],
    ["nobody recorded as adding it, only node-doctor holds fields", [entry("node-doctor", { ClockSkewed: { "f:status": {} } })], "ClockSkewed", "ours", []],
    [
      "nobody recorded as adding it, only another manager holds fields",
      [entry("vendor", { ClockSkewed: { "f:status": {} } })],
      "ClockSkewed",
      "foreign",
      ["vendor"],
    ],
    ["no managedFields at all (an API server before 1.18)", undefined, "ClockSkewed", "ours", []],
    ["the type is not mentioned", [entry("node-problem-detector", { KernelDeadlock: ALL })], "KubeletUnhealthy", "ours", []],
    [
      "entries of the wrong shape are skipped, not trusted",
      [
        "x",
        { manager: 7 },
        { manager: "m", fieldsV1: "f:status" },
        { manager: "m", fieldsV1: { "f:status": { "f:conditions": { "k:{not json": {}, "k:[]": {} } } } },
      ],
      "KubeletUnhealthy",
      "ours",
      [],
    ],
  ];
  for (const [name, managedFields, type, owner, others] of rows) {
    it(name, () => {
      const decided = ownershipOf(conditionOwners(node(managedFields)).get(type));
      assert.equal(decided.owner, owner);
      assert.deepEqual(
        decided.others.map((o) => o.manager),
        others,
      );
    });
  }

  it("says who holds what", () => {
    const owners = conditionOwners(node([entry("node-problem-detector", { KubeletUnhealthy: ALL })])).get("KubeletUnhealthy") ?? [];
    assert.equal(
      describeOwners(owners),
      "node-problem-detector (Update, 2021-12-27T07:35:35Z: lastHeartbeatTime, lastTransitionTime, message, reason, status, type)",
    );
    assert.equal(tracksManagers(node(undefined)), false);
    assert.equal(tracksManagers(node([entry("kubelet", {})])), true);
  });
});

/** Compatibility conditions derived from node-doctor's (src/sinks/compat.ts): polarity, reason, time. Pure. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compatTypes, deriveCompat } from "../../src/sinks/compat.js";
import type { ConditionState, ConditionStatus } from "../../src/types.js";

function state(type: ConditionState["type"], status: ConditionStatus, reason: string, sinceMs: number): ConditionState {
  const severity = status === "True" ? "critical" : status === "Unknown" ? "unknown" : "ok";
  return { type, status, severity, reason, message: `${reason} message`, sinceMs, flapping: false, findings: [] };
}

describe("compatibility conditions", () => {
  it("writes only the EKS types a managed condition feeds, and none with compat off", () => {
    assert.deepEqual(compatTypes("none", ["ContainerRuntimeUnhealthy", "DiskSpaceLow"]), []);
    assert.deepEqual(compatTypes("eks", ["ContainerRuntimeUnhealthy", "DiskSpaceLow"]), ["ContainerRuntimeReady", "StorageReady"]);
    assert.deepEqual(compatTypes("eks", ["KernelUnhealthy", "ClockSkewed"]), ["KernelReady"]);
  });

  const cases: Array<[string, ConditionState[], { status: string; reason: string; sinceMs: number } | undefined]> = [
    ["no feeder has a state yet: nothing", [], undefined],
    [
      "healthy: True with the healthy reason, since the last feeder recovered",
      [state("DiskSpaceLow", "False", "FilesystemOk", 5), state("FilesystemErrors", "False", "NoFilesystemErrors", 9)],
      { status: "True", reason: "DiskSpaceSufficient", sinceMs: 9 },
    ],
    [
      "one feeder True: False with its reason",
      [state("DiskSpaceLow", "False", "FilesystemOk", 5), state("FilesystemErrors", "True", "Ext4Error", 7)],
      { status: "False", reason: "Ext4Error", sinceMs: 7 },
    ],
    [
      "two True: the earliest time, the first one's reason",
      [state("DiskSpaceLow", "True", "NodeFsAvailableLow", 8), state("FilesystemErrors", "True", "Ext4Error", 3)],
      { status: "False", reason: "NodeFsAvailableLow", sinceMs: 3 },
    ],
    [
      "Unknown only where nothing is True",
      [state("DiskSpaceLow", "Unknown", "CheckTimedOut", 4), state("FilesystemErrors", "False", "NoFilesystemErrors", 1)],
      { status: "Unknown", reason: "CheckTimedOut", sinceMs: 4 },
    ],
    [
      "True beats Unknown",
      [state("DiskSpaceLow", "Unknown", "CheckTimedOut", 4), state("FilesystemErrors", "True", "Ext4Error", 6)],
      { status: "False", reason: "Ext4Error", sinceMs: 6 },
    ],
  ];
  for (const [name, states, expected] of cases) {
    it(name, () => {
      const [derived] = deriveCompat(["StorageReady"], states);
      assert.deepEqual(derived && { status: derived.status, reason: derived.reason, sinceMs: derived.sinceMs }, expected);
    });
  }
});

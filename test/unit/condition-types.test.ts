/** Configured condition types: ours only, never kubelet's nor a built-in check's; how each reads when healthy. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { customConditionType, customConditionTypeProblem, healthyCondition, HEALTHY_CONDITION, type Finding } from "../../src/types.js";

describe("custom condition types", () => {
  const cases: Array<[string, RegExp | undefined]> = [
    ["NfsDataMountMissing", undefined],
    ["RegistryUnreachable2", undefined],
    ["Ready", /kubelet's own condition/],
    ["MemoryPressure", /kubelet's own condition/],
    ["DiskPressure", /kubelet's own condition/],
    ["PIDPressure", /kubelet's own condition/],
    ["NetworkUnavailable", /kubelet's own condition/],
    ["KernelReady", /the EKS node monitoring agent.s .*compat\.conditions: eks/],
    ["ContainerRuntimeReady", /the EKS node monitoring agent/],
    ["DiskSpaceLow", /fed by node-doctor's own checks/],
    ["KubeletUnhealthy", /fed by node-doctor's own checks/],
    ["nfsMissing", /CamelCase/],
    ["Nfs-Missing", /CamelCase/],
    ["", /CamelCase/],
    ["A".repeat(129), /at most 128/],
  ];
  for (const [value, problem] of cases) {
    it(`${JSON.stringify(value.slice(0, 30))} → ${problem ?? "accepted"}`, () => {
      const found = customConditionTypeProblem(value);
      if (problem) {
        assert.match(found ?? "", problem);
        assert.throws(() => customConditionType(value), problem);
      } else {
        assert.equal(found, undefined);
        assert.equal(customConditionType(value), value);
      }
    });
  }

  it("a healthy configured condition reads as its check's ok finding; a built-in one keeps its fixed text", () => {
    const type = customConditionType("NfsDataMountMissing");
    const ok: Finding = { check: "custom/nfs", condition: type, severity: "ok", reason: "NfsDataMounted", message: "/mnt/data is mounted (nfs4)" };
    assert.deepEqual(healthyCondition(type, [ok]), { reason: "NfsDataMounted", message: "/mnt/data is mounted (nfs4)" });
    assert.equal(healthyCondition(type, []).reason, "NoProblemFound");
    assert.deepEqual(healthyCondition("DiskSpaceLow", [ok]), HEALTHY_CONDITION.DiskSpaceLow);
  });
});

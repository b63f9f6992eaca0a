/** The engine's per-check cap as a table: findings in, the worst kept plus one aggregate per condition out. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { capFindings } from "../../src/engine/cap.js";
import type { Finding, Severity } from "../../src/types.js";

const f = (reason: string, severity: Severity, condition: Finding["condition"] = "KubeletUnhealthy", i = 0): Finding => ({
  check: "kubelet",
  condition,
  severity,
  reason,
  message: `${reason} #${i}.`,
  remedy: `fix ${i}`,
});

describe("capFindings", () => {
  it("leaves a run within the cap alone", () => {
    const findings = [f("A", "warning"), f("B", "ok")];
    assert.deepEqual(capFindings(findings, 2, "FindingsCapped"), findings);
  });

  it("keeps the worst, in the order reported, and counts the rest by reason in one finding per condition", () => {
    const findings = [
      ...Array.from({ length: 5 }, (_, i) => f("StaleNodeCondition", "warning", "KubeletUnhealthy", i)),
      f("KubeletHealthzFailing", "critical"),
      ...Array.from({ length: 3 }, (_, i) => f("NodeConditionCollision", "warning", "KubeletUnhealthy", i)),
      f("Other", "warning", "DiskSpaceLow"),
    ];
    const out = capFindings(findings, 3, "FindingsCapped");
    assert.deepEqual(
      out.map((x) => [x.reason, x.severity, x.condition]),
      [
        ["StaleNodeCondition", "warning", "KubeletUnhealthy"],
        ["StaleNodeCondition", "warning", "KubeletUnhealthy"],
        ["KubeletHealthzFailing", "critical", "KubeletUnhealthy"],
        ["FindingsCapped", "warning", "KubeletUnhealthy"],
        ["FindingsCapped", "warning", "DiskSpaceLow"],
      ],
    );
    const aggregate = out[3] as Finding;
    assert.match(
      aggregate.message,
      /reported 10 findings; the 3 worst are kept and 6 more on KubeletUnhealthy are left out \(3 StaleNodeCondition, 3 NodeConditionCollision\), the first of them: StaleNodeCondition #2\./,
    );
    assert.deepEqual(aggregate.evidence, { total: 10, kept: 3, dropped: 6, reasons: { StaleNodeCondition: 3, NodeConditionCollision: 3 } });
  });

  it("10,000 findings: 100 kept and one aggregate", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => f("StaleNodeCondition", "warning", "KubeletUnhealthy", i));
    const out = capFindings(many, 100, "FindingsCapped");
    assert.equal(out.length, 101);
    assert.match(out[100]?.message ?? "", /9900 more on KubeletUnhealthy are left out \(9900 StaleNodeCondition\)/);
  });
});

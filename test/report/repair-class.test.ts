/**
 * Every finding carries its reason's repair class (docs/remediation.md): the
 * engine stamps it into the evidence from the check's reasons.ts, the metrics
 * label it, and the Event about a transition carries it as an annotation.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { CHECKS, repairClassOf } from "../../src/checks/index.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import { REPAIR_ANNOTATION } from "../../src/sinks/events.js";
import { REPAIR_CLASSES, type ReasonSpec } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../support/conditions-harness.js";

describe("repair classes", () => {
  let api: FakeApiServer;
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());

  it("the classes a node can carry out itself are given to the reasons they fix", () => {
    const classOf = (check: string, reason: string) => repairClassOf(check, reason);
    // The reboot without kubelet: a disabled unit is enabled and started.
    assert.equal(classOf("kubelet", "KubeletServiceDisabled"), "enable-unit");
    assert.equal(classOf("kubelet", "KubeletHealthzFailing"), "restart-kubelet");
    // The certificate from the future: kubelet-client-current.pem goes back to the older valid certificate.
    assert.equal(classOf("certificates", "ClientCertificateNotYetValid"), "repoint-client-cert");
    assert.equal(classOf("runtime", "RuntimeUnresponsive"), "restart-runtime");
    assert.equal(classOf("kubelet-logs", "PlegUnhealthy"), "restart-runtime");
    // A person must act: a restart cannot fix kubelet's flags or a clock.
    assert.equal(classOf("kubelet-config", "NodeLabelNotAllowed"), "none");
    assert.equal(classOf("clock", "ApiServerOffsetHigh"), "none");
    assert.equal(classOf("custom/nfs", "CheckPassed"), "none");
    assert.equal(classOf("kubelet", "NoSuchReason"), "none");
    for (const [check, entry] of Object.entries(CHECKS)) {
      for (const [reason, spec] of Object.entries(entry.reasons.reasons as Record<string, ReasonSpec>)) {
        assert.ok(REPAIR_CLASSES.includes(spec.repair), `${check}/${reason}`);
        // Only a problem is repaired: an ok reason never carries a class.
        if (spec.severities.every((s) => s === "ok")) assert.equal(spec.repair, "none", `${check}/${reason} is ok and needs no repair`);
      }
    }
  });

  it("docs/remediation.md lists exactly the reasons a machine may repair", async () => {
    const doc = await readFile(new URL("../../docs/remediation.md", import.meta.url), "utf8");
    const listed = [...doc.matchAll(/^\| ([a-z-]+) \| ([A-Za-z]+) \| `([a-z-]+)` \|$/gm)].map((m) => `${m[1]}/${m[2]}=${m[3]}`).sort();
    const inCode = Object.entries(CHECKS)
      .flatMap(([check, entry]) =>
        Object.entries(entry.reasons.reasons as Record<string, ReasonSpec>)
          .filter(([, spec]) => spec.repair !== "none")
          .map(([reason, spec]) => `${check}/${reason}=${spec.repair}`),
      )
      .sort();
    assert.deepEqual(listed, inCode);
  });

  it("findings carry the class in their evidence, the metrics label it and the Event names it", async () => {
    api.seedNode("rc-1");
    let sick = false;
    const kubelet = scriptedCheck("kubelet", "KubeletUnhealthy", () =>
      sick
        ? [{ ...finding("KubeletUnhealthy", "critical", "KubeletHealthzFailing", "kubelet (pid 42) runs but its health endpoint fails"), check: "kubelet" }]
        : [],
    );
    const h = await conditionsHarness(api, [kubelet], { nodeName: "rc-1", repairClass: repairClassOf });
    const metrics = createMetricsSink({ nodeName: "rc-1", version: "test", checkNames: ["kubelet"], metricsOf: () => undefined });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      sick = true;
      await h.advance(60_000);
      const run = h.state.lastRun("kubelet");
      assert.equal(run?.findings[0]?.evidence?.["repair"], "restart-kubelet");
      metrics.onCheckRun?.(run!, h.state);
      const exposition = await metrics.registry.metrics();
      assert.match(
        exposition,
        /node_doctor_findings\{check="kubelet",condition="KubeletUnhealthy",reason="KubeletHealthzFailing",severity="critical",repair="restart-kubelet",node="rc-1"\} 1/,
      );
      const events = api.storedEvents("rc-1").filter((e) => e.reason === "KubeletHealthzFailing");
      assert.equal(events.length, 1);
      assert.equal(events[0]?.metadata.annotations?.[REPAIR_ANNOTATION], "restart-kubelet");
    } finally {
      await h.stop();
      await metrics.close?.();
    }
  });

  it("the engine's own findings (could not look) carry none", async () => {
    api.seedNode("rc-2");
    const broken = { ...scriptedCheck("runtime", "ContainerRuntimeUnhealthy", () => []), run: async () => Promise.reject(new Error("EMFILE")) };
    const h = await conditionsHarness(api, [broken], { nodeName: "rc-2", repairClass: repairClassOf });
    try {
      void h.scheduler.start();
      await h.advance(1_000);
      const run = h.state.lastRun("runtime");
      assert.equal(run?.findings[0]?.reason, "CheckFailed");
      assert.equal(run?.findings[0]?.evidence?.["repair"], "none");
    } finally {
      await h.stop();
    }
  });
});

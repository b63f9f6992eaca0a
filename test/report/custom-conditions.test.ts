/**
 * A condition type an operator configured flows like a built-in one: through
 * the engine's damping to the Node (beside kubelet's, and beside another
 * agent's condition it does not own), into /metrics and the plain report.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../support/conditions-harness.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import { renderText } from "../../src/sinks/text.js";
import { customConditionType } from "../../src/types.js";

const NFS = customConditionType("NfsDataMountMissing");

describe("configured condition types through engine and sinks", () => {
  let api: FakeApiServer;
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());

  it("writes the configured type with its check's reasons, and leaves a foreign type of the same shape alone", async () => {
    const seeded = api.seedNode("node-custom");
    const old = "2026-01-01T00:00:00Z";
    const foreign = {
      type: "FrequentDockerRestart",
      status: "False",
      reason: "NoFrequentDockerRestart",
      message: "npd",
      lastHeartbeatTime: old,
      lastTransitionTime: old,
    };
    api.seedNode("node-custom", { conditions: [...(seeded.status?.conditions ?? []), foreign] });
    let mounted = true;
    const check = scriptedCheck("custom/nfs-data", NFS, () => [
      mounted
        ? finding(NFS, "ok", "NfsDataMounted", "/mnt/data is mounted (nfs4 from filer:/export/data)")
        : finding(NFS, "critical", "NfsDataNotMounted", "/proc/1/mounts has no nfs4 mount on /mnt/data", "mount it: mount /mnt/data"),
    ]);
    const h = await conditionsHarness(api, [check], { nodeName: "node-custom" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      const written = () => api.node("node-custom")?.status?.conditions?.find((c) => c.type === NFS);
      assert.equal(written()?.status, "False");
      assert.equal(written()?.reason, "NfsDataMounted", "a healthy configured condition carries its ok finding's reason");
      assert.match(written()?.message ?? "", /is mounted \(nfs4/);

      mounted = false;
      await h.advance(30_000);
      assert.equal(written()?.status, "True");
      assert.equal(written()?.reason, "NfsDataNotMounted");
      assert.match(written()?.message ?? "", /Remedy: mount it/);
      const after = api.node("node-custom")?.status?.conditions ?? [];
      assert.deepEqual(
        after.find((c) => c.type === "FrequentDockerRestart"),
        foreign,
        "another agent's condition is not ours: neither deleted nor rewritten",
      );
      const events = api.storedEvents("node-custom");
      assert.ok(
        events.some((e) => e.reason === "NfsDataNotMounted"),
        "the transition posts an Event",
      );
    } finally {
      await h.stop();
    }
  });

  it("exports the configured type in node_doctor_condition and prints it in the report", async () => {
    const metrics = createMetricsSink({ nodeName: "w", version: "1", checkNames: ["custom/nfs-data"] });
    const findings = [finding(NFS, "critical", "NfsDataNotMounted", "/mnt/data is not mounted", "mount /mnt/data")];
    metrics.onCheckRun?.(
      { check: "custom/nfs-data", startedAtMs: 0, durationMs: 1, outcome: "ok", findings },
      {
        conditions: () => [
          { type: NFS, status: "True", severity: "critical", reason: "NfsDataNotMounted", message: "", sinceMs: 0, flapping: false, findings },
        ],
        condition: () => undefined,
        lastRun: () => undefined,
        runs: () => [],
        firstRoundDone: () => true,
      },
    );
    const text = await metrics.registry.metrics();
    assert.match(text, /node_doctor_condition\{condition="NfsDataMountMissing",status="True",node="w"\} 1/);
    const report = renderText([...findings, finding("DiskSpaceLow", "ok", "x", "disk fine")], { colour: false });
    assert.match(report, /CRIT +NfsDataMountMissing=True +NfsDataNotMounted/);
    assert.match(report, /ok +DiskSpaceLow=False +DiskSpaceSufficient/);
  });
});

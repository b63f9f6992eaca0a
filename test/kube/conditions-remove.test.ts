/**
 * `node-doctor conditions remove` (uninstall; the chart's pre-delete hook),
 * run from the built bundle against the fake API server: our condition types
 * go, kubelet's and anyone else's stay byte-identical.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NodeCondition } from "kubernetes-types/core/v1.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { runCli } from "../support/cli.js";

const OLD = "2026-01-01T00:00:00Z";
const cond = (type: string, status = "False"): NodeCondition => ({
  type,
  status,
  reason: `${type}Reason`,
  message: "m",
  lastHeartbeatTime: OLD,
  lastTransitionTime: OLD,
});

describe("node-doctor conditions remove", () => {
  let api: FakeApiServer;
  let kubeconfig: string;
  before(async () => {
    api = await FakeApiServer.start();
    kubeconfig = await api.writeKubeconfig(await api.scratchDir(), { auth: "cert" });
  });
  after(() => api.close());

  function seed(name: string): NodeCondition[] {
    const kubelet = api.seedNode(name).status?.conditions ?? [];
    const conditions = [...kubelet, cond("DiskSpaceLow"), cond("VendorGpuHealthy", "True"), cond("ClockSkewed", "True")];
    api.seedNode(name, { conditions });
    return [...kubelet, cond("VendorGpuHealthy", "True")];
  }

  it("removes only node-doctor's condition types and leaves kubelet's intact", async () => {
    const kept = seed("rm-1");
    const result = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--node", "rm-1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "rm-1: removed DiskSpaceLow, ClockSkewed\n");
    assert.equal(JSON.stringify(api.node("rm-1")?.status?.conditions), JSON.stringify(kept));
    const patch = api.requestsTo({ verb: "patch", resource: "nodes/status", name: "rm-1" })[0];
    assert.equal(patch?.contentType, "application/strategic-merge-patch+json");
    assert.deepEqual(patch?.body, {
      status: {
        conditions: [
          { type: "DiskSpaceLow", $patch: "delete" },
          { type: "ClockSkewed", $patch: "delete" },
        ],
      },
    });

    const again = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--node", "rm-1"]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, "rm-1: no node-doctor conditions\n");
    assert.equal(api.requestsTo({ verb: "patch", resource: "nodes/status", name: "rm-1" }).length, 1, "nothing to remove: nothing written");
  });

  it("takes the node from NODE_NAME, and cleans every node with --all-nodes", async () => {
    seed("rm-2");
    const byEnv = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig], { env: { NODE_NAME: "rm-2" } });
    assert.equal(byEnv.stdout, "rm-2: removed DiskSpaceLow, ClockSkewed\n");
    seed("rm-3");
    seed("rm-4");
    const all = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--all-nodes"]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /rm-3: removed DiskSpaceLow, ClockSkewed\nrm-4: removed DiskSpaceLow, ClockSkewed\n/);
    for (const name of ["rm-1", "rm-2", "rm-3", "rm-4"]) {
      assert.deepEqual(
        api.node(name)?.status?.conditions?.map((c) => c.type),
        ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready", "VendorGpuHealthy"],
      );
    }
  });

  it("says so in one line when the node does not exist, the API refuses, or there is no API server", async () => {
    const missing = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--node", "ghost"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^node-doctor: ghost: node "ghost" does not exist\n$/);

    seed("rm-5");
    api.fault({ verb: "patch", resource: "nodes/status", name: "rm-5" }, { status: 403, times: 1 });
    const forbidden = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--node", "rm-5"]);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /rm-5: PATCH \/api\/v1\/nodes\/rm-5\/status: 403 Forbidden/);

    const none = await runCli(["conditions", "remove", "--node", "x"]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no API server: pass --kubeconfig FILE/);
    const usage = await runCli(["conditions", "purge"]);
    assert.equal(usage.code, 3);
    assert.match(usage.stderr, /unknown subcommand "purge"/);
  });
});

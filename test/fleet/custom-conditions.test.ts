/**
 * `kubectl node-doctor status` and `describe` on a cluster whose agents run
 * custom checks: the built plugin against the fake API server, the custom
 * condition types written under node-doctor's field manager as the agent's
 * conditions sink writes them, and another agent's type beside them.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONDITION_COLUMNS } from "../../src/fleet/render-status.js";
import { CONDITION_TYPES } from "../../src/types.js";
import { NODE } from "../support/cli.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { fleetNode } from "../support/fleet-nodes.js";
import { runTool } from "../support/tools.js";

const PLUGIN = new URL("../../dist/kubectl-node_doctor.mjs", import.meta.url).pathname;

describe("kubectl node-doctor with custom checks", { timeout: 60_000 }, () => {
  let api: FakeApiServer;
  let dir: string;
  let env: Record<string, string>;
  const base = Math.floor(Date.now() / 1000) * 1000;
  const plugin = (args: string[]) => runTool(NODE, [PLUGIN, ...args], { env });

  before(async () => {
    assert.ok(existsSync(PLUGIN), `${PLUGIN} is missing: run npm run build (npm test does)`);
    api = await FakeApiServer.start();
    dir = await mkdtemp(join(tmpdir(), "nd-fleet-custom-"));
    env = { PATH: process.env["PATH"] ?? "", KUBECONFIG: await api.writeKubeconfig(dir), HOME: dir };
  });

  after(async () => {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("status and describe show the custom checks' condition types node-doctor wrote, a column each; another manager's are not ours", async () => {
    const names = ["custom-a", "custom-b"];
    for (const name of names) api.seedNode(name, { labels: { pool: "custom" }, conditions: fleetNode(name, "healthy", base).status?.conditions ?? [] });
    const beat = new Date(Date.now() - 30_000).toISOString();
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: beat,
      lastTransitionTime: beat,
    });
    // What the agent's conditions sink sends, under its field manager: managedFields record node-doctor adding each type.
    api.patchStatusAs("node-doctor", "custom-a", {
      status: {
        conditions: [
          condition("NfsDataMountMissing", "True", "NfsDataNotMounted", "/mnt/data is not an NFS mount"),
          condition("ScratchMissing", "False", "CheckPassed", "ok"),
        ],
      },
    });
    api.patchStatusAs("node-doctor", "custom-b", { status: { conditions: [condition("ScratchMissing", "False", "CheckPassed", "ok")] } });
    api.patchStatusAs("node-problem-detector", "custom-b", {
      status: { conditions: [condition("KernelDeadlock", "True", "DockerHung", "task docker:7 blocked")] },
    });
    const table = await plugin(["status", "-l", "pool=custom"]);
    assert.equal(table.code, 0, table.stderr);
    const [header, a, b] = table.stdout.split("\n");
    const lastBuiltin = CONDITION_COLUMNS[CONDITION_TYPES[CONDITION_TYPES.length - 1] ?? "KubeletUnhealthy"];
    assert.match(header ?? "", new RegExp(` ${lastBuiltin} +NfsDataMountMissing +ScratchMissing +REASON +HEARTBEAT$`), "NPD's KernelDeadlock is not a column");
    assert.match(a ?? "", /^custom-a +sick .* FAIL +ok +NfsDataNotMounted +\d+s$/);
    assert.match(b ?? "", /^custom-b +healthy .* - +ok +- +\d+s$/);
    assert.match(table.stdout, /\n2 nodes, 1 sick \(NfsDataMountMissing 1\), 0 unknown/);
    const json = JSON.parse((await plugin(["status", "-l", "pool=custom", "-o", "json"])).stdout) as {
      nodes: Array<{ name: string; conditions: Record<string, { status: string }> }>;
    };
    assert.equal(json.nodes[0]?.conditions["NfsDataMountMissing"]?.status, "True");
    assert.equal(json.nodes[1]?.conditions["KernelDeadlock"], undefined);
    const describe = await plugin(["describe", "custom-a"]);
    assert.match(describe.stdout, /NfsDataMountMissing=True +NfsDataNotMounted.*\n {4}\/mnt\/data is not an NFS mount/);
  });
});

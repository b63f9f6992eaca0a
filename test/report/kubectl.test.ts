/**
 * What the operator sees: the real kubectl (Debian's kubernetes-client)
 * against the fake API server after the real sinks wrote a sick disk.
 * `kubectl describe node` lists our condition beside kubelet's, with reason
 * and message; `kubectl get events` shows the transition's Event.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../support/conditions-harness.js";
import { runTool } from "../support/tools.js";

describe("kubectl shows node-doctor's conditions and Events", () => {
  let api: FakeApiServer;
  let kubeconfig: string;
  before(async () => {
    api = await FakeApiServer.start();
    kubeconfig = await api.writeKubeconfig(await api.scratchDir());
    api.seedNode("worker-7");
    api.seedLease("worker-7");
    let run = 0;
    const disk = scriptedCheck("disk", "DiskSpaceLow", () =>
      run++ < 1
        ? []
        : [
            finding(
              "DiskSpaceLow",
              "critical",
              "NodeFsAvailableLow",
              "/var/lib/kubelet has 2% available (0.6 GiB of 30 GiB), below the hard eviction threshold 10%",
              "crictl rmi --prune",
            ),
          ],
    );
    const h = await conditionsHarness(api, [disk], { nodeName: "worker-7" });
    void h.scheduler.start();
    await h.advance(60_000);
    await h.stop();
  });
  after(() => api.close());

  it("kubectl describe node", async () => {
    const { code, stdout, stderr } = await runTool("kubectl", ["--kubeconfig", kubeconfig, "describe", "node", "worker-7"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^\s+Ready\s+True\s.*KubeletReady\s+kubelet is posting ready status$/m);
    assert.match(stdout, /^\s+DiskSpaceLow\s+True\s.*NodeFsAvailableLow\s+\/var\/lib\/kubelet has 2% available .* Remedy: crictl rmi --prune$/m);
    assert.match(stdout, /^\s+Warning\s+NodeFsAvailableLow\s+\S+\s+node-doctor\s+DiskSpaceLow=True: \/var\/lib\/kubelet has 2% available/m);
    assert.match(stdout, /HolderIdentity:\s+worker-7/);
  });

  it("kubectl get events --field-selector involvedObject.name=<node>", async () => {
    const { code, stdout, stderr } = await runTool("kubectl", [
      "--kubeconfig",
      kubeconfig,
      "get",
      "events",
      "--field-selector",
      "involvedObject.kind=Node,involvedObject.name=worker-7",
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
    assert.match(stdout, /^\S+\s+Warning\s+NodeFsAvailableLow\s+node\/worker-7\s+DiskSpaceLow=True: /m);
  });

  it("kubectl get node -o jsonpath reads our condition", async () => {
    const { stdout } = await runTool("kubectl", [
      "--kubeconfig",
      kubeconfig,
      "get",
      "node",
      "worker-7",
      "-o",
      'jsonpath={.status.conditions[?(@.type=="DiskSpaceLow")].status}',
    ]);
    assert.equal(stdout, "True");
  });
});

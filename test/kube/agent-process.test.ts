/**
 * The bundled agent as a process (`node-doctor run`), talking to the fake API
 * server with a client-certificate kubeconfig: it writes its conditions on
 * the Node in real time and counts its API requests on /metrics.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isBuiltinConditionType } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { startAgentProcess } from "../support/cli.js";

const HOST_ROOT = new URL("../fixtures/disk-healthy/", import.meta.url).pathname;

describe("node-doctor run against an API server", () => {
  let api: FakeApiServer;
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());

  it("writes its conditions beside kubelet's and reports API requests on /metrics", async () => {
    const kubelet = JSON.stringify(api.seedNode("proc-1").status?.conditions);
    const kubeconfig = await api.writeKubeconfig(await api.scratchDir(), { auth: "cert", files: true });
    const agent = await startAgentProcess(["--kubeconfig", kubeconfig, "--node-name", "proc-1", "--host-root", HOST_ROOT, "--listen", "127.0.0.1:0"]);
    try {
      const deadline = Date.now() + 10_000;
      while (!api.node("proc-1")?.status?.conditions?.some((c) => c.type === "DiskSpaceLow") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const conditions = api.node("proc-1")?.status?.conditions ?? [];
      const ours = conditions.find((c) => c.type === "DiskSpaceLow");
      assert.ok(ours, `no DiskSpaceLow on the Node after 10 s; agent output:\n${agent.output()}`);
      assert.equal(JSON.stringify(conditions.filter((c) => !isBuiltinConditionType(c.type))), kubelet, "kubelet's conditions untouched");
      assert.equal(api.requestsTo({ verb: "patch", resource: "nodes/status", name: "proc-1" })[0]?.user, "system:node:node-doctor-test");
      const metrics = await (await fetch(`${agent.address}/metrics`)).text();
      assert.match(metrics, /node_doctor_apiserver_requests_total\{[^}]*verb="patch"[^}]*resource="nodes\/status"[^}]*code="200"[^}]*\} 1/);
      assert.match(metrics, /node_doctor_apiserver_reachable\{node="proc-1"\} 1/);
      assert.match(agent.output(), /using the API server/);
    } finally {
      agent.child.kill("SIGTERM");
    }
  });
});

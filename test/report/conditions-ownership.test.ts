/**
 * Condition ownership decided from managedFields, not from the type's name:
 * node-problem-detector's stock health checkers (config/health-checker-kubelet.json,
 * health-checker-containerd.json, run on GKE nodes) write KubeletUnhealthy and
 * ContainerRuntimeUnhealthy with field manager "node-problem-detector" (its
 * binary's name, the prefix of its User-Agent). node-doctor, writing with its
 * own field manager, never overwrites nor deletes them; the kubelet check
 * reports the collision with a remedy that works when pasted.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { NodeCondition } from "kubernetes-types/core/v1.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../support/conditions-harness.js";
import { runCli } from "../support/cli.js";
import { kubeReaderFor } from "../support/kube.js";
import { find, kubeletHarness, kubeletTestSettings, NOW, startHealthz, type Healthz } from "../support/kubelet-harness.js";
import { requireTool } from "../support/tools.js";

const MIN = 60_000;
const AT = new Date(NOW - 30 * MIN).toISOString().replace(".000Z", "Z");

/** What node-problem-detector's health-checker-kubelet.json plugin writes (its default condition), as it patches it. */
const NPD_KUBELET: NodeCondition = {
  type: "KubeletUnhealthy",
  status: "False",
  reason: "KubeletIsHealthy",
  message: "kubelet on the node is functioning properly",
  lastHeartbeatTime: AT,
  lastTransitionTime: AT,
};

function condition(api: FakeApiServer, node: string, type: string): NodeCondition | undefined {
  return api.node(node)?.status?.conditions?.find((c) => c.type === type);
}

function npdNode(api: FakeApiServer, name: string): void {
  api.seedNode(name, { at: new Date(NOW - 60 * MIN) });
  api.patchStatusAs("node-problem-detector", name, { status: { conditions: [NPD_KUBELET] } });
}

describe("condition ownership from managedFields", () => {
  let api: FakeApiServer;
  let healthz: Healthz;
  const closers: Array<() => void | Promise<void>> = [];
  before(async () => {
    api = await FakeApiServer.start({ now: () => NOW });
    healthz = await startHealthz();
  });
  after(async () => {
    await healthz.close();
    await api.close();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it("never overwrites node-problem-detector's KubeletUnhealthy, writes its own types beside it, and says so once", async () => {
    npdNode(api, "gke-1");
    const before = JSON.stringify(condition(api, "gke-1", "KubeletUnhealthy"));
    const kubelet = scriptedCheck("kubelet", "KubeletUnhealthy", () => [finding("KubeletUnhealthy", "critical", "KubeletNotRunning", "no kubelet process")]);
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [kubelet, disk], { nodeName: "gke-1" });
    closers.push(() => h.stop());
    void h.scheduler.start();
    await h.advance(25 * MIN); // start, the transition to True, two heartbeats

    assert.equal(JSON.stringify(condition(api, "gke-1", "KubeletUnhealthy")), before, "node-problem-detector's condition is byte-identical");
    assert.equal(condition(api, "gke-1", "DiskSpaceLow")?.reason, "DiskSpaceSufficient", "our own types are written");
    const patches = api.requestsTo({ verb: "patch", resource: "nodes/status", name: "gke-1" });
    assert.ok(patches.length >= 2 && patches.length <= 4, `${patches.length} writes`);
    for (const p of patches) {
      assert.equal(p.fieldManager, "node-doctor", "every write names node-doctor's field manager");
      const types = (p.body as { status: { conditions: Array<{ type: string }> } }).status.conditions.map((c) => c.type);
      assert.deepEqual(types, ["DiskSpaceLow"], "KubeletUnhealthy is never sent");
    }
    const said = h.log.lines.filter(
      (l) => l.level === "warn" && /KubeletUnhealthy on this Node belongs to another field manager \(node-problem-detector\)/.test(l.message),
    );
    assert.equal(said.length, 1, "the collision is logged once");
    const owners = api.node("gke-1")?.metadata?.managedFields?.map((e) => e.manager);
    assert.deepEqual(owners?.sort(), ["kubelet", "node-doctor", "node-problem-detector"]);
  });

  it("never deletes it when the check that feeds KubeletUnhealthy is off, while still cleaning up its own", async () => {
    npdNode(api, "gke-2");
    api.patchStatusAs("node-doctor", "gke-2", {
      status: {
        conditions: [{ type: "ClockSkewed", status: "False", reason: "ClockSynchronized", message: "m", lastHeartbeatTime: AT, lastTransitionTime: AT }],
      },
    });
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "gke-2" });
    closers.push(() => h.stop());
    void h.scheduler.start();
    await h.advance(2_000);
    const sent = (
      api.requestsTo({ verb: "patch", resource: "nodes/status", name: "gke-2" })[0]?.body as { status: { conditions: Array<Record<string, unknown>> } }
    ).status.conditions;
    assert.deepEqual(
      sent.map((c) => (c["$patch"] ? `${String(c["type"])}: delete` : c["type"])),
      ["DiskSpaceLow", "ClockSkewed: delete"],
      "our stale ClockSkewed is removed; KubeletUnhealthy is not ours to remove",
    );
    assert.equal(condition(api, "gke-2", "ClockSkewed"), undefined);
    assert.deepEqual(condition(api, "gke-2", "KubeletUnhealthy"), NPD_KUBELET);
  });

  it("removes a configured type node-doctor added once no check produces it, and leaves another agent's of any name", async () => {
    api.seedNode("gke-5", { at: new Date(NOW - 60 * MIN) });
    const stale = (type: string) => ({ type, status: "False", reason: "Fine", message: "m", lastHeartbeatTime: AT, lastTransitionTime: AT });
    api.patchStatusAs("node-doctor", "gke-5", { status: { conditions: [stale("NfsDataMountMissing")] } });
    api.patchStatusAs("node-problem-detector", "gke-5", { status: { conditions: [stale("FrequentDockerRestart")] } });
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "gke-5" });
    closers.push(() => h.stop());
    void h.scheduler.start();
    await h.advance(2_000);
    assert.equal(condition(api, "gke-5", "NfsDataMountMissing"), undefined, "managedFields say node-doctor added it: ours to clean up");
    assert.deepEqual(condition(api, "gke-5", "FrequentDockerRestart"), stale("FrequentDockerRestart"));
  });

  it("takes a type over once the other manager's condition is gone", async () => {
    npdNode(api, "gke-3");
    const kubelet = scriptedCheck("kubelet", "KubeletUnhealthy", () => []);
    const h = await conditionsHarness(api, [kubelet], { nodeName: "gke-3" });
    closers.push(() => h.stop());
    void h.scheduler.start();
    await h.advance(2_000);
    assert.equal(condition(api, "gke-3", "KubeletUnhealthy")?.reason, "KubeletIsHealthy", "still node-problem-detector's");
    // The operator stops node-problem-detector's health checker and deletes its condition.
    api.patchStatusAs("kubectl-patch", "gke-3", { status: { conditions: [{ type: "KubeletUnhealthy", $patch: "delete" }] } });
    await h.advance(12 * MIN); // the next write (a heartbeat here) sees it gone
    const ours = condition(api, "gke-3", "KubeletUnhealthy");
    assert.equal(ours?.reason, "KubeletHealthy", "node-doctor writes its own");
    const entry = api.node("gke-3")?.metadata?.managedFields?.find((e) => e.manager === "node-doctor");
    assert.ok(JSON.stringify(entry?.fieldsV1).includes('"k:{\\"type\\":\\"KubeletUnhealthy\\"}":{".":{}'), "and owns it now");
    assert.ok(h.log.lines.some((l) => l.level === "info" && /KubeletUnhealthy is no longer another field manager's/.test(l.message)));
  });

  it("conditions remove leaves node-problem-detector's KubeletUnhealthy and says so", async () => {
    npdNode(api, "gke-4");
    api.patchStatusAs("node-doctor", "gke-4", {
      status: {
        conditions: [{ type: "DiskSpaceLow", status: "False", reason: "DiskSpaceSufficient", message: "m", lastHeartbeatTime: AT, lastTransitionTime: AT }],
      },
    });
    const dir = await mkdtemp(join(tmpdir(), "nd-own-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = await api.writeKubeconfig(dir);
    const result = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--node", "gke-4"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "gke-4: removed DiskSpaceLow; left KubeletUnhealthy to node-problem-detector\n");
    assert.deepEqual(condition(api, "gke-4", "KubeletUnhealthy"), NPD_KUBELET);
    const again = await runCli(["conditions", "remove", "--kubeconfig", kubeconfig, "--node", "gke-4"]);
    assert.equal(again.stdout, "gke-4: no node-doctor conditions; left KubeletUnhealthy to node-problem-detector\n");
    assert.equal(api.requestsTo({ verb: "patch", resource: "nodes/status", name: "gke-4" }).length, 1, "nothing of ours left: nothing written");
  });

  it("the kubelet check reports the collision, and its remedy's kubectl command hands the type to node-doctor", async () => {
    npdNode(api, "node-a");
    api.seedLease("node-a", { renewTime: new Date(NOW - 8_000) });
    const h = await kubeletHarness("kubelet-healthy", kubeletTestSettings(healthz.url));
    closers.push(() => h.close());
    const r = await kubeReaderFor(api, "node-a");
    closers.push(r.close);
    const findings = await h.run({ cluster: r.reader });
    const collision = find(findings, "NodeConditionCollision");
    assert.equal(collision.severity, "warning");
    assert.match(
      collision.message,
      /NodeCondition KubeletUnhealthy on node-a was added by node-problem-detector, so node-doctor neither writes nor removes it/,
    );
    assert.match(
      collision.message,
      /managedFields: node-problem-detector \(Update, .*: lastHeartbeatTime, lastTransitionTime, message, reason, status, type\)/,
    );
    assert.match(collision.remedy ?? "", /drop health-checker-kubelet\.json from its --config\.custom-plugin-monitor/);
    assert.equal(findings.filter((f) => f.reason === "StaleNodeCondition").length, 0, "its heartbeat is fresh");

    const command = collision.remedy?.match(/`(kubectl patch [^`]+)`/)?.[1];
    assert.ok(command, "the remedy gives a kubectl command");
    const dir = await mkdtemp(join(tmpdir(), "nd-own-kubectl-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = await api.writeKubeconfig(dir);
    const kubectl = requireTool("kubectl");
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        "sh",
        ["-c", `${command} --kubeconfig=${kubeconfig}`],
        { timeout: 30_000, env: { ...process.env, PATH: `${join(kubectl, "..")}:/usr/bin:/bin` } },
        (error, _out, stderr) => resolve({ code: error ? 1 : 0, stderr }),
      ),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(condition(api, "node-a", "KubeletUnhealthy"), undefined, "node-problem-detector's condition is gone");
    const last = api.requests.at(-1);
    assert.equal(last?.fieldManager, "kubectl-patch", "kubectl names its own field manager");
  });
});

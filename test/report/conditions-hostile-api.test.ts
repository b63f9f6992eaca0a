/**
 * NodeConditions against an API server, a webhook or a neighbour that does
 * not play along: a PATCH accepted but not shown (a mutating admission
 * webhook, a proxy rewriting answers) backs off instead of writing every
 * second; a condition of ours another client deletes or forges is rewritten
 * as soon as the agent reads the Node, naming who changed it; a client that
 * keeps changing it is not fought more than a few times an hour.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { KubeClusterReader } from "../../src/kube/reader.js";
import { isBuiltinConditionType } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck, type Harness } from "../support/conditions-harness.js";

const MIN = 60_000;
const HOUR = 60 * MIN;

function withoutOurConditions(node: Node): Node {
  return { ...node, status: { ...node.status, conditions: (node.status?.conditions ?? []).filter((c) => !isBuiltinConditionType(c.type)) } };
}

function disk(api: FakeApiServer, node: string): NodeCondition | undefined {
  return api.node(node)?.status?.conditions?.find((c) => c.type === "DiskSpaceLow");
}

describe("NodeConditions when the API server or a neighbour does not play along", () => {
  let api: FakeApiServer;
  let h: Harness | undefined;
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());
  afterEach(async () => {
    api.admission = undefined;
    api.proxy = undefined;
    await h?.stop();
    h = undefined;
  });

  const full = () =>
    scriptedCheck("disk", "DiskSpaceLow", () => [finding("DiskSpaceLow", "critical", "NodeFsAvailableLow", "/var/lib/kubelet has 2% available")]);

  for (const [name, install] of [
    ["a mutating webhook strips our conditions from every Node write", (a: FakeApiServer) => (a.admission = withoutOurConditions)],
    [
      "a proxy strips them from every answer",
      (a: FakeApiServer) => (a.proxy = (body) => (body && typeof body === "object" && "status" in body ? withoutOurConditions(body as Node) : body)),
    ],
  ] as const) {
    it(`${name}: backs off to one PATCH per heartbeat, says so once, and says when it is shown again`, async () => {
      const node = `dropped-${name.split(" ")[1]}`;
      api.seedNode(node);
      install(api);
      h = await conditionsHarness(api, [full()], { nodeName: node, random: () => 0.5 });
      void h.scheduler.start();
      await h.advance(HOUR);
      const patches = h.patches();
      // 1, 2, 4 … 512 s then the 600 s heartbeat (× 1.05 jitter): 10 doublings and 5 heartbeats; the loop this replaces wrote 3,600.
      assert.ok(patches >= 8 && patches <= 20, `${patches} PATCHes in an hour`);
      const warned = h.log.lines.filter((l) => l.level === "warn" && /a mutating admission webhook or a proxy drops them/.test(l.message));
      assert.equal(warned.length, 1, "said once");
      assert.match(warned[0]?.message ?? "", /does not show DiskSpaceLow=True\/NodeFsAvailableLow/);

      api.admission = undefined;
      api.proxy = undefined;
      await h.advance(11 * MIN);
      assert.equal(disk(api, node)?.status, "True");
      assert.ok(h.log.lines.some((l) => l.level === "info" && l.message === "the Node shows node-doctor's conditions again"));
      const quiet = h.patches();
      await h.advance(30 * MIN);
      assert.ok(h.patches() - quiet <= 3, "steady again: one write per heartbeat");
    });
  }

  it("rewrites a forged condition as soon as the kubelet check's read shows it, naming who forged it", async () => {
    api.seedNode("forged");
    h = await conditionsHarness(api, [full()], { nodeName: "forged" });
    const reader = new KubeClusterReader(h.client, "forged"); // the kubelet check reads through the agent's client
    void h.scheduler.start();
    await h.advance(40_000);
    assert.equal(disk(api, "forged")?.status, "True");
    const before = h.patches();

    api.patchStatusAs("kubectl-patch", "forged", {
      status: { conditions: [{ type: "DiskSpaceLow", status: "False", reason: "AllGood", message: "nothing to see" }] },
    });
    await h.advance(60_000);
    assert.equal(disk(api, "forged")?.reason, "AllGood", "nothing read the Node yet");
    await reader.getNode(AbortSignal.timeout(5_000));
    await h.advance(2_000);
    assert.equal(disk(api, "forged")?.status, "True", "rewritten within the coalescing second of the read, not at the next heartbeat");
    assert.equal(disk(api, "forged")?.reason, "NodeFsAvailableLow");
    assert.equal(h.patches() - before, 1);
    assert.equal(h.conditions.writes.repair, 1);
    const said = h.log.lines.find((l) => l.level === "warn" && l.message === "another client changed node-doctor's DiskSpaceLow: rewriting it now");
    assert.ok(said, "logged");
    assert.match(String(said.fields["by"]), /^kubectl-patch \(Update, .*: (message, reason, status|reason, status, message|status, reason, message)/);
    assert.match(String(said.fields["change"]), /status True → False, reason NodeFsAvailableLow → AllGood, message/);
    const managers = api.node("forged")?.metadata?.managedFields?.map((e) => e.manager);
    assert.ok(!managers?.includes("kubectl-patch"), "the rewrite takes its fields back");
  });

  it("rewrites a deleted condition found by its own read when nothing else reads the Node (the kubelet check off)", async () => {
    api.seedNode("deleted");
    h = await conditionsHarness(api, [full()], { nodeName: "deleted" });
    void h.scheduler.start();
    await h.advance(40_000);
    const gets = () => api.requestsTo({ verb: "get", resource: "nodes", name: "deleted" }).length;
    const getsBefore = gets();
    api.patchStatusAs("kubectl-patch", "deleted", { status: { conditions: [{ type: "DiskSpaceLow", $patch: "delete" }] } });
    await h.advance(6 * MIN + 2_000);
    assert.equal(disk(api, "deleted")?.status, "True", "back within verifyMs (6 min), before the 10-minute heartbeat");
    assert.equal(gets() - getsBefore, 1, "one cached read");
    assert.equal(api.requestsTo({ verb: "get", resource: "nodes", name: "deleted" }).at(-1)?.query["resourceVersion"], "0", "from the watch cache");
    const said = h.log.lines.find((l) => l.message === "another client removed node-doctor's DiskSpaceLow: rewriting it now");
    assert.equal(said?.fields["by"], "unknown (managedFields do not record removals)");
  });

  it("does not fight a client that keeps changing it: three rewrites an hour, then the heartbeat, and one line saying so", async () => {
    api.seedNode("fought");
    h = await conditionsHarness(api, [full()], { nodeName: "fought" });
    const reader = new KubeClusterReader(h.client, "fought");
    void h.scheduler.start();
    await h.advance(40_000);
    const before = h.patches();
    for (let minute = 0; minute < 60; minute++) {
      api.patchStatusAs("other-agent", "fought", { status: { conditions: [{ type: "DiskSpaceLow", status: "False", reason: `Other${minute}` }] } });
      await reader.getNode(AbortSignal.timeout(5_000));
      await h.advance(MIN);
    }
    assert.equal(h.conditions.writes.repair, 3);
    const writes = h.patches() - before;
    assert.ok(writes <= 3 + 7, `${writes} writes in the hour`);
    const fought = h.log.lines.filter((l) => l.message.startsWith("another client keeps changing node-doctor's DiskSpaceLow"));
    assert.equal(fought.length, 1);
  });

  it("ignores a cached read older than its last write", async () => {
    api.seedNode("cached");
    h = await conditionsHarness(api, [full()], { nodeName: "cached" });
    void h.scheduler.start();
    await h.advance(2_000);
    const stale = api.node("cached") as Node; // before the transition to True is written
    await h.advance(40_000);
    assert.equal(disk(api, "cached")?.status, "True");
    h.conditions.observe(stale);
    await h.advance(2_000);
    assert.equal(h.conditions.writes.repair, 0, "a watch cache behind our write is not tampering");
  });
});

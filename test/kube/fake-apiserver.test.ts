/**
 * The fake API server answers the way kube-apiserver does for what node-doctor
 * and kubectl use: strategic merge of conditions by type, $patch: delete,
 * resourceVersion conflicts, Events and their field selectors, discovery.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiError, Transport } from "../../src/kube/transport.js";
import type { KubeClient } from "../../src/kube/client.js";
import { FakeApiServer, strategicMergePatch } from "../support/fake-apiserver.js";
import { kubeClientFor } from "../support/kube.js";

describe("fake API server", () => {
  let api: FakeApiServer;
  let client: KubeClient;
  let close: () => void;
  before(async () => {
    api = await FakeApiServer.start();
    ({ client, close } = await kubeClientFor(api));
  });
  after(async () => {
    close();
    await api.close();
  });

  it("merges status.conditions by type, deletes with $patch: delete, and bumps resourceVersion", async () => {
    const seeded = api.seedNode("n1");
    const kubelet = JSON.stringify(seeded.status?.conditions);
    const first = await client.patchNodeStatus("n1", {
      status: {
        conditions: [
          {
            type: "DiskSpaceLow",
            status: "False",
            reason: "DiskSpaceSufficient",
            message: "ok",
            lastHeartbeatTime: "2026-11-24T12:00:00.456Z",
            lastTransitionTime: "2026-11-24T12:00:00Z",
          },
        ],
      },
    });
    assert.ok(Number(first.metadata?.resourceVersion) > Number(seeded.metadata?.resourceVersion));
    const ours = first.status?.conditions?.find((c) => c.type === "DiskSpaceLow");
    assert.equal(ours?.lastHeartbeatTime, "2026-11-24T12:00:00Z", "stored at one-second precision");
    assert.equal(JSON.stringify(first.status?.conditions?.filter((c) => c.type !== "DiskSpaceLow")), kubelet);
    const second = await client.patchNodeStatus("n1", { status: { conditions: [{ type: "DiskSpaceLow", $patch: "delete" }] } });
    assert.equal(JSON.stringify(second.status?.conditions), kubelet);
  });

  it("answers 409 to a patch naming an older resourceVersion, 415 to an unknown patch type, 422 to a bad status", async () => {
    api.seedNode("n2");
    await assert.rejects(
      client.patchNodeStatus("n2", { metadata: { resourceVersion: "1" }, status: {} }),
      (e: unknown) => e instanceof ApiError && e.status === 409,
    );
    await assert.rejects(
      client.patchNodeStatus("n2", { status: {} }, { contentType: "application/json" }),
      (e: unknown) => e instanceof ApiError && e.status === 415,
    );
    await assert.rejects(
      client.patchNodeStatus("n2", { status: { conditions: [{ type: "X", status: "Maybe" }] } }),
      (e: unknown) => e instanceof ApiError && e.status === 422,
    );
    await assert.rejects(client.patchNodeStatus("absent", { status: {} }), (e: unknown) => e instanceof ApiError && e.status === 404);
  });

  it("applies JSON patches and RFC 7386 merge patches", async () => {
    api.seedNode("n3");
    const node = await client.patchNodeStatus("n3", [{ op: "remove", path: "/status/conditions/0" }], { contentType: "application/json-patch+json" });
    assert.equal(node.status?.conditions?.[0]?.type, "DiskPressure");
    assert.deepEqual(strategicMergePatch({ a: { b: 1, c: 2 } }, { a: { b: null, d: 3 } }), { a: { c: 2, d: 3 } });
  });

  it("creates, patches and lists Events with a field selector; refuses duplicates and bad namespaces", async () => {
    const event = {
      metadata: { name: "n1.abc", namespace: "default" },
      involvedObject: { kind: "Node", name: "n1", uid: "n1", apiVersion: "v1" },
      reason: "Test",
      message: "m",
      source: { component: "node-doctor", host: "n1" },
      type: "Warning",
      count: 1,
    };
    await client.createEvent("default", event);
    await assert.rejects(client.createEvent("default", event), (e: unknown) => e instanceof ApiError && e.status === 409);
    await assert.rejects(
      client.createEvent("kube-system", { ...event, metadata: { name: "x", namespace: "kube-system" } }),
      (e: unknown) => e instanceof ApiError && e.status === 422,
    );
    await client.patchEvent("default", "n1.abc", { count: 2 });
    const listed = await client.listEvents(undefined, "involvedObject.kind=Node,involvedObject.name=n1");
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.count, 2);
    assert.equal((await client.listEvents("default", "involvedObject.name=other")).length, 0);
  });

  it("serves /version without credentials and 401 elsewhere; discovery lists nodes, events and leases", async () => {
    const anonymous = new Transport({ server: api.url, ca: api.pki.caCert, origin: "test" }, { timeoutMs: 5_000 });
    try {
      const version = await anonymous.request({ verb: "get", resource: "version", method: "GET", path: "/version" });
      assert.equal((version.body as { major?: string }).major, "1");
      await assert.rejects(
        anonymous.request({ verb: "list", resource: "nodes", method: "GET", path: "/api/v1/nodes" }),
        (e: unknown) => e instanceof ApiError && e.status === 401,
      );
    } finally {
      anonymous.close();
    }
    const core = await client.transport.request({ verb: "get", resource: "discovery", method: "GET", path: "/api/v1" });
    const names = (core.body as { resources: Array<{ name: string }> }).resources.map((r) => r.name);
    assert.ok(names.includes("nodes") && names.includes("nodes/status") && names.includes("events"));
    const groups = await client.transport.request({ verb: "get", resource: "discovery", method: "GET", path: "/apis" });
    assert.match(JSON.stringify(groups.body), /coordination\.k8s\.io\/v1/);
  });

  it("keeps managedFields as the API server does: per manager and subresource, '.' for whoever added a condition, fields move to whoever changes them", async () => {
    api.seedNode("mf");
    const cond = (status: string, message = "m") => ({ type: "DiskSpaceLow", status, reason: "R", message, lastHeartbeatTime: "2026-11-24T12:00:00Z" });
    await client.patchNodeStatus("mf", { status: { conditions: [cond("False")] } });
    const heldBy = (manager: string) => {
      const entry = api.node("mf")?.metadata?.managedFields?.find((e) => e.manager === manager);
      const fields = (entry?.fieldsV1 as Record<string, Record<string, Record<string, Record<string, object>>>> | undefined)?.["f:status"]?.["f:conditions"]?.[
        'k:{"type":"DiskSpaceLow"}'
      ];
      return fields ? Object.keys(fields).sort() : undefined;
    };
    const entry = api.node("mf")?.metadata?.managedFields?.find((e) => e.manager === "node-doctor");
    assert.deepEqual(
      { operation: entry?.operation, subresource: entry?.subresource, fieldsType: entry?.fieldsType },
      {
        operation: "Update",
        subresource: "status",
        fieldsType: "FieldsV1",
      },
    );
    assert.deepEqual(heldBy("node-doctor"), [".", "f:lastHeartbeatTime", "f:message", "f:reason", "f:status", "f:type"]);
    assert.ok(heldBy("kubelet") === undefined, "kubelet holds its own conditions only");

    // Another writer changes the status only: it takes f:status, node-doctor keeps the rest and the element.
    api.patchStatusAs("kubectl-patch", "mf", { status: { conditions: [{ type: "DiskSpaceLow", status: "True" }] } });
    assert.deepEqual(heldBy("kubectl-patch"), ["f:status"]);
    assert.deepEqual(heldBy("node-doctor"), [".", "f:lastHeartbeatTime", "f:message", "f:reason", "f:type"]);
    // A write of the same values takes nothing; changing the status back takes it back, and an emptied entry goes.
    await client.patchNodeStatus("mf", { status: { conditions: [{ ...cond("True") }] } });
    assert.deepEqual(heldBy("kubectl-patch"), ["f:status"]);
    await client.patchNodeStatus("mf", { status: { conditions: [{ ...cond("False") }] } });
    assert.equal(heldBy("kubectl-patch"), undefined);
    assert.equal(
      api.node("mf")?.metadata?.managedFields?.some((e) => e.manager === "kubectl-patch"),
      false,
    );
    // Removing the element removes it from every manager.
    await client.patchNodeStatus("mf", { status: { conditions: [{ type: "DiskSpaceLow", $patch: "delete" }] } });
    assert.equal(heldBy("node-doctor"), undefined);

    // Without ?fieldManager= the manager is the User-Agent up to its first "/"; a manager over 128 bytes is refused.
    const anonymous = new Transport({ ...client.transport.credentials }, { timeoutMs: 5_000 });
    try {
      await anonymous.request({
        verb: "patch",
        resource: "nodes/status",
        method: "PATCH",
        path: "/api/v1/nodes/mf/status",
        body: { status: { conditions: [cond("False")] } },
        contentType: "application/strategic-merge-patch+json",
      });
      assert.equal(api.requests.at(-1)?.fieldManager, "node-doctor", "node-doctor's User-Agent names the same manager");
      await assert.rejects(
        anonymous.request({
          verb: "patch",
          resource: "nodes/status",
          method: "PATCH",
          path: "/api/v1/nodes/mf/status",
          query: { fieldManager: "x".repeat(129) },
          body: {},
          contentType: "application/merge-patch+json",
        }),
        (e: unknown) => e instanceof ApiError && e.status === 422,
      );
    } finally {
      anonymous.close();
    }
  });
});

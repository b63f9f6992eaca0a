/**
 * The fleet's repair budget, held with one Lease per slot on the fake API
 * server (its create answers 409 AlreadyExists for a taken name, its update
 * 409 Conflict for a stale resourceVersion, as the real one does): 50 agents
 * with a budget of 10 % never hold more than 5 slots at once, a node holds
 * one slot at most, an expired slot is taken over, and without the API server
 * there is no slot.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeClient } from "../../src/kube/client.js";
import { RepairSlots, SLOT_LABEL, slotCount, type HeldSlot } from "../../src/kube/slots.js";
import { ApiError } from "../../src/kube/transport.js";
import { systemClock } from "../../src/time/clock.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeClientFor } from "../support/kube.js";

const NS = "node-doctor";

describe("repair slots (one Lease per slot)", () => {
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

  const slots = (holder: string, budget: { maxNodes?: number; maxPercent?: number }, now = () => Date.now(), on: KubeClient = client) =>
    new RepairSlots({ api: on, namespace: NS, holder, budget, leaseDurationSeconds: 300, clock: { ...systemClock, now } });

  it("the budget: the smaller of N nodes and N % rounded up", () => {
    assert.equal(slotCount({ maxPercent: 10 }, 50), 5);
    assert.equal(slotCount({ maxPercent: 10 }, 3), 1, "rounded up, as a DaemonSet's maxUnavailable");
    assert.equal(slotCount({ maxPercent: 10, maxNodes: 2 }, 50), 2);
    assert.equal(slotCount({ maxPercent: 0 }, 50), 0);
  });

  it("the fake API server's Leases: 409 AlreadyExists on a taken name, 409 Conflict on a stale resourceVersion", async () => {
    const lease = { metadata: { name: "probe", labels: { t: "1" } }, spec: { holderIdentity: "a", leaseDurationSeconds: 10 } };
    const created = await client.createLease(NS, lease);
    await assert.rejects(client.createLease(NS, lease), (e: unknown) => e instanceof ApiError && e.status === 409 && /already exists/.test(e.message));
    const updated = await client.updateLease(NS, { ...created, metadata: { ...created.metadata, name: "probe" }, spec: { holderIdentity: "b" } });
    assert.notEqual(updated.metadata?.resourceVersion, created.metadata?.resourceVersion);
    await assert.rejects(
      client.updateLease(NS, { ...created, metadata: { ...created.metadata, name: "probe" }, spec: { holderIdentity: "c" } }),
      (e: unknown) => e instanceof ApiError && e.status === 409 && /the object has been modified/.test(e.message),
    );
    await assert.rejects(client.deleteLease(NS, "probe", created.metadata?.resourceVersion), (e: unknown) => e instanceof ApiError && e.status === 409);
    await client.deleteLease(NS, "probe", updated.metadata?.resourceVersion);
    assert.equal(api.leasesIn(NS).length, 0);
  });

  it("50 agents, budget 10 %: never more than 5 slots held at once, each by one node", async (t) => {
    for (let i = 0; i < 50; i++) api.seedNode(`fleet-${i}`);
    const clients = await Promise.all(Array.from({ length: 50 }, () => kubeClientFor(api)));
    let held = 0;
    let most = 0;
    let repairs = 0;
    let refused = 0;
    const holders = new Set<string>();
    const started = Date.now();
    const agent = async (i: number) => {
      const mine = slots(`fleet-${i}`, { maxPercent: 10 }, () => Date.now(), clients[i]?.client);
      // Each agent tries to repair five times, about 1.5 s in all: bounded time.
      for (let round = 0; round < 5; round++) {
        const answer = await mine.acquire();
        if (answer.slot) {
          held++;
          most = Math.max(most, held);
          assert.ok(!holders.has(answer.slot.name), `${answer.slot.name} held by two nodes`);
          holders.add(answer.slot.name);
          const stored = api.leasesIn(NS).filter((l) => l.metadata?.labels?.[SLOT_LABEL] === "true");
          assert.ok(stored.length <= 5, `${stored.length} slot Leases stored`);
          repairs++;
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60));
          holders.delete(answer.slot.name);
          held--;
          await mine.release(answer.slot);
        } else refused++;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 200));
      }
    };
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => agent(i)));
    } finally {
      for (const c of clients) c.close();
    }
    t.diagnostic(`${repairs} repairs, ${refused} refused, at most ${most} slots held at once, ${Date.now() - started} ms`);
    assert.ok(most <= 5, `${most} held at once`);
    assert.ok(most >= 3, `the budget was used (${most} at most)`);
    assert.ok(repairs > 0 && refused > 0, `${repairs} repairs, ${refused} refused`);
    assert.equal(api.leasesIn(NS).length, 0, "every slot given back");
    assert.ok(Date.now() - started < 60_000);
  });

  it("a node holds one slot at most, an expired slot is taken over, and a full budget says who holds it", async () => {
    let now = Date.now();
    const a = slots("node-a", { maxNodes: 2 }, () => now);
    const b = slots("node-b", { maxNodes: 2 }, () => now);
    const c = slots("node-c", { maxNodes: 2 }, () => now);
    const first = (await a.acquire()).slot as HeldSlot;
    assert.ok(first);
    assert.equal((await a.acquire()).slot?.name, first.name, "the same node gets its own slot back");
    assert.ok((await b.acquire()).slot);
    const full = await c.acquire();
    assert.equal(full.slot, undefined);
    assert.match(full.slot ? "" : full.why, /2 of 2 repair slots are held \(node-a, node-b\)|2 of 2 repair slots are held \(node-b, node-a\)/);
    now += 301_000; // node-a died while repairing: its Lease is not renewed
    const taken = await c.acquire();
    assert.ok(taken.slot);
    assert.equal(taken.slot.lease.spec?.holderIdentity, "node-c");
    assert.equal(taken.slot.lease.spec?.leaseTransitions, 1);
    await a.release(first); // its resourceVersion is stale: node-c's slot stays
    assert.equal(api.leasesIn(NS).filter((l) => l.spec?.holderIdentity === "node-c").length, 1);
    for (const l of api.leasesIn(NS)) await client.deleteLease(NS, l.metadata?.name ?? "", undefined);
  });

  it("a held slot renewed stays held past its first term; once another node took it, renewing says so", async () => {
    let now = Date.now();
    const a = slots("node-a", { maxNodes: 1 }, () => now);
    const b = slots("node-b", { maxNodes: 1 }, () => now);
    let held = (await a.acquire()).slot as HeldSlot;
    for (let i = 0; i < 3; i++) {
      now += 200_000; // a long repair: three renewals 200 s apart under a 300 s Lease
      held = (await a.renew(held)) as HeldSlot;
      assert.ok(held, `renewal ${i + 1}`);
      assert.equal(held.lease.spec?.renewTime, new Date(now).toISOString().replace("Z", "000Z"));
      const other = await b.acquire();
      assert.match(other.slot ? "" : other.why, /1 of 1 repair slots are held \(node-a\)/, "600 s after it was taken, still node-a's");
    }
    now += 301_000; // node-a stopped renewing: node-b takes the slot, and node-a's next renewal finds it gone
    const taken = (await b.acquire()).slot as HeldSlot;
    assert.equal(taken.lease.spec?.holderIdentity, "node-b");
    assert.equal(await a.renew(held), undefined);
    await a.release(held);
    assert.equal(api.leasesIn(NS)[0]?.spec?.holderIdentity, "node-b", "node-a's stale release leaves node-b's slot");
    await b.release(taken);
    assert.equal(api.leasesIn(NS).length, 0);
  });

  it("without the API server there is no slot", async () => {
    api.fault({ resource: "leases" }, { status: 503, times: 100 });
    await assert.rejects(slots("node-x", { maxNodes: 1 }).acquire(), (e: unknown) => e instanceof ApiError && e.status === 503);
    api.clearFaults();
  });
});

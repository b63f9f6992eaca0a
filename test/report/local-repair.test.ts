/**
 * Guarded local repair (docs/remediation.md, Local repair) against systemd's
 * stand-in on a real dbus-daemon (test/support/fake-systemd.py) and the fake
 * API server: kubelet stops answering its healthz and node-doctor restarts it
 * with Manager.RestartUnit once for that transition, holding a repair slot
 * (a Lease) while it does, with an Event before and after; not again within
 * the cooldown, not without a slot, not in a dry run, not without the API
 * server. The certificate from the future: kubelet-client-current.pem is
 * pointed back at the older valid certificate with a rename over the link (a
 * reader never finds it missing), and a second run changes nothing.
 */
import assert from "node:assert/strict";
import { lstat, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { Event as CoreEvent } from "kubernetes-types/core/v1.js";
import { repairClassOf } from "../../src/checks/index.js";
import { certificateSettings, createCertificatesCheck } from "../../src/checks/certificates/index.js";
import { RepairSlots } from "../../src/kube/slots.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { SystemdBus } from "../../src/node/systemd.js";
import { RepairSink, type RepairPolicy, type RepairSystemd } from "../../src/sinks/repair.js";
import { Registry } from "../../src/telemetry/prometheus.js";
import { systemClock } from "../../src/time/clock.js";
import type { Check, Finding } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck, type Harness } from "../support/conditions-harness.js";
import { startFakeSystemd, type FakeSystemd, type SystemdState } from "../support/fake-systemd.js";
import { writeKubeletClientPki } from "../support/kubelet-pki.js";
import { checkContext } from "../support/check-context.js";
import { mintCa, mintLeaf } from "../support/pki-mint.js";

const MIN = 60_000;
const NS = "node-doctor";
const SOCKET = "/run/dbus/system_bus_socket";
const UNITS = { kubeletUnit: "kubelet.service", runtimeUnit: "containerd.service", starters: [] as string[] };

const SYSTEMD: SystemdState = {
  units: {
    "kubelet.service": { Unit: { ActiveState: "active", SubState: "running", LoadState: "loaded", UnitFileState: "enabled" }, Service: { NRestarts: 0 } },
    "containerd.service": { Unit: { ActiveState: "active", SubState: "running", LoadState: "loaded", UnitFileState: "enabled" } },
  },
};

const POLICY: RepairPolicy = {
  dryRun: false,
  actions: ["restart-kubelet", "restart-runtime", "enable-unit", "repoint-client-cert"],
  cooldownMs: 30 * MIN,
  maxPerReasonPerDay: 3,
  settleMs: 10_000,
  slotRetryMs: 2 * MIN,
};

/** kubelet's healthz failing in the runs for which `sick(run)` is true, healthy otherwise. */
const kubelet = (sick: (run: number) => boolean): Check =>
  scriptedCheck("kubelet", "KubeletUnhealthy", (run) =>
    sick(run)
      ? [finding("KubeletUnhealthy", "critical", "KubeletHealthzFailing", "kubelet's healthz at http://127.0.0.1:10248/healthz timed out after 2 s")]
      : [finding("KubeletUnhealthy", "ok", "KubeletRunning", "kubelet is running")],
  );

describe("local repair", () => {
  let api: FakeApiServer;
  let root: string;
  let systemd: FakeSystemd;
  const harnesses: Harness[] = [];
  before(async () => {
    api = await FakeApiServer.start();
    root = await mkdtemp(join(tmpdir(), "node-doctor-repair-"));
    systemd = await startFakeSystemd(join(root, SOCKET), SYSTEMD);
  });
  after(async () => {
    await systemd.stop();
    await api.close();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.stop();
    for (const l of api.leasesIn(NS)) api.deleteLeaseAs(NS, l.metadata?.name ?? "");
  });

  async function agent(
    node: string,
    checks: Check[],
    policy: Partial<RepairPolicy> = {},
    hostRoot = root,
    /** waitsOnClock: the repair itself waits on the simulated clock, so the harness must not wait for it between timers. */
    parts: { systemd?: RepairSystemd; leaseDurationSeconds?: number; waitsOnClock?: boolean } = {},
  ) {
    api.seedNode(node);
    const registry = new Registry();
    let sink: RepairSink | undefined;
    const h = await conditionsHarness(api, checks, {
      nodeName: node,
      repairClass: repairClassOf,
      hostRoot,
      sinks: ({ client, clock, log }) => {
        const host = new RootedHost(root);
        sink = new RepairSink({
          nodeName: node,
          clock,
          log,
          host: new RootedHost(hostRoot),
          systemd: parts.systemd ?? new SystemdBus(host, SOCKET, 5_000),
          slots: new RepairSlots({
            api: client,
            namespace: NS,
            holder: node,
            budget: { maxNodes: 1 },
            leaseDurationSeconds: parts.leaseDurationSeconds ?? 300,
            clock,
          }),
          events: client,
          distribution: () => Promise.resolve(UNITS),
          policy: { ...POLICY, ...policy },
          registry,
        });
        const made = sink;
        return [parts.waitsOnClock ? new Proxy(made, { get: (target, key) => (key === "idle" ? undefined : Reflect.get(target, key, target)) }) : made];
      },
    });
    harnesses.push(h);
    return { h, sink: sink as RepairSink, registry };
  }

  const events = (node: string, reason: RegExp): CoreEvent[] => api.storedEvents(node).filter((e) => reason.test(e.reason ?? ""));
  const restarts = async () => (await systemd.calls()).filter((c) => c.method === "RestartUnit");

  it("restarts kubelet once for the transition, holding a slot, with an Event before and after; not again within the cooldown", async () => {
    await systemd.setState(SYSTEMD);
    const before = (await restarts()).length;
    // Sick from the first run for 10 minutes, healthy 5 minutes, sick again (within the cooldown), then healthy.
    const { h, sink, registry } = await agent("rk-1", [kubelet((run) => run < 60 || (run >= 90 && run < 120))]);
    void h.scheduler.start();
    await h.advance(10 * MIN);
    const calls = (await restarts()).slice(before);
    assert.deepEqual(calls, [{ method: "RestartUnit", args: ["kubelet.service", "replace"] }], "once, though the condition stayed True for 10 minutes");
    const [started] = events("rk-1", /^RepairStarted$/);
    const [done] = events("rk-1", /^RepairSucceeded$/);
    assert.equal(started?.type, "Warning");
    assert.match(
      started?.message ?? "",
      /node-doctor is going to restart kubelet\.service over D-Bus \(RestartUnit\) \(repair slot node-doctor-repair-0\), for KubeletUnhealthy=True \(KubeletHealthzFailing\)/,
    );
    assert.equal(started?.metadata?.annotations?.["node-doctor/repair"], "restart-kubelet");
    assert.equal(done?.type, "Normal");
    assert.match(done?.message ?? "", /did restart kubelet\.service .*job \/org\/freedesktop\/systemd1\/job\/\d+; kubelet\.service is active/);
    assert.ok(Date.parse(started?.firstTimestamp ?? "") <= Date.parse(done?.firstTimestamp ?? ""));
    assert.equal(api.leasesIn(NS).length, 0, "the slot is given back");
    assert.ok(h.log.lines.some((l) => l.level === "info" && /^repaired: restart kubelet\.service over D-Bus/.test(l.message)));

    await h.advance(12 * MIN); // healthy, then sick again 15 minutes after the first repair
    assert.equal((await restarts()).length - before, 1, "not within the 30-minute cooldown");
    assert.deepEqual(
      sink.outcomes.map((o) => o.outcome),
      ["done", "cooldown"],
    );
    const metrics = await registry.metrics();
    assert.match(metrics, /node_doctor_repairs_total\{action="restart-kubelet",outcome="done"\} 1/);
    assert.match(metrics, /node_doctor_repairs_total\{action="restart-kubelet",outcome="cooldown"\} 1/);
  });

  it("waits for a repair slot another node holds, and repairs once it is free while the problem lasts", async () => {
    await systemd.setState(SYSTEMD);
    const before = (await restarts()).length;
    api.seedLeaseIn(NS, "node-doctor-repair-0", { holder: "rk-other", labels: { "node-doctor.io/repair-slot": "true" } });
    const { h, sink } = await agent("rk-2", [kubelet(() => true)]);
    void h.scheduler.start();
    await h.advance(3 * MIN);
    assert.equal((await restarts()).length - before, 0, "no slot, no repair");
    assert.equal(sink.outcomes[0]?.outcome, "no-slot");
    assert.ok(h.log.lines.some((l) => /not repairing KubeletHealthzFailing yet: 1 of 1 repair slots are held \(rk-other\)/.test(l.message)));
    assert.equal(events("rk-2", /^Repair/).length, 0, "nothing announced");
    api.deleteLeaseAs(NS, "node-doctor-repair-0"); // the other node is done
    await h.advance(3 * MIN);
    assert.equal((await restarts()).length - before, 1);
    assert.equal(sink.outcomes.at(-1)?.outcome, "done");
    assert.ok(
      sink.outcomes.slice(0, -1).every((o) => o.outcome === "no-slot"),
      "it looked again every 2 minutes meanwhile",
    );
  });

  /** A second of simulated time, with a moment of real time for the HTTPS writes the harness does not wait for (waitsOnClock). */
  const step = async (h: Harness) => {
    await h.advance(1000);
    await new Promise((resolve) => setTimeout(resolve, 10));
  };

  /** kubelet never comes up after the restart: the repair waits all of settleSeconds. */
  const stuck: RepairSystemd = {
    restartUnit: () => Promise.resolve("/org/freedesktop/systemd1/job/7"),
    startUnit: () => Promise.resolve("/org/freedesktop/systemd1/job/8"),
    enableUnit: () => Promise.resolve([]),
    unitState: () => Promise.resolve({ loaded: true, activeState: "activating", subState: "start" }),
  };

  it("keeps its slot through a repair longer than the Lease, renewing it every third of its term, and gives it back at the end", async () => {
    // settleSeconds 100 under a 30 s Lease.
    const { h, sink } = await agent("rk-long", [kubelet(() => true)], { settleMs: 100_000 }, root, {
      systemd: stuck,
      leaseDurationSeconds: 30,
      waitsOnClock: true,
    });
    const rival = new RepairSlots({ api: h.client, namespace: NS, holder: "rk-rival", budget: { maxNodes: 1 }, leaseDurationSeconds: 30, clock: h.clock });
    void h.scheduler.start();
    for (let waited = 0; api.leasesIn(NS).length === 0 && waited < 60_000; waited += 1000) await step(h);
    const taken = Date.parse(api.leasesIn(NS)[0]?.spec?.acquireTime ?? "");
    assert.ok(Number.isFinite(taken), "the repair took its slot");
    let renewals = 0;
    let lastRenew = taken;
    while (sink.outcomes.length === 0 && h.clock.now() - taken < 200_000) {
      await step(h);
      const lease = api.leasesIn(NS)[0];
      if (!lease) break;
      const renewed = Date.parse(lease.spec?.renewTime ?? "");
      if (renewed > lastRenew) renewals++;
      lastRenew = renewed;
      assert.ok(h.clock.now() - renewed < 30_000, `renewed within its 30 s term (${(h.clock.now() - taken) / 1000} s into the repair)`);
      const other = await rival.acquire();
      assert.equal(other.slot, undefined, "no other node gets the slot mid-repair");
    }
    assert.ok(renewals >= 8, `renewed every 10 s of the 100 s wait (${renewals} times)`);
    for (let i = 0; i < 50 && api.leasesIn(NS).length > 0; i++) await step(h);
    assert.deepEqual(
      sink.outcomes.map((o) => o.outcome),
      ["failed"],
    );
    assert.match(events("rk-long", /^RepairFailed$/)[0]?.message ?? "", /kubelet\.service is activating 100 s later/);
    assert.equal(api.leasesIn(NS).length, 0, "given back at its latest resourceVersion");
  });

  it("shutting down mid-repair stops waiting for the unit at once and gives the slot back", async () => {
    const { h, sink } = await agent("rk-stop", [kubelet(() => true)], { settleMs: 100_000 }, root, { systemd: stuck, waitsOnClock: true });
    void h.scheduler.start();
    for (let waited = 0; api.leasesIn(NS).length === 0 && waited < 60_000; waited += 1000) await step(h);
    assert.equal(api.leasesIn(NS).length, 1, "the repair holds its slot");
    harnesses.splice(harnesses.indexOf(h), 1);
    const stopped = await Promise.race([h.stop().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000))]);
    assert.ok(stopped, "stopped without waiting out settleSeconds on a clock that no longer moves");
    assert.deepEqual(
      sink.outcomes.map((o) => o.outcome),
      ["failed"],
    );
    assert.equal(api.leasesIn(NS).length, 0, "the slot given back");
  });

  it("in a dry run says what it would do and does nothing", async () => {
    await systemd.setState(SYSTEMD);
    const before = await systemd.calls();
    const { h, sink } = await agent("rk-3", [kubelet(() => true)], { dryRun: true });
    void h.scheduler.start();
    await h.advance(5 * MIN);
    assert.deepEqual(await systemd.calls(), before, "no call to systemd's Manager");
    assert.equal(api.leasesIn(NS).length, 0, "no slot taken");
    const [dry] = events("rk-3", /^Repair/);
    assert.equal(dry?.reason, "RepairDryRun");
    assert.match(
      dry?.message ?? "",
      /^node-doctor would restart kubelet\.service over D-Bus \(RestartUnit\), for KubeletUnhealthy=True \(KubeletHealthzFailing\).* dry run \(repair\.dryRun: true\), nothing was done$/,
    );
    assert.deepEqual(
      sink.outcomes.map((o) => o.outcome),
      ["dry-run"],
    );
    assert.ok(h.log.lines.some((l) => /^dry run: would restart kubelet\.service/.test(l.message)));
  });

  it("never repairs while the API server cannot be reached", async () => {
    await systemd.setState(SYSTEMD);
    const before = (await restarts()).length;
    api.fault({ resource: "leases" }, { status: 503 });
    try {
      const { h, sink } = await agent("rk-4", [kubelet(() => true)]);
      void h.scheduler.start();
      await h.advance(5 * MIN);
      assert.equal((await restarts()).length - before, 0);
      assert.equal(sink.outcomes[0]?.outcome, "no-api");
    } finally {
      api.clearFaults();
    }
  });

  it("the certificate from the future: the link goes to the newest valid rotated certificate by a rename, and a second run changes nothing", async () => {
    const pkiRoot = await mkdtemp(join(tmpdir(), "node-doctor-repair-pki-"));
    try {
      const now = Date.now();
      const ca = await mintCa("/CN=kubernetes", new Date(now - 400 * 86_400_000), new Date(now + 3000 * 86_400_000));
      const leaf = (from: number, to: number) => mintLeaf(ca, "O=system:nodes, CN=system:node:rk-5", new Date(now + from), new Date(now + to));
      const oldest = await leaf(-60 * 86_400_000, 300 * 86_400_000);
      const older = await leaf(-23 * 86_400_000, 342 * 86_400_000);
      const future = await leaf(5 * 3_600_000, 365 * 86_400_000);
      await writeKubeletClientPki(pkiRoot, {
        caPem: ca.certPem,
        clients: {
          "kubelet-client-2026-09-30-09-00-00.pem": oldest.combinedPem,
          "kubelet-client-2026-11-01-08-00-00.pem": older.combinedPem,
          "kubelet-client-2026-11-24-17-00-00.pem": future.combinedPem,
        },
        current: "kubelet-client-2026-11-24-17-00-00.pem",
      });
      await systemd.setState(SYSTEMD);
      const before = (await restarts()).length;
      const link = join(pkiRoot, "var/lib/kubelet/pki/kubelet-client-current.pem");
      const inodeBefore = (await lstat(link)).ino;
      // A reader of the link all along: with a rename over it, never missing.
      let missing = 0;
      let reads = 0;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          await readlink(link).then(
            () => reads++,
            () => missing++,
          );
        }
      })();
      const locator = new KubeletLocator(new RootedHost(pkiRoot), systemClock, 0);
      const certificates = createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), { kubelet: locator });
      // The real check on the fixture, then its findings through the engine on simulated time.
      const seen = await certificates.run(checkContext(pkiRoot));
      assert.ok(
        seen.some(
          (f) => f.reason === "ClientCertificateNotYetValid" && f.evidence?.["replacement"] === "/var/lib/kubelet/pki/kubelet-client-2026-11-01-08-00-00.pem",
        ),
      );
      const { h, sink } = await agent("rk-5", [scriptedCheck("certificates", "KubeletCertificateInvalid", () => seen)], {}, pkiRoot);
      void h.scheduler.start();
      await h.advance(3 * MIN);
      watching = false;
      await watch;

      assert.equal(await readlink(link), "/var/lib/kubelet/pki/kubelet-client-2026-11-01-08-00-00.pem", "the newest rotated certificate valid now");
      assert.notEqual((await lstat(link)).ino, inodeBefore, "a new link renamed over the old one");
      assert.ok(reads > 0, "the link was read while it was replaced");
      assert.equal(missing, 0, `the link was never missing (${reads} reads while it was replaced)`);
      assert.deepEqual(
        (await readdir(join(pkiRoot, "var/lib/kubelet/pki"))).filter((f) => f.includes("node-doctor")),
        [],
        "no temporary link left",
      );
      assert.deepEqual((await restarts()).slice(before), [{ method: "RestartUnit", args: ["kubelet.service", "replace"] }], "then kubelet restarts");
      const [done] = events("rk-5", /^RepairSucceeded$/);
      assert.match(
        done?.message ?? "",
        /point \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem at \/var\/lib\/kubelet\/pki\/kubelet-client-2026-11-01-08-00-00\.pem .*was \/var\/lib\/kubelet\/pki\/kubelet-client-2026-11-24-17-00-00\.pem/,
      );
      assert.equal(done?.metadata?.annotations?.["node-doctor/repair"], "repoint-client-cert");
      assert.equal(sink.outcomes[0]?.outcome, "done");

      // A second run on the same finding (an agent restarted before the check looked again): nothing to do.
      const stale: Finding | undefined = seen.find((f) => f.reason === "ClientCertificateNotYetValid");
      const inodeAfter = (await lstat(link)).ino;
      const second = await agent("rk-5b", [scriptedCheck("certificates", "KubeletCertificateInvalid", () => (stale ? [stale] : []))], {}, pkiRoot);
      void second.h.scheduler.start();
      await second.h.advance(2 * MIN);
      assert.ok(stale, "the first agent's finding");
      assert.equal(second.sink.outcomes[0]?.outcome, "nothing-to-do");
      assert.equal((await lstat(link)).ino, inodeAfter, "the link is untouched");
      assert.equal((await restarts()).length - before, 1, "and kubelet is not restarted again");
    } finally {
      await rm(pkiRoot, { recursive: true, force: true });
    }
  });
});

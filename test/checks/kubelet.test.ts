/**
 * The kubelet liveness check on fixture host roots, one per incident, with
 * a real HTTP server as kubelet's healthz and a real dbus-daemon with a
 * systemd stand-in on the fixture's system bus socket. The API here is a
 * small ClusterReader stub standing for a healthy cluster; registration,
 * Lease and stale-condition stories run through the real client against the
 * fake API server in kubelet-api.test.ts.
 */
import assert from "node:assert/strict";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node } from "kubernetes-types/core/v1.js";
import { createKubeletCheck, KUBELET_REASONS, kubeletSettings, type KubeletSettings } from "../../src/checks/kubelet/index.js";
import { healthzUrlFor } from "../../src/checks/kubelet/gather.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { RootedHost } from "../../src/node/host.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { KubeletLocator, parseKubeletFlags } from "../../src/node/kubelet/locator.js";
import type { ApiTiming, Check, ClusterReader, Finding } from "../../src/types.js";
import { checkContext, silentLog } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { usec, type SystemdState } from "../support/fake-systemd.js";
import { fixtureRoot } from "../support/fixture-root.js";
import {
  find,
  kubeletHarness,
  kubeletTestSettings,
  NOW,
  startHealthz,
  summary,
  SYSTEMD_ACTIVE,
  writeKubeletProcess,
  type Healthz,
  type HealthzMode,
  type KubeletHarness,
} from "../support/kubelet-harness.js";

let healthz: Healthz;
before(async () => {
  healthz = await startHealthz();
});
after(async () => {
  await healthz.close();
});

const open: KubeletHarness[] = [];
afterEach(async () => {
  healthz.mode = "ok";
  for (const h of open.splice(0)) await h.close();
});

function settings(overrides: Record<string, unknown> = {}): KubeletSettings {
  return kubeletTestSettings(healthz.url, overrides);
}

async function harness(fixture: string | undefined, options: { settings?: KubeletSettings; systemd?: SystemdState } = {}): Promise<KubeletHarness> {
  const h = await kubeletHarness(fixture, options.settings ?? settings(), options.systemd ? { systemd: options.systemd } : {});
  open.push(h);
  return h;
}

// ---------------------------------------------------------------- the API, as a ClusterReader

function timing(): ApiTiming {
  return { sentAtMs: NOW, receivedAtMs: NOW };
}

interface StubCluster extends ClusterReader {
  reads: number;
  node: Node | null;
  lease: Lease | null;
  fail?: string;
}

function stubCluster(nodeName: string, node: Node | null, lease: Lease | null = null): StubCluster {
  const stub: StubCluster = {
    nodeName,
    reads: 0,
    node,
    lease,
    async getNode() {
      stub.reads++;
      if (stub.fail) throw new Error(stub.fail);
      return { node: stub.node, timing: timing() };
    },
    async getLease() {
      if (stub.fail) throw new Error(stub.fail);
      return { lease: stub.lease, timing: timing() };
    },
    async probeTime() {
      return timing();
    },
    async getKubernetesService() {
      return null;
    },
  };
  return stub;
}

function nodeObject(name: string, internalIp: string, conditions: NonNullable<Node["status"]>["conditions"] = []): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    status: {
      addresses: [
        { type: "InternalIP", address: internalIp },
        { type: "Hostname", address: name },
      ],
      conditions: [
        {
          type: "MemoryPressure",
          status: "False",
          lastHeartbeatTime: "2026-11-24T11:58:00Z",
          lastTransitionTime: "2026-11-01T00:00:00Z",
          reason: "KubeletHasSufficientMemory",
        },
        { type: "Ready", status: "True", lastHeartbeatTime: "2026-11-24T11:58:00Z", lastTransitionTime: "2026-11-01T00:00:00Z", reason: "KubeletReady" },
        // Set once by the CNI; never heartbeats, never stale.
        {
          type: "NetworkUnavailable",
          status: "False",
          lastHeartbeatTime: "2026-03-01T00:00:00Z",
          lastTransitionTime: "2026-03-01T00:00:00Z",
          reason: "FlannelIsUp",
        },
        ...conditions,
      ],
    },
  };
}

function leaseObject(name: string, renewTime: string, durationSeconds = 40): Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace: "kube-node-lease" },
    spec: { holderIdentity: name, leaseDurationSeconds: durationSeconds, renewTime },
  };
}

const healthyCluster = () => stubCluster("node-a", nodeObject("node-a", "10.0.0.5"), leaseObject("node-a", "2026-11-24T11:59:52.123456Z"));

// ---------------------------------------------------------------- tests

describe("kubelet check: a healthy node", () => {
  it("gives nothing above ok with systemd on D-Bus, healthz ok, the node IP present and a fresh Lease", async () => {
    const h = await harness("kubelet-healthy", { systemd: SYSTEMD_ACTIVE });
    const findings = await h.run({ cluster: healthyCluster() });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
    assert.match(findings[0]?.message ?? "", /pid 4242, up 120 min\).*answered ok; kubelet\.service is active \(running\)/);
    assert.equal(h.check.intervalMs, 10_000, "10 s interval: a dead kubelet is True on the API server within 30 s");
    assert.equal(h.check.timeoutMs, 5_000);
  });

  it("falls back to the unit files when no system bus socket is mounted", async () => {
    const h = await harness("kubelet-healthy");
    const findings = await h.run({ cluster: healthyCluster() });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
    assert.match(findings[0]?.message ?? "", /state unknown \(no system bus socket\)/);
  });

  it("reports registration unknown, not ok, without an API server", async () => {
    const h = await harness("kubelet-healthy");
    const findings = await h.run();
    assert.deepEqual(summary(findings), [["KubeletRegistrationUnknown", "unknown"]]);
    assert.match(find(findings, "KubeletRegistrationUnknown").remedy ?? "", /--kubeconfig/);
  });
});

describe("kubelet check: healthz on a real HTTP server", () => {
  const cases: Array<{ mode: HealthzMode; severity: string; reason: string; message: RegExp }> = [
    { mode: "ok", severity: "ok", reason: "KubeletRunning", message: /answered ok/ },
    { mode: "500", severity: "critical", reason: "KubeletHealthzFailing", message: /answered HTTP 500 \("\[-\]syncloop failed/ },
    { mode: "hang", severity: "critical", reason: "KubeletHealthzFailing", message: /did not answer within 500 ms/ },
  ];
  for (const c of cases) {
    it(`healthz ${c.mode} → ${c.severity} within the timeout`, async () => {
      healthz.mode = c.mode;
      const h = await harness("kubelet-healthy");
      const started = performance.now();
      const findings = await h.run({ cluster: healthyCluster(), drive: true });
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1500, `finished in ${Math.round(elapsed)} ms`);
      const finding = find(findings, c.reason);
      assert.equal(finding.severity, c.severity);
      assert.match(finding.message, c.message);
      if (c.severity === "critical") assert.match(finding.remedy ?? "", /curl -sS '.*\/healthz\?verbose'.*systemctl restart kubelet/);
    });
  }

  it("a refused connection with the process present is critical", async () => {
    const h = await harness("kubelet-healthy", { settings: settings({ healthzUrl: healthz.closedUrl }) });
    const finding = find(await h.run({ cluster: healthyCluster() }), "KubeletHealthzFailing");
    assert.equal(finding.severity, "critical");
    assert.match(finding.message, /kubelet \(pid 4242\) runs but .* refused the connection/);
  });

  it("finds the URL in kubelet's flags or config, and knows healthzPort 0 disables it", () => {
    const config = (value: Record<string, unknown>) =>
      composeConfigFiles({ file: { path: "/var/lib/kubelet/config.yaml", ok: true as const, value }, fileFromFlag: true, dropIns: [] });
    assert.equal(healthzUrlFor({ flags: parseKubeletFlags([]) }), "http://127.0.0.1:10248/healthz");
    assert.equal(healthzUrlFor({ flags: parseKubeletFlags(["--healthz-port=10250", "--healthz-bind-address=0.0.0.0"]) }), "http://127.0.0.1:10250/healthz");
    assert.equal(
      healthzUrlFor({ flags: parseKubeletFlags([]), configFiles: config({ healthzPort: 10260, healthzBindAddress: "::1" }) }),
      "http://[::1]:10260/healthz",
    );
    assert.equal(healthzUrlFor({ flags: parseKubeletFlags([]), configFiles: config({ healthzPort: 0 }) }), undefined);
  });
});

describe("kubelet check: the reboot without kubelet (docs/incidents.md)", () => {
  const disabledDead: SystemdState = {
    units: {
      "kubelet.service": {
        Unit: { LoadState: "loaded", ActiveState: "inactive", SubState: "dead", UnitFileState: "disabled", ActiveEnterTimestamp: 0 },
        Service: { Result: "success", NRestarts: 0, MainPID: 0 },
      },
    },
  };
  const expectRebootWithoutKubelet = (findings: Finding[]) => {
    assert.deepEqual(summary(findings), [
      ["KubeletServiceDisabled", "critical"],
      ["NodeIPNotPresent", "critical"],
    ]);
    const disabled = find(findings, "KubeletServiceDisabled");
    assert.match(disabled.remedy ?? "", /^`systemctl enable --now kubelet`/);
    const ip = find(findings, "NodeIPNotPresent");
    assert.match(
      ip.message,
      /node IP 192\.168\.1\.50 \(--node-ip in \/var\/lib\/kubelet\/kubeadm-flags\.env\) is on none of the node's interfaces \(addresses present: 10\.0\.2\.15\)/,
    );
    assert.match(ip.remedy ?? "", /network-online\.target/);
  };

  it("systemd says inactive (dead) and disabled → critical KubeletServiceDisabled and NodeIPNotPresent, not a wall", async () => {
    const h = await harness("kubelet-disabled-after-reboot", { settings: settings({ healthzUrl: healthz.closedUrl }), systemd: disabledDead });
    // Registered before the reboot: its Lease is days old, a consequence the check does not repeat.
    const findings = await h.run({ cluster: stubCluster("node-c", nodeObject("node-c", "192.168.1.50"), leaseObject("node-c", "2026-11-20T03:00:00Z")) });
    expectRebootWithoutKubelet(findings);
    assert.match(
      find(findings, "KubeletServiceDisabled").message,
      /^kubelet\.service is disabled \(no \*\.wants\/ link to it, so it does not start at boot\) and kubelet is not running \(kubelet\.service is inactive \(dead\)\)/,
    );
  });

  it("the same when systemd has unloaded the unit (GetUnit: NoSuchUnit, then LoadUnit)", async () => {
    const unloaded: SystemdState = { units: { "kubelet.service": { ...disabledDead.units["kubelet.service"], unloaded: true } } };
    const h = await harness("kubelet-disabled-after-reboot", { settings: settings({ healthzUrl: healthz.closedUrl }), systemd: unloaded });
    const findings = (await h.run()).filter((f) => f.reason !== "KubeletRegistrationUnknown");
    expectRebootWithoutKubelet(findings);
    assert.match(find(findings, "KubeletServiceDisabled").message, /kubelet\.service is inactive \(dead\)/);
  });

  it("the same as the chart mounts it: no /lib/systemd, no /usr/bin; systemd on the bus says disabled", async () => {
    const unloaded: SystemdState = { units: { "kubelet.service": { ...disabledDead.units["kubelet.service"], unloaded: true } } };
    const h = await harness("kubelet-disabled-after-reboot", { settings: settings({ healthzUrl: healthz.closedUrl }), systemd: unloaded });
    await rm(join(h.fixture.root, "lib"), { recursive: true });
    await rm(join(h.fixture.root, "usr"), { recursive: true });
    await rm(join(h.fixture.root, "etc/systemd/system/kubelet.service.d"), { recursive: true });
    expectRebootWithoutKubelet((await h.run()).filter((f) => f.reason !== "KubeletRegistrationUnknown"));
  });

  it("the same as the chart mounts it without the bus: kubeadm's drop-in in /etc/systemd proves the unit", async () => {
    const h = await harness("kubelet-disabled-after-reboot", { settings: settings({ healthzUrl: healthz.closedUrl }) });
    await rm(join(h.fixture.root, "lib"), { recursive: true });
    await rm(join(h.fixture.root, "usr"), { recursive: true });
    expectRebootWithoutKubelet((await h.run()).filter((f) => f.reason !== "KubeletRegistrationUnknown"));
  });

  it("the same from the unit files alone (no bus socket): no wants/ link", async () => {
    const h = await harness("kubelet-disabled-after-reboot", { settings: settings({ healthzUrl: healthz.closedUrl }) });
    expectRebootWithoutKubelet((await h.run()).filter((f) => f.reason !== "KubeletRegistrationUnknown"));
  });

  it("a masked unit asks for unmask first", async () => {
    const h = await harness("kubelet-disabled-after-reboot", { settings: settings({ healthzUrl: healthz.closedUrl }) });
    await mkdir(join(h.fixture.root, "etc/systemd/system"), { recursive: true });
    await symlink("/dev/null", join(h.fixture.root, "etc/systemd/system/kubelet.service"));
    const finding = find(await h.run(), "KubeletServiceDisabled");
    assert.match(finding.message, /is masked/);
    assert.match(finding.remedy ?? "", /systemctl unmask kubelet && systemctl enable --now kubelet/);
  });

  it("an enabled unit whose kubelet died → KubeletNotRunning with systemd's facts", async () => {
    const h = await harness("kubelet-healthy", {
      settings: settings({ healthzUrl: healthz.closedUrl }),
      systemd: {
        units: {
          "kubelet.service": {
            Unit: { LoadState: "loaded", ActiveState: "failed", SubState: "failed", UnitFileState: "enabled" },
            Service: { Result: "signal", NRestarts: 0 },
          },
        },
      },
    });
    await rm(join(h.fixture.root, "proc/4242"), { recursive: true });
    const findings = await h.run({ cluster: healthyCluster() });
    assert.deepEqual(summary(findings), [["KubeletNotRunning", "critical"]]);
    assert.match(
      find(findings, "KubeletNotRunning").message,
      /no kubelet process in \/proc; kubelet\.service is failed \(failed\), last result signal; .* refused the connection/,
    );
    assert.match(find(findings, "KubeletNotRunning").remedy ?? "", /journalctl -u kubelet.*systemctl restart kubelet/);
  });

  it("an enabled-but-running kubelet whose unit is disabled only warns about the next boot", async () => {
    const h = await harness("kubelet-healthy");
    await rm(join(h.fixture.root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    const finding = find(await h.run({ cluster: healthyCluster() }), "KubeletServiceDisabled");
    assert.equal(finding.severity, "warning");
    assert.equal(finding.remedy, "`systemctl enable kubelet`");
  });
});

describe("kubelet check: the refused flags, kubelet crash-loops", () => {
  const crashLoop = (nRestarts: number): SystemdState => ({
    units: {
      "kubelet.service": {
        Unit: {
          LoadState: "loaded",
          ActiveState: "activating",
          SubState: "auto-restart",
          UnitFileState: "enabled",
          InactiveEnterTimestamp: usec("2026-11-24T11:59:58Z"),
        },
        Service: { Result: "exit-code", NRestarts: nRestarts, MainPID: 0, ExecMainStatus: 1 },
      },
    },
  });

  it("not running between restarts → critical KubeletNotRunning; systemd's NRestarts across runs → critical KubeletRestartingFrequently", async () => {
    const h = await harness("kubelet-crashloop-bad-flags", { settings: settings({ healthzUrl: healthz.closedUrl }), systemd: crashLoop(5) });
    const cluster = stubCluster("node-d", nodeObject("node-d", "10.0.0.8"), leaseObject("node-d", "2026-11-24T11:59:40Z"));
    let findings = await h.run({ cluster });
    assert.deepEqual(summary(findings), [["KubeletNotRunning", "critical"]]);
    assert.match(
      find(findings, "KubeletNotRunning").message,
      /kubelet\.service is activating \(auto-restart\), last result exit-code, exit status 1, restarted 5 times by systemd/,
    );
    assert.match(find(findings, "KubeletNotRunning").remedy ?? "", /KubeletConfigInvalid/);

    await h.systemd?.setState(crashLoop(12));
    findings = await h.run({ cluster, advanceMs: 10_000 });
    const restarting = find(findings, "KubeletRestartingFrequently");
    assert.equal(restarting.severity, "critical");
    assert.match(restarting.message, /restarted 7 times in the last 10 min/);
    assert.match(restarting.remedy ?? "", /journalctl -u kubelet -b/);
  });
});

describe("kubelet check: restarts counted across runs from /proc", () => {
  it("a new kubelet pid each run → warning at 3 restarts, critical at 6, forgotten after the window", async () => {
    const h = await harness("kubelet-healthy", { settings: settings({ restartWindowSeconds: 120 }) });
    const cluster = healthyCluster();
    assert.deepEqual(summary(await h.run({ cluster })), [["KubeletRunning", "ok"]]);
    let pid = 4242;
    const restart = async () => {
      await rm(join(h.fixture.root, "proc", String(pid)), { recursive: true });
      pid += 17;
      await writeKubeletProcess(h.fixture.root, pid, 1200 + pid);
    };
    const severities: string[] = [];
    for (let i = 0; i < 6; i++) {
      await restart();
      const findings = await h.run({ cluster, advanceMs: 10_000 });
      severities.push(findings.find((f) => f.reason === KUBELET_REASONS.KubeletRestartingFrequently)?.severity ?? "none");
    }
    assert.deepEqual(severities, ["none", "none", "warning", "warning", "warning", "critical"]);
    cluster.lease = leaseObject("node-a", "2026-11-24T12:03:05Z"); // kubelet keeps renewing meanwhile
    const findings = await h.run({ cluster, advanceMs: 130_000 });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
  });

  it("the same pid and start time is not a restart", async () => {
    const h = await harness("kubelet-healthy", { settings: settings({ restartsWarning: 1 }) });
    await h.run({ cluster: healthyCluster() });
    const findings = await h.run({ cluster: healthyCluster(), advanceMs: 10_000 });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
  });
});

describe("kubelet check: two kubelets", () => {
  it("a second kubelet process → warning MultipleKubeletProcesses listing both pids", async () => {
    const h = await harness("kubelet-healthy");
    await writeKubeletProcess(h.fixture.root, 9001, 90000);
    const findings = await h.run({ cluster: healthyCluster() });
    assert.deepEqual(summary(findings), [["MultipleKubeletProcesses", "warning"]]);
    assert.match(find(findings, "MultipleKubeletProcesses").message, /2 kubelet processes run \(pids 4242, 9001\)/);
    assert.match(find(findings, "MultipleKubeletProcesses").remedy ?? "", /ps -o pid,ppid,lstart,args -p 4242,9001/);
  });
});

describe("kubelet check: not a Kubernetes node", () => {
  it("a laptop with no kubelet binary, unit or state dir gets one ok finding and no probes", async () => {
    const h = await harness(undefined, { settings: settings({ healthzUrl: "http://127.0.0.1:1/healthz" }) });
    const cluster = healthyCluster();
    const findings = await h.run({ cluster });
    assert.deepEqual(summary(findings), [["NotAKubernetesNode", "ok"]]);
    assert.equal(cluster.reads, 0, "no API reads on a host without kubelet");
  });
});

describe("kubelet check: only a kubelet state dir", () => {
  it("/var/lib/kubelet with nothing running kubelet and no unit → KubeletNotRunning saying what was found", async () => {
    const h = await harness(undefined, { settings: settings({ healthzUrl: healthz.closedUrl }) });
    await mkdir(join(h.fixture.root, "var/lib/kubelet/pods"), { recursive: true });
    const findings = (await h.run()).filter((f) => f.reason !== "KubeletRegistrationUnknown");
    assert.deepEqual(summary(findings), [["KubeletNotRunning", "critical"]]);
    assert.match(findings[0]?.message ?? "", /no kubelet\.service unit found \(\/var\/lib\/kubelet exists\)/);
    assert.match(findings[0]?.remedy ?? "", /k3s, rke2/);
  });

  it("an embedded kubelet (k3s) answering healthz with no kubelet process or unit is running", async () => {
    const h = await harness(undefined);
    await mkdir(join(h.fixture.root, "var/lib/kubelet/pods"), { recursive: true });
    const findings = await h.run({ cluster: healthyCluster() });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
    assert.match(findings[0]?.message ?? "", /its process is not visible in \/proc/);
  });
});

describe("kubelet check: bad input", () => {
  it("cmdline of NULs only, truncated stat, binary fib_trie and env file: findings, no crash", async () => {
    const h = await harness("kubelet-healthy");
    await writeFile(join(h.fixture.root, "proc/4242/cmdline"), "\0\0\0");
    await writeFile(join(h.fixture.root, "proc/4242/stat"), "4242 (kube");
    await writeFile(join(h.fixture.root, "proc/net/fib_trie"), Buffer.from([0x00, 0xff, 0xfe, 0x10, 0x00]));
    await writeFile(join(h.fixture.root, "proc/net/if_inet6"), "zz not hex\n");
    await writeFile(join(h.fixture.root, "var/lib/kubelet/kubeadm-flags.env"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01]));
    const findings = await h.run({ cluster: healthyCluster() });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
    assert.match(findings[0]?.message ?? "", /pid 4242\)/, "no uptime from an unreadable stat");
  });

  it("a Node with odd conditions and a Lease with a garbage renewTime are not crashes", async () => {
    const h = await harness("kubelet-healthy");
    const node = nodeObject("node-a", "not-an-ip", [{ type: "Weird", status: "True", lastHeartbeatTime: "yesterday" }]);
    const findings = await h.run({ cluster: stubCluster("node-a", node, leaseObject("node-a", "garbage")) });
    assert.deepEqual(summary(findings), [["KubeletRunning", "ok"]]);
  });
});

describe("kubelet check: timing contract", () => {
  it("kubelet dies → KubeletUnhealthy is True within 30 s under the engine's damping", async (t) => {
    const root = await fixtureRoot("kubelet-healthy");
    // kubelet's own healthz for this test: it goes away when kubelet dies.
    const server = createServer((_req, res) => res.writeHead(200).end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    const clock = new FakeClock();
    const host = new RootedHost(root.root);
    const kubelet = createKubeletCheck(kubeletSettings.parse({ healthzUrl: url }, "checks.kubelet") as KubeletSettings, {
      kubelet: new KubeletLocator(host, clock),
    });
    // Simulated time stands still while a run does its real I/O, however slow the machine is.
    let inFlight = 0;
    const check: Check = {
      ...kubelet,
      async run(ctx) {
        inFlight++;
        try {
          return await kubelet.run(ctx);
        } finally {
          inFlight--;
        }
      },
    };
    const state = new NodeState([check], [], { consecutiveRuns: 2, holdMs: 60_000, flapTransitions: 4, flapWindowMs: 600_000 }, silentLog);
    // random() = 1: every interval stretched by the full jitter, the worst case.
    const scheduler = new Scheduler([check], {
      host,
      clock,
      state,
      log: silentLog,
      logFor: () => silentLog,
      cluster: healthyCluster(),
      jitterRatio: 0.1,
      random: () => 1,
    });
    const realIo = async () => {
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
      for (let waited = 0; inFlight > 0 && waited < 10_000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    try {
      await scheduler.start();
      await clock.advance(5_000, realIo);
      assert.equal(state.condition("KubeletUnhealthy")?.status, "False");
      await rm(join(root.root, "proc/4242"), { recursive: true });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const diedAt = clock.monotonic();
      let trueAt: number | undefined;
      for (let step = 0; step < 40 && trueAt === undefined; step++) {
        await clock.advance(1_000, realIo);
        if (state.condition("KubeletUnhealthy")?.status === "True") trueAt = clock.monotonic();
      }
      assert.ok(trueAt !== undefined, "the condition became True");
      assert.ok(trueAt - diedAt <= 30_000, `True ${(trueAt - diedAt) / 1000} s after kubelet died`);
      t.diagnostic(`KubeletUnhealthy True ${(trueAt - diedAt) / 1000} s after kubelet died (interval 10 s, jitter +10%, 2 runs of damping)`);
      assert.equal(state.condition("KubeletUnhealthy")?.reason, "KubeletNotRunning");
    } finally {
      await scheduler.stop();
      server.close();
      await root.cleanup();
    }
  });
});

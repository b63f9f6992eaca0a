/**
 * Running the kubelet check on a fixture node: a copy of test/fixtures/<case>,
 * a FakeClock, optionally systemd on a real bus at the fixture's
 * /run/dbus/system_bus_socket, and kubelet's healthz as a real HTTP server
 * on loopback answering ok, 500 or never.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createKubeletCheck, kubeletSettings, type KubeletSettings } from "../../src/checks/kubelet/index.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import type { Check, ClusterReader, Finding } from "../../src/types.js";
import { checkContext } from "./check-context.js";
import { FakeClock } from "./fake-clock.js";
import { startFakeSystemd, usec, type FakeSystemd, type SystemdState } from "./fake-systemd.js";
import { fixtureRoot, type FixtureRoot } from "./fixture-root.js";

/** FakeClock's start: the fixtures' "now". */
export const NOW = Date.parse("2026-11-24T12:00:00Z");

export type HealthzMode = "ok" | "500" | "hang";

export interface Healthz {
  url: string;
  /** A loopback port nothing listens on: connection refused. */
  closedUrl: string;
  mode: HealthzMode;
  close(): Promise<void>;
}

export async function startHealthz(): Promise<Healthz> {
  const hanging: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    if (healthz.mode === "hang") return void hanging.push(res);
    if (healthz.mode === "500") {
      res.writeHead(500, { "content-type": "text/plain" }).end("[-]syncloop failed: reason withheld\nhealthz check failed");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/healthz`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const healthz: Healthz = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`,
    closedUrl,
    mode: "ok",
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return healthz;
}

export const SYSTEMD_ACTIVE: SystemdState = {
  units: {
    "kubelet.service": {
      Unit: { LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled", ActiveEnterTimestamp: usec("2026-11-24T10:00:12Z") },
      Service: { Result: "success", NRestarts: 0, MainPID: 4242, ExecMainStatus: 0 },
    },
  },
};

/** The tests' timelines are written in minutes: the Node and Lease are read every 60 s here (300 s by default). */
export function kubeletTestSettings(healthzUrl: string, overrides: Record<string, unknown> = {}): KubeletSettings {
  return kubeletSettings.parse({ healthzUrl, healthzTimeoutSeconds: 0.5, clusterIntervalSeconds: 60, ...overrides }, "checks.kubelet") as KubeletSettings;
}

export interface KubeletHarness {
  fixture: FixtureRoot;
  clock: FakeClock;
  check: Check;
  systemd?: FakeSystemd;
  /** `drive`: the fake clock follows real time during the run, so a hung peer meets its deadline. */
  run(options?: { cluster?: ClusterReader | undefined; advanceMs?: number; drive?: boolean }): Promise<Finding[]>;
  close(): Promise<void>;
}

export async function kubeletHarness(
  fixture: string | undefined,
  settings: KubeletSettings,
  options: { systemd?: SystemdState } = {},
): Promise<KubeletHarness> {
  const root = await fixtureRoot(fixture);
  const clock = new FakeClock();
  const host = new RootedHost(root.root);
  const check = createKubeletCheck(settings, { kubelet: new KubeletLocator(host, clock) });
  const h: KubeletHarness = {
    fixture: root,
    clock,
    check,
    async run(runOptions = {}) {
      if (runOptions.advanceMs) await clock.advance(runOptions.advanceMs);
      const run = check.run(checkContext(root.root, { clock, ...(runOptions.cluster ? { cluster: runOptions.cluster } : {}) }));
      return runOptions.drive ? clock.drive(run) : run;
    },
    async close() {
      await check.close?.();
      await h.systemd?.stop();
      await root.cleanup();
    },
  };
  if (options.systemd) h.systemd = await startFakeSystemd(join(root.root, "run/dbus/system_bus_socket"), options.systemd);
  return h;
}

export function summary(findings: readonly Finding[]): Array<[string, string]> {
  return findings.map((f) => [f.reason, f.severity]);
}

export function find(findings: readonly Finding[], reason: string): Finding {
  const found = findings.find((f) => f.reason === reason);
  assert.ok(found, `expected a ${reason} finding, got ${JSON.stringify(summary(findings))}`);
  return found;
}

/** Writes a kubelet process into the fixture's /proc, as the kernel shows it. */
export async function writeKubeletProcess(
  root: string,
  pid: number,
  startTicks: number,
  argv = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", "--node-ip=10.0.0.5"],
): Promise<void> {
  const dir = join(root, "proc", String(pid));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "comm"), "kubelet\n");
  await writeFile(join(dir, "cmdline"), argv.join("\0") + "\0");
  await writeFile(join(dir, "stat"), `${pid} (kubelet) S 1 ${pid} ${pid} 0 -1 4194560 5 0 0 0 10 5 0 0 20 0 18 0 ${startTicks} 2097152000 18000\n`);
}

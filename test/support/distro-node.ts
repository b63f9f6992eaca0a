/**
 * A node of one distribution, running: a copy of test/fixtures/distro-<name>
 * (the installer's own files), with what the node makes at run time added by
 * the test — certificates minted now, kubelet's process in /proc, kubelet's
 * healthz answering on loopback, a real containerd serving CRI on the
 * distribution's socket with a CNI configuration, and the Node and its Lease
 * on the fake API server. Then every kubelet- and runtime-facing check runs
 * once, as `node-doctor check` runs them, through one KubeletLocator.
 */
import { chmod, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { certificateSettings, createCertificatesCheck } from "../../src/checks/certificates/index.js";
import { createKubeletConfigCheck, kubeletConfigSettings } from "../../src/checks/kubelet-config/index.js";
import { createKubeletCheck } from "../../src/checks/kubelet/index.js";
import { createRuntimeCheck, runtimeSettings } from "../../src/checks/runtime/index.js";
import { createDiskCheck, diskSettings } from "../../src/checks/disk/index.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { systemClock } from "../../src/time/clock.js";
import { NodeState } from "../../src/engine/state.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import type { Check, ClusterReader, Finding, Host } from "../../src/types.js";
import { CertificateMint, type Minted } from "./certs.js";
import { silentLog } from "./check-context.js";
import { startContainerd, type Containerd } from "./containerd.js";
import { FakeApiServer } from "./fake-apiserver.js";
import { fixtureRoot, FIXTURES, type FixtureRoot } from "./fixture-root.js";
import { kubeReaderFor } from "./kube.js";
import { kubeletTestSettings, startHealthz, type Healthz } from "./kubelet-harness.js";

const DAY = 86_400_000;

export interface DistroNodeSpec {
  fixture: string;
  /** The fixture is an overlay on this one, with `without` removed from it first. */
  over?: { fixture: string; without?: string[] };
  nodeName: string;
  /** kubelet's process as the kernel shows it (on k3s: the k3s agent process kubelet runs inside). */
  process: { pid: number; argv: string[]; exe: string; comm?: string };
  /** Node paths of the files the node's PKI lives in, written from certificates minted now. */
  pki: (mint: CertificateMint, ca: Minted, nodeName: string) => Record<string, string>;
  runtime: { socket: string; cniConfDir: string; cniBinDir: string };
  /** A stand-in kubelet binary stamped with this version, as Kubernetes' build stamps it (no package records it). */
  stampedBinary?: { path: string; version: string };
}

export interface DistroNode {
  root: string;
  fixture: FixtureRoot;
  mint: CertificateMint;
  ca: Minted;
  healthz: Healthz;
  containerd: Containerd;
  /**
   * Runs kubelet, kubelet-config, certificates and runtime once each through the engine, with fresh checks (no state
   * carried over); `host` in place of the node's RootedHost (one that records what is read), `disk` adds the disk check.
   */
  check(options?: { host?: Host; disk?: boolean }): Promise<Finding[]>;
  /** Takes kubelet down: its process gone and its healthz refusing. */
  stopKubelet(): Promise<void>;
  write(nodePath: string, text: string): Promise<void>;
  read(nodePath: string): Promise<string>;
  close(): Promise<void>;
}

/** Writes a process into the root's /proc: comm, cmdline, a root-owned status, and the exe link. */
export async function writeProcess(root: string, process: DistroNodeSpec["process"]): Promise<void> {
  const dir = join(root, "proc", String(process.pid));
  await mkdir(dir, { recursive: true });
  const comm = process.comm ?? (process.exe.split("/").at(-1) as string);
  await writeFile(join(dir, "comm"), `${comm.slice(0, 15)}\n`);
  await writeFile(join(dir, "cmdline"), process.argv.join("\0") + "\0");
  await writeFile(join(dir, "status"), `Name:\t${comm}\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n`);
  await writeFile(
    join(dir, "stat"),
    `${process.pid} (${comm}) S 1 ${process.pid} ${process.pid} 0 -1 4194560 5 0 0 0 10 5 0 0 20 0 18 0 100000 2097152000 18000\n`,
  );
  await rm(join(dir, "exe"), { force: true });
  await symlink(process.exe, join(dir, "exe"));
}

/** kubelet's client or serving identity, valid for a year from yesterday. */
export function nodeLeaf(mint: CertificateMint, ca: Minted, nodeName: string, profile: "client" | "server", days = { from: -1, to: 364 }): Minted {
  const now = Date.now();
  return mint.leaf(ca, {
    subject: `/O=system:nodes/CN=system:node:${nodeName}`,
    notBefore: new Date(now + days.from * DAY),
    notAfter: new Date(now + days.to * DAY),
    profile,
  });
}

export async function startDistroNode(spec: DistroNodeSpec): Promise<DistroNode> {
  const fixture = await fixtureRoot(spec.fixture, spec.over ? { over: spec.over.fixture, ...(spec.over.without ? { without: spec.over.without } : {}) } : {});
  const root = fixture.root;
  const mint = new CertificateMint();
  const now = Date.now();
  const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 3650 * DAY) });
  const write = async (nodePath: string, text: string) => {
    await mkdir(dirname(join(root, nodePath)), { recursive: true });
    await writeFile(join(root, nodePath), text);
  };
  for (const [path, text] of Object.entries(spec.pki(mint, ca, spec.nodeName))) {
    if (text.startsWith("->")) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await symlink(text.slice(2), join(root, path));
    } else await write(path, text);
  }
  // kubeconfigs with inline CA data (kubeadm's): the minted CA in place of the committed one.
  for (const kubeconfig of ["/etc/kubernetes/kubelet.conf"]) {
    const text = await readFile(join(root, kubeconfig), "utf8").catch(() => undefined);
    if (text?.includes("certificate-authority-data:"))
      await write(kubeconfig, text.replace(/certificate-authority-data: \S+/, `certificate-authority-data: ${Buffer.from(ca.certPem).toString("base64")}`));
  }
  // /var/run is a link to /run on every systemd distribution.
  await mkdir(join(root, "var"), { recursive: true });
  await symlink("/run", join(root, "var/run")).catch(() => undefined);
  await writeProcess(root, spec.process);
  if (spec.stampedBinary)
    await write(spec.stampedBinary.path, `\x7fELF stand-in\0build\t-ldflags="-X 'k8s.io/component-base/version.gitVersion=${spec.stampedBinary.version}'"\0`);
  await write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
  // A CNI network the runtime loads, and stand-ins for its plugins.
  await write(`${spec.runtime.cniConfDir}/10-bridge.conflist`, await readFile(join(FIXTURES, "runtime-cni-valid/etc/cni/net.d/10-bridge.conflist"), "utf8"));
  for (const plugin of ["bridge", "host-local", "portmap"]) {
    await write(`${spec.runtime.cniBinDir}/${plugin}`, "#!/bin/sh\nexit 0\n");
    await chmod(join(root, spec.runtime.cniBinDir, plugin), 0o755);
  }
  const containerd = await startContainerd(root, spec.runtime);
  const healthz = await startHealthz();
  const api = await FakeApiServer.start();
  api.seedNode(spec.nodeName);
  api.seedLease(spec.nodeName, { renewTime: new Date() });
  const { reader, close: closeReader } = await kubeReaderFor(api, spec.nodeName);
  let kubeletUp = true;

  const node: DistroNode = {
    root,
    fixture,
    mint,
    ca,
    healthz,
    containerd,
    write,
    read: (nodePath) => readFile(join(root, nodePath), "utf8"),
    async check(options = {}) {
      const host = options.host ?? new RootedHost(root);
      const locator = new KubeletLocator(host, systemClock, 0);
      const checks: Check[] = [
        createKubeletCheck(kubeletTestSettings(kubeletUp ? healthz.url : healthz.closedUrl), { kubelet: locator }),
        createKubeletConfigCheck(kubeletConfigSettings.parse({}, "checks.kubelet-config"), { kubelet: locator }),
        createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), { kubelet: locator }),
        createRuntimeCheck(runtimeSettings.parse({}, "checks.runtime"), { kubelet: locator }),
        ...(options.disk ? [createDiskCheck(diskSettings.parse({}, "checks.disk"), { kubelet: locator })] : []),
      ];
      // One round as `node-doctor check` runs it: the engine starts the fact writers (the runtime) first.
      const state = new NodeState(checks, [], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 60_000 }, silentLog);
      const scheduler = new Scheduler(checks, {
        host,
        clock: systemClock,
        state,
        log: silentLog,
        logFor: () => silentLog,
        cluster: reader as ClusterReader,
        jitterRatio: 0,
      });
      const runs = await scheduler.runOnce();
      await scheduler.stop();
      return runs.flatMap((run) => (state.lastRun(run.check)?.findings ?? []).map((f) => ({ ...f, check: run.check })));
    },
    async stopKubelet() {
      kubeletUp = false;
      await rm(join(root, "proc", String(spec.process.pid)), { recursive: true, force: true });
    },
    async close() {
      closeReader();
      await api.close();
      await healthz.close();
      await containerd.stop();
      mint.cleanup();
      await fixture.cleanup();
    },
  };
  return node;
}

/** Findings above ok, as [reason, severity] pairs, for assertion messages. */
export function problems(findings: readonly Finding[]): Array<[string, string, string]> {
  return findings.filter((f) => f.severity !== "ok").map((f) => [f.check, f.reason, f.severity]);
}

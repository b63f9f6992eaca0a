/**
 * The runtime check against a real containerd (Debian's, started here as root
 * on a private socket, root and state dir, CRI plugin on) and against sockets
 * that misbehave: missing, dead, hung, not gRPC, UNIMPLEMENTED, undecodable.
 * Each case is a fixture root in, findings out.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createDiskCheck, diskSettings } from "../../src/checks/disk/index.js";
import { createRuntimeCheck, runtimeSettings } from "../../src/checks/runtime/index.js";
import { isRuntimeEvidence } from "../../src/checks/runtime/judge.js";
import { systemClock } from "../../src/time/clock.js";
import { CRI_PATHS } from "../../src/wire/cri.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { RootedHost } from "../../src/node/host.js";
import type { Finding, SharedFacts } from "../../src/types.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { StateView } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { runCli } from "../support/cli.js";
import { runTool } from "../support/tools.js";
import { CONTAINERD_SOCKET, startContainerd, type Containerd } from "../support/containerd.js";
import { containersReply, imageFsReply, READY, runtimeReplies, statusReply, versionReply } from "../support/cri-replies.js";
import { startFakeSystemd, type FakeSystemd } from "../support/fake-systemd.js";
import { fillBytes, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { deadSocket, garbageServer, grpcServer, http1Server, hungServer, type TestServer } from "../support/socket-servers.js";

let fixture: FixtureRoot | undefined;
let containerd: Containerd | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await containerd?.stop();
  containerd = undefined;
  await server?.close();
  server = undefined;
  await fixture?.cleanup();
  fixture = undefined;
});

async function runRuntime(root: string, settings: Record<string, unknown> = {}, facts: SharedFacts = {}): Promise<Finding[]> {
  const check = createRuntimeCheck(runtimeSettings.parse(settings, "checks.runtime"), { kubelet: new KubeletLocator(new RootedHost(root), systemClock) });
  try {
    return await check.run(checkContext(root, { facts, timeoutMs: check.timeoutMs }));
  } finally {
    await check.close?.();
  }
}

function only(findings: Finding[]): Finding {
  assert.equal(findings.length, 1, `expected one finding, got ${JSON.stringify(findings.map((f) => [f.reason, f.message]))}`);
  return findings[0] as Finding;
}

/** Runs the check until `done` accepts its findings (containerd reloads CNI files asynchronously). */
async function runUntil(root: string, done: (f: Finding[]) => boolean, ms = 15_000): Promise<Finding[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const findings = await runRuntime(root);
    if (done(findings) || Date.now() > deadline) return findings;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("runtime check with a real containerd", () => {
  it("no CNI config: NetworkReady=false 'cni plugin not initialized' is critical, the remedy says the add-on never installed", async () => {
    fixture = await fixtureRoot();
    containerd = await startContainerd(fixture.root);
    const facts: SharedFacts = {};
    const finding = only(await runRuntime(fixture.root, {}, facts));
    assert.equal(finding.severity, "critical");
    assert.equal(finding.reason, "RuntimeNetworkNotReady");
    assert.equal(finding.condition, "ContainerRuntimeUnhealthy");
    assert.match(finding.message, /^containerd 1\.6\.\S+ at \/run\/containerd\/containerd\.sock reports NetworkReady=false/);
    assert.match(finding.message, /NetworkPluginNotReady: Network plugin returns error: cni plugin not initialized/);
    assert.match(finding.remedy ?? "", /CNI config directory \/etc\/cni\/net\.d (does not exist|holds no \.conf, \.conflist or \.json file)/);
    assert.match(finding.remedy ?? "", /kubectl -n kube-system get pods -o wide --field-selector spec\.nodeName=<node>/);
    // The runtime's image filesystem is shared with the disk check.
    assert.match(facts.imageFs?.mountpoint ?? "", /\/root\/io\.containerd\.snapshotter\.v1\.overlayfs$/);
    assert.equal(typeof facts.imageFs?.usedBytes, "number");
    const evidence = finding.evidence;
    assert.ok(isRuntimeEvidence(evidence));
    assert.equal(evidence.up, true);
    assert.equal(evidence.runtimeName, "containerd");
    assert.deepEqual(
      evidence.requests.map((r) => [r.method, r.outcome]),
      [
        ["Version", "OK"],
        ["Status", "OK"],
        ["ListContainers", "OK"],
        ["ImageFsInfo", "OK"],
      ],
    );
  });

  it("a valid CNI config with its plugins: healthy", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    containerd = await startContainerd(fixture.root);
    const finding = only(await runUntil(fixture.root, (f) => f[0]?.reason === "RuntimeHealthy"));
    assert.equal(finding.severity, "ok", finding.message);
    assert.equal(finding.reason, "RuntimeHealthy");
    assert.match(finding.message, /containerd .* \(CRI v1\) answers and reports RuntimeReady and NetworkReady; 0 containers running\.$/);
  });

  it("a CNI config cut short mid-write: NetworkReady=false, the remedy names the file and that it is not JSON", async () => {
    fixture = await fixtureRoot("runtime-cni-invalid-json");
    containerd = await startContainerd(fixture.root);
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeNetworkNotReady");
    assert.equal(finding.severity, "critical");
    assert.match(finding.remedy ?? "", /\/etc\/cni\/net\.d\/10-calico\.conflist is not valid JSON/);
    assert.match(finding.remedy ?? "", /fix or remove \/etc\/cni\/net\.d\/10-calico\.conflist/);
  });

  it("the network add-on's plugin binary is missing: containerd says ready, the check warns naming /opt/cni/bin", async () => {
    fixture = await fixtureRoot("runtime-cni-plugin-missing");
    containerd = await startContainerd(fixture.root);
    const findings = await runUntil(fixture.root, (f) => f.some((x) => x.reason === "CniPluginMissing"));
    const finding = only(findings);
    assert.equal(finding.reason, "CniPluginMissing");
    assert.equal(finding.severity, "warning");
    assert.match(finding.message, /10-calico\.conflist names the CNI plugins calico, calico-ipam, missing from \/opt\/cni\/bin/);
    assert.match(finding.remedy ?? "", /\/opt\/cni\/bin\/calico/);
  });

  it("an invalid CNI file appearing while the network is ready: NetworkReady turns false, naming the file", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    containerd = await startContainerd(fixture.root);
    assert.equal(only(await runUntil(fixture.root, (f) => f[0]?.reason === "RuntimeHealthy")).reason, "RuntimeHealthy");
    // Sorts before the valid file, so the runtime reads it first.
    await writeFile(join(fixture.root, "etc/cni/net.d/05-broken.conf"), '{"cniVersion": "0.4.0", "name": "broken"}');
    const findings = await runUntil(fixture.root, (f) => f.some((x) => x.reason === "RuntimeNetworkNotReady"));
    const finding = only(findings);
    assert.equal(finding.reason, "RuntimeNetworkNotReady", finding.message);
    assert.match(finding.remedy ?? "", /\/etc\/cni\/net\.d\/05-broken\.conf the network has no "type"/);
  });

  it("one connection serves run after run, and a restarted containerd is reached on a new one", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    containerd = await startContainerd(fixture.root);
    const check = createRuntimeCheck(runtimeSettings.parse({}, "checks.runtime"), { kubelet: new KubeletLocator(new RootedHost(fixture.root), systemClock) });
    const root = fixture.root;
    const run = async () => only(await check.run(checkContext(root, { timeoutMs: check.timeoutMs })));
    try {
      await runUntil(root, (f) => f[0]?.reason === "RuntimeHealthy");
      assert.equal((await run()).reason, "RuntimeHealthy");
      assert.equal((await run()).reason, "RuntimeHealthy");
      await containerd.stop();
      containerd = await startContainerd(root);
      const after = await run();
      assert.equal(after.reason, "RuntimeHealthy", after.message);
      assert.deepEqual(
        (after.evidence as { requests: Array<{ outcome: string }> }).requests.map((r) => r.outcome),
        ["OK", "OK", "OK", "OK"],
        "the stale connection is replaced without a failed call",
      );
    } finally {
      await check.close?.();
    }
  });

  it("containerd killed: its socket stays behind and nothing listens — RuntimeNotListening", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    containerd = await startContainerd(fixture.root);
    await containerd.crash();
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeNotListening");
    assert.equal(finding.severity, "critical");
    assert.match(finding.message, /Nothing listens on the container runtime socket \/run\/containerd\/containerd\.sock/);
    assert.match(finding.remedy ?? "", /systemctl restart containerd/);
    assert.equal((finding.evidence as { up?: boolean }).up, false);
  });
});

describe("runtime check with sockets that misbehave", () => {
  it("kubelet's configured socket does not exist: critical, naming the path and where it came from", async () => {
    fixture = await fixtureRoot("runtime-socket-missing");
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeSocketMissing");
    assert.equal(finding.severity, "critical");
    assert.match(
      finding.message,
      /socket \/run\/containerd\/containerd\.sock from containerRuntimeEndpoint in \/var\/lib\/kubelet\/config\.yaml does not exist \(nor does \/run\/containerd\)/,
    );
    assert.match(finding.remedy ?? "", /systemctl status containerd/);
    assert.match(
      finding.remedy ?? "",
      /the pod does not see \/run\/containerd: mount it \(the chart mounts the node's \/ and \/run unless hostRootFsMount\.enabled is false; then set hostPaths\.runtimeSocket\.path/,
    );
  });

  it("CRI-O's socket named by kubelet, its directory present but no socket: critical, without the mount hint", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "run/crio"), { recursive: true });
    await mkdir(join(fixture.root, "var/lib/kubelet"), { recursive: true });
    await writeFile(join(fixture.root, "var/lib/kubelet/config.yaml"), "kind: KubeletConfiguration\ncontainerRuntimeEndpoint: unix:///run/crio/crio.sock\n");
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeSocketMissing");
    assert.match(finding.message, /\/run\/crio\/crio\.sock .* does not exist; kubelet/);
    assert.match(finding.remedy ?? "", /systemctl status crio/);
    assert.doesNotMatch(finding.remedy ?? "", /mount it/);
  });

  it("no kubelet running and no runtime socket on a node (kubelet's root dir is there): critical", async () => {
    fixture = await fixtureRoot("disk-healthy");
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeSocketMissing");
    assert.equal(finding.severity, "critical");
  });

  it("a node with kubelet stopped, containerd installed and no runtime socket: critical, naming every socket it looked for", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "var/lib/kubelet"), { recursive: true });
    await mkdir(join(fixture.root, "usr/local/bin"), { recursive: true });
    await writeFile(join(fixture.root, "usr/local/bin/containerd"), "#!/bin/sh\n", { mode: 0o755 });
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeSocketMissing");
    assert.equal(finding.severity, "critical");
    assert.match(
      finding.message,
      /none of \/run\/containerd\/containerd\.sock, \/run\/crio\/crio\.sock, \/run\/cri-dockerd\.sock, \/run\/k3s\/containerd\/containerd\.sock exists/,
    );
  });

  it("a workstation with containerd installed (Docker) but nothing of kubelet: not a node, ok", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "usr/bin"), { recursive: true });
    await writeFile(join(fixture.root, "usr/bin/containerd"), "#!/bin/sh\n", { mode: 0o755 });
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "NoContainerRuntime");
    assert.equal(finding.severity, "ok");
  });

  it("no kubelet, no runtime socket and no runtime installed (a laptop): ok, skipped", async () => {
    fixture = await fixtureRoot();
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "NoContainerRuntime");
    assert.equal(finding.severity, "ok");
    assert.match(finding.message, /This host runs no container runtime/);
  });

  it("a regular file where the socket should be", async () => {
    fixture = await fixtureRoot("runtime-socket-missing");
    await mkdir(join(fixture.root, "run/containerd"), { recursive: true });
    await writeFile(join(fixture.root, CONTAINERD_SOCKET), "");
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeSocketMissing");
    assert.match(finding.message, /is a file, not a socket/);
  });

  it("a tcp:// endpoint in kubelet's config is refused with the fix", async () => {
    fixture = await fixtureRoot("runtime-endpoint-tcp");
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeEndpointInvalid");
    assert.match(finding.message, /uses tcp:\/\/; only unix sockets are supported/);
    assert.match(finding.remedy ?? "", /--container-runtime-endpoint=unix:\/\/\/run\/containerd\/containerd\.sock/);
  });

  it("a socket that accepts and never answers: RuntimeUnresponsive well within the check's timeout", async () => {
    fixture = await fixtureRoot();
    server = await hungServer(join(fixture.root, CONTAINERD_SOCKET));
    const started = performance.now();
    const finding = only(await runRuntime(fixture.root, { timeoutSeconds: 2, requestTimeoutSeconds: 0.5 }));
    const elapsed = performance.now() - started;
    assert.equal(finding.reason, "RuntimeUnresponsive");
    assert.equal(finding.severity, "critical");
    assert.match(finding.message, /accepted the connection but did not answer CRI Version within 500 ms/);
    assert.match(finding.remedy ?? "", /kill -USR1 \$\(pidof containerd\)/);
    assert.ok(elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
  });

  it("a hung runtime never outlives the check's timeout, whatever requestTimeoutSeconds says", async () => {
    fixture = await fixtureRoot();
    server = await hungServer(join(fixture.root, CONTAINERD_SOCKET));
    const started = performance.now();
    const finding = only(await runRuntime(fixture.root, { timeoutSeconds: 1, requestTimeoutSeconds: 30 }));
    assert.equal(finding.reason, "RuntimeUnresponsive");
    assert.ok(performance.now() - started < 1000, "finished before the engine's timeout");
  });

  it("a dead socket left by a crashed runtime", async () => {
    fixture = await fixtureRoot();
    await deadSocket(join(fixture.root, CONTAINERD_SOCKET));
    assert.equal(only(await runRuntime(fixture.root)).reason, "RuntimeNotListening");
  });

  it("an HTTP/1 server or garbage on the socket: RuntimeEndpointNotCri, never a crash", async () => {
    fixture = await fixtureRoot();
    const socket = join(fixture.root, CONTAINERD_SOCKET);
    server = await http1Server(socket);
    const h1 = only(await runRuntime(fixture.root));
    assert.equal(h1.reason, "RuntimeEndpointNotCri", h1.message);
    assert.match(h1.message, /^\/run\/containerd\/containerd\.sock \(the usual runtime sockets \(no kubelet running\)\) does not speak CRI over gRPC/);
    await server.close();
    await rm(socket, { force: true });
    server = await garbageServer(socket);
    const junk = only(await runRuntime(fixture.root));
    assert.equal(junk.reason, "RuntimeEndpointNotCri", junk.message);
  });

  it("a runtime without CRI runtime.v1 (UNIMPLEMENTED): says to enable containerd's CRI plugin", async () => {
    fixture = await fixtureRoot();
    server = await grpcServer(join(fixture.root, CONTAINERD_SOCKET), {});
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeCriUnsupported");
    assert.equal(finding.severity, "critical");
    assert.match(finding.remedy ?? "", /remove "cri" from disabled_plugins in \/etc\/containerd\/config\.toml/);
  });

  it('Docker\'s containerd config (disabled_plugins = ["cri"]) serving no CRI: the message names the file', async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "etc/containerd"), { recursive: true });
    // As docker.io / containerd.io packages ship it.
    await writeFile(join(fixture.root, "etc/containerd/config.toml"), '#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = ["cri"]\n');
    server = await grpcServer(join(fixture.root, CONTAINERD_SOCKET), {});
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeCriUnsupported");
    assert.match(finding.message, /\/etc\/containerd\/config\.toml lists the CRI plugin in disabled_plugins/);
  });

  it("an undecodable Status reply is unknown (could not look), not a crash", async () => {
    fixture = await fixtureRoot();
    server = await grpcServer(join(fixture.root, CONTAINERD_SOCKET), {
      [CRI_PATHS.Version]: { kind: "ok", message: versionReply() },
      [CRI_PATHS.Status]: { kind: "ok", message: Uint8Array.from([0x0a, 0x20, 0x0a, 0x05]) },
    });
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeReplyInvalid");
    assert.equal(finding.severity, "unknown");
    assert.match(finding.message, /answered CRI Status with a reply node-doctor cannot decode: field 1 claims 32 bytes/);
  });

  it("RuntimeReady=false with the runtime's own reason", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    server = await grpcServer(
      join(fixture.root, CONTAINERD_SOCKET),
      runtimeReplies({
        Version: { kind: "ok", message: versionReply("cri-o", "1.30.4") },
        Status: {
          kind: "ok",
          message: statusReply([
            { type: "RuntimeReady", status: false, reason: "RuntimeNotReady", message: "storage driver overlay failed to initialize" },
            READY[1]!,
          ]),
        },
        ImageFsInfo: { kind: "ok", message: imageFsReply("/var/lib/containers/storage/overlay-images", 1024, 3) },
      }),
    );
    const facts: SharedFacts = {};
    const finding = only(await runRuntime(fixture.root, {}, facts));
    assert.equal(finding.reason, "RuntimeNotReady");
    assert.match(
      finding.message,
      /cri-o 1\.30\.4 at \/run\/containerd\/containerd\.sock reports RuntimeReady=false \(RuntimeNotReady: storage driver overlay failed to initialize\)/,
    );
    assert.match(finding.remedy ?? "", /journalctl -u crio/);
    assert.deepEqual(
      { ...facts.imageFs, measuredAtMonotonicMs: 0 },
      { mountpoint: "/var/lib/containers/storage/overlay-images", usedBytes: 1024, inodesUsed: 3, measuredAtMonotonicMs: 0 },
    );
  });

  for (const [name, prepare, expected] of [
    ["missing", async (_root: string) => undefined, /The CNI config directory \/etc\/cni\/net\.d does not exist/],
    [
      "empty",
      async (root: string) => void (await mkdir(join(root, "etc/cni/net.d"), { recursive: true })),
      /\/etc\/cni\/net\.d holds no \.conf, \.conflist or \.json file/,
    ],
    [
      "holding only a non-config file",
      async (root: string) => {
        await mkdir(join(root, "etc/cni/net.d"), { recursive: true });
        await writeFile(join(root, "etc/cni/net.d/calico-kubeconfig"), "apiVersion: v1\n");
      },
      /holds no \.conf, \.conflist or \.json file/,
    ],
  ] as const) {
    it(`NetworkReady=false with the CNI config directory ${name}: the remedy says so`, async () => {
      fixture = await fixtureRoot();
      await prepare(fixture.root);
      server = await grpcServer(
        join(fixture.root, CONTAINERD_SOCKET),
        runtimeReplies({
          Status: {
            kind: "ok",
            message: statusReply([
              READY[0]!,
              { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: "Network plugin returns error: cni plugin not initialized" },
            ]),
          },
          ImageFsInfo: { kind: "ok", message: imageFsReply("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", 0, 0) },
        }),
      );
      const finding = only(await runRuntime(fixture.root));
      assert.equal(finding.reason, "RuntimeNetworkNotReady");
      assert.match(finding.remedy ?? "", expected);
    });
  }

  it("a FIFO where a CNI config file should be is named, and reading it does not block", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "etc/cni/net.d"), { recursive: true });
    execFileSync("mkfifo", [join(fixture.root, "etc/cni/net.d/10-stuck.conflist")]);
    server = await grpcServer(
      join(fixture.root, CONTAINERD_SOCKET),
      runtimeReplies({
        Status: {
          kind: "ok",
          message: statusReply([READY[0]!, { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: "cni config load failed" }]),
        },
      }),
    );
    const finding = only(await runRuntime(fixture.root, { timeoutSeconds: 2 }));
    assert.equal(finding.reason, "RuntimeNetworkNotReady");
    assert.match(finding.remedy ?? "", /\/etc\/cni\/net\.d\/10-stuck\.conflist cannot be read \(is not a regular file\)/);
  });

  it("kubelet's endpoint under /var/run, a symlink to /run as on most distributions, is followed inside the host root", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    await mkdir(join(fixture.root, "var/lib/kubelet"), { recursive: true });
    await writeFile(
      join(fixture.root, "var/lib/kubelet/config.yaml"),
      "kind: KubeletConfiguration\ncontainerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock\n",
    );
    await symlink("/run", join(fixture.root, "var/run"));
    server = await grpcServer(
      join(fixture.root, CONTAINERD_SOCKET),
      runtimeReplies({
        ImageFsInfo: { kind: "ok", message: imageFsReply("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", 10, 1) },
      }),
    );
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeHealthy", finding.message);
    assert.match(finding.message, /at \/var\/run\/containerd\/containerd\.sock .*; 3 containers running\.$/);
  });

  it("a host root so deep that the socket's path cannot be connected to: could not look, saying why", async () => {
    fixture = await fixtureRoot();
    const deep = join(fixture.root, "d".repeat(100));
    await mkdir(join(deep, "run/containerd"), { recursive: true });
    // No socket can be bound at that length: bind one at a short path and move it there.
    const short = join(fixture.root, "s.sock");
    const holder = await hungServer(short);
    try {
      await rename(short, join(deep, CONTAINERD_SOCKET));
      await assert.rejects(runRuntime(deep), /is \d+ bytes, longer than a unix socket address allows \(107\): use a shorter --host-root/);
    } finally {
      await holder.close();
    }
  });

  it("ListContainers hanging (kubelet's PLEG relist): RuntimeUnresponsive naming the call", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    server = await grpcServer(join(fixture.root, CONTAINERD_SOCKET), runtimeReplies({ ListContainers: { kind: "hang" } }));
    const finding = only(await runRuntime(fixture.root, { requestTimeoutSeconds: 0.3 }));
    assert.equal(finding.reason, "RuntimeUnresponsive");
    assert.match(finding.message, /did not answer CRI ListContainers within 300 ms; .*PLEG is not healthy/);
  });

  it("ImageFsInfo hanging after a ready Status: a warning, and the check still finishes in time", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    server = await grpcServer(
      join(fixture.root, CONTAINERD_SOCKET),
      runtimeReplies({
        ImageFsInfo: { kind: "hang" },
      }),
    );
    const finding = only(await runRuntime(fixture.root, { requestTimeoutSeconds: 0.3 }));
    assert.equal(finding.reason, "RuntimeImageFsUnavailable");
    assert.equal(finding.severity, "warning");
  });
});

describe("runtime check asks systemd about the runtime's unit when the runtime does not answer", () => {
  let systemd: FakeSystemd | undefined;
  afterEach(async () => {
    await systemd?.stop();
    systemd = undefined;
  });
  const busAt = (root: string) => join(root, "run/dbus/system_bus_socket");

  it("a dead socket: the message says systemd's state, result and restart count", async () => {
    fixture = await fixtureRoot();
    await deadSocket(join(fixture.root, CONTAINERD_SOCKET));
    systemd = await startFakeSystemd(busAt(fixture.root), {
      units: {
        "containerd.service": {
          Unit: { LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", UnitFileState: "enabled" },
          Service: { Result: "exit-code", NRestarts: 5, MainPID: 0, ExecMainStatus: 2 },
        },
      },
    });
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeNotListening");
    assert.match(
      finding.message,
      /the runtime is not running; systemd: containerd\.service is activating \(auto-restart\), last result exit-code, exit status 2, restarted 5 times by systemd\.$/,
    );
    assert.equal((finding.evidence as { unit?: { nRestarts?: number } }).unit?.nRestarts, 5);
  });

  it("a missing socket and a disabled unit: the remedy starts with enabling it", async () => {
    fixture = await fixtureRoot("runtime-socket-missing");
    systemd = await startFakeSystemd(busAt(fixture.root), {
      units: {
        "containerd.service": {
          Unit: { LoadState: "loaded", ActiveState: "inactive", SubState: "dead", UnitFileState: "disabled" },
          Service: { Result: "success", NRestarts: 0, MainPID: 0 },
        },
      },
    });
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeSocketMissing");
    assert.match(finding.message, /systemd: containerd\.service is inactive \(dead\), disabled at boot\.$/);
    assert.match(finding.remedy ?? "", /^`systemctl enable --now containerd` \(the unit is disabled\), then /);
  });

  it("a masked unit: unmask first; a configured unit name is used as given", async () => {
    fixture = await fixtureRoot("runtime-socket-missing");
    systemd = await startFakeSystemd(busAt(fixture.root), {
      units: {
        "containerd-custom.service": { Unit: { LoadState: "masked", ActiveState: "inactive", SubState: "dead", UnitFileState: "masked" }, Service: {} },
      },
    });
    const finding = only(await runRuntime(fixture.root, { unit: "containerd-custom.service" }));
    assert.match(finding.remedy ?? "", /^`systemctl unmask containerd-custom && systemctl enable --now containerd-custom` \(the unit is masked\)/);
  });

  it("a healthy runtime is not worth a D-Bus call", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    server = await grpcServer(
      join(fixture.root, CONTAINERD_SOCKET),
      runtimeReplies({
        ImageFsInfo: { kind: "ok", message: imageFsReply("/var/lib/containerd", 1, 1) },
      }),
    );
    systemd = await startFakeSystemd(busAt(fixture.root), { units: {}, hang: ["GetUnit", "GetAll"] });
    const started = performance.now();
    const finding = only(await runRuntime(fixture.root));
    assert.equal(finding.reason, "RuntimeHealthy");
    assert.ok(performance.now() - started < 900, "the hung bus was not called");
  });

  it("a hung runtime and a hung bus: still RuntimeUnresponsive within the check's timeout", async () => {
    fixture = await fixtureRoot();
    server = await hungServer(join(fixture.root, CONTAINERD_SOCKET));
    systemd = await startFakeSystemd(busAt(fixture.root), { units: {}, hang: ["GetUnit", "GetAll"] });
    const started = performance.now();
    const finding = only(await runRuntime(fixture.root, { timeoutSeconds: 2, requestTimeoutSeconds: 0.5, dbusTimeoutSeconds: 5 }));
    const elapsed = performance.now() - started;
    assert.equal(finding.reason, "RuntimeUnresponsive");
    assert.match(finding.message, /systemd could not be asked about containerd\.service/);
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
  });
});

describe("runtime check and disk check together", () => {
  it("the image filesystem the runtime reports is judged with kubelet's imagefs thresholds", async () => {
    fixture = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
    await fixture.mountTmpfs("/var/lib/kubelet", { size: "8m", inodes: 1000 });
    // Images on their own disk, somewhere the disk check would not guess.
    const images = await fixture.mountTmpfs("/data/containerd", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    await mkdir(join(images, "io.containerd.snapshotter.v1.overlayfs"), { recursive: true });
    await fillBytes(images, 300 * 1024); // ~7% free: below imagefs.available<15%
    server = await grpcServer(
      join(fixture.root, CONTAINERD_SOCKET),
      runtimeReplies({
        ImageFsInfo: { kind: "ok", message: imageFsReply("/data/containerd/io.containerd.snapshotter.v1.overlayfs", 3_500_000, 120) },
      }),
    );
    const facts: SharedFacts = {};
    await runRuntime(fixture.root, {}, facts);
    assert.equal(facts.imageFs?.mountpoint, "/data/containerd/io.containerd.snapshotter.v1.overlayfs");
    const disk = createDiskCheck(diskSettings.parse({}, "checks.disk"), { kubelet: new KubeletLocator(new RootedHost(fixture.root), systemClock) });
    const findings = await disk.run(checkContext(fixture.root, { facts }));
    const imageFs = findings.find((f) => f.reason === "ImageFsAvailableLow");
    assert.ok(imageFs, JSON.stringify(findings.map((f) => [f.reason, f.message])));
    assert.equal(imageFs.severity, "critical");
    assert.match(imageFs.message, /filesystem \/data\/containerd/);
  });
});

describe("runtime metrics", () => {
  const state: StateView = { conditions: () => [], condition: () => undefined, lastRun: () => undefined, runs: () => [], firstRoundDone: () => true };
  const sample = (text: string, series: string) => new RegExp(`^${series.replace(/[{}.]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text)?.[1];

  it("readiness, info, request durations and the image filesystem from a real containerd; promtool accepts them", async () => {
    fixture = await fixtureRoot();
    containerd = await startContainerd(fixture.root);
    const findings = await runRuntime(fixture.root);
    const sink = createMetricsSink({ nodeName: "node7", version: "0.0.0", checkNames: ["runtime"] });
    sink.onCheckRun?.({ check: "runtime", startedAtMs: Date.now(), durationMs: 20, outcome: "ok", findings }, state);
    const text = await sink.registry.metrics();
    assert.equal(sample(text, 'node_doctor_runtime_up{node="node7"}'), "1");
    assert.equal(sample(text, 'node_doctor_runtime_condition{type="RuntimeReady",node="node7"}'), "1");
    assert.equal(sample(text, 'node_doctor_runtime_condition{type="NetworkReady",node="node7"}'), "0");
    assert.match(text, /^node_doctor_runtime_info\{runtime="containerd",version="1\.6\.[^"]+",api_version="v1",node="node7"\} 1$/m);
    assert.equal(sample(text, 'node_doctor_runtime_containers_running{node="node7"}'), "0");
    for (const method of ["Version", "Status", "ListContainers", "ImageFsInfo"]) {
      assert.equal(sample(text, `node_doctor_runtime_request_duration_seconds_count{node="node7",method="${method}"}`), "1");
    }
    assert.match(text, /^node_doctor_runtime_imagefs_used_bytes\{mountpoint="[^"]+io\.containerd\.snapshotter\.v1\.overlayfs",node="node7"\} \d+$/m);
    const result = await runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(result.code, 0, `promtool check metrics: ${result.stdout}${result.stderr}`);
    const doc = await readFile(new URL("../../docs/metrics.md", import.meta.url), "utf8");
    for (const [, family] of text.matchAll(/^# TYPE (node_doctor_runtime_\w+) /gm))
      assert.ok(doc.includes(`\`${family}\``), `${family} is not in docs/metrics.md`);

    // The runtime dies: up drops to 0, the failed call is counted, the stale image filesystem goes.
    await containerd.crash();
    sink.onCheckRun?.({ check: "runtime", startedAtMs: Date.now(), durationMs: 5, outcome: "ok", findings: await runRuntime(fixture.root) }, state);
    const later = await sink.registry.metrics();
    await sink.close?.();
    assert.equal(sample(later, 'node_doctor_runtime_up{node="node7"}'), "0");
    assert.equal(sample(later, 'node_doctor_runtime_request_failures_total{method="Version",outcome="refused",node="node7"}'), "1");
    assert.doesNotMatch(later, /^node_doctor_runtime_imagefs_used_bytes\{/m);
  });
});

describe("node-doctor check with a sick runtime", () => {
  it("the built agent reports containerd's NetworkReady=false and exits 2", async () => {
    fixture = await fixtureRoot();
    containerd = await startContainerd(fixture.root);
    const result = await runCli(["check", "--host-root", fixture.root, "--only", "runtime", "--output", "json"]);
    assert.equal(result.code, 2, result.stderr);
    const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
    assert.deepEqual(
      findings.map((f) => [f.reason, f.severity]),
      [["RuntimeNetworkNotReady", "critical"]],
    );
  });

  it("a hung runtime socket: the runtime finding arrives in time and the other checks still report", async () => {
    fixture = await fixtureRoot("runtime-cni-valid");
    server = await hungServer(join(fixture.root, CONTAINERD_SOCKET));
    const config = join(fixture.root, "node-doctor.yaml");
    await writeFile(config, "checks:\n  runtime:\n    timeoutSeconds: 2\n    requestTimeoutSeconds: 0.5\n");
    const started = performance.now();
    const result = await runCli(["check", "--host-root", fixture.root, "--config", config, "--output", "json"], { timeoutMs: 20_000 });
    const elapsed = performance.now() - started;
    const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
    assert.equal(findings.find((f) => f.check === "runtime")?.reason, "RuntimeUnresponsive");
    assert.ok(
      findings.some((f) => f.check === "disk"),
      "the disk check reported alongside",
    );
    assert.equal(result.code, 2);
    assert.ok(elapsed < 10_000, `took ${elapsed.toFixed(0)} ms`);
  });
});

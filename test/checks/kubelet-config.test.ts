/**
 * The kubelet-config check on fixture host roots: the unregistered node and
 * the refused flags (docs/incidents.md), a healthy kubeadm node, and bad
 * inputs (NUL-only command line, a config that is a list, a binary
 * kubeconfig, broken TOML). The rules' table over facts built in memory is
 * test/unit/kubelet-config-rules.test.ts.
 */
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import { createKubeletConfigCheck, kubeletConfigSettings } from "../../src/checks/kubelet-config/index.js";
import { systemClock } from "../../src/time/clock.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import type { ClusterReader, Finding, SharedFacts } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { buildStampedKubelet } from "../support/go-binary.js";
import { runCli } from "../support/cli.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeReaderFor } from "../support/kube.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

// ---------------------------------------------------------------------------
// Fixture host roots

let fixture: FixtureRoot | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** A ClusterReader for a node that never registered (or one that did, with a version). */
function cluster(node: Node | null, calls: { n: number } = { n: 0 }): ClusterReader {
  const timing = { sentAtMs: 0, receivedAtMs: 0 };
  return {
    nodeName: "node-1",
    async getNode() {
      calls.n++;
      return { node, timing };
    },
    async getLease() {
      return { lease: null, timing };
    },
    async probeTime() {
      return timing;
    },
    async getKubernetesService() {
      return null;
    },
  };
}

async function run(root: string, options: { settings?: Record<string, unknown>; cluster?: ClusterReader; facts?: SharedFacts } = {}): Promise<Finding[]> {
  const check = createKubeletConfigCheck(kubeletConfigSettings.parse(options.settings ?? {}, "checks.kubelet-config"), {
    kubelet: new KubeletLocator(new RootedHost(root), systemClock),
  });
  return check.run(checkContext(root, { ...(options.cluster ? { cluster: options.cluster } : {}), ...(options.facts ? { facts: options.facts } : {}) }));
}

/** The runtime check's word that containerd does not answer (its socket is gone). */
const RUNTIME_DOWN: SharedFacts = { runtime: { endpoint: "unix:///run/containerd/containerd.sock", answers: false, measuredAtMonotonicMs: 0 } };

function aboveOk(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity !== "ok");
}

function one(findings: Finding[], reason: string): Finding {
  const matching = findings.filter((f) => f.reason === reason);
  assert.equal(matching.length, 1, `expected one ${reason}, got ${JSON.stringify(findings.map((f) => f.reason))}`);
  return matching[0]!;
}

describe("kubelet-config check on fixture hosts", () => {
  it("healthy kubeadm node (kubelet 1.30, systemd on both sides, swap off): nothing above ok", async () => {
    fixture = await fixtureRoot("kubelet-config-healthy");
    const findings = await run(fixture.root);
    assert.deepEqual(aboveOk(findings), []);
    const ok = one(findings, "KubeletConfigOk");
    assert.match(ok.message, /kubelet 1\.30\.4 \(from \/var\/lib\/dpkg\/status, package kubelet 1\.30\.4-1\.1\)/);
    assert.match(
      ok.message,
      /flags of pid 1843, \/var\/lib\/kubelet\/config\.yaml, \/etc\/kubernetes\/kubelet\.conf, swap off, cgroup driver matches \/etc\/containerd\/config\.toml/,
    );
  });

  it("a --config-dir drop-in that switches the cgroup driver is named with its line", async () => {
    fixture = await fixtureRoot("kubelet-config-healthy");
    const argv = [
      "/usr/bin/kubelet",
      "--kubeconfig=/etc/kubernetes/kubelet.conf",
      "--config=/var/lib/kubelet/config.yaml",
      "--config-dir=/etc/kubernetes/kubelet.conf.d",
      "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
    ];
    await writeFile(join(fixture.root, "proc/1843/cmdline"), argv.join("\0") + "\0");
    await mkdir(join(fixture.root, "etc/kubernetes/kubelet.conf.d"), { recursive: true });
    await writeFile(
      join(fixture.root, "etc/kubernetes/kubelet.conf.d/50-cgroup.conf"),
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
    );
    await writeFile(join(fixture.root, "etc/kubernetes/kubelet.conf.d/README"), "not a drop-in\n");
    const mismatch = one(await run(fixture.root), "CgroupDriverMismatch");
    assert.equal(mismatch.severity, "critical");
    assert.match(
      mismatch.message,
      /kubelet uses the cgroupfs cgroup driver \(cgroupDriver: cgroupfs in \/etc\/kubernetes\/kubelet\.conf\.d\/50-cgroup\.conf line 3\) but containerd uses systemd/,
    );
    assert.match(mismatch.remedy ?? "", /cgroupDriver: systemd` via cgroupDriver in \/etc\/kubernetes\/kubelet\.conf\.d\/50-cgroup\.conf line 3/);
  });

  it("runtime config not mounted into the pod: the cgroup driver is not compared, and the summary says so", async () => {
    fixture = await fixtureRoot("kubelet-config-healthy");
    await rm(join(fixture.root, "etc/containerd"), { recursive: true });
    const findings = await run(fixture.root);
    assert.deepEqual(aboveOk(findings), []);
    assert.match(one(findings, "KubeletConfigOk").message, /cgroup driver not compared \(containerd's config directory is not visible to node-doctor\)/);
    // A config that imports others: containerd merges them over it, and so does node-doctor (globs followed).
    await mkdir(join(fixture.root, "etc/containerd/conf.d"), { recursive: true });
    await writeFile(join(fixture.root, "etc/containerd/config.toml"), 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n');
    const unmatched = await run(fixture.root);
    assert.match(one(unmatched, "CgroupDriverMismatch").message, /config\.toml does not set SystemdCgroup/, "an empty glob imports nothing");
    await writeFile(
      join(fixture.root, "etc/containerd/conf.d/10-runc.toml"),
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = true\n',
    );
    const imported = await run(fixture.root);
    assert.deepEqual(aboveOk(imported), []);
    assert.match(one(imported, "KubeletConfigOk").message, /cgroup driver matches \/etc\/containerd\/config\.toml, \/etc\/containerd\/conf\.d\/10-runc\.toml/);
    await rm(join(fixture.root, "etc/containerd"), { recursive: true });
    // Visible directory, no file: containerd's defaults (cgroupfs) against kubelet's systemd.
    await mkdir(join(fixture.root, "etc/containerd"));
    assert.match(one(await run(fixture.root), "CgroupDriverMismatch").message, /does not exist, so containerd uses its default SystemdCgroup = false/);
  });

  it("no kubelet process: no findings (the kubelet check says so)", async () => {
    fixture = await fixtureRoot("kubelet-config-healthy");
    await rm(join(fixture.root, "proc/1843"), { recursive: true });
    assert.deepEqual(await run(fixture.root), []);
  });

  it("the unregistered node: kubelet 1.7 with --kubeconfig and no --require-kubeconfig never registers; its logs are in /tmp", async () => {
    fixture = await fixtureRoot("unregistered-node-kubeconfig-ignored");
    const calls = { n: 0 };
    // The Node does not exist: the version comes from the package database.
    const findings = await run(fixture.root, { cluster: cluster(null, calls) });
    const ignored = one(findings, "KubeconfigIgnored");
    assert.equal(ignored.severity, "critical");
    assert.equal(ignored.condition, "KubeletConfigInvalid");
    assert.match(ignored.message, /kubelet 1\.7\.16 \(from \/var\/lib\/dpkg\/status, package kubelet 1\.7\.16-00\)/);
    assert.match(ignored.message, /--kubeconfig=\/etc\/kubernetes\/kubelet\.conf but without --require-kubeconfig/);
    assert.match(ignored.message, /never registers the node/);
    assert.match(ignored.remedy ?? "", /Add --require-kubeconfig/);
    assert.match(ignored.remedy ?? "", /systemctl daemon-reload && systemctl restart kubelet/);
    assert.match(ignored.remedy ?? "", /upgrade kubelet to 1\.8/);
    assert.match(ignored.remedy ?? "", /kubectl get node node-1/);

    const logs = one(findings, "KubeletLogLocation");
    assert.equal(logs.severity, "ok");
    assert.match(logs.message, /--logtostderr=false/);
    assert.match(logs.message, /only ERROR and worse reach stderr/);
    assert.match(logs.remedy ?? "", /tail -n 200 \/tmp\/kubelet\.WARNING/);

    // Nothing else above ok: cAdvisor noise and 1.7's dockershim flags are not problems here.
    assert.deepEqual(
      aboveOk(findings).map((f) => f.reason),
      ["KubeconfigIgnored"],
    );
    assert.equal(calls.n, 0, "the package database answered; the API server was not asked");
  });

  it("the unregistered node without a package database: the version comes from the setting", async () => {
    fixture = await fixtureRoot("unregistered-node-kubeconfig-ignored");
    await rm(join(fixture.root, "var/lib/dpkg"), { recursive: true });
    const unknown = await run(fixture.root, { cluster: cluster(null) });
    assert.equal(unknown.filter((f) => f.reason === "KubeconfigIgnored").length, 0);
    one(unknown, "KubeletVersionUnknown");
    const known = await run(fixture.root, { settings: { kubeletVersion: "1.7.16" } });
    assert.match(one(known, "KubeconfigIgnored").message, /kubelet 1\.7\.16 \(from the checks\.kubelet-config\.kubeletVersion setting\)/);
  });

  it("the unregistered node's kubelet 1.7, a binary install with no package: its version is read from the binary's stamp", async () => {
    fixture = await fixtureRoot("unregistered-node-kubeconfig-ignored");
    await rm(join(fixture.root, "var/lib/dpkg"), { recursive: true });
    await mkdir(join(fixture.root, "usr/bin"), { recursive: true });
    await writeFile(join(fixture.root, "usr/bin/kubelet"), await buildStampedKubelet("v1.7.16"), { mode: 0o755 });
    const findings = await run(fixture.root, { cluster: cluster(null) });
    assert.match(one(findings, "KubeconfigIgnored").message, /kubelet 1\.7\.16 \(from the version stamped into \/usr\/bin\/kubelet \(v1\.7\.16\)\)/);
  });

  it("the Node's kubeletVersion is read once per kubelet process", async () => {
    fixture = await fixtureRoot("kubelet-config-healthy");
    await rm(join(fixture.root, "var/lib/dpkg"), { recursive: true });
    const calls = { n: 0 };
    const reader = cluster({ status: { nodeInfo: { kubeletVersion: "v1.27.3" } } } as Node, calls);
    const check = createKubeletConfigCheck(kubeletConfigSettings.parse({}, "k"), { kubelet: new KubeletLocator(new RootedHost(fixture.root), systemClock, 0) });
    const first = await check.run(checkContext(fixture.root, { cluster: reader }));
    await check.run(checkContext(fixture.root, { cluster: reader }));
    assert.equal(calls.n, 1);
    assert.match(one(first, "KubeletConfigOk").message, /kubelet 1\.27\.3 \(from the Node's status\.nodeInfo\.kubeletVersion v1\.27\.3\)/);
  });

  it("the refused flags: kubelet 1.22 refuses --node-labels, --node-status-max-images and --dynamic-config-dir", async () => {
    fixture = await fixtureRoot("refused-flags");
    const findings = await run(fixture.root);
    assert.deepEqual(
      aboveOk(findings)
        .map((f) => f.reason)
        .sort(),
      ["DynamicConfigDirWithoutFeatureGate", "NodeLabelNotAllowed", "NodeStatusMaxImagesInvalid"],
    );

    const labels = one(findings, "NodeLabelNotAllowed");
    assert.equal(labels.severity, "critical");
    assert.match(labels.message, /sets node-role\.kubernetes\.io\/worker in the kubernetes\.io\/k8s\.io namespace/);
    assert.doesNotMatch(labels.message, /sets [^;]*topology\.kubernetes\.io\/zone[^;]*in the/);
    assert.match(labels.remedy ?? "", /Remove node-role\.kubernetes\.io\/worker from --node-labels/);
    assert.match(labels.remedy ?? "", /kubectl label node <node> node-role\.kubernetes\.io\/worker=/);
    assert.deepEqual((labels.evidence as { labels: string[] }).labels, ["node-role.kubernetes.io/worker"]);

    const images = one(findings, "NodeStatusMaxImagesInvalid");
    assert.equal(images.severity, "critical");
    assert.match(images.message, /--node-status-max-images=-5 is below -1/);

    const dynamic = one(findings, "DynamicConfigDirWithoutFeatureGate");
    assert.equal(dynamic.severity, "critical");
    assert.match(dynamic.message, /--dynamic-config-dir=\/var\/lib\/kubelet\/dynamic-config/);
    assert.match(dynamic.remedy ?? "", /Remove --dynamic-config-dir/);
  });

  it("the refused flags after the package moves to 1.27: the old flags stop the next start", async () => {
    fixture = await fixtureRoot("refused-flags");
    const findings = await run(fixture.root, { settings: { kubeletVersion: "1.27.2" } });
    const removed = findings.filter((f) => f.reason === "KubeletFlagRemoved");
    assert.deepEqual(
      removed
        .map((f) => (f.evidence as { flags: string[] }).flags)
        .flat()
        .sort(),
      ["container-runtime", "dynamic-config-dir"],
    );
    assert.ok(removed.every((f) => f.severity === "critical"));
    assert.equal(findings.filter((f) => f.reason === "DynamicConfigDirWithoutFeatureGate").length, 0);
  });

  it("the refused flags while kubelet crash-loops: no process, so the flags come from its unit, drop-ins and env files", async () => {
    fixture = await fixtureRoot("refused-flags-crashloop");
    const findings = await run(fixture.root);
    assert.deepEqual(
      aboveOk(findings)
        .map((f) => f.reason)
        .sort(),
      ["NodeLabelNotAllowed", "NodeStatusMaxImagesInvalid"],
    );
    const labels = one(findings, "NodeLabelNotAllowed");
    assert.equal(labels.severity, "critical");
    assert.match(labels.message, /kubelet 1\.30\.4/);
    assert.match(
      labels.message,
      /kubelet is not running; flags read from \/lib\/systemd\/system\/kubelet\.service, \/etc\/systemd\/system\/kubelet\.service\.d\/10-kubeadm\.conf, \/var\/lib\/kubelet\/kubeadm-flags\.env, \/etc\/default\/kubelet/,
    );
    assert.match(
      labels.remedy ?? "",
      /Remove node-role\.kubernetes\.io\/worker from --node-labels in \/etc\/default\/kubelet, then `systemctl daemon-reload && systemctl restart kubelet`/,
    );
    assert.match(one(findings, "NodeStatusMaxImagesInvalid").message, /--node-status-max-images=-5/);
    // Without /etc/default visible, the findings that remain say what could not be seen.
    await rm(join(fixture.root, "etc/default"), { recursive: true });
    await writeFile(join(fixture.root, "var/lib/kubelet/kubeadm-flags.env"), 'KUBELET_KUBEADM_ARGS="--node-status-max-images=-5"\n');
    assert.match(one(await run(fixture.root), "NodeStatusMaxImagesInvalid").message, /\/etc\/default\/kubelet could not be seen and may add flags/);
    await mkdir(join(fixture.root, "etc/default"));
    await writeFile(
      join(fixture.root, "var/lib/kubelet/kubeadm-flags.env"),
      'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"\n',
    );
    // Once fixed, the unit's command line passes and the summary says where it was read.
    await writeFile(join(fixture.root, "etc/default/kubelet"), 'KUBELET_EXTRA_ARGS="--node-labels=node.kubernetes.io/pool=batch"\n');
    const fixed = await run(fixture.root);
    assert.deepEqual(aboveOk(fixed), []);
    assert.match(
      one(fixed, "KubeletConfigOk").message,
      /flags in \/lib\/systemd\/system\/kubelet\.service, .*\/var\/lib\/kubelet\/config\.yaml, \/etc\/kubernetes\/kubelet\.conf/,
    );
  });

  it("a bad label added to /etc/default/kubelet while kubelet runs: reported before the next restart", async () => {
    fixture = await fixtureRoot("refused-flags-crashloop");
    const good = [
      "/usr/bin/kubelet",
      "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
      "--kubeconfig=/etc/kubernetes/kubelet.conf",
      "--config=/var/lib/kubelet/config.yaml",
      "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
      "--pod-infra-container-image=registry.k8s.io/pause:3.9",
    ];
    await mkdir(join(fixture.root, "proc/5120"), { recursive: true });
    await writeFile(join(fixture.root, "proc/5120/comm"), "kubelet\n");
    await writeFile(join(fixture.root, "proc/5120/cmdline"), good.join("\0") + "\0");
    const findings = await run(fixture.root);
    const labels = one(findings, "NodeLabelNotAllowed");
    assert.equal(labels.severity, "critical");
    assert.match(
      labels.message,
      /not yet in effect: kubelet pid 5120 runs with other flags, but its unit now starts it with these, from .*\/etc\/default\/kubelet, at its next restart/,
    );
    assert.match(labels.remedy ?? "", /from --node-labels in \/etc\/default\/kubelet/);
    assert.equal(findings.filter((f) => f.reason === "KubeletConfigOk").length, 0);

    // Once the running kubelet has the same flags as its unit, each problem is reported once, without "not yet".
    await writeFile(
      join(fixture.root, "proc/5120/cmdline"),
      [...good, "--node-labels=node-role.kubernetes.io/worker=,node.kubernetes.io/pool=batch", "--node-status-max-images=-5"].join("\0") + "\0",
    );
    const same = await run(fixture.root);
    assert.doesNotMatch(one(same, "NodeLabelNotAllowed").message, /not yet in effect/);
    one(same, "NodeStatusMaxImagesInvalid");

    // /etc/default not mounted into the pod: the unit may lack KUBELET_EXTRA_ARGS, so it is not compared.
    await rm(join(fixture.root, "etc/default"), { recursive: true });
    await writeFile(join(fixture.root, "proc/5120/cmdline"), [...good, "--cgroup-driver=cgroupfs"].join("\0") + "\0");
    assert.equal((await run(fixture.root)).filter((f) => /not yet in effect/.test(f.message)).length, 0);
    await mkdir(join(fixture.root, "etc/default"));
    await writeFile(
      join(fixture.root, "etc/default/kubelet"),
      'KUBELET_EXTRA_ARGS="--node-labels=node-role.kubernetes.io/worker=,node.kubernetes.io/pool=batch --node-status-max-images=-5"\n',
    );

    // A kubelet started from another binary (RKE2, k0s) is not this unit's: its flags are not "pending".
    await writeFile(join(fixture.root, "proc/5120/cmdline"), ["/var/lib/rancher/rke2/bin/kubelet", ...good.slice(1)].join("\0") + "\0");
    assert.deepEqual(aboveOk(await run(fixture.root)), []);

    // A unit that runs a wrapper script says nothing about kubelet's flags.
    await writeFile(
      join(fixture.root, "etc/systemd/system/kubelet.service.d/10-kubeadm.conf"),
      "[Service]\nExecStart=\nExecStart=/usr/local/bin/kubelet-wrapper --node-labels=kubernetes.io/role=x\n",
    );
    await writeFile(join(fixture.root, "proc/5120/cmdline"), good.join("\0") + "\0");
    assert.deepEqual(aboveOk(await run(fixture.root)), []);
  });

  describe("bad input gives a clear finding naming the path, never a crash", () => {
    it("a command line of NUL bytes only", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await writeFile(join(fixture.root, "proc/1843/cmdline"), "\0\0\0\0");
      const findings = await run(fixture.root);
      const finding = one(findings, "KubeletCmdlineUnreadable");
      assert.equal(finding.severity, "unknown");
      assert.match(finding.message, /\/proc\/1843\/cmdline of kubelet \(pid 1843\) holds only NUL bytes/);
      assert.match(finding.message, /only \/var\/lib\/kubelet\/config\.yaml was checked/);
    });

    it("a config file that is a list", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await writeFile(join(fixture.root, "var/lib/kubelet/config.yaml"), "- kind: KubeletConfiguration\n- failSwapOn: true\n");
      const finding = one(await run(fixture.root), "KubeletConfigFileInvalid");
      assert.equal(finding.severity, "critical");
      assert.match(finding.message, /\/var\/lib\/kubelet\/config\.yaml: is a list, expected a mapping/);
    });

    it("--config naming a file that does not exist", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await rm(join(fixture.root, "var/lib/kubelet/config.yaml"));
      const finding = one(await run(fixture.root), "KubeletConfigFileInvalid");
      assert.match(finding.message, /named by --config cannot be loaded: \/var\/lib\/kubelet\/config\.yaml: does not exist/);
    });

    it("a binary kubeconfig", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await writeFile(join(fixture.root, "etc/kubernetes/kubelet.conf"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0xff, 0xfe]));
      const finding = one(await run(fixture.root), "KubeconfigInvalid");
      assert.equal(finding.severity, "critical");
      assert.match(finding.message, /--kubeconfig=\/etc\/kubernetes\/kubelet\.conf: binary data, not a kubeconfig/);
    });

    it("a kubeconfig that is a directory, and one missing with its bootstrap kubeconfig missing too", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await rm(join(fixture.root, "etc/kubernetes/kubelet.conf"));
      await mkdir(join(fixture.root, "etc/kubernetes/kubelet.conf"));
      assert.match(one(await run(fixture.root), "KubeconfigUnreadable").message, /kubelet\.conf cannot be read: is a directory/);
      await rm(join(fixture.root, "etc/kubernetes/kubelet.conf"), { recursive: true });
      const missing = one(await run(fixture.root), "KubeconfigMissing");
      assert.match(missing.message, /neither does --bootstrap-kubeconfig=\/etc\/kubernetes\/bootstrap-kubelet\.conf/);
    });

    it("a kubeconfig or config file whose directory is not mounted is unknown, not missing", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await rm(join(fixture.root, "etc/kubernetes"), { recursive: true });
      const kubeconfig = one(await run(fixture.root), "KubeconfigMissing");
      assert.equal(kubeconfig.severity, "unknown");
      assert.match(kubeconfig.message, /--kubeconfig=\/etc\/kubernetes\/kubelet\.conf is not visible to node-doctor/);
      assert.match(kubeconfig.remedy ?? "", /Mount \/etc\/kubernetes read-only/);
      await rm(join(fixture.root, "var/lib/kubelet"), { recursive: true });
      const config = one(await run(fixture.root), "KubeletConfigFileInvalid");
      assert.equal(config.severity, "unknown");
      assert.match(config.message, /\/var\/lib\/kubelet\/config\.yaml is not visible to node-doctor/);
    });

    it("a containerd config.toml that is not TOML, and one that is binary", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      const path = join(fixture.root, "etc/containerd/config.toml");
      await writeFile(path, 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = yes\n');
      const bad = one(await run(fixture.root, { facts: RUNTIME_DOWN }), "RuntimeConfigInvalid");
      assert.equal(bad.severity, "warning");
      assert.match(bad.message, /\/etc\/containerd\/config\.toml: line 4: invalid value "yes"/);
      await writeFile(path, Buffer.from([0, 1, 2, 3]));
      assert.match(
        one(await run(fixture.root, { facts: RUNTIME_DOWN }), "RuntimeConfigInvalid").message,
        /\/etc\/containerd\/config\.toml: line 1: binary data/,
      );
    });

    it("an unreadable containerd config is a warning naming the path", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      // Tests run as root, which reads mode-000 files: a directory in its place cannot be read either way.
      const path = join(fixture.root, "etc/containerd/config.toml");
      await rm(path);
      await mkdir(path);
      assert.match(
        one(await run(fixture.root, { facts: RUNTIME_DOWN }), "RuntimeConfigInvalid").message,
        /\/etc\/containerd\/config\.toml cannot be read: is a directory/,
      );
    });

    it("swap turned on after kubelet started", async () => {
      fixture = await fixtureRoot("kubelet-config-healthy");
      await writeFile(
        join(fixture.root, "proc/swaps"),
        "Filename\tType\tSize\tUsed\tPriority\n/swap.img                               file\t\t4194300\t\t0\t\t-2\n",
      );
      const finding = one(await run(fixture.root), "SwapEnabledWithFailSwapOn");
      assert.equal(finding.severity, "critical");
      assert.match(finding.message, /\/swap\.img in \/proc\/swaps/);
    });
  });
});

describe("kubelet-config from the command line", () => {
  it("`node-doctor check --only kubelet-config` on the unregistered node exits 2 with KubeconfigIgnored in its JSON", async () => {
    fixture = await fixtureRoot("unregistered-node-kubeconfig-ignored");
    const result = await runCli(["check", "--host-root", fixture.root, "--only", "kubelet-config", "--output", "json"]);
    assert.equal(result.code, 2, result.stderr);
    const { findings } = JSON.parse(result.stdout) as { findings: Finding[] };
    const ignored = findings.find((f) => f.reason === "KubeconfigIgnored");
    assert.equal(ignored?.severity, "critical");
    assert.equal(ignored?.condition, "KubeletConfigInvalid");
    assert.match(ignored?.remedy ?? "", /--require-kubeconfig/);
  });

  it("a config setting with a bad kubeletVersion is one clear line and exit 3", async () => {
    const dir = await fixtureRoot();
    try {
      const config = join(dir.root, "node-doctor.yaml");
      await writeFile(config, "checks:\n  kubelet-config:\n    kubeletVersion: latest\n");
      const result = await runCli(["check", "--host-root", dir.root, "--config", config, "--only", "kubelet-config"]);
      assert.equal(result.code, 3);
      assert.match(result.stderr, /checks\.kubelet-config\.kubeletVersion: expected a Kubernetes version such as "1\.30\.4", got "latest"/);
    } finally {
      await dir.cleanup();
    }
  });
});

describe("kubelet-config with a real API client", () => {
  it("reads kubelet's version from the Node once, and asks a missing Node again only later", async () => {
    const api = await FakeApiServer.start();
    const { reader, close } = await kubeReaderFor(api, "node-1");
    const healthy = await fixtureRoot("kubelet-config-healthy");
    const incident = await fixtureRoot("unregistered-node-kubeconfig-ignored");
    try {
      await rm(join(healthy.root, "var/lib/dpkg"), { recursive: true });
      api.seedNode("node-1"); // kubelet v1.32.4
      const check = createKubeletConfigCheck(kubeletConfigSettings.parse({}, "k"), {
        kubelet: new KubeletLocator(new RootedHost(healthy.root), systemClock, 0),
      });
      const first = await check.run(checkContext(healthy.root, { cluster: reader }));
      await check.run(checkContext(healthy.root, { cluster: reader }));
      assert.match(one(first, "KubeletConfigOk").message, /kubelet 1\.32\.4 \(from the Node's status\.nodeInfo\.kubeletVersion v1\.32\.4\)/);
      const nodeGets = () => api.requestsTo({ verb: "get", resource: "nodes" }).length;
      assert.equal(nodeGets(), 1);

      // The unregistered node over HTTPS: the Node is not there (404) and the package database says 1.7.
      const { reader: missing, close: closeMissing } = await kubeReaderFor(api, "node-2");
      try {
        const findings = await run(incident.root, { cluster: missing });
        assert.equal(one(findings, "KubeconfigIgnored").severity, "critical");
        assert.equal(nodeGets(), 1, "the package database answered first");
        await rm(join(incident.root, "var/lib/dpkg"), { recursive: true });
        const noPackage = createKubeletConfigCheck(kubeletConfigSettings.parse({}, "k"), {
          kubelet: new KubeletLocator(new RootedHost(incident.root), systemClock, 0),
        });
        one(await noPackage.run(checkContext(incident.root, { cluster: missing })), "KubeletVersionUnknown");
        await noPackage.run(checkContext(incident.root, { cluster: missing }));
        assert.equal(nodeGets(), 2, "a missing Node is asked once, then not again for minutes");
      } finally {
        closeMissing();
      }
    } finally {
      close();
      await healthy.cleanup();
      await incident.cleanup();
      await api.close();
    }
  });
});

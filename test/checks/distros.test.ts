/**
 * One node per distribution, built from the installer's own published files
 * (test/fixtures/distro-*, each with its SOURCES.md): healthy, every check
 * says nothing above ok; then one breakage people meet on that distribution,
 * named with the right reason and a remedy that fits there, and no false
 * extra finding.
 */
import assert from "node:assert/strict";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { detectDistribution } from "../../src/node/distro/index.js";
import { RootedHost } from "../../src/node/host.js";
import { runCli } from "../support/cli.js";
import { DISTRO_CASES, exactly, only, type DistroCase } from "../support/distro-cases.js";
import { fixtureRoot } from "../support/fixture-root.js";
import { problems, startDistroNode } from "../support/distro-node.js";
import { slowProxy } from "../support/socket-servers.js";

describe("every distribution: healthy says nothing above ok; a breakage is named for that distribution", { concurrency: 2 }, () => {
  for (const c of DISTRO_CASES) {
    it(`${c.name}: healthy, then ${c.breakage.name}`, { timeout: 120_000 }, async () => {
      const node = await startDistroNode(c.spec);
      try {
        assert.equal((await detectDistribution(new RootedHost(node.root))).id, c.distribution);
        const healthy = await node.check();
        exactly(healthy, []);
        assert.ok(
          healthy.some((f) => f.reason === "KubeletRunning"),
          JSON.stringify(problems(healthy)),
        );
        await c.breakage.apply(node);
        const broken = await node.check();
        exactly(broken, c.breakage.expect);
        c.breakage.check(broken);
      } finally {
        await node.close();
      }
    });
  }
});

describe("node-doctor check names the distribution and kubelet's version, with where each was read", () => {
  it("EKS AL2023: the header and the JSON", { timeout: 60_000 }, async () => {
    const node = await fixtureRoot("distro-eks-al2023");
    try {
      const json = await runCli(["check", "--host-root", node.root, "--only", "kubelet-config", "--output", "json"]);
      const out = JSON.parse(json.stdout) as { node: { distribution: { id: string; evidence: string[] }; kubelet: { version: string; source: string } } };
      assert.equal(out.node.distribution.id, "eks-al2023");
      assert.ok(out.node.distribution.evidence.includes("/usr/bin/nodeadm"), JSON.stringify(out.node));
      assert.equal(out.node.kubelet.version, "v1.33.5-eks-113cf36");
      assert.match(out.node.kubelet.source, /^\/etc\/eks\/kubelet-version\.txt/);
      const text = await runCli(["check", "--host-root", node.root, "--only", "kubelet-config"]);
      assert.match(
        text.stdout.split("\n")[1] ?? "",
        /^distribution: EKS Amazon Linux 2023 \(nodeadm\) \(from \/usr\/bin\/nodeadm.*\); kubelet v1\.33\.5-eks-113cf36 \(from \/etc\/eks\/kubelet-version\.txt/,
      );
    } finally {
      await node.cleanup();
    }
  });
});

describe("the first round: the runtime's answer is known before containerd's config is judged", () => {
  const kubeadm = DISTRO_CASES.find((c) => c.distribution === "kubeadm") as DistroCase;
  // Not TOML to node-doctor's reader; the test's containerd runs on its own config, so it answers all the same.
  const unparseable = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n';

  it(
    "containerd answers over CRI, slower than the config check reads: a config node-doctor cannot parse is unknown, never a warning",
    { timeout: 60_000 },
    async () => {
      const node = await startDistroNode(kubeadm.spec);
      // containerd accepts 300 ms late: the config check, left to race it, would judge before the runtime's answer.
      const socket = join(node.root, "run/containerd/containerd.sock");
      await rename(socket, `${socket}.real`);
      const proxy = await slowProxy(socket, `${socket}.real`, 300);
      try {
        await node.write("/etc/containerd/config.toml", unparseable);
        const findings = await node.check();
        exactly(findings, ["RuntimeConfigUnreadable"]);
        const f = only(findings, "RuntimeConfigUnreadable");
        assert.equal(f.severity, "unknown");
        assert.match(f.message, /containerd answers over CRI, so it accepted the file/);
      } finally {
        await proxy.close();
        await node.close();
      }
    },
  );

  it("containerd does not answer: the same config is a warning beside the runtime's own finding", { timeout: 60_000 }, async () => {
    const node = await startDistroNode(kubeadm.spec);
    try {
      await node.write("/etc/containerd/config.toml", unparseable);
      await node.containerd.crash();
      const findings = await node.check();
      const f = only(findings, "RuntimeConfigInvalid");
      assert.equal(f.severity, "warning");
      assert.match(f.message, /containerd refuses to start with an invalid file/);
      assert.ok(
        findings.some((x) => x.check === "runtime" && x.severity === "critical"),
        JSON.stringify(problems(findings)),
      );
    } finally {
      await node.close();
    }
  });
});

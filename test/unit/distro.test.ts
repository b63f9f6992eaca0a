/**
 * Which installer built a node, told from its files, as the pod sees them
 * (the chart mounts /etc/systemd, not /usr/lib/systemd or /usr/local/lib/systemd).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { detectDistribution } from "../../src/node/distro/index.js";
import { RootedHost } from "../../src/node/host.js";

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

async function node(files: Record<string, string>): Promise<RootedHost> {
  root = await mkdtemp(join(tmpdir(), "node-doctor-distro-"));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    if (text.startsWith("->")) await symlink(text.slice(2), join(root, path));
    else await writeFile(join(root, path), text);
  }
  return new RootedHost(root);
}

const ROWS: Array<[string, Record<string, string>, string, string?]> = [
  ["nothing", {}, "unknown"],
  ["kubeadm's drop-in", { "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": "" }, "kubeadm"],
  ["nodeadm's enabled unit, /usr/bin not mounted", { "/etc/systemd/system/nodeadm-run.service": "" }, "eks-al2023"],
  ["bootstrap.sh", { "/etc/eks/bootstrap.sh": "" }, "eks-al2"],
  ["AL2023 keeps a bootstrap.sh shim beside nodeadm", { "/etc/eks/bootstrap.sh": "", "/usr/bin/nodeadm": "" }, "eks-al2023"],
  [
    "k3s-agent.service",
    { "/etc/systemd/system/k3s-agent.service": "", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": "" },
    "k3s",
    "k3s-agent.service",
  ],
  ["k3s server", { "/etc/systemd/system/k3s.service": "" }, "k3s", "k3s.service"],
  [
    "RKE2 seen only by its enablement link",
    { "/etc/systemd/system/multi-user.target.wants/rke2-agent.service": "->/usr/local/lib/systemd/system/rke2-agent.service" },
    "rke2",
    "rke2-agent.service",
  ],
  ["Kubespray's kubelet.env", { "/etc/kubernetes/kubelet.env": "", "/var/lib/kubelet/kubeadm-flags.env": "" }, "kubespray"],
  ["nodeup's cache", { "/var/cache/kubernetes-install/nodeup": "" }, "kops"],
  ["AgentBaker", { "/opt/azure/containers/provision.sh": "" }, "aks"],
  ["an image-builder image", { "/etc/kubernetes-version": "v1.34.2\n", "/var/lib/kubelet/kubeadm-flags.env": "" }, "cluster-api"],
  ["Bottlerocket", { "/etc/os-release": "NAME=Bottlerocket\nID=bottlerocket\nVERSION_ID=1.20.0\n" }, "bottlerocket"],
  ["GKE's COS", { "/home/kubernetes/bin/kubelet": "" }, "gke-cos"],
];

describe("the distribution from the node's files", () => {
  for (const [name, files, id, unit] of ROWS) {
    it(`${name} → ${id}`, async () => {
      const d = await detectDistribution(await node(files));
      assert.equal(d.id, id);
      if (unit) assert.equal(d.kubeletUnit, unit);
      for (const path of d.evidence)
        assert.ok(
          Object.keys(files).some((f) => f === path || f.startsWith(`${path}/`)) || path.startsWith("/etc/os-release"),
          `${path} is not one of the files`,
        );
    });
  }
});

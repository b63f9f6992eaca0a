/**
 * One node per distribution, built from the installer's own published files
 * (test/fixtures/distro-*, each with its SOURCES.md): what its kubelet
 * process, PKI and runtime look like when it is healthy, and one breakage
 * people meet on that distribution with what node-doctor must say about it.
 * test/checks/distros.test.ts runs them; test/charts/host-mounts.test.ts
 * reads which node paths their checks read.
 */
import assert from "node:assert/strict";
import type { Finding } from "../../src/types.js";
import type { Minted } from "./certs.js";
import { nodeLeaf, problems, type DistroNode, type DistroNodeSpec } from "./distro-node.js";

/** k3s's client CA, which signs kubelet's client certificate apart from the server CA its kubeconfig trusts. */
let k3sClientCa: Minted | undefined;

const CONTAINERD = { socket: "/run/containerd/containerd.sock", cniConfDir: "/etc/cni/net.d", cniBinDir: "/opt/cni/bin" };

export function only(findings: readonly Finding[], reason: string): Finding {
  const found = findings.filter((f) => f.reason === reason);
  assert.equal(found.length, 1, `expected one ${reason}, got ${JSON.stringify(problems(findings))}`);
  return found[0] as Finding;
}

/** Every finding above ok is one of `expected`, and each of those is there. */
export function exactly(findings: readonly Finding[], expected: string[]): void {
  assert.deepEqual(
    [...new Set(problems(findings).map(([, reason]) => reason))].sort(),
    [...expected].sort(),
    JSON.stringify(
      findings.filter((f) => f.severity !== "ok").map((f) => [f.reason, f.severity, f.message]),
      null,
      1,
    ),
  );
}

/** kubeadm's rotating client certificate, kubelet-client-current.pem linking a dated file. */
function rotatingClient(mint: Parameters<DistroNodeSpec["pki"]>[0], ca: Parameters<DistroNodeSpec["pki"]>[1], node: string, dir = "/var/lib/kubelet/pki") {
  const client = nodeLeaf(mint, ca, node, "client");
  return {
    [`${dir}/kubelet-client-2026-01-01-00-00-00.pem`]: client.combinedPem,
    [`${dir}/kubelet-client-current.pem`]: `->${dir}/kubelet-client-2026-01-01-00-00-00.pem`,
  };
}

function servingBootstrapped(mint: Parameters<DistroNodeSpec["pki"]>[0], ca: Parameters<DistroNodeSpec["pki"]>[1], node: string) {
  const serving = nodeLeaf(mint, ca, node, "server");
  return {
    "/var/lib/kubelet/pki/kubelet-server-2026-01-01-00-00-00.pem": serving.combinedPem,
    "/var/lib/kubelet/pki/kubelet-server-current.pem": "->/var/lib/kubelet/pki/kubelet-server-2026-01-01-00-00-00.pem",
  };
}

function selfSignedServing(mint: Parameters<DistroNodeSpec["pki"]>[0], node: string, dir = "/var/lib/kubelet/pki") {
  const now = Date.now();
  const crt = mint.selfSigned({ subject: `/CN=${node}@1700000000`, notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 300 * 86_400_000) });
  return { [`${dir}/kubelet.crt`]: crt.certPem, [`${dir}/kubelet.key`]: crt.keyPem };
}

export interface DistroCase {
  name: string;
  spec: DistroNodeSpec;
  distribution: string;
  breakage: { name: string; apply(node: DistroNode): Promise<void>; expect: string[]; check(findings: Finding[]): void };
}

export const DISTRO_CASES: DistroCase[] = [
  {
    name: "kubeadm (deb packages)",
    distribution: "kubeadm",
    spec: {
      fixture: "distro-kubeadm",
      nodeName: "node-1",
      process: {
        pid: 1843,
        exe: "/usr/bin/kubelet",
        argv: [
          "/usr/bin/kubelet",
          "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
          "--kubeconfig=/etc/kubernetes/kubelet.conf",
          "--config=/var/lib/kubelet/config.yaml",
          "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
          "--pod-infra-container-image=registry.k8s.io/pause:3.10",
        ],
      },
      pki: (mint, ca, node) => ({ "/etc/kubernetes/pki/ca.crt": ca.certPem, ...rotatingClient(mint, ca, node), ...selfSignedServing(mint, node) }),
      runtime: CONTAINERD,
    },
    breakage: {
      name: "swap back after a reboot",
      async apply(node) {
        await node.write(
          "/proc/swaps",
          "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap.img                               file\t\t4194300\t\t0\t\t-2\n",
        );
      },
      expect: ["SwapEnabledWithFailSwapOn"],
      check(findings) {
        const f = only(findings, "SwapEnabledWithFailSwapOn");
        assert.equal(f.severity, "critical");
        assert.match(f.remedy ?? "", /swapoff -a/);
      },
    },
  },
  {
    name: "CRI-O (kubeadm with the cri-o package)",
    distribution: "kubeadm",
    spec: {
      fixture: "distro-crio",
      over: { fixture: "distro-kubeadm", without: ["/etc/containerd"] },
      nodeName: "node-2",
      process: {
        pid: 1902,
        exe: "/usr/bin/kubelet",
        argv: [
          "/usr/bin/kubelet",
          "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
          "--kubeconfig=/etc/kubernetes/kubelet.conf",
          "--config=/var/lib/kubelet/config.yaml",
          "--container-runtime-endpoint=unix:///var/run/crio/crio.sock",
          "--pod-infra-container-image=registry.k8s.io/pause:3.10",
        ],
      },
      pki: (mint, ca, node) => ({ "/etc/kubernetes/pki/ca.crt": ca.certPem, ...rotatingClient(mint, ca, node), ...selfSignedServing(mint, node) }),
      // containerd answers CRI on CRI-O's socket: the same protocol (see the fixture's SOURCES.md).
      runtime: { socket: "/run/crio/crio.sock", cniConfDir: "/etc/cni/net.d", cniBinDir: "/opt/cni/bin" },
    },
    breakage: {
      name: "a drop-in switching CRI-O to cgroupfs while kubelet uses systemd",
      async apply(node) {
        // The drop-in the Kubernetes docs give for a cgroupfs CRI-O; it sorts before the package's 10-crio.conf, which sets no cgroup_manager.
        await node.write("/etc/crio/crio.conf.d/02-cgroup-manager.conf", '[crio.runtime]\nconmon_cgroup = "pod"\ncgroup_manager = "cgroupfs"\n');
      },
      expect: ["CgroupDriverMismatch"],
      check(findings) {
        const f = only(findings, "CgroupDriverMismatch");
        assert.match(f.message, /kubelet uses the systemd cgroup driver \(cgroupDriver: systemd in \/var\/lib\/kubelet\/config\.yaml line \d+\)/);
        assert.match(
          f.message,
          /CRI-O uses cgroupfs \(\/etc\/crio\/crio\.conf\.d\/02-cgroup-manager\.conf sets cgroup_manager = "cgroupfs" in \[crio\.runtime\]\)/,
        );
        assert.match(f.remedy ?? "", /cgroup_manager = "systemd"` under \[crio\.runtime\] in \/etc\/crio\/crio\.conf\.d\/02-cgroup-manager\.conf/);
        assert.match(f.remedy ?? "", /systemctl restart crio kubelet/);
        assert.doesNotMatch(f.remedy ?? "", /containerd|SystemdCgroup/);
      },
    },
  },
  {
    name: "EKS Amazon Linux 2023 (nodeadm)",
    distribution: "eks-al2023",
    spec: {
      fixture: "distro-eks-al2023",
      nodeName: "ip-10-0-0-5.us-west-2.compute.internal",
      process: {
        pid: 2410,
        exe: "/usr/bin/kubelet",
        argv: [
          "/usr/bin/kubelet",
          "--config=/etc/kubernetes/kubelet/config.json",
          "--config-dir=/etc/kubernetes/kubelet/config.json.d",
          "--kubeconfig=/var/lib/kubelet/kubeconfig",
          "--hostname-override=ip-10-0-0-5.us-west-2.compute.internal",
          "--cloud-provider=external",
          "--node-ip=10.0.0.5",
          "--image-credential-provider-bin-dir=/etc/eks/image-credential-provider",
          "--image-credential-provider-config=/etc/eks/image-credential-provider/config.json",
        ],
      },
      pki: (mint, ca, node) => ({ "/etc/kubernetes/pki/ca.crt": ca.certPem, ...servingBootstrapped(mint, ca, node) }),
      runtime: CONTAINERD,
    },
    breakage: {
      name: "a forbidden label in the NodeConfig's kubelet flags keeps kubelet down",
      async apply(node) {
        const env = await node.read("/etc/eks/kubelet/environment");
        await node.write("/etc/eks/kubelet/environment", `${env} --node-labels=node-role.kubernetes.io/worker=`);
        await node.stopKubelet();
      },
      expect: ["KubeletNotRunning", "NodeLabelNotAllowed"],
      check(findings) {
        const label = only(findings, "NodeLabelNotAllowed");
        assert.equal(label.severity, "critical");
        assert.match(label.message, /kubelet 1\.33\.5 \(from \/etc\/eks\/kubelet-version\.txt/);
        assert.match(label.remedy ?? "", /in \/etc\/eks\/kubelet\/environment/);
        assert.match(label.remedy ?? "", /NodeConfig/);
        const down = only(findings, "KubeletNotRunning");
        assert.doesNotMatch(down.remedy ?? "", /systemctl enable/);
      },
    },
  },
  {
    name: "EKS Amazon Linux 2 (bootstrap.sh)",
    distribution: "eks-al2",
    spec: {
      fixture: "distro-eks-al2",
      nodeName: "ip-10-0-0-7.us-west-2.compute.internal",
      process: {
        pid: 3011,
        exe: "/usr/bin/kubelet",
        argv: [
          "/usr/bin/kubelet",
          "--config",
          "/etc/kubernetes/kubelet/kubelet-config.json",
          "--kubeconfig",
          "/var/lib/kubelet/kubeconfig",
          "--container-runtime-endpoint",
          "unix:///run/containerd/containerd.sock",
          "--image-credential-provider-config",
          "/etc/eks/image-credential-provider/config.json",
          "--image-credential-provider-bin-dir",
          "/etc/eks/image-credential-provider",
          "--node-ip=10.0.0.7",
          "--pod-infra-container-image=602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5",
          "--v=2",
          "--hostname-override=ip-10-0-0-7.us-west-2.compute.internal",
          "--cloud-provider=external",
        ],
      },
      pki: (mint, ca, node) => ({ "/etc/kubernetes/pki/ca.crt": ca.certPem, ...servingBootstrapped(mint, ca, node) }),
      runtime: CONTAINERD,
      stampedBinary: { path: "/usr/bin/kubelet", version: "v1.30.4-eks-a737599" },
    },
    breakage: {
      name: "kubelet upgraded to 1.35 with bootstrap.sh's --pod-infra-container-image",
      async apply(node) {
        await node.write("/usr/bin/kubelet", `\x7fELF stand-in\0build\t-ldflags="-X 'k8s.io/component-base/version.gitVersion=v1.35.0-eks-3025e55'"\0`);
      },
      expect: ["KubeletFlagRemoved"],
      check(findings) {
        const f = only(findings, "KubeletFlagRemoved");
        assert.equal(f.severity, "critical");
        assert.match(f.message, /--pod-infra-container-image=\S+: removed in kubelet 1\.35/);
        assert.match(f.message, /the version stamped into \/usr\/bin\/kubelet \(v1\.35\.0-eks-3025e55\)/);
        assert.match(f.remedy ?? "", /10-kubelet-args\.conf/);
        assert.match(f.remedy ?? "", /bootstrap\.sh/);
      },
    },
  },
  {
    name: "kOps (nodeup)",
    distribution: "kops",
    spec: {
      fixture: "distro-kops",
      nodeName: "i-0a1b2c3d4e5f67890",
      process: {
        pid: 4120,
        exe: "/usr/local/bin/kubelet",
        argv: [
          "/usr/local/bin/kubelet",
          "--cloud-provider=external",
          "--kubeconfig=/var/lib/kubelet/kubeconfig",
          "--register-schedulable=true",
          "--runtime-request-timeout=15m0s",
          "--v=2",
          "--config=/var/lib/kubelet/kubelet.conf",
          "--image-credential-provider-config=/var/lib/kubelet/credential-provider.conf",
          "--image-credential-provider-bin-dir=/usr/local/bin",
        ],
      },
      pki: (mint, ca, node) => {
        const client = nodeLeaf(mint, ca, node, "client");
        const serving = nodeLeaf(mint, ca, node, "server");
        const b64 = (text: string) => Buffer.from(text).toString("base64");
        return {
          "/srv/kubernetes/ca.crt": ca.certPem,
          "/srv/kubernetes/kubelet-server.crt": serving.certPem,
          "/srv/kubernetes/kubelet-server.key": serving.keyPem,
          // As nodeup's BuildBootstrapKubeconfig writes it: kops-controller's certificate inline.
          "/var/lib/kubelet/kubeconfig": `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: /srv/kubernetes/ca.crt\n    server: https://api.internal.example.k8s.local\n  name: local\ncontexts:\n- context:\n    cluster: local\n    user: kubelet\n  name: service-account-context\ncurrent-context: service-account-context\nkind: Config\nusers:\n- name: kubelet\n  user:\n    client-certificate-data: ${b64(client.certPem)}\n    client-key-data: ${b64(client.keyPem)}\n`,
        };
      },
      runtime: CONTAINERD,
      stampedBinary: { path: "/usr/local/bin/kubelet", version: "v1.30.5" },
    },
    breakage: {
      name: "containerd's config hand-edited to cgroupfs",
      async apply(node) {
        await node.write(
          "/etc/containerd/config.toml",
          (await node.read("/etc/containerd/config.toml")).replace("SystemdCgroup = true", "SystemdCgroup = false"),
        );
      },
      expect: ["CgroupDriverMismatch"],
      check(findings) {
        const f = only(findings, "CgroupDriverMismatch");
        assert.equal(f.severity, "critical");
        assert.match(f.remedy ?? "", /kops update cluster --yes/);
        assert.match(f.remedy ?? "", /roll the node/);
      },
    },
  },
  {
    name: "Kubespray (containerd config version 4)",
    distribution: "kubespray",
    spec: {
      fixture: "distro-kubespray",
      nodeName: "node3",
      process: {
        pid: 5120,
        exe: "/usr/local/bin/kubelet",
        argv: [
          "/usr/local/bin/kubelet",
          "--v=2",
          "--node-ip=10.0.0.21",
          "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
          "--config=/etc/kubernetes/kubelet-config.yaml",
          "--kubeconfig=/etc/kubernetes/kubelet.conf",
          "--runtime-cgroups=/system.slice/containerd.service",
        ],
      },
      pki: (mint, ca, node) => ({
        "/etc/kubernetes/ssl/ca.crt": ca.certPem,
        // kubeadm join writes it: the CA inline, the rotating client certificate by path.
        "/etc/kubernetes/kubelet.conf": `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ${Buffer.from(ca.certPem).toString("base64")}\n    server: https://127.0.0.1:6443\n  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n    namespace: default\n    user: default-auth\n  name: default-context\ncurrent-context: default-context\nkind: Config\npreferences: {}\nusers:\n- name: default-auth\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n`,
        ...rotatingClient(mint, ca, node),
        ...selfSignedServing(mint, node),
      }),
      runtime: CONTAINERD,
      stampedBinary: { path: "/usr/local/bin/kubelet", version: "v1.34.1" },
    },
    breakage: {
      name: "a truncated CNI conflist",
      async apply(node) {
        const conflist = await node.read("/etc/cni/net.d/10-bridge.conflist");
        await node.write("/etc/cni/net.d/10-bridge.conflist", conflist.slice(0, 120));
        await new Promise((resolve) => setTimeout(resolve, 1500)); // containerd reloads the CNI directory on change
      },
      expect: ["RuntimeNetworkNotReady"],
      check(findings) {
        const f = only(findings, "RuntimeNetworkNotReady");
        assert.match(f.remedy ?? "", /\/etc\/cni\/net\.d\/10-bridge\.conflist is not valid JSON/);
      },
    },
  },
  {
    name: "k3s (agent)",
    distribution: "k3s",
    spec: {
      fixture: "distro-k3s",
      nodeName: "k3s-worker-1",
      process: { pid: 812, exe: "/usr/local/bin/k3s", comm: "k3s-agent", argv: ["/usr/local/bin/k3s", "agent"] },
      pki: (mint, ca, node) => {
        const now = Date.now();
        const clientCa = mint.ca({
          subject: "/CN=k3s-client-ca@1700000000",
          notBefore: new Date(now - 30 * 86_400_000),
          notAfter: new Date(now + 3650 * 86_400_000),
        });
        k3sClientCa = clientCa;
        const client = nodeLeaf(mint, clientCa, node, "client");
        const serving = nodeLeaf(mint, ca, node, "server");
        const agent = "/var/lib/rancher/k3s/agent";
        return {
          [`${agent}/server-ca.crt`]: ca.certPem,
          [`${agent}/client-ca.crt`]: clientCa.certPem,
          [`${agent}/client-kubelet.crt`]: client.certPem,
          [`${agent}/client-kubelet.key`]: client.keyPem,
          [`${agent}/serving-kubelet.crt`]: serving.certPem,
          [`${agent}/serving-kubelet.key`]: serving.keyPem,
        };
      },
      runtime: {
        socket: "/run/k3s/containerd/containerd.sock",
        cniConfDir: "/var/lib/rancher/k3s/agent/etc/cni/net.d",
        cniBinDir: "/var/lib/rancher/k3s/data/cni",
      },
      stampedBinary: { path: "/usr/local/bin/k3s", version: "v1.33.4+k3s1" },
    },
    breakage: {
      name: "an expired kubelet client certificate",
      async apply(node) {
        const now = Date.now();
        const expired = node.mint.leaf(k3sClientCa as Minted, {
          subject: "/O=system:nodes/CN=system:node:k3s-worker-1",
          notBefore: new Date(now - 400 * 86_400_000),
          notAfter: new Date(now - 2 * 86_400_000),
          profile: "client",
        });
        await node.write("/var/lib/rancher/k3s/agent/client-kubelet.crt", expired.certPem);
        await node.write("/var/lib/rancher/k3s/agent/client-kubelet.key", expired.keyPem);
      },
      expect: ["ClientCertificateExpired"],
      check(findings) {
        const f = only(findings, "ClientCertificateExpired");
        assert.equal(f.severity, "critical");
        assert.match(f.message, /\/var\/lib\/rancher\/k3s\/agent\/client-kubelet\.crt/);
        assert.match(f.remedy ?? "", /systemctl restart k3s-agent/);
      },
    },
  },
  {
    name: "RKE2 (agent)",
    distribution: "rke2",
    spec: {
      fixture: "distro-rke2",
      nodeName: "rke2-worker-1",
      process: {
        pid: 2057,
        exe: "/var/lib/rancher/rke2/data/v1.34.4-rke2r1-0d52262ea640/bin/kubelet",
        argv: [
          "kubelet",
          "--volume-plugin-dir=/var/lib/kubelet/volumeplugins",
          "--file-check-frequency=5s",
          "--sync-frequency=30s",
          "--cloud-provider=external",
          "--config-dir=/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",
          "--containerd=/run/k3s/containerd/containerd.sock",
          "--hostname-override=rke2-worker-1",
          "--kubeconfig=/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
          "--node-ip=10.0.0.41",
          "--node-labels=",
          "--read-only-port=0",
        ],
      },
      pki: (mint, ca, node) => {
        const now = Date.now();
        const clientCa = mint.ca({
          subject: "/CN=rke2-client-ca@1700000000",
          notBefore: new Date(now - 30 * 86_400_000),
          notAfter: new Date(now + 3650 * 86_400_000),
        });
        const client = nodeLeaf(mint, clientCa, node, "client");
        const serving = nodeLeaf(mint, ca, node, "server");
        const agent = "/var/lib/rancher/rke2/agent";
        return {
          [`${agent}/server-ca.crt`]: ca.certPem,
          [`${agent}/client-ca.crt`]: clientCa.certPem,
          [`${agent}/client-kubelet.crt`]: client.certPem,
          [`${agent}/client-kubelet.key`]: client.keyPem,
          [`${agent}/serving-kubelet.crt`]: serving.certPem,
          [`${agent}/serving-kubelet.key`]: serving.keyPem,
        };
      },
      runtime: {
        socket: "/run/k3s/containerd/containerd.sock",
        cniConfDir: "/var/lib/rancher/rke2/agent/etc/cni/net.d",
        cniBinDir: "/var/lib/rancher/rke2/data/cni",
      },
    },
    breakage: {
      name: "the runtime crashed",
      async apply(node) {
        await node.containerd.crash();
      },
      expect: ["RuntimeNotListening"],
      check(findings) {
        const f = findings.find((x) => x.check === "runtime" && x.severity === "critical");
        assert.ok(f, JSON.stringify(problems(findings)));
        assert.match(f.remedy ?? "", /rke2-agent/);
      },
    },
  },
  {
    name: "Cluster API (an image-builder image)",
    distribution: "cluster-api",
    spec: {
      fixture: "distro-cluster-api",
      nodeName: "md-0-7f9c8d-x2x7k",
      process: {
        pid: 1766,
        exe: "/usr/bin/kubelet",
        argv: [
          "/usr/bin/kubelet",
          "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
          "--kubeconfig=/etc/kubernetes/kubelet.conf",
          "--config=/var/lib/kubelet/config.yaml",
          "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
          "--pod-infra-container-image=registry.k8s.io/pause:3.10",
        ],
      },
      pki: (mint, ca, node) => ({ "/etc/kubernetes/pki/ca.crt": ca.certPem, ...rotatingClient(mint, ca, node), ...selfSignedServing(mint, node) }),
      runtime: CONTAINERD,
    },
    breakage: {
      name: "an image built for 1.35 with image-builder's old default --pod-infra-container-image",
      async apply(node) {
        await node.write("/etc/kubernetes-version", "v1.35.0\n");
      },
      expect: ["KubeletFlagRemoved"],
      check(findings) {
        const f = only(findings, "KubeletFlagRemoved");
        assert.match(f.message, /kubelet 1\.35\.0 \(from \/etc\/kubernetes-version/);
        assert.match(f.remedy ?? "", /in \/etc\/default\/kubelet/);
        assert.match(f.remedy ?? "", /roll the MachineDeployment/);
      },
    },
  },
  {
    name: "AKS (AgentBaker)",
    distribution: "aks",
    spec: {
      fixture: "distro-aks",
      nodeName: "aks-nodepool1-12345678-vmss000000",
      process: {
        pid: 3344,
        exe: "/opt/bin/kubelet",
        argv: [
          "/opt/bin/kubelet",
          "--enable-server",
          "--node-labels=agentpool=nodepool1,kubernetes.azure.com/agentpool=nodepool1,kubernetes.azure.com/mode=system,kubernetes.azure.com/role=agent",
          "--v=2",
          "--volume-plugin-dir=/etc/kubernetes/volumeplugins",
          "--kubeconfig",
          "/var/lib/kubelet/kubeconfig",
          "--bootstrap-kubeconfig",
          "/var/lib/kubelet/bootstrap-kubeconfig",
          "--config",
          "/etc/default/kubeletconfig.json",
          "--runtime-request-timeout=15m",
          "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
          "--runtime-cgroups=/system.slice/containerd.service",
          "--cgroup-driver=systemd",
          "--cloud-provider=external",
          "--node-ip=10.224.0.4",
          "--pod-manifest-path=/etc/kubernetes/manifests",
        ],
      },
      pki: (mint, ca, node) => {
        const serving = nodeLeaf(mint, ca, node, "server");
        return {
          "/etc/kubernetes/certs/ca.crt": ca.certPem,
          "/etc/kubernetes/certs/kubeletserver.crt": serving.certPem,
          "/etc/kubernetes/certs/kubeletserver.key": serving.keyPem,
          ...rotatingClient(mint, ca, node),
        };
      },
      runtime: CONTAINERD,
      stampedBinary: { path: "/opt/bin/kubelet", version: "v1.33.2" },
    },
    breakage: {
      name: "a forbidden role label added to the node pool's labels keeps kubelet down",
      async apply(node) {
        const env = await node.read("/etc/default/kubelet");
        await node.write(
          "/etc/default/kubelet",
          env.replace("kubernetes.azure.com/role=agent", "kubernetes.azure.com/role=agent,node-role.kubernetes.io/agent="),
        );
        await node.stopKubelet();
      },
      expect: ["KubeletNotRunning", "NodeLabelNotAllowed"],
      check(findings) {
        const f = only(findings, "NodeLabelNotAllowed");
        assert.match(f.message, /node-role\.kubernetes\.io\/agent/);
        assert.match(f.remedy ?? "", /az aks nodepool update/);
      },
    },
  },
];

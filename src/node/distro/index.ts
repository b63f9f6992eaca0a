/**
 * Which installer built this node, told from its files: the one place that
 * knows each distribution's paths, units, who starts kubelet, and how a fix
 * is made there (a flag edited in place is overwritten on kOps, EKS and
 * AKS; k3s has no kubelet unit at all). Checks ask the Distribution for
 * these instead of assuming kubeadm.
 *
 * Sources of every path and unit are the installers' own repositories; see
 * docs/distributions.md for the table and the commits read.
 */
import type { Host } from "../../types.js";
import { present } from "../could-not-look.js";
import { UNIT_DIRS } from "../unit-file.js";
import { sh } from "../../text/shell.js";

export const DISTRIBUTION_IDS = [
  "kubeadm",
  "eks-al2023",
  "eks-al2",
  "bottlerocket",
  "kops",
  "kubespray",
  "k3s",
  "rke2",
  "cluster-api",
  "aks",
  "gke-cos",
  "unknown",
] as const;
export type DistributionId = (typeof DISTRIBUTION_IDS)[number];

export interface Distribution {
  id: DistributionId;
  /** "EKS Amazon Linux 2023 (nodeadm)". */
  name: string;
  /** The files that told it, for the report's header. */
  evidence: string[];
  /** The systemd unit that runs kubelet (on k3s the k3s unit: kubelet runs inside it). */
  kubeletUnit: string;
  /** kubelet runs inside this program's process (k3s): no kubelet process exists. */
  embeddedIn?: { program: string; subcommands: readonly string[] };
  /** The flags the distribution hands kubelet when they are not on a kubelet command line to read (k3s). */
  embeddedFlags?: readonly string[];
  /**
   * Enabled units that start kubelet at boot although kubelet's own unit is
   * not enabled (EKS AL2023: nodeadm-run.service runs `nodeadm init`, which
   * starts kubelet over D-Bus).
   */
  starters: readonly string[];
  /** The container runtime's unit, for remedies. */
  runtimeUnit: string;
  /** The runtime's CRI socket when kubelet does not name one. */
  runtimeSocket: string;
  /** containerd's config file. */
  containerdConfig: string;
  /** Where kubelet's client certificate is, when no kubeconfig names it. */
  clientCertificate?: string;
  /**
   * The CA that signs kubelet's client certificate, when it is not the CA the
   * kubeconfig trusts (k3s and RKE2 sign it with their client CA by design).
   */
  clientCa?: string;
  /** kubelet's version as the distribution records it. */
  versionFile?: string;
  /** Binaries beyond kubelet's usual install paths whose version stamp is kubelet's (k3s's own binary). */
  binaries?: readonly string[];
  /** How to read kubelet's log. */
  logs: string;
  /** How to restart kubelet. */
  restartKubelet: string;
  /** Where kubelet's flags are set and how a change is made to last. */
  flagsAdvice: string;
  /** How a runtime config change is made to last. */
  runtimeConfigAdvice: string;
}

const KUBEADM_FLAGS =
  "kubelet's flags live in its systemd unit and drop-ins (`systemctl cat kubelet`): kubeadm writes /var/lib/kubelet/kubeadm-flags.env, and KUBELET_EXTRA_ARGS goes in /etc/default/kubelet (Debian) or /etc/sysconfig/kubelet (RPM)";

function base(id: DistributionId, name: string, evidence: string[], overrides: Partial<Distribution> = {}): Distribution {
  const unit = (overrides.kubeletUnit ?? "kubelet.service").replace(/\.service$/, "");
  return {
    id,
    name,
    evidence,
    kubeletUnit: "kubelet.service",
    starters: [],
    runtimeUnit: "containerd.service",
    runtimeSocket: "/run/containerd/containerd.sock",
    containerdConfig: "/etc/containerd/config.toml",
    logs: sh`journalctl -u ${unit}`,
    restartKubelet: unit === "kubelet" ? "systemctl daemon-reload && systemctl restart kubelet" : sh`systemctl restart ${unit}`,
    flagsAdvice: KUBEADM_FLAGS,
    runtimeConfigAdvice: "edit it, then `systemctl restart containerd`",
    ...overrides,
  };
}

/** The distributions by id, with their paths and wording; detection picks one. */
export const DISTRIBUTIONS: Record<DistributionId, (evidence: string[]) => Distribution> = {
  kubeadm: (e) => base("kubeadm", "kubeadm", e),
  "eks-al2023": (e) =>
    base("eks-al2023", "EKS Amazon Linux 2023 (nodeadm)", e, {
      starters: ["nodeadm-run.service"],
      versionFile: "/etc/eks/kubelet-version.txt",
      flagsAdvice:
        "nodeadm writes kubelet's flags (/etc/eks/kubelet/environment) and config (/etc/kubernetes/kubelet/config.json and config.json.d/) from the NodeConfig in the instance's user data at every boot: change spec.kubelet.flags or spec.kubelet.config in the NodeConfig (the launch template), then replace the node; an edit on the node is undone at the next boot",
      restartKubelet: "systemctl restart kubelet",
      runtimeConfigAdvice:
        "nodeadm writes /etc/containerd/config.toml at every boot: put the change in spec.containerd.config of the NodeConfig (merged over it by nodeadm), then replace the node",
    }),
  "eks-al2": (e) =>
    base("eks-al2", "EKS Amazon Linux 2 (bootstrap.sh)", e, {
      versionFile: "/etc/eks/kubelet-version.txt",
      flagsAdvice:
        "/etc/eks/bootstrap.sh writes kubelet's config (/etc/kubernetes/kubelet/kubelet-config.json) and flags from its arguments in the instance's user data: change --kubelet-extra-args (or the config it is given) in the launch template, then replace the node",
      runtimeConfigAdvice:
        "/etc/eks/bootstrap.sh rewrites /etc/containerd/config.toml from /etc/eks/containerd/containerd-config.toml at boot: change it through the user data (--containerd-config-file), then replace the node",
    }),
  bottlerocket: (e) =>
    base("bottlerocket", "Bottlerocket", e, {
      logs: "apiclient exec admin sheltie journalctl -u kubelet",
      restartKubelet: "apiclient exec admin sheltie systemctl restart kubelet",
      flagsAdvice:
        "Bottlerocket renders kubelet's files from its settings API: change settings.kubernetes.* with `apiclient set` (or the user data TOML), never the files",
      runtimeConfigAdvice: "Bottlerocket renders containerd's config from settings.container-runtime: change it with `apiclient set`",
    }),
  kops: (e) =>
    base("kops", "kOps (nodeup)", e, {
      flagsAdvice:
        "nodeup writes /etc/sysconfig/kubelet (DAEMON_ARGS) and /var/lib/kubelet/kubelet.conf from the cluster spec: change spec.kubelet in `kops edit cluster` (or the instance group), `kops update cluster --yes`, then roll the node with `kops rolling-update cluster --yes`",
      restartKubelet: "systemctl restart kubelet",
      runtimeConfigAdvice:
        "nodeup writes /etc/containerd/config.toml from spec.containerd: change it with `kops edit cluster`, `kops update cluster --yes`, then roll the node",
    }),
  kubespray: (e) =>
    base("kubespray", "Kubespray", e, {
      flagsAdvice:
        "Kubespray renders /etc/kubernetes/kubelet.env and /etc/kubernetes/kubelet-config.yaml from roles/kubernetes/node/templates: change the kubelet_* inventory variables and re-run the playbook for this node (`ansible-playbook cluster.yml --limit <node>`); a hand edit is overwritten at the next run",
      runtimeConfigAdvice:
        "Kubespray renders /etc/containerd/config.toml from roles/container-engine/containerd/templates/config.toml.j2: change containerd_* inventory variables and re-run the playbook for this node",
    }),
  k3s: (e) =>
    base("k3s", "k3s", e, {
      kubeletUnit: e.some((p) => p.endsWith("k3s-agent.service")) ? "k3s-agent.service" : "k3s.service",
      embeddedIn: { program: "k3s", subcommands: ["agent", "server"] },
      binaries: ["/usr/local/bin/k3s", "/usr/bin/k3s"],
      embeddedFlags: [
        "--config-dir=/var/lib/rancher/k3s/agent/etc/kubelet.conf.d",
        "--kubeconfig=/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
        "--read-only-port=0",
      ],
      runtimeUnit: e.some((p) => p.endsWith("k3s-agent.service")) ? "k3s-agent.service" : "k3s.service",
      runtimeSocket: "/run/k3s/containerd/containerd.sock",
      containerdConfig: "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
      clientCertificate: "/var/lib/rancher/k3s/agent/client-kubelet.crt",
      clientCa: "/var/lib/rancher/k3s/agent/client-ca.crt",
      flagsAdvice:
        "k3s runs kubelet inside its own process and gives it its flags: set kubelet-arg in /etc/rancher/k3s/config.yaml (or --kubelet-arg in the k3s unit) and drop KubeletConfiguration files in /var/lib/rancher/k3s/agent/etc/kubelet.conf.d/",
      runtimeConfigAdvice:
        "k3s regenerates /var/lib/rancher/k3s/agent/etc/containerd/config.toml at every start: put changes in config.toml.tmpl beside it, then restart the k3s unit",
    }),
  rke2: (e) =>
    base("rke2", "RKE2", e, {
      kubeletUnit: e.some((p) => p.endsWith("rke2-server.service")) ? "rke2-server.service" : "rke2-agent.service",
      runtimeUnit: e.some((p) => p.endsWith("rke2-server.service")) ? "rke2-server.service" : "rke2-agent.service",
      runtimeSocket: "/run/k3s/containerd/containerd.sock",
      containerdConfig: "/var/lib/rancher/rke2/agent/etc/containerd/config.toml",
      clientCertificate: "/var/lib/rancher/rke2/agent/client-kubelet.crt",
      clientCa: "/var/lib/rancher/rke2/agent/client-ca.crt",
      flagsAdvice:
        "RKE2 starts kubelet with its own flags: set kubelet-arg in /etc/rancher/rke2/config.yaml and KubeletConfiguration drop-ins in /var/lib/rancher/rke2/agent/etc/kubelet.conf.d/, then restart the rke2 unit",
      runtimeConfigAdvice:
        "RKE2 regenerates /var/lib/rancher/rke2/agent/etc/containerd/config.toml at every start: put changes in config.toml.tmpl beside it, then restart the rke2 unit",
    }),
  "cluster-api": (e) =>
    base("cluster-api", "Cluster API (kubeadm on an image-builder image)", e, {
      versionFile: "/etc/kubernetes-version",
      flagsAdvice:
        "Cluster API machines are replaced, not edited: change kubeletExtraArgs in the KubeadmConfigTemplate (or KubeadmControlPlane) and roll the MachineDeployment (`clusterctl alpha rollout restart machinedeployment/<name>`)",
      runtimeConfigAdvice: "the image (image-builder) and the KubeadmConfigTemplate's files lay it down: change them and roll the MachineDeployment",
    }),
  aks: (e) =>
    base("aks", "AKS (AgentBaker)", e, {
      flagsAdvice:
        "AKS writes /etc/default/kubelet (KUBELET_FLAGS) and the kubelet config at provisioning: change kubelet settings with `az aks nodepool update` (custom kubelet config) or reimage the node; a hand edit is lost at the next reimage",
      runtimeConfigAdvice: "AKS writes /etc/containerd/config.toml at provisioning: reimage the node (`az vmss reimage`) rather than edit it",
    }),
  "gke-cos": (e) =>
    base("gke-cos", "GKE on Container-Optimized OS", e, {
      flagsAdvice:
        "GKE manages kubelet's flags (/etc/default/kubelet) itself: change node pool settings (`gcloud container node-pools update`) and let GKE recreate the node",
      runtimeConfigAdvice: "GKE manages containerd's config: change node pool settings and let GKE recreate the node",
    }),
  unknown: (e) => base("unknown", "unknown installer", e),
};

async function osReleaseId(host: Host): Promise<string | undefined> {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const text = await host.readText(path, { maxBytes: 64 * 1024 });
      const id = /^ID=["']?([^"'\n]*)/m.exec(text)?.[1];
      if (id) return id;
    } catch {
      // next
    }
  }
  return undefined;
}

/** A unit's file in any unit directory, or its enablement link (the pod may see /etc/systemd only). */
const units = (name: string) => [...UNIT_DIRS.map((d) => `${d}/${name}`), `/etc/systemd/system/multi-user.target.wants/${name}`];

/** Ordered: the first whose markers exist wins (k3s and RKE2 nodes may carry kubeadm-looking leftovers; EKS AL2023 keeps bootstrap.sh as a shim). */
const RULES: ReadonlyArray<{ id: DistributionId; markers: readonly string[]; osId?: string }> = [
  { id: "bottlerocket", markers: [], osId: "bottlerocket" },
  { id: "k3s", markers: [...units("k3s-agent.service"), ...units("k3s.service"), "/var/lib/rancher/k3s/agent"] },
  { id: "rke2", markers: [...units("rke2-agent.service"), ...units("rke2-server.service"), "/var/lib/rancher/rke2/agent"] },
  { id: "eks-al2023", markers: ["/usr/bin/nodeadm", ...units("nodeadm-run.service")] },
  { id: "eks-al2", markers: ["/etc/eks/bootstrap.sh"] },
  { id: "aks", markers: ["/opt/azure/containers/provision.sh", "/opt/azure/containers/kubelet.sh"] },
  { id: "gke-cos", markers: ["/home/kubernetes/bin/kubelet"] },
  { id: "kops", markers: ["/var/cache/kubernetes-install", "/etc/kubernetes/kops-controller"] },
  { id: "kubespray", markers: ["/etc/kubernetes/kubelet.env"] },
  { id: "cluster-api", markers: ["/run/cluster-api/bootstrap-success.complete", "/etc/kubernetes-version"] },
  {
    id: "kubeadm",
    markers: [
      "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
      "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
      "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
      "/var/lib/kubelet/kubeadm-flags.env",
    ],
  },
];

/** Tells the distribution from the node's files. The agent's own read failures throw (could not look). */
export async function detectDistribution(host: Host): Promise<Distribution> {
  // Every marker at once: a few dozen lstats in parallel cost one round trip, not forty.
  const markers = [...new Set(RULES.flatMap((r) => r.markers))];
  const [os, found] = await Promise.all([osReleaseId(host), Promise.all(markers.map((m) => present(host, m)))]);
  const seen = new Set(markers.filter((_, i) => found[i]));
  for (const rule of RULES) {
    if (rule.osId) {
      if (os === rule.osId) return DISTRIBUTIONS[rule.id]([`/etc/os-release ID=${os}`]);
      continue;
    }
    const evidence = rule.markers.filter((m) => seen.has(m));
    if (evidence.length > 0) return DISTRIBUTIONS[rule.id](evidence);
  }
  return DISTRIBUTIONS.unknown([]);
}

/**
 * The kubelet-config rules as a table: one row per rule (valid and invalid)
 * over facts built in memory, every reason with a row. The fixture host
 * roots (the unregistered node, the refused flags) are in
 * test/checks/kubelet-config.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RULES, judgeKubeletConfig } from "../../src/checks/kubelet-config/judge.js";
import type { FileFact, KubeletConfigFacts } from "../../src/checks/kubelet-config/rules/common.js";
import { isKubeletLabel } from "../../src/checks/kubelet-config/rules/node-labels.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { parseKubeletFlags, parseYamlMapping } from "../../src/node/kubelet/locator.js";
import { parseKubeVersion } from "../../src/node/kubelet/version.js";
import type { Finding } from "../../src/types.js";

// ---------------------------------------------------------------------------
// Facts in memory

const GOOD_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: k
  cluster: {server: "https://10.0.0.1:6443"}
contexts:
- name: c
  context: {cluster: k, user: u}
current-context: c
users:
- name: u
  user: {}
`;
const CONTAINERD = (systemd: boolean) => `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = ${systemd}
`;

interface Input {
  args?: string[];
  /** YAML text of the --config file (also adds --config). */
  config?: string;
  version?: string;
  kubeconfig?: FileFact | string;
  bootstrap?: FileFact | string;
  swaps?: string[];
  containerd?: FileFact | string;
  /** kubelet --config-dir drop-ins, path → text. */
  dropIns?: Record<string, string>;
  /** crio.conf drop-ins, path → text. */
  crio?: Record<string, string>;
  /** The runtime check's word on whether the runtime answers CRI; absent: it has not said. */
  runtimeAnswers?: boolean;
}

function file(path: string, value: FileFact | string | undefined): FileFact | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? { path, state: "ok", text: value } : value;
}

function facts(input: Input): KubeletConfigFacts {
  const args = [...(input.args ?? [])];
  if (input.config !== undefined) args.push("--config=/var/lib/kubelet/config.yaml");
  const flags = parseKubeletFlags(args);
  const f: KubeletConfigFacts = {
    pid: 42,
    cmdlineEmpty: false,
    flags,
    configFiles: composeConfigFiles({
      ...(input.config !== undefined ? { file: parseYamlMapping("/var/lib/kubelet/config.yaml", input.config) } : {}),
      fileFromFlag: input.config !== undefined,
      ...(input.dropIns ? { dropInDir: "/etc/kubernetes/kubelet.conf.d" } : {}),
      dropIns: Object.entries(input.dropIns ?? {}).map(([path, text]) => parseYamlMapping(path, text)),
    }),
  };
  if (input.version) f.version = { version: parseKubeVersion(input.version)!, source: "the test" };
  const kubeconfig = file(flags.values.get("kubeconfig") ?? "/etc/kubernetes/kubelet.conf", input.kubeconfig);
  if (kubeconfig) f.kubeconfig = kubeconfig;
  const bootstrap = file(flags.values.get("bootstrap-kubeconfig") ?? "/etc/kubernetes/bootstrap-kubelet.conf", input.bootstrap);
  if (bootstrap) f.bootstrapKubeconfig = bootstrap;
  f.swaps = { ok: true, active: input.swaps ?? [] };
  const containerd = file("/etc/containerd/config.toml", input.containerd);
  if (containerd) f.containerdConfig = containerd;
  if (input.crio) f.crioConfig = Object.entries(input.crio).map(([path, text]) => ({ path, state: "ok", text }));
  if (input.runtimeAnswers !== undefined) f.runtimeAnswers = input.runtimeAnswers;
  return f;
}

interface Row {
  rule: string;
  name: string;
  input: Input;
  /** Omitted: the rule must find nothing. */
  expect?: { reason: string; severity: Finding["severity"]; message?: RegExp[]; remedy?: RegExp[] };
}

const ROWS: Row[] = [
  // --config file
  {
    rule: "config file",
    name: "a valid KubeletConfiguration",
    input: { config: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: true\n" },
  },
  {
    rule: "config file",
    name: "a config that is a list",
    input: { config: "- failSwapOn: true\n" },
    expect: { reason: "KubeletConfigFileInvalid", severity: "critical", message: [/\/var\/lib\/kubelet\/config\.yaml: is a list, expected a mapping/] },
  },
  {
    rule: "config file",
    name: "invalid YAML names the line",
    input: { config: "kind: KubeletConfiguration\nfailSwapOn: [true\n" },
    expect: { reason: "KubeletConfigFileInvalid", severity: "critical", message: [/invalid YAML \(line \d/] },
  },
  {
    rule: "config file",
    name: "a wrong kind and a key of the wrong type",
    input: { config: 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\nfailSwapOn: "no"\n' },
    expect: {
      reason: "KubeletConfigFileInvalid",
      severity: "critical",
      message: [/kind is "KubeProxyConfiguration"/, /failSwapOn \(line 3\) must be a boolean, got "no"/],
      remedy: [/kind: KubeletConfiguration/],
    },
  },
  {
    rule: "config file",
    name: "a --config-dir drop-in that is a list",
    input: { config: "kind: KubeletConfiguration\n", dropIns: { "/etc/kubernetes/kubelet.conf.d/20-bad.conf": "- cgroupDriver: systemd\n" } },
    expect: {
      reason: "KubeletConfigFileInvalid",
      severity: "critical",
      message: [/\/etc\/kubernetes\/kubelet\.conf\.d\/20-bad\.conf: is a list, expected a mapping/],
      remedy: [/Fix \/etc\/kubernetes\/kubelet\.conf\.d\/20-bad\.conf/],
    },
  },
  // --node-labels
  {
    rule: "node labels",
    name: "allowed prefixes, allowed keys and other domains",
    input: {
      args: [
        "--node-labels=node.kubernetes.io/pool=a,kubelet.kubernetes.io/x=y,topology.kubernetes.io/zone=z1,kubernetes.io/hostname=n1,example.com/team=data,plain=1",
      ],
    },
  },
  {
    rule: "node labels",
    name: "node-role.kubernetes.io on 1.22 is refused",
    input: { args: ["--node-labels=node-role.kubernetes.io/worker=,topology.kubernetes.io/zone=a"], version: "1.22.17" },
    expect: {
      reason: "NodeLabelNotAllowed",
      severity: "critical",
      message: [
        /--node-labels=node-role\.kubernetes\.io\/worker=,topology/,
        /sets node-role\.kubernetes\.io\/worker in/,
        /unknown 'kubernetes\.io' or 'k8s\.io' labels/,
      ],
      remedy: [/kubectl label node <node> node-role\.kubernetes\.io\/worker=/, /kubelet\.kubernetes\.io and node\.kubernetes\.io prefixes/],
    },
  },
  {
    rule: "node labels",
    name: "repeated --node-labels accumulate: a bad label in the first is still seen",
    input: { args: ["--node-labels=kubernetes.io/role=worker", "--node-labels=node.kubernetes.io/pool=a"], version: "1.28.0" },
    expect: { reason: "NodeLabelNotAllowed", severity: "critical", message: [/sets kubernetes\.io\/role in/] },
  },
  {
    rule: "node labels",
    name: "a k8s.io subdomain with an unknown version is refused",
    input: { args: ["--node-labels=foo.k8s.io/bar=1"] },
    expect: { reason: "NodeLabelNotAllowed", severity: "critical", message: [/foo\.k8s\.io\/bar/] },
  },
  {
    rule: "node labels",
    name: "1.15 only warned",
    input: { args: ["--node-labels=node-role.kubernetes.io/master="], version: "1.15.3" },
    expect: {
      reason: "NodeLabelNotAllowed",
      severity: "warning",
      message: [/kubelet 1\.15\.3 \(from the test\) accepts it with a warning, but 1\.16 and later refuse/],
    },
  },
  {
    rule: "node labels",
    name: "a label value with a space",
    input: { args: ["--node-labels=example.com/team=data team"] },
    expect: { reason: "NodeLabelInvalid", severity: "critical", message: [/value "data team" of example\.com\/team is invalid/] },
  },
  // --node-status-max-images
  { rule: "node status max images", name: "-1 is allowed", input: { args: ["--node-status-max-images=-1"] } },
  {
    rule: "node status max images",
    name: "-5 on the command line",
    input: { args: ["--node-status-max-images=-5"] },
    expect: { reason: "NodeStatusMaxImagesInvalid", severity: "critical", message: [/--node-status-max-images=-5 is below -1/], remedy: [/-1 \(no limit\)/] },
  },
  {
    rule: "node status max images",
    name: "-2 in the config file",
    input: { config: "nodeStatusMaxImages: -2\n" },
    expect: {
      reason: "NodeStatusMaxImagesInvalid",
      severity: "critical",
      message: [/nodeStatusMaxImages: -2 in \/var\/lib\/kubelet\/config\.yaml line 1 is below -1/],
      remedy: [/nodeStatusMaxImages in \/var\/lib\/kubelet\/config\.yaml/],
    },
  },
  {
    rule: "node status max images",
    name: "the flag wins over a valid config value",
    input: { args: ["--node-status-max-images=lots"], config: "nodeStatusMaxImages: 10\n" },
    expect: { reason: "NodeStatusMaxImagesInvalid", severity: "critical", message: [/--node-status-max-images=lots is not an integer/] },
  },
  // --dynamic-config-dir
  { rule: "dynamic config dir", name: "on 1.18 the gate is on by default", input: { args: ["--dynamic-config-dir=/var/lib/kubelet/dyn"], version: "1.18.2" } },
  {
    rule: "dynamic config dir",
    name: "on 1.22 with the gate enabled",
    input: { args: ["--dynamic-config-dir=/d", "--feature-gates=DynamicKubeletConfig=true"], version: "1.22.0" },
  },
  {
    rule: "dynamic config dir",
    name: "on 1.22 without the gate",
    input: { args: ["--dynamic-config-dir=/var/lib/kubelet/dyn"], version: "1.22.17" },
    expect: {
      reason: "DynamicConfigDirWithoutFeatureGate",
      severity: "critical",
      message: [/--dynamic-config-dir=\/var\/lib\/kubelet\/dyn/, /off by default in kubelet 1\.22\.17/],
    },
  },
  {
    rule: "dynamic config dir",
    name: "the gate switched off in the config file",
    input: { args: ["--dynamic-config-dir=/d"], config: "featureGates:\n  DynamicKubeletConfig: false\n", version: "1.18.0" },
    expect: {
      reason: "DynamicConfigDirWithoutFeatureGate",
      severity: "critical",
      message: [/featureGates\.DynamicKubeletConfig: false in \/var\/lib\/kubelet\/config\.yaml/],
    },
  },
  {
    rule: "dynamic config dir",
    name: "unknown version without the gate",
    input: { args: ["--dynamic-config-dir=/d"] },
    expect: { reason: "DynamicConfigDirWithoutFeatureGate", severity: "warning" },
  },
  // removed flags
  { rule: "removed flags", name: "--container-runtime on 1.26 still exists", input: { args: ["--container-runtime=remote"], version: "1.26.5" } },
  {
    rule: "removed flags",
    name: "--container-runtime on 1.27",
    input: { args: ["--container-runtime=remote"], version: "1.27.1" },
    expect: {
      reason: "KubeletFlagRemoved",
      severity: "critical",
      message: [/--container-runtime=remote: removed in kubelet 1\.27/, /unknown flag: --container-runtime/],
      remedy: [/--container-runtime-endpoint alone/],
    },
  },
  {
    rule: "removed flags",
    name: "klog flags on 1.28",
    input: { args: ["--logtostderr=false", "--log-dir=/var/log/kubelet"], version: "1.28.0" },
    expect: {
      reason: "KubeletFlagRemoved",
      severity: "critical",
      message: [/--logtostderr=false --log-dir=\/var\/log\/kubelet: removed in kubelet 1\.26/],
      remedy: [/journalctl -u kubelet/],
    },
  },
  {
    rule: "removed flags",
    name: "a dockershim flag with an unknown version",
    input: { args: ["--network-plugin=cni"] },
    expect: { reason: "KubeletFlagRemoved", severity: "warning", message: [/removed in kubelet 1\.24/] },
  },
  // kubeconfig ignored (the unregistered node)
  {
    rule: "kubeconfig ignored",
    name: "1.7 with --require-kubeconfig",
    input: { args: ["--kubeconfig=/etc/kubernetes/kubelet.conf", "--require-kubeconfig"], version: "1.7.16", kubeconfig: GOOD_KUBECONFIG },
  },
  {
    rule: "kubeconfig ignored",
    name: "1.8 with --kubeconfig alone",
    input: { args: ["--kubeconfig=/etc/kubernetes/kubelet.conf"], version: "1.8.0", kubeconfig: GOOD_KUBECONFIG },
  },
  {
    rule: "kubeconfig ignored",
    name: "1.7 with --kubeconfig and nothing else",
    input: { args: ["--kubeconfig=/etc/kubernetes/kubelet.conf"], version: "1.7.16", kubeconfig: GOOD_KUBECONFIG },
    expect: {
      reason: "KubeconfigIgnored",
      severity: "critical",
      message: [/kubelet 1\.7\.16/, /--kubeconfig=\/etc\/kubernetes\/kubelet\.conf/, /No api server defined/, /never registers/],
      remedy: [/--require-kubeconfig/, /1\.8 or later/],
    },
  },
  // kubeconfig
  { rule: "kubeconfig", name: "a kubeconfig with a server", input: { args: ["--kubeconfig=/etc/kubernetes/kubelet.conf"], kubeconfig: GOOD_KUBECONFIG } },
  {
    rule: "kubeconfig",
    name: "missing but a bootstrap kubeconfig will create it",
    input: {
      args: ["--kubeconfig=/etc/kubernetes/kubelet.conf", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf"],
      kubeconfig: { path: "/etc/kubernetes/kubelet.conf", state: "missing" },
      bootstrap: GOOD_KUBECONFIG,
    },
  },
  {
    rule: "kubeconfig",
    name: "missing with no bootstrap kubeconfig",
    input: { args: ["--kubeconfig=/etc/kubernetes/kubelet.conf"], kubeconfig: { path: "/etc/kubernetes/kubelet.conf", state: "missing" } },
    expect: {
      reason: "KubeconfigMissing",
      severity: "critical",
      message: [/--kubeconfig=\/etc\/kubernetes\/kubelet\.conf does not exist/],
      remedy: [/Restore \/etc\/kubernetes\/kubelet\.conf/],
    },
  },
  {
    rule: "kubeconfig",
    name: "unreadable",
    input: {
      args: ["--kubeconfig=/etc/kubernetes/kubelet.conf"],
      kubeconfig: { path: "/etc/kubernetes/kubelet.conf", state: "unreadable", problem: "is a directory, expected a file" },
    },
    expect: { reason: "KubeconfigUnreadable", severity: "critical", message: [/\/etc\/kubernetes\/kubelet\.conf cannot be read: is a directory/] },
  },
  {
    rule: "kubeconfig",
    name: "binary",
    input: { args: ["--kubeconfig=/etc/kubernetes/kubelet.conf"], kubeconfig: "\u007fELF\u0002\u0001\u0001\u0000\u0000\u0000" },
    expect: {
      reason: "KubeconfigInvalid",
      severity: "critical",
      message: [/--kubeconfig=\/etc\/kubernetes\/kubelet\.conf: binary data, not a kubeconfig; kubelet cannot reach the API server/],
    },
  },
  {
    rule: "kubeconfig",
    name: "a cluster without a server",
    input: { args: ["--kubeconfig=/k.conf"], kubeconfig: GOOD_KUBECONFIG.replace('{server: "https://10.0.0.1:6443"}', "{insecure-skip-tls-verify: true}") },
    expect: {
      reason: "KubeconfigNoServer",
      severity: "critical",
      message: [/--kubeconfig=\/k\.conf: cluster "k" has no server/],
      remedy: [/https:\/\/<api-server>:6443/],
    },
  },
  {
    rule: "kubeconfig",
    name: "no current-context",
    input: { args: ["--kubeconfig=/k.conf"], kubeconfig: GOOD_KUBECONFIG.replace("current-context: c\n", "") },
    expect: { reason: "KubeconfigNoServer", severity: "critical", message: [/--kubeconfig=\/k\.conf: current-context is not set/] },
  },
  // cgroup driver
  {
    rule: "cgroup driver",
    name: "systemd on both",
    input: { args: ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"], config: "cgroupDriver: systemd\n", containerd: CONTAINERD(true) },
  },
  {
    rule: "cgroup driver",
    name: "cgroupfs on both (kubelet's default, no containerd config)",
    input: {
      args: ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"],
      containerd: { path: "/etc/containerd/config.toml", state: "missing" },
    },
  },
  {
    rule: "cgroup driver",
    name: "CRI-O is not judged against containerd's file",
    input: { args: ["--container-runtime-endpoint=unix:///var/run/crio/crio.sock", "--cgroup-driver=systemd"], containerd: CONTAINERD(false) },
  },
  {
    rule: "cgroup driver",
    name: "kubelet systemd, containerd cgroupfs",
    input: {
      args: ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"],
      config: "cgroupDriver: systemd\n",
      containerd: CONTAINERD(false),
      version: "1.28.3",
    },
    expect: {
      reason: "CgroupDriverMismatch",
      severity: "critical",
      message: [
        /kubelet uses the systemd cgroup driver \(cgroupDriver: systemd in \/var\/lib\/kubelet\/config\.yaml line 1\)/,
        /containerd uses cgroupfs \(\/etc\/containerd\/config\.toml sets SystemdCgroup = false/,
      ],
      remedy: [/SystemdCgroup = true/, /cgroupDriver: systemd/, /systemctl restart containerd kubelet/],
    },
  },
  {
    rule: "cgroup driver",
    name: "on 1.31 kubelet may take it from containerd: warning",
    input: { args: ["--cgroup-driver=cgroupfs"], containerd: CONTAINERD(true), version: "1.31.0" },
    expect: { reason: "CgroupDriverMismatch", severity: "warning", message: [/--cgroup-driver=cgroupfs/, /containerd is 2\.0 or later/] },
  },
  {
    rule: "cgroup driver",
    name: "containerd config that is not TOML, containerd not answering",
    input: {
      args: ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"],
      containerd: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n',
      runtimeAnswers: false,
    },
    expect: { reason: "RuntimeConfigInvalid", severity: "warning", message: [/\/etc\/containerd\/config\.toml: line 2: /] },
  },
  {
    rule: "cgroup driver",
    name: "containerd config node-doctor cannot parse while containerd answers CRI",
    input: {
      args: ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"],
      containerd: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n',
      runtimeAnswers: true,
    },
    expect: { reason: "RuntimeConfigUnreadable", severity: "unknown", message: [/line 2: /, /containerd answers over CRI, so it accepted the file/] },
  },
  {
    rule: "cgroup driver",
    name: "containerd config node-doctor cannot parse before the runtime check has said whether containerd answers",
    input: { args: ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"], containerd: 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n' },
    expect: { reason: "RuntimeConfigUnreadable", severity: "unknown", message: [/whether containerd answers over CRI is not known/] },
  },
  {
    rule: "cgroup driver",
    name: "CRI-O drop-in switches to cgroupfs while kubelet uses systemd",
    input: {
      args: ["--container-runtime-endpoint=unix:///var/run/crio/crio.sock", "--cgroup-driver=systemd"],
      version: "1.29.0",
      crio: {
        "/etc/crio/crio.conf": '[crio.runtime]\ncgroup_manager = "systemd"\n',
        "/etc/crio/crio.conf.d/10-cgroup.conf": '[crio.runtime]\ncgroup_manager = "cgroupfs"\n',
      },
    },
    expect: {
      reason: "CgroupDriverMismatch",
      severity: "critical",
      message: [/CRI-O uses cgroupfs \(\/etc\/crio\/crio\.conf\.d\/10-cgroup\.conf sets cgroup_manager = "cgroupfs" in \[crio\.runtime\]\)/],
      remedy: [/cgroup_manager = "systemd"/, /systemctl restart crio kubelet/],
    },
  },
  {
    rule: "cgroup driver",
    name: "CRI-O config with a cgroup_manager CRI-O does not know",
    input: {
      args: ["--container-runtime-endpoint=unix:///var/run/crio/crio.sock"],
      crio: { "/etc/crio/crio.conf": '[crio.runtime]\ncgroup_manager = "cgroupv2"\n' },
      runtimeAnswers: false,
    },
    expect: {
      reason: "RuntimeConfigInvalid",
      severity: "warning",
      message: [/CRI-O's config is unusable: \/etc\/crio\/crio\.conf: cgroup_manager in \[crio\.runtime\] must be "systemd" or "cgroupfs", got "cgroupv2"/],
      remedy: [/systemctl restart crio/],
    },
  },
  // swap
  { rule: "swap", name: "swap off", input: { swaps: [] } },
  { rule: "swap", name: "swap on with failSwapOn false", input: { swaps: ["/dev/sda2"], config: "failSwapOn: false\n" } },
  {
    rule: "swap",
    name: "swap on with kubelet's default failSwapOn",
    input: { swaps: ["/dev/sda2", "/swapfile"] },
    expect: {
      reason: "SwapEnabledWithFailSwapOn",
      severity: "critical",
      message: [/\/dev\/sda2, \/swapfile in \/proc\/swaps/, /failSwapOn true \(kubelet's default\)/, /running with swap on is not supported/],
      remedy: [/swapoff -a/, /\/etc\/fstab/],
    },
  },
  {
    rule: "swap",
    name: "the flag beats the config file",
    input: { swaps: ["/dev/zram0"], args: ["--fail-swap-on=true"], config: "failSwapOn: false\n" },
    expect: { reason: "SwapEnabledWithFailSwapOn", severity: "critical", message: [/--fail-swap-on=true/], remedy: [/--fail-swap-on=false/] },
  },
  {
    rule: "swap",
    name: "a --config-dir drop-in turns failSwapOn back on",
    input: {
      swaps: ["/swap.img"],
      config: "failSwapOn: false\n",
      dropIns: {
        "/etc/kubernetes/kubelet.conf.d/10-a.conf": "kind: KubeletConfiguration\n",
        "/etc/kubernetes/kubelet.conf.d/90-swap.conf": "kind: KubeletConfiguration\nfailSwapOn: true\n",
      },
    },
    expect: {
      reason: "SwapEnabledWithFailSwapOn",
      severity: "critical",
      message: [/failSwapOn true \(failSwapOn: true in \/etc\/kubernetes\/kubelet\.conf\.d\/90-swap\.conf line 2\)/],
    },
  },
  // log location
  { rule: "log location", name: "no log flags", input: { args: ["--v=2"] } },
  {
    rule: "log location",
    name: "--logtostderr=false without --log-dir (the unregistered node)",
    input: { args: ["--logtostderr=false"], version: "1.7.16" },
    expect: {
      reason: "KubeletLogLocation",
      severity: "ok",
      message: [/files in \/tmp/, /kubelet\.WARNING/, /only ERROR and worse reach stderr/],
      remedy: [/tail -n 200 \/tmp\/kubelet\.WARNING/],
    },
  },
  {
    rule: "log location",
    name: "--log-dir ignored while logging to stderr",
    input: { args: ["--log-dir=/var/log/kubernetes"], version: "1.20.0" },
    expect: {
      reason: "KubeletLogLocation",
      severity: "ok",
      message: [/--log-dir is ignored because --logtostderr is true/],
      remedy: [/journalctl -u kubelet/],
    },
  },
  {
    rule: "log location",
    name: "--log-file with --alsologtostderr",
    input: { args: ["--logtostderr=false", "--log-file=/var/log/kubelet.log", "--alsologtostderr"], version: "1.20.0" },
    expect: { reason: "KubeletLogLocation", severity: "ok", message: [/the file \/var\/log\/kubelet\.log/, /also copied to stderr/] },
  },
  {
    rule: "removed flags",
    name: "--pod-infra-container-image on kubelet 1.35",
    input: { args: ["--pod-infra-container-image=registry.k8s.io/pause:3.10"], version: "1.35.0" },
    expect: { reason: "KubeletFlagRemoved", severity: "critical", message: [/removed in kubelet 1\.35/], remedy: [/pinned_images\.sandbox/] },
  },
  {
    rule: "removed flags",
    name: "--pod-infra-container-image on kubelet 1.34",
    input: { args: ["--pod-infra-container-image=registry.k8s.io/pause:3.10"], version: "1.34.2" },
  },
  {
    rule: "removed flags",
    name: "--keep-terminated-pod-volumes on kubelet 1.31",
    input: { args: ["--keep-terminated-pod-volumes=false"], version: "1.31.0" },
    expect: { reason: "KubeletFlagRemoved", severity: "critical", message: [/removed in kubelet 1\.31/] },
  },
  {
    rule: "removed flags",
    name: "RKE2's --containerd on an unknown version: a future removal is not warned of",
    input: { args: ["--containerd=/run/k3s/containerd/containerd.sock"] },
  },
  {
    rule: "cgroup driver",
    name: "a containerd config version node-doctor does not know",
    input: { config: "cgroupDriver: systemd\n", version: "1.30.0", containerd: "version = 5\n" },
    expect: { reason: "RuntimeConfigUnreadable", severity: "unknown", message: [/version = 5; node-doctor reads containerd config versions 1 to 4/] },
  },
];

describe("kubelet-config rules", () => {
  it("every rule has a valid and an invalid row, and every reason a row", () => {
    for (const rule of RULES) {
      const rows = ROWS.filter((r) => r.rule === rule.name);
      assert.ok(
        rows.some((r) => !r.expect),
        `rule ${rule.name} has no valid row`,
      );
      for (const reason of rule.reasons)
        assert.ok(
          rows.some((r) => r.expect?.reason === reason),
          `reason ${reason} has no row`,
        );
    }
  });

  for (const row of ROWS) {
    it(`${row.rule}: ${row.name}`, () => {
      const rule = RULES.find((r) => r.name === row.rule);
      assert.ok(rule, `no rule named ${row.rule}`);
      const found = rule.judge(facts(row.input));
      if (!row.expect) {
        assert.deepEqual(found, [], `expected nothing, got ${JSON.stringify(found)}`);
        return;
      }
      const hit = found.find((f) => f.reason === row.expect?.reason);
      assert.ok(hit, `expected ${row.expect.reason}, got ${JSON.stringify(found.map((f) => f.reason))}`);
      assert.equal(hit.severity, row.expect.severity);
      assert.equal(hit.condition, "KubeletConfigInvalid");
      assert.equal(hit.check, "kubelet-config");
      for (const pattern of row.expect.message ?? []) assert.match(hit.message, pattern);
      for (const pattern of row.expect.remedy ?? []) assert.match(hit.remedy ?? "", pattern);
      if (hit.severity !== "ok") assert.ok(hit.remedy, "a problem needs a remedy");
    });
  }

  it("isKubeletLabel follows kubelet's list", () => {
    for (const key of [
      "kubernetes.io/hostname",
      "kubernetes.io/os",
      "beta.kubernetes.io/arch",
      "failure-domain.beta.kubernetes.io/zone",
      "node.kubernetes.io/instance-type",
      "topology.kubernetes.io/region",
      "foo.node.kubernetes.io/bar",
      "kubelet.kubernetes.io/x",
    ]) {
      assert.ok(isKubeletLabel(key), key);
    }
    for (const key of ["node-role.kubernetes.io/worker", "kubernetes.io/role", "app.kubernetes.io/name", "topology.kubernetes.io/rack"])
      assert.ok(!isKubeletLabel(key), key);
  });

  it("with nothing wrong, one ok summary (and the version note when it is unknown)", () => {
    const found = judgeKubeletConfig(facts({ args: ["--kubeconfig=/k.conf"], kubeconfig: GOOD_KUBECONFIG }));
    assert.deepEqual(
      found.map((f) => [f.reason, f.severity]),
      [
        ["KubeletVersionUnknown", "ok"],
        ["KubeletConfigOk", "ok"],
      ],
    );
  });
});

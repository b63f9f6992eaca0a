/**
 * The kubelet-config check: one row per rule (valid and invalid) over facts
 * built in memory, then fixture host roots for the unregistered node and the refused flags (docs/incidents.md), a healthy
 * kubeadm node, and bad inputs (NUL-only command line, a config that is a
 * list, a binary kubeconfig, broken TOML).
 */
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import { createKubeletConfigCheck, kubeletConfigSettings } from "../../src/checks/kubelet-config/index.js";
import { RULES, judgeKubeletConfig } from "../../src/checks/kubelet-config/judge.js";
import { topLevelKeyLines, type FileFact, type KubeletConfigFacts } from "../../src/checks/kubelet-config/rules/common.js";
import { isKubeletLabel } from "../../src/checks/kubelet-config/rules/node-labels.js";
import { parseKubeVersion } from "../../src/node/kubelet/version.js";
import { systemClock } from "../../src/time/clock.js";
import { RootedHost } from "../../src/node/host.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { KubeletLocator, parseKubeletFlags, parseYamlMapping } from "../../src/node/kubelet/locator.js";
import type { ClusterReader, Finding, SharedFacts } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { buildStampedKubelet } from "../support/go-binary.js";
import { runCli } from "../support/cli.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeReaderFor } from "../support/kube.js";
import { FIXTURES as FIXTURES_DIR, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

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
    const result = await runCli([
      "check",
      "--host-root",
      join(FIXTURES_DIR, "unregistered-node-kubeconfig-ignored"),
      "--only",
      "kubelet-config",
      "--output",
      "json",
    ]);
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

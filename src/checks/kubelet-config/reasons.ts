/** Every reason the kubelet-config check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "kubelet-config",
  intro:
    "Condition `KubeletConfigInvalid`. kubelet's command line (read from\n`/proc/<pid>/cmdline`), its KubeletConfiguration (`--config` and\n`--config-dir`), its kubeconfig, and the node facts they must agree with\n(`/proc/swaps`, containerd's `config.toml` or CRI-O's `crio.conf`), validated\nthe way kubelet validates them at start — so a setting that will stop\nkubelet at its next restart is reported while kubelet still runs.\n\nPrecedence is kubelet's: a flag beats the same setting in the `--config-dir`\ndrop-ins, which beat the `--config` file, which beats kubelet's default.\nThe drop-ins are every `*.conf` under `--config-dir`, walked in name order\n(subdirectories where they sort, as Go's `filepath.WalkDir`), each merged over\nthe result as a JSON merge patch: mappings key by key, lists replaced, `null`\ndeletes. kubelet reads them with or without `--config` (k3s and RKE2 pass\n`--config-dir` alone). Messages name the file and line that set a value.\nWithout `--config` kubelet reads no config file, so none is judged.\n\nWhere the flags come from:\n- a running kubelet: its `/proc/<pid>/cmdline`;\n- no kubelet process but a `kubelet.service` unit (kubelet stopped, or\n  crash-looping — often on one of these very flags): the command line\n  systemd starts it with, rebuilt from the unit, its drop-ins and\n  environment files (kubeadm's `10-kubeadm.conf`, `kubeadm-flags.env`,\n  `/etc/default/kubelet`); each problem's message names those files;\n- a running kubelet whose unit would now start it with other flags (someone\n  edited `/etc/default/kubelet` and has not restarted kubelet): those flags\n  are judged too, and a problem only they have is reported as \"not yet in\n  effect … at its next restart\". Only a unit that runs the same kubelet\n  binary as the process counts (RKE2, k0s and the like run their own), and\n  a unit whose `ExecStart` runs a wrapper script is not read for flags;\n- no process and no unit: nothing (the `kubelet` check says why).\n\nRemedies name the unit drop-in or environment file that sets the offending\nflag when the unit shows it.\n\nkubelet's version decides several rules. node-doctor never runs kubelet to\nlearn it; it is taken from, in order: `checks.kubelet-config.kubeletVersion`\n(an operator's override); the package databases (`/var/lib/dpkg/status`, or\nRPM's `rpmdb.sqlite`/`Packages`, package `kubelet`: the binary kubelet starts\nnext, even after an upgrade that has not restarted it yet); the\ndistribution's record (`/etc/eks/kubelet-version.txt`); the version\nKubernetes' build stamps into the kubelet binary (read from the file, once per\npath, size and mtime; an RKE2 kubelet's release directory names it); the\nNode's `status.nodeInfo.kubeletVersion` through the API (read once per\nkubelet process; absent when kubelet never registered). With no version,\nrules that need one assume a current kubelet and say so.\n\nWhat it reads under the host root (mount these read-only into the pod):\n`/proc`, `/var/lib/kubelet` (config, `kubeadm-flags.env`), `/etc/kubernetes`\n(kubeconfigs, `--config-dir`), the unit directories (`/etc/systemd/system`,\n`/lib/systemd/system` or `/usr/lib/systemd/system`), `/etc/default` or\n`/etc/sysconfig` (`KUBELET_EXTRA_ARGS`), `/etc/containerd` or `/etc/crio`,\nand `/var/lib/dpkg` (the version). What is not visible is not guessed at: a\nruntime config directory that is not there means the cgroup drivers are not\ncompared (the ok summary says so), and a unit whose environment files cannot\nbe seen is not compared with the running kubelet.\n\nWhere a remedy says \"kubelet's flags\": the kubelet unit and its drop-ins\n(`systemctl cat kubelet`); on kubeadm nodes `/var/lib/kubelet/kubeadm-flags.env`\nand `KUBELET_EXTRA_ARGS` in `/etc/default/kubelet` or `/etc/sysconfig/kubelet`.\nThen `systemctl daemon-reload && systemctl restart kubelet`. On a node an\ninstaller manages (EKS, kOps, Kubespray, k3s, RKE2, AKS, Cluster API) the\nremedy adds how a change is made to last there — the NodeConfig and a new\nnode on EKS AL2023, `kops update cluster` and a rolling update on kOps, the\ninventory and a playbook run on Kubespray, `kubelet-arg` in k3s's config —\nand uses that distribution's restart command (docs/distributions.md).",
  reasons: {
    KubeletCmdlineUnreadable: {
      severities: ["unknown"],
      meaning:
        "`/proc/<pid>/cmdline` of the kubelet process holds only NUL bytes (an exiting or zombie process), so its flags cannot be read; flag rules are skipped and only the kubeadm config file is checked.",
      remedy: "`systemctl cat kubelet` shows the command line it is started with.",
      repair: "none",
    },
    KubeletConfigFileInvalid: {
      severities: ["unknown", "critical"],
      severity: "critical; unknown when the `--config` file's directory is not visible under the host root",
      meaning:
        'the file named by `--config` (or a `--config-dir` drop-in) is missing, unreadable, not YAML, not a mapping (e.g. a list), has the wrong `kind`/`apiVersion`, or a key node-doctor reads has the wrong type (`failSwapOn`, `nodeStatusMaxImages`, `cgroupDriver`, `containerRuntimeEndpoint`, `featureGates`). kubelet exits with "failed to load Kubelet config file". The message names the path, the line of a YAML error or the key.',
      remedy: "fix the file (`apiVersion: kubelet.config.k8s.io/v1beta1`, `kind: KubeletConfiguration`), restart kubelet.",
      repair: "none",
    },
    NodeLabelNotAllowed: {
      severities: ["warning", "critical"],
      severity: "critical (warning for kubelet before 1.16, which accepted such labels; 1.13–1.15 with a warning)",
      meaning:
        "`--node-labels` sets a label in the `kubernetes.io`/`k8s.io` namespaces outside what kubelet may set on its own Node: the `kubelet.kubernetes.io` and `node.kubernetes.io` prefixes (and their subdomains), and `kubernetes.io/hostname`, `kubernetes.io/arch`, `kubernetes.io/os`, `topology.kubernetes.io/region`, `topology.kubernetes.io/zone`, `node.kubernetes.io/instance-type` and the beta forms `beta.kubernetes.io/arch|os|instance-type`, `failure-domain.beta.kubernetes.io/region|zone`. kubelet 1.16+ exits with \"unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels\" ([the refused flags](incidents.md#the-refused-flags); `node-role.kubernetes.io/worker` is the usual culprit).",
      remedy: "drop the label from `--node-labels` and set it from outside: `kubectl label node <node> node-role.kubernetes.io/worker=`.",
      repair: "none",
    },
    NodeLabelInvalid: {
      severities: ["critical"],
      meaning:
        'a `--node-labels` key or value is not a valid label (key: optional DNS-subdomain prefix and a name of at most 63 characters; value: at most 63 characters of letters, digits, `-`, `_`, `.`). kubelet exits with "invalid node labels".',
      remedy: "correct the label in kubelet's flags.",
      repair: "none",
    },
    NodeStatusMaxImagesInvalid: {
      severities: ["critical"],
      meaning:
        '`--node-status-max-images` (or `nodeStatusMaxImages`) is below -1 or not an integer; kubelet exits with "nodeStatusMaxImages (N) must be -1 or greater".',
      remedy: "set it to -1 (no limit) or 0 and more (default 50).",
      repair: "none",
    },
    DynamicConfigDirWithoutFeatureGate: {
      severities: ["warning", "unknown", "critical"],
      severity:
        "critical when the `DynamicKubeletConfig` gate is off (explicitly, or by default: before 1.11 and in 1.22–1.23); warning when kubelet's version is unknown and the gate is not set.",
      meaning:
        '`--dynamic-config-dir` is set without its feature gate; kubelet exits with "the DynamicKubeletConfig feature gate must be enabled in order to use the --dynamic-config-dir flag". (From 1.24 the flag itself is gone: KubeletFlagRemoved.)',
      remedy: "remove `--dynamic-config-dir`; put the settings in the `--config` file.",
      repair: "none",
    },
    KubeletFlagRemoved: {
      severities: ["warning", "unknown", "critical"],
      severity: "critical when kubelet's version has removed the flag; warning when the version is unknown.",
      meaning:
        "kubelet is started with a flag its version no longer has and exits with \"unknown flag\". Covered: `--api-servers` (1.8), `--require-kubeconfig` (1.10), dockershim's `--network-plugin`, `--cni-bin-dir`, `--cni-conf-dir`, `--cni-cache-dir`, `--docker-endpoint`, `--image-pull-progress-deadline`, `--network-plugin-mtu`, `--experimental-dockershim-root-directory` (1.24), `--dynamic-config-dir` (1.24), klog's `--logtostderr`, `--log-dir`, `--log-file`, `--alsologtostderr`, `--stderrthreshold` and friends (1.26), `--container-runtime` (1.27), `--keep-terminated-pod-volumes` (1.31), `--cloud-config` (1.34), `--pod-infra-container-image` (1.35: image-builder, kOps and EKS's bootstrap.sh all set it), and cAdvisor's flags such as `--containerd` (1.37). The message says which release removed the flag. The typical case: the package was upgraded and the running kubelet still has the old flags; the next restart fails.",
      remedy: "remove the flag (the message says what replaces it).",
      repair: "none",
    },
    KubeconfigIgnored: {
      severities: ["critical"],
      meaning:
        '[the unregistered node](incidents.md#the-unregistered-node): kubelet older than 1.8 runs with `--kubeconfig` but without `--require-kubeconfig` (or `--api-servers`): it ignores the server in the kubeconfig, logs "No api server defined - no node status update will be sent." and never registers the node.',
      remedy: "add `--require-kubeconfig` to kubelet's flags and restart it, or upgrade kubelet to 1.8 or later.",
      repair: "none",
    },
    KubeconfigMissing: {
      severities: ["unknown", "critical"],
      severity: "critical; unknown when the kubeconfig's directory is not visible under the host root (not mounted into the pod), so absence cannot be told",
      meaning: "the file named by `--kubeconfig` does not exist and there is no `--bootstrap-kubeconfig` to create it from (or that is missing too).",
      remedy: "restore the kubeconfig (`kubeadm join` writes it) or fix the path.",
      repair: "none",
    },
    KubeconfigUnreadable: {
      severities: ["critical"],
      meaning: "the kubeconfig (or the bootstrap kubeconfig kubelet would start from) cannot be read: permission denied, a directory, too large.",
      remedy: "make it a readable file; restart kubelet.",
      repair: "none",
    },
    KubeconfigInvalid: {
      severities: ["critical"],
      meaning: "the kubeconfig is binary data, not YAML, or not a mapping.",
      remedy: "restore it (`kubeadm join`, or a kubeconfig generated on a control-plane node).",
      repair: "none",
    },
    KubeconfigNoServer: {
      severities: ["critical"],
      meaning: "the kubeconfig has no `current-context`, its context or cluster is not defined, or the cluster has no (or no http/https) `server`.",
      remedy: "set `current-context` and the cluster's `server` (`https://<api-server>:6443`).",
      repair: "none",
    },
    CgroupDriverMismatch: {
      severities: ["warning", "critical"],
      severity: "critical (warning for kubelet 1.31+, which takes the driver from a runtime that reports it, such as containerd 2.0+)",
      meaning:
        "kubelet's cgroup driver (`--cgroup-driver`/`cgroupDriver`, default `cgroupfs`) differs from its runtime's. containerd: `SystemdCgroup` under the default runtime's options in `/etc/containerd/config.toml` (config versions 1 to 4, with each version's plugin name; `imports`, globs included, are followed and merged over the file in containerd's order; a missing file means containerd's default, cgroupfs). CRI-O: `cgroup_manager` under `[crio.runtime]` in `/etc/crio/crio.conf` and `crio.conf.d/*.conf` (later files win; default systemd). Pods fail to start or escape kubelet's accounting. The runtime is the one kubelet's `--container-runtime-endpoint`/`containerRuntimeEndpoint` names (containerd when unset on 1.27+).",
      remedy:
        'systemd on both: `SystemdCgroup = true` (containerd) or `cgroup_manager = "systemd"` (CRI-O), and `cgroupDriver: systemd` in kubelet\'s config; restart the runtime and kubelet.',
      repair: "none",
    },
    RuntimeConfigInvalid: {
      severities: ["warning"],
      meaning:
        "containerd's or CRI-O's config file is unreadable or not valid TOML (the message gives the file and line), or a key node-doctor reads has a wrong type or value (`version`, `SystemdCgroup`, `cgroup_manager`), while the runtime check finds the runtime not answering over CRI: the runtime refuses such a file, and the cgroup drivers cannot be compared.",
      remedy: "fix the file (`containerd config default` / `crio config` print a valid one), restart the runtime.",
      repair: "none",
    },
    RuntimeConfigUnreadable: {
      severities: ["unknown"],
      meaning:
        "node-doctor could not read the runtime's config — a containerd config `version` it does not know (it reads 1 to 4), or a file it cannot parse while the runtime answers over CRI (so the runtime accepted it) or before the runtime check has said whether it answers (its first run has not ended, or it is turned off). This is node-doctor not looking, not a fact about the node: the cgroup drivers are not compared.",
      remedy: "compare by hand: `containerd config dump | grep SystemdCgroup` (or `crio config | grep cgroup_manager`) against kubelet's `cgroupDriver`.",
      repair: "none",
    },
    SwapEnabledWithFailSwapOn: {
      severities: ["critical"],
      meaning: '`/proc/swaps` lists active swap while kubelet has `failSwapOn` true (the default); kubelet exits with "running with swap on is not supported".',
      remedy: "`swapoff -a` and remove swap from `/etc/fstab` (mask swap units), or set `failSwapOn: false` with `memorySwap.swapBehavior` (1.28+).",
      repair: "none",
    },
    KubeletLogLocation: {
      severities: ["ok"],
      meaning:
        "kubelet has klog flags (`--logtostderr`, `--log-dir`, `--log-file`, `--alsologtostderr`, `--stderrthreshold`); the message says where its logs actually go. With `--logtostderr=false` they go to files (`--log-file`, or `kubelet.INFO`/`kubelet.WARNING`/`kubelet.ERROR` in `--log-dir`, default `/tmp`) and only ERROR and worse reach the journal — in [the unregistered node](incidents.md#the-unregistered-node) the decisive warning was only in `/tmp/kubelet.WARNING`. With `--logtostderr` true, `--log-dir` is ignored.",
      remedy: "read the place named (`tail -n 200 /tmp/kubelet.WARNING`).",
      repair: "none",
    },
    KubeletVersionUnknown: {
      severities: ["ok"],
      meaning:
        "kubelet's version could not be learned (no dpkg or RPM package, no distribution record, no version stamp readable in the kubelet binary, no Node, no setting); version-dependent rules assumed a current kubelet.",
      remedy: "set `checks.kubelet-config.kubeletVersion` where kubelet is not installed from a package.",
      repair: "none",
    },
    KubeletConfigOk: {
      severities: ["ok"],
      meaning: "every rule passed; the message lists what was read.",
      repair: "none",
    },
  },
});

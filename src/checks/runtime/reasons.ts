/** Every reason the runtime check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "runtime",
  intro:
    "Condition `ContainerRuntimeUnhealthy`. The check speaks CRI (`runtime.v1`)\nto the runtime's socket as kubelet does: `Version`, `Status`,\n`ListContainers` (running ones, only counted: the relist kubelet's PLEG\ndoes) and `ImageFsInfo`, each with a deadline (`checks.runtime.requestTimeoutSeconds`,\ndefault 3 s, and never past 80% of the check's timeout). The endpoint is\n`checks.runtime.endpoint` if set, else kubelet's `--container-runtime-endpoint`\nflag, else `containerRuntimeEndpoint` in its config, else kubelet's default\n`unix:///run/containerd/containerd.sock`; with no kubelet running, the first\nof `/run/containerd/containerd.sock`, `/run/crio/crio.sock`,\n`/run/cri-dockerd.sock`, `/run/k3s/containerd/containerd.sock` that\nexists. The image filesystem the runtime reports is handed to the disk\ncheck, which judges it against kubelet's `imagefs` thresholds. CNI files are read from containerd's `conf_dir`/`bin_dir` (in\n`/etc/containerd/config.toml`) or `/etc/cni/net.d` and `/opt/cni/bin`\n(`checks.runtime.cniConfDir`, `checks.runtime.cniBinDirs`). When the\nruntime does not answer (socket missing or dead, a hung or non-CRI\nendpoint), systemd is asked over D-Bus about its unit and the message adds\nwhat it says (`containerd.service is activating (auto-restart), last result\nexit-code, restarted 5 times`); a disabled or masked unit puts\n`systemctl enable --now` / `systemctl unmask` first in the remedy.",
  reasons: {
    RuntimeHealthy: {
      severities: ["ok"],
      meaning:
        "the runtime answers CRI and reports RuntimeReady and NetworkReady. The message names the runtime, its version and socket, and how many containers run.",
      repair: "none",
    },
    NoContainerRuntime: {
      severities: ["ok"],
      meaning:
        "no kubelet process names an endpoint, none of the usual runtime sockets exists, and nothing of kubelet's marks a node: no kubelet root dir, no kubelet binary under /usr/bin or /usr/local/bin, no `/etc/kubernetes/kubelet.conf` or `/var/lib/kubelet/config.yaml`: a laptop or workstation running node-doctor (a runtime installed there for Docker does not make it a node). This one finding replaces the others. With any of those present, the same missing socket is RuntimeSocketMissing.",
      remedy: "none; set `checks.runtime.endpoint` if the runtime's socket is somewhere unusual.",
      repair: "none",
    },
    RuntimeEndpointInvalid: {
      severities: ["critical"],
      meaning: "the configured endpoint is not a unix socket endpoint (e.g. `tcp://…`, or `unix://` without an absolute path); kubelet cannot use it.",
      remedy:
        "set `--container-runtime-endpoint=unix:///run/containerd/containerd.sock` (or the runtime's socket) or `containerRuntimeEndpoint` in kubelet's config, then `systemctl restart kubelet`.",
      repair: "none",
    },
    RuntimeSocketMissing: {
      severities: ["critical"],
      meaning:
        "the runtime's socket does not exist (or is not a socket): the runtime is stopped, or kubelet points at the wrong path. The message names the path and where the endpoint came from.",
      remedy:
        "`systemctl status containerd` (or `crio`, `cri-docker`), `journalctl -u containerd -n 100`, `systemctl restart containerd`; if the runtime listens elsewhere, fix kubelet's `--container-runtime-endpoint`. When the socket's directory is missing too, the message says so and the remedy adds: a pod must mount it (the chart mounts the node's `/` and `/run`; with `hostRootFsMount.enabled=false`, `hostPaths.runtimeSocket.path`).",
      repair: "restart-runtime",
    },
    RuntimeNotListening: {
      severities: ["critical"],
      meaning: "the socket file exists but nothing listens on it (connection refused): the runtime died and left its socket behind.",
      remedy: "find why it stopped in `journalctl -u containerd -n 100`, then `systemctl restart containerd`.",
      repair: "restart-runtime",
    },
    RuntimeSocketDenied: {
      severities: ["unknown"],
      meaning: "node-doctor may not connect to the socket (permission denied), so it cannot tell whether the runtime is healthy.",
      remedy: "run node-doctor as root with the socket's directory mounted from the host (the chart does both).",
      repair: "none",
    },
    RuntimeUnresponsive: {
      severities: ["critical"],
      meaning:
        "the runtime accepted the connection but did not answer a CRI call within the deadline. kubelet's calls hang the same way: PLEG is not healthy (a hung `ListContainers` is exactly its relist), pods stick in ContainerCreating or Terminating.",
      remedy:
        "`journalctl -u containerd -n 100`; `kill -USR1 $(pidof containerd)` dumps its goroutines into the journal (keep it for the bug report); then `systemctl restart containerd`.",
      repair: "restart-runtime",
    },
    RuntimeEndpointNotCri: {
      severities: ["critical"],
      meaning:
        "something answers on the socket, but not CRI over gRPC (an HTTP/1 server such as Docker's engine socket, containerd's ttrpc socket, garbage, or a connection closed without a reply).",
      remedy:
        "point kubelet at the runtime's CRI socket (`unix:///run/containerd/containerd.sock`, `unix:///run/crio/crio.sock`, `unix:///run/cri-dockerd.sock`); `ss -xlp | grep <socket>` shows who listens there.",
      repair: "none",
    },
    RuntimeCriUnsupported: {
      severities: ["critical"],
      meaning:
        'the runtime answers `UNIMPLEMENTED` for CRI `runtime.v1`: its CRI plugin is disabled (Docker\'s containerd packages ship `disabled_plugins = ["cri"]`) or it is too old for kubelet >= 1.26.',
      remedy:
        'remove `"cri"` from `disabled_plugins` in `/etc/containerd/config.toml` (or regenerate it with `containerd config default`), use containerd >= 1.6, then `systemctl restart containerd`.',
      repair: "none",
    },
    RuntimeRequestFailed: {
      severities: ["critical"],
      meaning:
        "the runtime answered `Version`, `Status` or `ListContainers` with a gRPC error other than UNIMPLEMENTED; the message quotes the status and its message.",
      remedy: "read the runtime's log (`journalctl -u containerd -n 100`).",
      repair: "none",
    },
    RuntimeReplyInvalid: {
      severities: ["unknown"],
      meaning: "the runtime's reply could not be decoded as the CRI message (truncated or mistyped protobuf), so node-doctor could not look.",
      remedy: "check that the endpoint is the runtime's CRI socket; if it is, report the runtime and version with the message.",
      repair: "none",
    },
    RuntimeNotReady: {
      severities: ["critical"],
      meaning:
        "the runtime reports `RuntimeReady=false` (or no such condition); kubelet marks the node NotReady. The message quotes the runtime's reason and message.",
      remedy: "`journalctl -u containerd -n 100` for why; `systemctl restart containerd`.",
      repair: "restart-runtime",
    },
    RuntimeNetworkNotReady: {
      severities: ["critical"],
      meaning:
        "the runtime reports `NetworkReady=false`, typically `NetworkPluginNotReady: cni plugin not initialized`; kubelet marks the node NotReady and no pod can get a network. The message quotes the runtime's reason and message.",
      remedy:
        "names what is wrong with the CNI configuration: the config directory missing or empty (the network add-on has not installed itself on this node: check its DaemonSet pod with `kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=<node>`), a file that is not valid JSON or lacks `name`/`plugins`/`type` (the runtime loads files in name order and stops at a broken one: fix or remove it), or a plugin type with no executable in the bin dir.",
      repair: "none",
    },
    RuntimeImageFsUnavailable: {
      severities: ["warning"],
      meaning: "`Status` answered but `ImageFsInfo` failed; kubelet's image garbage collection and the disk check's imagefs figures depend on it.",
      remedy: "`journalctl -u containerd -n 100`. The disk check falls back to the usual runtime directories meanwhile.",
      repair: "none",
    },
    CniConfigInvalid: {
      severities: ["warning"],
      meaning:
        "the network is ready from an earlier load, but a CNI config file the runtime would read first is broken now: the next runtime restart or config reload takes the network down.",
      remedy: "fix or remove the named file (the message says what is wrong).",
      repair: "none",
    },
    CniPluginMissing: {
      severities: ["warning"],
      meaning:
        'the active CNI config names a plugin type with no executable in the plugin directory; new pods on this node fail with `failed to find plugin "<type>" in path`.',
      remedy: "reinstall the network add-on or the CNI plugins package so that `/opt/cni/bin/<type>` exists.",
      repair: "none",
    },
  },
});

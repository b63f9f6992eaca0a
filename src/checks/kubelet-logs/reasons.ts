/** Every reason the kubelet-logs check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "kubelet-logs",
  intro:
    "Reads kubelet's and the container runtime's logs (the host's journal and\nkubelet's log files) and names known failure signatures; see\n[kubelet-logs.md](kubelet-logs.md) for the sources, the catalogue and the\nnoise list. Each finding's evidence names the `signature`, the number of\nmatches in its window, the last match's time and a sample line. A finding\nneeds the signature's count of matches within its window and clears when\nthe window passes without one, or at once when a recovery line is logged\n(`Successfully registered node`, or kubelet's start banner `Kubelet version`\nfor the start-up failures). This check corroborates the conditions other\nchecks own: when it cannot read a log, its unknown does not hide their\nverdicts.",
  reasons: {
    KubeletNoApiServer: {
      severities: ["critical"],
      condition: "KubeletUnhealthy",
      meaning:
        "kubelet logged `No api server defined - no node status update will be sent` ([the unregistered node](incidents.md#the-unregistered-node)): it runs without an API client, so the node never registers. Logged once per start, so it holds until kubelet restarts or registers. When kubelet runs with `--kubeconfig` but without `--require-kubeconfig` the message says so (kubelet 1.5–1.7 then ignores the kubeconfig's server).",
      remedy:
        "add `--require-kubeconfig` (old kubelets) or a `--kubeconfig` naming the API server, then `systemctl daemon-reload && systemctl restart kubelet`.",
      repair: "none",
    },
    KubeletFatalExit: {
      severities: ["critical"],
      condition: "KubeletUnhealthy",
      meaning: "kubelet exits at start with `failed to run Kubelet: …` (a missing file, a bad flag, an unreachable socket); the message quotes the error.",
      remedy: "fix what the error names, then restart kubelet.",
      repair: "none",
    },
    KubeletContainerManagerFailed: {
      severities: ["critical"],
      condition: "KubeletUnhealthy",
      meaning:
        "`Failed to start ContainerManager` — kubelet exits because the host lacks something its container manager needs (a cgroup controller, kernel flags under `--protect-kernel-defaults`, a CPU manager checkpoint from another policy).",
      remedy: "fix the named host setting, then restart kubelet.",
      repair: "none",
    },
    KubeletCgroupDriverMismatch: {
      severities: ["critical"],
      condition: "KubeletConfigInvalid",
      meaning:
        'kubelet\'s cgroup driver differs from the runtime\'s (`misconfiguration: kubelet cgroup driver: "systemd" is different from docker cgroup driver: "cgroupfs"`).',
      remedy: "use `systemd` on both sides (`cgroupDriver` in kubelet's config, `SystemdCgroup = true` for containerd), restart the runtime and kubelet.",
      repair: "none",
    },
    KubeletSwapEnabled: {
      severities: ["critical"],
      condition: "KubeletConfigInvalid",
      meaning: "`running with swap on is not supported` — swap is on and `failSwapOn` is true, so kubelet exits.",
      remedy: "`swapoff -a` and remove swap from /etc/fstab, or configure NodeSwap on kubelet ≥ 1.28; restart kubelet.",
      repair: "none",
    },
    KubeletUnauthorized: {
      severities: ["critical"],
      condition: "KubeletCertificateInvalid",
      severity: "critical (2 in 5 min)",
      meaning:
        "the API server answers kubelet with `Unauthorized` ([the certificate from the future](incidents.md#the-certificate-from-the-future): `Unable to register node … Unauthorized`, `failed to ensure node lease exists … Unauthorized`; a registry's `401 Unauthorized` on an image pull does not count). When the certificates check found the client certificate not yet valid (`ClientCertificateNotYetValid`) the message says so and the remedy is that check's (it names the older valid certificate).",
      remedy: "check `/var/lib/kubelet/pki/kubelet-client-current.pem`'s dates and point it at a valid `kubelet-client-<date>.pem`, then restart kubelet.",
      repair: "none",
    },
    ApiServerCertificateExpired: {
      severities: ["critical"],
      condition: "KubeletCertificateInvalid",
      severity: "critical (2 in 5 min)",
      meaning:
        "kubelet rejects the API server's certificate: `x509: certificate has expired or is not yet valid: current time … is after …`. Either the control plane's certificate expired or the node's clock is ahead; a clock check finding is quoted when there is one.",
      remedy: "fix the clock, or renew the control plane's certificates (`kubeadm certs renew all`).",
      repair: "none",
    },
    ApiServerCertificateNotYetValid: {
      severities: ["critical"],
      condition: "KubeletCertificateInvalid",
      severity: "critical (2 in 5 min)",
      meaning: "`x509: … current time … is before …`: the node's clock is behind the API server certificate's NotBefore.",
      remedy: "fix time sync (`chronyc tracking`), then restart kubelet.",
      repair: "none",
    },
    ApiServerCertificateUntrusted: {
      severities: ["critical"],
      condition: "KubeletCertificateInvalid",
      severity: "critical (2 in 5 min)",
      meaning: "`x509: certificate signed by unknown authority`: the CA in kubelet's kubeconfig did not sign the API server's certificate.",
      remedy: "replace the CA in /etc/kubernetes/kubelet.conf with the cluster's (`/etc/kubernetes/pki/ca.crt` on a control-plane node).",
      repair: "none",
    },
    ApiServerUnreachable: {
      severities: ["critical"],
      condition: "KubeletUnhealthy",
      severity: "critical (3 in 5 min)",
      meaning:
        "kubelet's requests to `https://…/api…` fail with `connection refused`, `i/o timeout` or `no route to host`. Pod probe failures (plain http to pod IPs) do not count.",
      remedy:
        "`curl -k <server>/healthz` from the node; check the API server or its load balancer, routes and firewalls, or the `server:` in kubelet's kubeconfig.",
      repair: "none",
    },
    KubeletNodeNotFound: {
      severities: ["warning"],
      condition: "KubeletUnhealthy",
      severity: "warning (3 in 5 min)",
      meaning:
        '`node "<name>" not found`: kubelet\'s Node object does not exist; the cause is usually logged just before (Unauthorized, x509, connection refused). Clears on `Successfully registered node`.',
      remedy: "look at the registration errors in kubelet's log.",
      repair: "none",
    },
    NetworkPluginNotReady: {
      severities: ["critical"],
      condition: "ContainerRuntimeUnhealthy",
      severity: "critical (6 in 5 min: normal for the first seconds after boot)",
      meaning:
        "`Container runtime network not ready … NetworkPluginNotReady … cni plugin not initialized` (kubelet), or containerd's `failed to load cni during init`: no CNI config, so no pod can start and the node is NotReady.",
      remedy: "check /etc/cni/net.d and /opt/cni/bin and the network DaemonSet's pod on this node; restart the runtime after fixing.",
      repair: "none",
    },
    PlegUnhealthy: {
      severities: ["critical"],
      condition: "ContainerRuntimeUnhealthy",
      severity: "critical (2 in 5 min)",
      meaning:
        "`PLEG is not healthy: pleg was last seen active … ago; threshold is 3m0s`: the runtime answers kubelet's relist too slowly; the node flaps NotReady.",
      remedy: "remove dead containers, look at the runtime's log and disk I/O, restart the runtime.",
      repair: "restart-runtime",
    },
    ContainerRuntimeDown: {
      severities: ["critical"],
      condition: "ContainerRuntimeUnhealthy",
      severity: "critical (3 in 5 min)",
      meaning: "kubelet reports `Container runtime not ready` (RuntimeReady=false) or `container runtime is down`.",
      remedy: "`systemctl status containerd`, its journal, `crictl info`; restart it.",
      repair: "restart-runtime",
    },
    ContainerRuntimeSocketUnreachable: {
      severities: ["critical"],
      condition: "ContainerRuntimeUnhealthy",
      severity: "critical (2 in 5 min)",
      meaning:
        "kubelet's CRI calls fail with `dial unix <socket>: connect: no such file or directory | connection refused | permission denied` for the runtime's socket (containerd, CRI-O, Docker, cri-dockerd; a CSI driver's socket is not the runtime).",
      remedy: "start the runtime, or make kubelet's `containerRuntimeEndpoint` name the socket it listens on.",
      repair: "restart-runtime",
    },
    KubeletEvictingForDisk: {
      severities: ["warning"],
      condition: "DiskSpaceLow",
      severity: "warning (the disk check judges the filesystem itself)",
      meaning:
        "`Eviction manager: attempting to reclaim` ephemeral-storage, nodefs or imagefs: kubelet is evicting pods for disk. (Memory and PID evictions are not disk problems and are not reported here.)",
      remedy: "free disk space; see the disk check's finding.",
      repair: "none",
    },
    ImageGarbageCollectionFailed: {
      severities: ["warning"],
      condition: "DiskSpaceLow",
      severity: "warning (within 15 min)",
      meaning: "`Image garbage collection failed multiple times in a row` (the first failure after start is known noise).",
      remedy: "remove unused images (`crictl rmi --prune`), check `crictl imagefsinfo`, enlarge the image filesystem.",
      repair: "none",
    },
    LogSourceMissing: {
      severities: ["unknown"],
      condition: "KubeletUnhealthy",
      severity: "unknown (shown only when no other check could judge KubeletUnhealthy either)",
      meaning:
        "kubelet runs (or a journal exists) but no log could be read: no journal under /var/log/journal or /run/log/journal (or journalctl cannot read it) and no readable kubelet log file; the message lists what was tried. With no kubelet, no journal and no log file at all (not a node) the check says nothing.",
      remedy:
        "mount the node's journal directories into the pod read-only (and ship journalctl in the image), or set `checks.kubelet-logs.files` to kubelet's log file.",
      repair: "none",
    },
    LogsRead: {
      severities: ["ok"],
      condition: "KubeletUnhealthy",
      meaning:
        "how many lines were read from which sources, how many were known noise, and which signatures are active; its evidence carries the counters behind `node_doctor_log_lines_total` and `node_doctor_log_matches_total`.",
      remedy: "none.",
      repair: "none",
    },
  },
});

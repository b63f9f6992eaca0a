/**
 * The kubelet-logs check's knowledge, as data: which log lines name a cause,
 * which condition each feeds, how many matches within what window it takes
 * to fire, what to tell the operator, which lines clear a finding, and which
 * lines are known noise. Message strings are kubelet's, containerd's and
 * Go's own (see each entry's source); fixtures with real lines live in
 * test/fixtures/logs/<id>.log.
 *
 * Order matters: the first signature whose pattern matches takes the line,
 * so specific causes come before the generic lines that carry them (a
 * cgroup-driver mismatch arrives inside "Failed to run kubelet").
 */
import type { NoisePattern, Signature } from "../../node/logs/signatures.js";
import { REASONS } from "./reasons.js";

/** Whose lines a signature applies to: kubelet's units and files, or the runtime's units. */
export type LogComponent = "kubelet" | "runtime";

const MINUTE = 60_000;

export const LOG_REASONS = REASONS.names;

const RESTART = "`systemctl daemon-reload && systemctl restart kubelet`";

export const SIGNATURES: readonly Signature[] = [
  {
    // cmd/kubelet/app/server.go: "misconfiguration: kubelet cgroup driver: %q is different from docker cgroup driver: %q"
    kind: "problem",
    id: "cgroup-driver-mismatch",
    components: ["kubelet"],
    needles: ["kubelet cgroup driver"],
    pattern: /kubelet cgroup driver: "?(?<kubeletDriver>[\w$.-]+)"? is different from (?<runtime>\w+) cgroup driver: "?(?<runtimeDriver>[\w$.-]+)"?/i,
    severity: "critical",
    condition: "KubeletConfigInvalid",
    reason: LOG_REASONS.KubeletCgroupDriverMismatch,
    message:
      "kubelet exits at start: its cgroup driver {kubeletDriver} differs from the {runtime} cgroup driver {runtimeDriver} (logged {count} times, last at {last}).",
    remedy:
      "Use one driver on both sides, normally systemd: set `cgroupDriver: systemd` in kubelet's config (/var/lib/kubelet/config.yaml) and `SystemdCgroup = true` in /etc/containerd/config.toml " +
      `(or \`"exec-opts": ["native.cgroupdriver=systemd"]\` in /etc/docker/daemon.json), restart the runtime, then ${RESTART}.`,
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // pkg/kubelet/cm/container_manager_linux.go: "running with swap on is not supported, please disable swap! or set --fail-swap-on flag to false."
    kind: "problem",
    id: "swap-enabled",
    components: ["kubelet"],
    needles: ["running with swap on is not supported"],
    pattern: /running with swap on is not supported[^/]*(?:\/proc\/swaps contained: (?<swaps>.*))?/i,
    severity: "critical",
    condition: "KubeletConfigInvalid",
    reason: LOG_REASONS.KubeletSwapEnabled,
    message: "kubelet exits at start because swap is on and failSwapOn is true (logged {count} times, last at {last}).",
    remedy:
      "Turn swap off now with `swapoff -a` and for good by commenting the swap line in /etc/fstab (and `systemctl mask` any swap unit: `systemctl list-units --type swap`); " +
      `or, on kubelet >= 1.28 with NodeSwap, set \`failSwapOn: false\` and \`memorySwap.swapBehavior\` in kubelet's config. Then ${RESTART}.`,
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // Go's net error inside kubelet's CRI client: "dial unix /run/containerd/containerd.sock: connect: no such file or directory"
    kind: "problem",
    id: "runtime-socket-unreachable",
    components: ["kubelet"],
    needles: ["dial unix"],
    // Runtime sockets only: a CSI driver's socket failing is the driver's problem, not the runtime's.
    pattern:
      /dial unix (?<socket>\/\S*?(?:containerd|crio|docker|dockershim|cri-dockerd)\.sock): connect: (?<error>no such file or directory|connection refused|permission denied)/i,
    severity: "critical",
    condition: "ContainerRuntimeUnhealthy",
    reason: LOG_REASONS.ContainerRuntimeSocketUnreachable,
    message: "kubelet cannot reach the container runtime at {socket}: {error} (logged {count} times, last at {last}).",
    remedy:
      "Check the runtime: `systemctl status containerd` (or crio) and `journalctl -u containerd -n 50`; start it with `systemctl restart containerd`. " +
      "If it runs, make kubelet's --container-runtime-endpoint (containerRuntimeEndpoint in its config) name the socket the runtime listens on.",
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  {
    // pkg/kubelet/kubelet.go updateRuntimeUp: "Container runtime not ready" runtimeReady=…; syncLoop: "container runtime is down"
    kind: "problem",
    id: "runtime-down",
    components: ["kubelet"],
    needles: ["container runtime not ready", "container runtime is down"],
    pattern: /Container runtime (?:not ready|is down)(?:.*?RuntimeReady=false reason:(?<runtimeReason>\S*) message:(?<runtimeMessage>[^\n]*))?/i,
    severity: "critical",
    condition: "ContainerRuntimeUnhealthy",
    reason: LOG_REASONS.ContainerRuntimeDown,
    message: "kubelet reports the container runtime is not ready{runtimeMessage?: }{runtimeMessage} ({count} times in {window}, last at {last}).",
    remedy:
      "Look at the runtime: `systemctl status containerd`, `journalctl -u containerd -n 100`, `crictl info`; restart it with `systemctl restart containerd` and watch whether kubelet's next status sync reports it ready.",
    windowMs: 5 * MINUTE,
    minCount: 3,
  },
  {
    // pkg/kubelet/kubelet.go Run: klog.ErrorS(err, "Failed to start ContainerManager"); then os.Exit(1)
    kind: "problem",
    id: "container-manager-failed",
    components: ["kubelet"],
    needles: ["failed to start containermanager"],
    pattern: /Failed to start ContainerManager:?\s*(?:err=)?(?<error>.*)/i,
    severity: "critical",
    condition: "KubeletUnhealthy",
    reason: LOG_REASONS.KubeletContainerManagerFailed,
    message: "kubelet exits at start: Failed to start ContainerManager: {error} (logged {count} times, last at {last}).",
    remedy:
      "The error names the host setting kubelet refuses: a missing cgroup controller (enable it on the kernel command line, e.g. `systemd.unified_cgroup_hierarchy=1`), " +
      "kernel flags required by --protect-kernel-defaults (set them in /etc/sysctl.d/), or a CPU/memory manager checkpoint from another policy (drain the node, delete /var/lib/kubelet/cpu_manager_state). " +
      `Fix it, then ${RESTART}.`,
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // cmd/kubelet/app/server.go: klog.ErrorS(err, "Failed to run kubelet") / older "failed to run Kubelet: %v"
    kind: "problem",
    id: "failed-to-run-kubelet",
    components: ["kubelet"],
    needles: ["failed to run kubelet"],
    pattern: /failed to run Kubelet:?\s*(?:err=)?(?:failed to run Kubelet: )?(?<error>.*)/i,
    severity: "critical",
    condition: "KubeletUnhealthy",
    reason: LOG_REASONS.KubeletFatalExit,
    message: "kubelet exits at start: failed to run Kubelet: {error} (logged {count} times, last at {last}).",
    remedy: `Fix what the error names (a file, a flag, a socket), check the unit with \`systemctl status kubelet\` and \`journalctl -u kubelet -b | grep -m1 -B5 'Failed to run'\`, then ${RESTART}.`,
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // pkg/kubelet/kubelet.go Run: "No api server defined - no node status update will be sent" (1.7: glog.Warning; now InfoS)
    kind: "problem",
    id: "no-api-server",
    components: ["kubelet"],
    needles: ["no api server defined"],
    pattern: /No api server defined - no node status update will be sent/i,
    severity: "critical",
    condition: "KubeletUnhealthy",
    reason: LOG_REASONS.KubeletNoApiServer,
    message:
      'kubelet logged "No api server defined - no node status update will be sent" at {last}: it runs without an API client, so this node never registers and never reports status.',
    remedy: `Give kubelet a kubeconfig it uses: --kubeconfig=/etc/kubernetes/kubelet.conf naming the API server (on kubelet 1.5-1.7 also --require-kubeconfig, without which the kubeconfig's server is ignored), then ${RESTART}.`,
    // Logged once per start: it holds until kubelet restarts or registers.
    windowMs: 24 * 60 * MINUTE,
    minCount: 1,
  },
  {
    // Go crypto/x509 CertificateInvalidError (Expired): "x509: certificate has expired or is not yet valid: current time X is before Y"
    kind: "problem",
    id: "x509-not-yet-valid",
    components: ["kubelet"],
    needles: ["x509: certificate has expired or is not yet valid"],
    pattern: /x509: certificate has expired or is not yet valid: current time (?<now>\S+) is before (?<notBefore>[^\s"]+)/i,
    severity: "critical",
    condition: "KubeletCertificateInvalid",
    reason: LOG_REASONS.ApiServerCertificateNotYetValid,
    message:
      "kubelet rejects the API server's certificate as not yet valid: kubelet's time {now} is before its NotBefore {notBefore} ({count} times in {window}); the node's clock is probably behind.",
    remedy:
      "Check the node's clock against a reference (`chronyc tracking` or `timedatectl`); fix time sync (`systemctl restart chronyd` or set the time), then `systemctl restart kubelet`.",
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  {
    kind: "problem",
    id: "x509-expired",
    components: ["kubelet"],
    needles: ["x509: certificate has expired or is not yet valid"],
    pattern: /x509: certificate has expired or is not yet valid(?:: current time (?<now>\S+) is after (?<notAfter>[^\s"]+))?/i,
    severity: "critical",
    condition: "KubeletCertificateInvalid",
    reason: LOG_REASONS.ApiServerCertificateExpired,
    message:
      "kubelet rejects the API server's certificate as expired{notAfter?: (NotAfter }{notAfter}{notAfter?, kubelet's time }{now}{notAfter?)} ({count} times in {window}).",
    remedy:
      "If the node's clock is ahead, fix time sync (`chronyc tracking`). Otherwise renew the control plane's certificates (`kubeadm certs check-expiration`, `kubeadm certs renew all` on each control-plane node) and restart the API servers.",
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  {
    // Go crypto/x509 UnknownAuthorityError: "x509: certificate signed by unknown authority"
    kind: "problem",
    id: "x509-unknown-authority",
    components: ["kubelet"],
    needles: ["certificate signed by unknown authority"],
    pattern: /x509: certificate signed by unknown authority/i,
    severity: "critical",
    condition: "KubeletCertificateInvalid",
    reason: LOG_REASONS.ApiServerCertificateUntrusted,
    message: "kubelet does not trust the API server's certificate (x509: certificate signed by unknown authority; {count} times in {window}, last at {last}).",
    remedy:
      "The CA in kubelet's kubeconfig (certificate-authority or certificate-authority-data in /etc/kubernetes/kubelet.conf) is not the one that signed the API server's certificate: " +
      "compare it with /etc/kubernetes/pki/ca.crt on a control-plane node and replace it, then `systemctl restart kubelet`.",
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  {
    // kubelet_node_status.go: "Unable to register node with API server" err="Unauthorized"; lease controller: "failed to ensure node lease exists … Unauthorized"
    kind: "problem",
    id: "unauthorized",
    components: ["kubelet"],
    needles: ["unauthorized"],
    // The API server's answer, not a registry's: image pulls fail with "401 Unauthorized" for pods' own reasons.
    pattern: /^(?![\s\S]*(?:[Pp]ull|[Ii]mage|[Rr]egistry))[\s\S]*\bUnauthorized\b/,
    severity: "critical",
    condition: "KubeletCertificateInvalid",
    reason: LOG_REASONS.KubeletUnauthorized,
    message: 'The API server rejects kubelet\'s credentials: `Unauthorized` {count} times in {window}, last at {last} ("{sample}").',
    remedy:
      "Check kubelet's client certificate: `openssl x509 -noout -dates -subject -in /var/lib/kubelet/pki/kubelet-client-current.pem` (NotBefore in the future or NotAfter past means the API server refuses it). " +
      "Point the kubelet-client-current.pem symlink at a valid kubelet-client-<date>.pem beside it, or delete it and re-bootstrap, then `systemctl restart kubelet`.",
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  {
    // kubelet talking to https://…/api/…: Go's "dial tcp 10.0.0.1:6443: connect: connection refused" (or i/o timeout, no route to host)
    kind: "problem",
    id: "apiserver-unreachable",
    components: ["kubelet"],
    needles: ["dial tcp"],
    pattern:
      /"?(?<url>https:\/\/[^\s"/]+)\/apis?\/[^\s"]*"?: dial tcp (?<address>\S+): (?<error>connect: connection refused|i\/o timeout|connect: no route to host)/i,
    severity: "critical",
    condition: "KubeletUnhealthy",
    reason: LOG_REASONS.ApiServerUnreachable,
    message: "kubelet cannot reach the API server {url} ({address}: {error}; {count} times in {window}, last at {last}).",
    remedy:
      "From the node: `curl -k {url}/healthz`. If refused, the API server (or the load balancer in front of it) is down: `crictl ps --name kube-apiserver` on control-plane nodes. " +
      "If it times out, check routes and firewalls between this node and {address}. If the address is wrong, fix `server:` in kubelet's kubeconfig (/etc/kubernetes/kubelet.conf).",
    windowMs: 5 * MINUTE,
    minCount: 3,
  },
  {
    // kubelet.go: "Error getting node" err="node \"node30\" not found"; older kubelet.go: node "node30" not found
    kind: "problem",
    id: "node-not-found",
    components: ["kubelet"],
    needles: ["not found"],
    pattern: /\bnodes? "(?<node>[^"]+)" not found/,
    severity: "warning",
    condition: "KubeletUnhealthy",
    reason: LOG_REASONS.KubeletNodeNotFound,
    message: "kubelet cannot find its Node object {node} ({count} times in {window}, last at {last}): the node is not registered.",
    remedy:
      "Look for why registration fails just before these lines: `journalctl -u kubelet | grep -m5 'register node'` (Unauthorized, x509, connection refused); once registration succeeds this clears.",
    windowMs: 5 * MINUTE,
    minCount: 3,
  },
  {
    // kubelet.go updateRuntimeUp: "Container runtime network not ready" networkReady="NetworkReady=false reason:NetworkPluginNotReady message:…";
    // containerd: "failed to load cni during init, please check CRI plugin status before setting up network for pods"
    kind: "problem",
    id: "cni-not-ready",
    components: ["kubelet", "runtime"],
    needles: [
      "container runtime network not ready",
      "networkpluginnotready",
      "cni plugin not initialized",
      "cni config uninitialized",
      "failed to load cni during init",
    ],
    pattern:
      /(?:Container runtime network not ready|NetworkPluginNotReady|cni plugin not initialized|cni config uninitialized|failed to load cni during init)(?:.*?message:(?<detail>[^\n]*))?/i,
    severity: "critical",
    condition: "ContainerRuntimeUnhealthy",
    reason: LOG_REASONS.NetworkPluginNotReady,
    message: 'The network plugin is not ready: no pod can start ({count} times in {window}, last at {last}: "{sample}").',
    remedy:
      "Check that a CNI config exists in /etc/cni/net.d and its binaries in /opt/cni/bin; if the cluster's network DaemonSet (calico, cilium, flannel …) runs, look at its pod on this node: " +
      "`kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=$(hostname)`. Restart the runtime after fixing the config: `systemctl restart containerd`.",
    windowMs: 5 * MINUTE,
    minCount: 6,
  },
  {
    // kubelet.go syncLoop: "Skipping pod synchronization" err="PLEG is not healthy: pleg was last seen active 3m0.4s ago; threshold is 3m0s"
    kind: "problem",
    id: "pleg-unhealthy",
    components: ["kubelet"],
    needles: ["pleg is not healthy"],
    pattern: /PLEG is not healthy: pleg (?:was last seen active (?<ago>\S+) ago; threshold is (?<threshold>[^\s"\]]+)|has yet to be successful)?/i,
    severity: "critical",
    condition: "ContainerRuntimeUnhealthy",
    reason: LOG_REASONS.PlegUnhealthy,
    message:
      "kubelet's pod lifecycle event generator is stalled (last active {ago} ago, threshold {threshold}; {count} times in {window}): the runtime answers too slowly and the node flaps NotReady.",
    remedy:
      "The runtime is overloaded or hung: check `crictl ps -a | wc -l` (thousands of dead containers slow every relist), `journalctl -u containerd -n 100`, and disk I/O (`iostat -x 5`). " +
      "Remove dead containers (`crictl rm $(crictl ps -a -q --state exited)`), then `systemctl restart containerd`.",
    windowMs: 5 * MINUTE,
    minCount: 2,
  },
  {
    // pkg/kubelet/eviction/eviction_manager.go: "Eviction manager: attempting to reclaim" resourceName="ephemeral-storage"
    kind: "problem",
    id: "eviction-disk",
    components: ["kubelet"],
    needles: ["attempting to reclaim"],
    pattern:
      /eviction manager: attempting to reclaim:?\s*(?:resourceName=)?(?<resource>ephemeral-storage|nodefs(?:\.\w+)?|imagefs(?:\.\w+)?|containerfs(?:\.\w+)?)/i,
    severity: "warning",
    condition: "DiskSpaceLow",
    reason: LOG_REASONS.KubeletEvictingForDisk,
    message: "kubelet is evicting pods to reclaim {resource} ({count} times in {window}, last at {last}).",
    remedy:
      "Free disk space on the node: `du -xh --max-depth=3 /var/lib | sort -h | tail`, `crictl rmi --prune`, and container logs under /var/log/pods; see the disk check's findings for the filesystem and threshold.",
    windowMs: 10 * MINUTE,
    minCount: 1,
  },
  {
    // kubelet.go StartGarbageCollection: "Image garbage collection failed multiple times in a row"
    kind: "problem",
    id: "image-gc-failed",
    components: ["kubelet"],
    needles: ["image garbage collection failed multiple times"],
    pattern: /Image garbage collection failed multiple times in a row:?\s*(?:err=)?(?<error>.*)/i,
    severity: "warning",
    condition: "DiskSpaceLow",
    reason: LOG_REASONS.ImageGarbageCollectionFailed,
    message: "kubelet's image garbage collection keeps failing: {error} (last at {last}).",
    remedy:
      "Images in use cannot be collected: list them with `crictl images` and remove what no pod needs (`crictl rmi --prune`); if the error is about image filesystem stats, check the runtime (`crictl imagefsinfo`). " +
      "Enlarge the image filesystem if it is simply too small.",
    windowMs: 15 * MINUTE,
    minCount: 1,
  },
  {
    // kubelet_node_status.go: "Successfully registered node"
    kind: "recovery",
    id: "node-registered",
    components: ["kubelet"],
    needles: ["successfully registered node"],
    pattern: /Successfully registered node/i,
    clears: ["no-api-server", "node-not-found", "unauthorized", "apiserver-unreachable", "x509-not-yet-valid", "x509-expired", "x509-unknown-authority"],
  },
  {
    // cmd/kubelet/app/server.go run: klog.InfoS("Kubelet version", "kubeletVersion", …) — the first line of every start
    kind: "recovery",
    id: "kubelet-started",
    components: ["kubelet"],
    needles: ["kubelet version"],
    pattern: /Kubelet version:?\s*kubeletVersion=/i,
    clears: ["no-api-server", "failed-to-run-kubelet", "cgroup-driver-mismatch", "swap-enabled", "container-manager-failed"],
  },
];

/**
 * Lines operators chase that are not causes. A noise line never reaches the
 * signatures, so it can never produce a finding on its own.
 */
export const NOISE: readonly NoisePattern[] = [
  {
    id: "image-gc-first-failure",
    needles: ["image garbage collection failed once"],
    pattern: /Image garbage collection failed once\. Stats initialization may not have completed yet/i,
    why: 'kubelet\'s own text says it: the first image GC runs before cAdvisor has filesystem stats. Only "failed multiple times in a row" is a problem (signature image-gc-failed).',
  },
  {
    id: "cadvisor-no-data",
    needles: ["unable to find data for container"],
    pattern: /unable to find data for container/i,
    why: "cAdvisor's cache is not warm yet (first seconds after start, or a cgroup that just vanished). In the unregistered node (docs/incidents.md) the operator chased these while the real cause was a warning.",
  },
  {
    id: "disk-space-check-before-stats",
    needles: ["failed to check if disk space is available"],
    pattern: /Failed to check if disk space is available (?:for the runtime|on the root partition)/i,
    why: "kubelet 1.7's disk-space manager asking cAdvisor before its first housekeeping; it assumes enough space on error and the line stops once stats exist.",
  },
  {
    id: "container-manager-rootfs-info",
    needles: ["fail to get rootfs information"],
    pattern: /\[ContainerManager\]: Fail to get rootfs information/i,
    why: "Same cause as cadvisor-no-data: kubelet retries every second until cAdvisor has rootfs stats.",
  },
  {
    id: "cadvisor-system-container-stats",
    needles: ["failed to get system container stats", "failed to get cgroup stats for"],
    pattern: /Failed to get system container stats|failed to get cgroup stats for/i,
    why: "cAdvisor cannot map a systemd unit's cgroup (kubelet's --runtime-cgroups/--kubelet-cgroups naming a slice without accounting); stats only, pods are unaffected.",
  },
  {
    id: "cadvisor-housekeeping",
    needles: ["housekeeping took longer than expected"],
    pattern: /Housekeeping took longer than expected/i,
    why: "cAdvisor's periodic stats collection ran long on a busy node; a symptom of load, not a cause.",
  },
  {
    id: "cadvisor-inotify-race",
    needles: ["error while processing event"],
    pattern: /Error while processing event .*IN_(?:CREATE|DELETE)/i,
    why: "cAdvisor saw a cgroup that was gone by the time it looked (short-lived containers); harmless.",
  },
  {
    id: "runtime-status-not-yet",
    needles: ["container runtime status check may not have completed yet"],
    pattern: /container runtime status check may not have completed yet/i,
    why: "Printed for the first seconds after kubelet starts, before its first runtime status sync.",
  },
  {
    id: "pod-stats-race",
    needles: ["unable to fetch pod log stats", "unable to fetch pod etc hosts stats"],
    pattern: /Unable to fetch pod (?:log|etc hosts) stats/i,
    why: "A pod's directory went away between listing and measuring it (the pod was deleted); harmless.",
  },
  {
    id: "nameserver-limits",
    needles: ["nameserver limits"],
    pattern: /Nameserver limits (?:were )?exceeded/i,
    why: "The node's resolv.conf lists more than three nameservers; kubelet uses the first three for pods. Worth tidying, never why a node is NotReady.",
  },
  {
    id: "pod-probe-failed",
    needles: ["probe failed"],
    pattern: /"?Probe failed"? probeType=|Liveness probe failed|Readiness probe failed/i,
    why: "A pod's own health probe; the pod is sick, not the node (kubectl describe pod shows it).",
  },
];

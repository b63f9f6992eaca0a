/** Rule: flags removed from kubelet: a kubelet that gets one refuses to start. */
import { atLeast } from "../../../node/kubelet/version.js";
import type { Finding, Severity } from "../../../types.js";
import { finding, flagWhere, type KubeletConfigFacts, R, RESTART, versionText } from "./common.js";

const DOCKERSHIM_FLAGS = [
  "experimental-dockershim-root-directory",
  "docker-endpoint",
  "image-pull-progress-deadline",
  "network-plugin",
  "cni-conf-dir",
  "cni-bin-dir",
  "cni-cache-dir",
  "network-plugin-mtu",
];
/** klog flags removed by KEP-2845; -v, --vmodule and --log-flush-frequency remain. */
const KLOG_FLAGS = [
  "add-dir-header",
  "alsologtostderr",
  "log-backtrace-at",
  "log-dir",
  "log-file",
  "log-file-max-size",
  "logtostderr",
  "one-output",
  "skip-headers",
  "skip-log-headers",
  "stderrthreshold",
];

/** The newest Kubernetes release the removed-flag table was checked against. */
const NEWEST_RELEASE: [number, number] = [1, 35];

/** cAdvisor's flags kubelet carried until 1.37 (k3s notes it stopped registering --containerd then). */
const CADVISOR_FLAGS = [
  "application-metrics-count-limit",
  "boot-id-file",
  "container-hints",
  "containerd",
  "containerd-namespace",
  "enable-load-reader",
  "event-storage-age-limit",
  "event-storage-event-limit",
  "global-housekeeping-interval",
  "log-cadvisor-usage",
  "machine-id-file",
  "storage-driver-user",
  "storage-driver-password",
  "storage-driver-host",
  "storage-driver-db",
  "storage-driver-table",
  "storage-driver-secure",
  "storage-driver-buffer-duration",
];

/**
 * Flags removed from kubelet, with the release that removed each: from the
 * Kubernetes CHANGELOGs (CHANGELOG-1.8 to CHANGELOG-1.35, "Urgent Upgrade
 * Notes" and "Deprecation"/"Removal" entries for SIG Node).
 */
export const REMOVED_FLAGS: ReadonlyArray<{ flags: readonly string[]; removedIn: [number, number]; instead: string }> = [
  { flags: ["api-servers"], removedIn: [1, 8], instead: "Put the API server's URL in the kubeconfig named by --kubeconfig instead." },
  { flags: ["require-kubeconfig"], removedIn: [1, 10], instead: "Since 1.8 --kubeconfig alone makes kubelet use the API server." },
  {
    flags: DOCKERSHIM_FLAGS,
    removedIn: [1, 24],
    instead: "dockershim is gone: CNI and image pulls are configured in the container runtime, e.g. containerd's config.toml.",
  },
  { flags: ["dynamic-config-dir"], removedIn: [1, 24], instead: "Dynamic Kubelet Configuration is gone: put settings in the --config file." },
  {
    flags: KLOG_FLAGS,
    removedIn: [1, 26],
    instead: "kubelet logs to stderr, which systemd keeps in the journal (`journalctl -u kubelet`); -v and --vmodule remain.",
  },
  { flags: ["container-runtime"], removedIn: [1, 27], instead: "--container-runtime-endpoint alone selects the CRI runtime." },
  { flags: ["keep-terminated-pod-volumes"], removedIn: [1, 31], instead: "kubelet no longer keeps a terminated pod's volumes mounted; nothing replaces it." },
  {
    flags: ["cloud-config"],
    removedIn: [1, 34],
    instead: "in-tree cloud providers are gone: the external cloud-controller-manager reads its own cloud config.",
  },
  {
    flags: ["pod-infra-container-image"],
    removedIn: [1, 35],
    instead: "the container runtime chooses the sandbox (pause) image: sandbox_image (containerd 1.x) or pinned_images.sandbox (containerd 2.x) in its config.",
  },
  {
    flags: CADVISOR_FLAGS,
    removedIn: [1, 37],
    instead: "kubelet stopped registering cAdvisor's own flags; kubelet finds the runtime from --container-runtime-endpoint.",
  },
];

/** "--a and --b in /etc/default/kubelet", or each flag with its own file, or the usual places. */
function removeWhere(facts: KubeletConfigFacts, flags: readonly string[]): string {
  const files = new Set(flags.map((f) => facts.flagFiles?.[f]));
  const names = flags.map((f) => `--${f}`).join(" and ");
  if (files.size === 1) return `${names} ${flagWhere(facts, flags[0] as string)}`;
  return flags.map((f) => `--${f} ${flagWhere(facts, f)}`).join(", ");
}

export function judgeRemovedFlags(facts: KubeletConfigFacts): Finding[] {
  const findings: Finding[] = [];
  const version = facts.version?.version;
  for (const rule of REMOVED_FLAGS) {
    const [major, minor] = rule.removedIn;
    // In command-line order, as the operator wrote them.
    const present = [...new Set(facts.flags.occurrences.map((o) => o.name))].filter((f) => rule.flags.includes(f));
    if (present.length === 0) continue;
    if (version && !atLeast(version, major, minor)) continue;
    // Without a version, warn only of removals in releases that are out: a flag a future kubelet drops is fine today.
    if (!version && atLeast({ major, minor, patch: 0, text: "" }, NEWEST_RELEASE[0], NEWEST_RELEASE[1] + 1)) continue;
    const quoted = present.map((f) => `--${f}=${facts.flags.values.get(f)}`);
    const severity: Severity = version ? "critical" : "warning";
    findings.push(
      finding(
        severity,
        R.KubeletFlagRemoved,
        version
          ? `${quoted.join(" ")}: removed in kubelet ${major}.${minor}, and ${versionText(facts)} exits at start with "unknown flag: --${present[0]}".`
          : `${quoted.join(" ")}: removed in kubelet ${major}.${minor}; node-doctor does not know kubelet's version, and from ${major}.${minor} on kubelet exits at start with "unknown flag: --${present[0]}".`,
        `Remove ${removeWhere(facts, present)}, ${RESTART}. ${rule.instead}`,
        { flags: present, removedIn: `${major}.${minor}` },
      ),
    );
  }
  return findings;
}

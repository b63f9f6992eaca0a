/**
 * The kubelet-config rules: pure functions from what was read on the node
 * (kubelet's flags, its KubeletConfiguration and drop-ins, its kubeconfig,
 * /proc/swaps, containerd's or CRI-O's config, kubelet's version) to
 * findings. Each rule validates what makes kubelet refuse to start, or start
 * and misbehave, the way kubelet itself would — so the operator hears about
 * it before the next restart does.
 *
 * Precedence is kubelet's own: a command-line flag beats the same setting in
 * a --config-dir drop-in, which beats the --config file, which beats
 * kubelet's default.
 */
import {
  boolSetting as sharedBoolSetting,
  configAt as sharedConfigAt,
  configSource,
  stringSetting as sharedStringSetting,
  topLevelKeyLines,
  type KubeletConfigFiles,
  type LoadedDocument,
  type Setting,
} from "../../node/kubelet/config.js";
import { parseBool, type KubeletFlags } from "../../node/kubelet/flags.js";
import { readKubeconfigText } from "../../node/kubelet/kubeconfig.js";
import { containerdCgroupOf, containerdConfigFromText, type ContainerdConfig } from "../../node/containerd-config.js";
import type { Distribution } from "../../node/distro/index.js";
import { crioCgroup } from "../../node/runtime-config.js";
import type { Finding, Severity } from "../../types.js";
import { atLeast, shortVersion, type KubeVersion, type VersionFact } from "../../node/kubelet/version.js";
import { REASONS } from "./reasons.js";

export const KUBELET_CONFIG_REASONS = REASONS.names;

const R = KUBELET_CONFIG_REASONS;

/** A file as read from the node: its text, or why there is none. */
export type FileFact =
  /** `unseen`: its directory is not visible under the host root either (not mounted into the pod), so "missing" is not known. */
  { path: string; state: "missing"; unseen?: boolean } | { path: string; state: "unreadable"; problem: string } | { path: string; state: "ok"; text: string };

export interface KubeletConfigFacts {
  /** kubelet's pid; 0 when it is not running and the flags come from its systemd unit. */
  pid: number;
  /**
   * When the flags come from kubelet's systemd unit rather than its process: the unit files and environment
   * files read. With pid 0 kubelet is not running; with a pid, the unit changed since kubelet started.
   */
  unitFiles?: string[];
  /** Environment files the unit names that node-doctor cannot see (their directory is not mounted into its pod). */
  unitUnseen?: string[];
  /** The Node's name, when node-doctor knows it (for commands in remedies). */
  nodeName?: string;
  /** The unit file, drop-in or environment file that sets each flag, when kubelet's unit could be read: "node-labels" → "/etc/default/kubelet". */
  flagFiles?: Record<string, string>;
  /** True when /proc/<pid>/cmdline held nothing but NUL bytes. */
  cmdlineEmpty: boolean;
  flags: KubeletFlags;
  /** The --config file and the --config-dir drop-ins kubelet reads, as the one kubelet reader found them. */
  configFiles?: KubeletConfigFiles;
  version?: VersionFact;
  /** kubelet's kubeconfig (--kubeconfig, or the pre-1.10 default). */
  kubeconfig?: FileFact;
  /** --bootstrap-kubeconfig, when set. */
  bootstrapKubeconfig?: FileFact;
  /** Active swap devices from /proc/swaps, or why it could not be read. */
  swaps?: { ok: true; active: string[] } | { ok: false; problem: string };
  /** containerd's config.toml as one file (tests), when `containerd` is not given. */
  containerdConfig?: FileFact;
  /** containerd's config with its imports followed, as the gatherer read it. */
  containerd?: ContainerdConfig;
  /** The installer that built the node: where flags are set there and how a fix is made to last. */
  distribution?: Pick<Distribution, "id" | "name" | "flagsAdvice" | "restartKubelet" | "runtimeConfigAdvice">;
  /**
   * The runtime answers over CRI (the runtime check's latest word): true, it accepted its config whatever node-doctor
   * makes of it; false, it does not answer; absent, nobody has said (the runtime check has not finished, or is off).
   */
  runtimeAnswers?: boolean;
  /** CRI-O's crio.conf and then its drop-ins (crio.conf.d/*.conf) in name order. */
  crioConfig?: FileFact[];
}

/** Where kubelet's flags usually live, for remedies. */
const FLAGS_WHERE =
  "kubelet's flags live in its systemd unit and drop-ins, shown by `systemctl cat kubelet`; on kubeadm nodes in /var/lib/kubelet/kubeadm-flags.env and KUBELET_EXTRA_ARGS in /etc/default/kubelet or /etc/sysconfig/kubelet";
const RESTART = "then `systemctl daemon-reload && systemctl restart kubelet`";

/** "in /etc/default/kubelet" when the file setting the flag is known, else where flags live on this distribution. */
function flagWhere(facts: KubeletConfigFacts, flag: string): string {
  const file = facts.flagFiles?.[flag];
  return file ? `in ${file}` : `(${managed(facts) ? (facts.distribution as Distribution).flagsAdvice : FLAGS_WHERE})`;
}

/** A distribution whose installer owns kubelet's files: a hand edit does not last there. */
function managed(facts: KubeletConfigFacts): boolean {
  return facts.distribution !== undefined && facts.distribution.id !== "kubeadm" && facts.distribution.id !== "unknown";
}

const RUNTIME_REASONS: ReadonlySet<string> = new Set([R.CgroupDriverMismatch, R.RuntimeConfigInvalid]);

/** The remedy as it must read on this distribution: its restart command, and how a fix is made to last there. */
function forDistribution(facts: KubeletConfigFacts, found: Finding): string | undefined {
  const distribution = facts.distribution;
  if (!found.remedy || !distribution || !managed(facts)) return found.remedy;
  let remedy = found.remedy.replaceAll("`systemctl daemon-reload && systemctl restart kubelet`", `\`${distribution.restartKubelet}\``);
  const advice = RUNTIME_REASONS.has(found.reason) ? distribution.runtimeConfigAdvice : distribution.flagsAdvice;
  if (!remedy.includes(advice)) remedy = `${remedy.replace(/\.?$/, ".")} On ${distribution.name}: ${advice}.`;
  return remedy;
}

const CHECK = "kubelet-config";

function finding(severity: Severity, reason: string, message: string, remedy: string | undefined, evidence: Record<string, unknown>): Finding {
  return { check: CHECK, condition: "KubeletConfigInvalid", severity, reason, message, ...(remedy ? { remedy } : {}), evidence };
}

/** pflag's strconv.ParseBool, under the name the rules' tests know. */
export const parseFlagBool = parseBool;
export { topLevelKeyLines };

function configValue(facts: KubeletConfigFacts, key: string): unknown {
  return configSource(facts.configFiles, key)?.value;
}

function configAt(facts: KubeletConfigFacts, key: string): string {
  return sharedConfigAt(facts.configFiles, key);
}

function boolSetting(facts: KubeletConfigFacts, flag: string, key: string | undefined, fallback: boolean): Setting<boolean> {
  return sharedBoolSetting(facts.flags, facts.configFiles, flag, key, fallback);
}

function stringSetting(facts: KubeletConfigFacts, flag: string, key: string | undefined): Setting<string> | undefined {
  return sharedStringSetting(facts.flags, facts.configFiles, flag, key);
}

/** "A=true,B=false" (flag) over the config file's featureGates mapping. */
export function featureGates(facts: KubeletConfigFacts): Map<string, { enabled: boolean; source: string }> {
  const gates = new Map<string, { enabled: boolean; source: string }>();
  const fromConfig = configValue(facts, "featureGates");
  if (fromConfig && typeof fromConfig === "object" && !Array.isArray(fromConfig)) {
    for (const [name, value] of Object.entries(fromConfig)) {
      if (typeof value === "boolean") gates.set(name, { enabled: value, source: `featureGates.${name}: ${value} in ${configAt(facts, "featureGates")}` });
    }
  }
  for (const pair of (facts.flags.values.get("feature-gates") ?? "").split(",")) {
    const [name, value] = pair.split("=").map((s) => s.trim());
    const enabled = value === undefined ? undefined : parseFlagBool(value);
    if (name && enabled !== undefined) gates.set(name, { enabled, source: `--feature-gates=…${name}=${value}` });
  }
  return gates;
}

function versionText(facts: KubeletConfigFacts): string {
  return facts.version ? `kubelet ${shortVersion(facts.version.version)} (from ${facts.version.source})` : "kubelet (version unknown)";
}

// ---------------------------------------------------------------------------
// The KubeletConfiguration file itself

/** Keys the rules read, with the type kubelet's decoder insists on. */
const CONFIG_KEY_TYPES: Record<string, "boolean" | "integer" | "string" | "map of booleans"> = {
  failSwapOn: "boolean",
  nodeStatusMaxImages: "integer",
  cgroupDriver: "string",
  containerRuntimeEndpoint: "string",
  featureGates: "map of booleans",
};

function typeProblem(value: unknown, expected: (typeof CONFIG_KEY_TYPES)[string]): boolean {
  switch (expected) {
    case "boolean":
      return typeof value !== "boolean";
    case "integer":
      return typeof value !== "number" || !Number.isInteger(value);
    case "string":
      return typeof value !== "string";
    case "map of booleans":
      return !value || typeof value !== "object" || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "boolean");
  }
}

export function judgeConfigFile(facts: KubeletConfigFacts): Finding[] {
  const findings: Finding[] = [];
  const file = facts.configFiles?.file;
  if (file && !file.ok && file.unseen) {
    const dir = file.path.slice(0, file.path.lastIndexOf("/")) || "/";
    findings.push(
      finding(
        "unknown",
        R.KubeletConfigFileInvalid,
        `kubelet's --config file ${file.path} is not visible to node-doctor: ${dir} is not under the host root, so whether it exists cannot be told.`,
        `Mount ${dir} read-only into the node-doctor pod (the chart mounts the node's / unless hostRootFsMount.enabled is false; then add it to hostPaths), or check on the node: \`ls -l ${file.path}\`.`,
        {
          path: file.path,
          unseen: true,
        },
      ),
    );
  } else if (file) findings.push(...judgeConfigDocument(file, facts.configFiles?.fileFromFlag ?? false, "--config"));
  for (const dropIn of facts.configFiles?.dropIns ?? []) findings.push(...judgeConfigDocument(dropIn, true, "--config-dir"));
  return findings;
}

function judgeConfigDocument(config: LoadedDocument, named: boolean, flag: string): Finding[] {
  const remedy = `Fix ${config.path} (a KubeletConfiguration: \`apiVersion: kubelet.config.k8s.io/v1beta1\`, \`kind: KubeletConfiguration\`, then a mapping of settings), ${RESTART}; kubelet exits at start while it cannot load it.`;
  if (!config.ok) {
    const missing = config.missing === true || /does not exist/.test(config.problem);
    if (missing && !named) return [];
    return [
      finding(
        "critical",
        R.KubeletConfigFileInvalid,
        `kubelet's config file ${missing ? `named by ${flag} ` : ""}cannot be loaded: ${config.problem}; kubelet exits with "failed to load Kubelet config file" at its next start.`,
        remedy,
        { path: config.path, problem: config.problem },
      ),
    ];
  }
  const problems: string[] = [];
  const kind = config.value["kind"];
  const apiVersion = config.value["apiVersion"];
  if (kind !== undefined && kind !== "KubeletConfiguration") problems.push(`kind is ${JSON.stringify(kind)}, not "KubeletConfiguration"`);
  if (apiVersion !== undefined && apiVersion !== "kubelet.config.k8s.io/v1beta1" && apiVersion !== "kubelet.config.k8s.io/v1") {
    problems.push(`apiVersion is ${JSON.stringify(apiVersion)}, not "kubelet.config.k8s.io/v1beta1"`);
  }
  for (const [key, expected] of Object.entries(CONFIG_KEY_TYPES)) {
    const value = config.value[key];
    const line = config.keyLines?.[key];
    if (value !== undefined && value !== null && typeProblem(value, expected))
      problems.push(`${key}${line ? ` (line ${line})` : ""} must be ${expected === "integer" ? "an integer" : `a ${expected}`}, got ${JSON.stringify(value)}`);
  }
  if (problems.length === 0) return [];
  return [
    finding("critical", R.KubeletConfigFileInvalid, `${config.path}: ${problems.join("; ")}; kubelet rejects the file at its next start.`, remedy, {
      path: config.path,
      problems,
    }),
  ];
}

// ---------------------------------------------------------------------------
// --node-labels

/** Label keys kubelet may set on its own Node (k8s.io/kubernetes pkg/kubelet/apis, KubeletLabels()). */
export const KUBELET_ALLOWED_LABELS = [
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/instance-type",
  "beta.kubernetes.io/os",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "kubernetes.io/arch",
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "node.kubernetes.io/instance-type",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
] as const;

/** Label namespaces kubelet may use, with their subdomains (KubeletLabelNamespaces()). */
export const KUBELET_ALLOWED_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"] as const;

function labelNamespace(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}

function inDomain(namespace: string, domain: string): boolean {
  return namespace === domain || namespace.endsWith(`.${domain}`);
}

/** kubelet's IsKubeletLabel. */
export function isKubeletLabel(key: string): boolean {
  if ((KUBELET_ALLOWED_LABELS as readonly string[]).includes(key)) return true;
  const namespace = labelNamespace(key);
  return KUBELET_ALLOWED_LABEL_NAMESPACES.some((allowed) => inDomain(namespace, allowed));
}

/** True for keys in the kubernetes.io or k8s.io namespaces (and their subdomains). */
export function isKubernetesLabel(key: string): boolean {
  const namespace = labelNamespace(key);
  return inDomain(namespace, "kubernetes.io") || inDomain(namespace, "k8s.io");
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** apimachinery's IsQualifiedName for keys and IsValidLabelValue for values; undefined when valid. */
export function labelProblem(key: string, value: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return `key ${JSON.stringify(key)} has more than one '/'`;
  const name = parts.at(-1) ?? "";
  const prefix = parts.length === 2 ? (parts[0] ?? "") : undefined;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return `key ${JSON.stringify(key)} has an invalid prefix (a lower-case DNS subdomain)`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return `key ${JSON.stringify(key)} has an invalid name (at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)`;
  if (value.length > 63 || (value !== "" && !LABEL_NAME.test(value)))
    return `value ${JSON.stringify(value)} of ${key} is invalid (at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)`;
  return undefined;
}

/** Splits "--node-labels" ("k=v,k2=v2"); a pair without "=" is a key with an empty value. */
export function parseNodeLabels(text: string): Array<{ key: string; value: string }> {
  const labels: Array<{ key: string; value: string }> = [];
  for (const pair of text.split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    labels.push(eq < 0 ? { key: pair.trim(), value: "" } : { key: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() });
  }
  return labels;
}

export function judgeNodeLabels(facts: KubeletConfigFacts): Finding[] {
  // Repeated --node-labels accumulate (a map flag), unlike other flags where the last wins.
  const occurrences = facts.flags.occurrences.filter((o) => o.name === "node-labels").map((o) => o.value);
  if (occurrences.length === 0) return [];
  const raw = occurrences.join(",");
  const labels = parseNodeLabels(raw);
  const findings: Finding[] = [];
  const forbidden = labels.filter((l) => isKubernetesLabel(l.key) && !isKubeletLabel(l.key));
  if (forbidden.length > 0) {
    const keys = forbidden.map((l) => l.key);
    // kubelet refuses them since 1.16; 1.13-1.15 only warned.
    const refuses = !facts.version || atLeast(facts.version.version, 1, 16);
    const labelCommands = forbidden.map((l) => `\`kubectl label node ${facts.nodeName ?? "<node>"} ${l.key}=${l.value}\``).join(", ");
    findings.push(
      finding(
        refuses ? "critical" : "warning",
        R.NodeLabelNotAllowed,
        `--node-labels=${raw} sets ${keys.join(", ")} in the kubernetes.io/k8s.io namespace, which kubelet may not set on its own Node; ` +
          (refuses
            ? `${versionText(facts)} exits at start with "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels".`
            : `${versionText(facts)} accepts it${facts.version && atLeast(facts.version.version, 1, 13) ? " with a warning" : ""}, but 1.16 and later refuse to start.`),
        `Remove ${keys.join(", ")} from --node-labels ${flagWhere(facts, "node-labels")}, ${RESTART}; set such labels from outside instead: ${labelCommands}. ` +
          `Allowed from kubelet: the ${KUBELET_ALLOWED_LABEL_NAMESPACES.join(" and ")} prefixes and ${KUBELET_ALLOWED_LABELS.join(", ")}.`,
        { flag: "node-labels", value: raw, labels: keys },
      ),
    );
  }
  const invalid = labels.map((l) => labelProblem(l.key, l.value)).filter((p): p is string => p !== undefined);
  if (invalid.length > 0) {
    findings.push(
      finding(
        "critical",
        R.NodeLabelInvalid,
        `--node-labels=${raw}: ${invalid.join("; ")}; kubelet exits at start with "invalid node labels".`,
        `Correct the label in --node-labels ${flagWhere(facts, "node-labels")}, ${RESTART}.`,
        { flag: "node-labels", value: raw, problems: invalid },
      ),
    );
  }
  return findings;
}

// ---------------------------------------------------------------------------
// --node-status-max-images / nodeStatusMaxImages

export function judgeNodeStatusMaxImages(facts: KubeletConfigFacts): Finding[] {
  const flag = facts.flags.values.get("node-status-max-images");
  let value: number;
  let source: string;
  if (flag !== undefined) {
    source = `--node-status-max-images=${flag}`;
    if (!/^[+-]?\d+$/.test(flag.trim())) {
      return [
        finding(
          "critical",
          R.NodeStatusMaxImagesInvalid,
          `${source} is not an integer; kubelet exits at start with "invalid argument".`,
          `Set --node-status-max-images to an integer of -1 or more (-1: no limit; default 50) ${flagWhere(facts, "node-status-max-images")}, ${RESTART}.`,
          {
            flag: "node-status-max-images",
            value: flag,
          },
        ),
      ];
    }
    value = Number(flag);
  } else {
    const fromConfig = configValue(facts, "nodeStatusMaxImages");
    if (typeof fromConfig !== "number" || !Number.isInteger(fromConfig)) return [];
    value = fromConfig;
    source = `nodeStatusMaxImages: ${fromConfig} in ${configAt(facts, "nodeStatusMaxImages")}`;
  }
  if (value >= -1) return [];
  const where =
    flag !== undefined
      ? `--node-status-max-images ${flagWhere(facts, "node-status-max-images")}`
      : `nodeStatusMaxImages in ${configAt(facts, "nodeStatusMaxImages")}`;
  return [
    finding(
      "critical",
      R.NodeStatusMaxImagesInvalid,
      `${source} is below -1; kubelet exits at start with "nodeStatusMaxImages (${value}) must be -1 or greater".`,
      `Set ${where} to -1 (no limit), 0 or more (default 50), ${RESTART}.`,
      { flag: "node-status-max-images", value, source },
    ),
  ];
}

// ---------------------------------------------------------------------------
// --dynamic-config-dir

/** DynamicKubeletConfig's default by version: alpha (off) before 1.11, beta (on) 1.11–1.21, deprecated (off) 1.22–1.23, gone in 1.24. */
function dynamicConfigDefault(version: KubeVersion): boolean {
  return atLeast(version, 1, 11) && !atLeast(version, 1, 22);
}

export function judgeDynamicConfigDir(facts: KubeletConfigFacts): Finding[] {
  const dir = facts.flags.values.get("dynamic-config-dir");
  if (dir === undefined || dir === "") return [];
  const version = facts.version?.version;
  if (version && atLeast(version, 1, 24)) return []; // the flag itself is gone: KubeletFlagRemoved says so
  const gate = featureGates(facts).get("DynamicKubeletConfig");
  const enabled = gate?.enabled ?? (version ? dynamicConfigDefault(version) : undefined);
  if (enabled === true) return [];
  const remedy = `Remove --dynamic-config-dir=${dir} ${flagWhere(facts, "dynamic-config-dir")} and put the settings in kubelet's --config file, ${RESTART}. Dynamic Kubelet Configuration is deprecated since 1.22 and removed in 1.24.`;
  const evidence = { flag: "dynamic-config-dir", value: dir, ...(gate ? { featureGate: gate.source } : {}) };
  if (enabled === false) {
    const why = gate
      ? `the DynamicKubeletConfig feature gate is off (${gate.source})`
      : `the DynamicKubeletConfig feature gate is off by default in ${versionText(facts)}`;
    return [
      finding(
        "critical",
        R.DynamicConfigDirWithoutFeatureGate,
        `--dynamic-config-dir=${dir} is set but ${why}; kubelet exits at start with "the DynamicKubeletConfig feature gate must be enabled in order to use the --dynamic-config-dir flag".`,
        remedy,
        evidence,
      ),
    ];
  }
  return [
    finding(
      "warning",
      R.DynamicConfigDirWithoutFeatureGate,
      `--dynamic-config-dir=${dir} is set without --feature-gates=DynamicKubeletConfig=true; kubelet accepts it only where the gate is on by default (1.11–1.21) and node-doctor does not know kubelet's version.`,
      remedy,
      evidence,
    ),
  ];
}

// ---------------------------------------------------------------------------
// Flags removed from kubelet

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

// ---------------------------------------------------------------------------
// kubeconfig

type KubeconfigVerdict = { ok: true; server: string } | { ok: false; reason: string; problem: string };

/** The one kubeconfig reader's answer, as this rule's reasons. */
export function judgeKubeconfigText(path: string, text: string): KubeconfigVerdict {
  const read = readKubeconfigText(path, text);
  if (read.ok) return { ok: true, server: read.kubeconfig.server };
  return { ok: false, reason: read.kind === "invalid" ? R.KubeconfigInvalid : R.KubeconfigNoServer, problem: read.problem };
}

export function judgeKubeconfig(facts: KubeletConfigFacts): Finding[] {
  const kubeconfig = facts.kubeconfig;
  if (!kubeconfig) return [];
  const bootstrap = facts.bootstrapKubeconfig;
  const flagText = facts.flags.values.has("kubeconfig") ? `--kubeconfig=${kubeconfig.path}` : `kubelet's default kubeconfig ${kubeconfig.path}`;
  const remedyFix = (path: string) =>
    `Restore ${path} (on kubeadm nodes \`kubeadm join\` writes it, or \`kubeadm kubeconfig user --client-name system:node:<node> --org system:nodes\` on a control-plane node generates one) or fix the path in --kubeconfig ${flagWhere(facts, "kubeconfig")}, ${RESTART}.`;

  // The file kubelet will actually read: its kubeconfig, or the bootstrap one it starts from when that is missing.
  let file: FileFact = kubeconfig;
  let via = flagText;
  if (kubeconfig.state === "missing") {
    if (kubeconfig.unseen) {
      return [
        finding(
          "unknown",
          R.KubeconfigMissing,
          `${flagText} is not visible to node-doctor: its directory is not under the host root, so whether it exists cannot be told.`,
          `Mount ${kubeconfig.path.slice(0, kubeconfig.path.lastIndexOf("/")) || "/"} read-only into the node-doctor pod (the chart mounts the node's / unless hostRootFsMount.enabled is false; then add it to hostPaths), or check on the node: \`ls -l ${kubeconfig.path}\`.`,
          { path: kubeconfig.path, unseen: true },
        ),
      ];
    }
    if (!bootstrap || bootstrap.state === "missing") {
      return [
        finding(
          "critical",
          R.KubeconfigMissing,
          `${flagText} does not exist${bootstrap ? ` and neither does --bootstrap-kubeconfig=${bootstrap.path}` : " and no --bootstrap-kubeconfig is set"}; kubelet cannot reach the API server and exits (or, before 1.10, runs without one).`,
          remedyFix(kubeconfig.path),
          { path: kubeconfig.path, ...(bootstrap ? { bootstrapPath: bootstrap.path } : {}) },
        ),
      ];
    }
    file = bootstrap;
    via = `--bootstrap-kubeconfig=${bootstrap.path} (used because ${kubeconfig.path} does not exist yet)`;
  }
  if (file.state === "unreadable") {
    return [
      finding(
        "critical",
        R.KubeconfigUnreadable,
        `${via} cannot be read: ${file.problem}.`,
        `Make ${file.path} a readable file for root (\`ls -l ${file.path}\`), ${RESTART}.`,
        {
          path: file.path,
          problem: file.problem,
        },
      ),
    ];
  }
  if (file.state !== "ok") return [];
  const verdict = judgeKubeconfigText(file.path, file.text);
  if (verdict.ok) return [];
  return [
    finding(
      "critical",
      verdict.reason,
      `${via}: ${verdict.problem.replace(`${file.path}: `, "")}; kubelet cannot reach the API server with it.`,
      verdict.reason === R.KubeconfigNoServer
        ? `Set current-context and the cluster's server (https://<api-server>:6443) in ${file.path}, e.g. copy them from /etc/kubernetes/admin.conf on a control-plane node, ${RESTART}.`
        : remedyFix(file.path),
      { path: file.path, problem: verdict.problem },
    ),
  ];
}

/** The unregistered node (docs/incidents.md): kubelet before 1.8 ignores --kubeconfig unless --require-kubeconfig (or --api-servers) is given. */
export function judgeKubeconfigIgnored(facts: KubeletConfigFacts): Finding[] {
  const version = facts.version?.version;
  if (!version || atLeast(version, 1, 8) || !facts.kubeconfig) return [];
  const require = parseFlagBool(facts.flags.values.get("require-kubeconfig") ?? "false");
  if (require === true || facts.flags.values.get("api-servers")) return [];
  const kubeconfigFlag = facts.flags.values.has("kubeconfig") ? `--kubeconfig=${facts.kubeconfig.path}` : `the default kubeconfig ${facts.kubeconfig.path}`;
  return [
    finding(
      "critical",
      R.KubeconfigIgnored,
      `${versionText(facts)} runs with ${kubeconfigFlag} but without --require-kubeconfig or --api-servers: before 1.8 kubelet then ignores the server in the kubeconfig, logs "No api server defined - no node status update will be sent." and never registers the node or reports its status.`,
      `Add --require-kubeconfig to kubelet's flags, next to --kubeconfig ${flagWhere(facts, "kubeconfig")}, ${RESTART}; the node then registers (\`kubectl get node ${facts.nodeName ?? "<node>"}\`). Better, upgrade kubelet to 1.8 or later, where --kubeconfig alone is enough.`,
      { flag: "kubeconfig", value: facts.kubeconfig.path, version: version.text, versionSource: facts.version?.source },
    ),
  ];
}

// ---------------------------------------------------------------------------
// Cgroup driver against the runtime's

type Runtime = "containerd" | "crio" | undefined;

/** Which runtime kubelet talks to, from its endpoint (or the default since 1.27). */
function kubeletRuntime(facts: KubeletConfigFacts): Runtime {
  const endpoint = stringSetting(facts, "container-runtime-endpoint", "containerRuntimeEndpoint");
  if (endpoint) return /containerd/.test(endpoint.value) ? "containerd" : /crio/.test(endpoint.value) ? "crio" : undefined;
  const version = facts.version?.version;
  if (version) return atLeast(version, 1, 27) ? "containerd" : undefined; // before: dockershim (<1.24) or an endpoint was required
  const containerd = containerdOf(facts);
  return containerd?.ok && !containerd.defaults ? "containerd" : undefined;
}

/** The runtime's cgroup driver as its config says, or why it cannot be told. */
function runtimeDriver(
  facts: KubeletConfigFacts,
  runtime: "containerd" | "crio",
):
  | { ok: true; systemd: boolean; detail: string; files: string; setIn?: string }
  | { ok: false; problem: string; files: string; restart: string; fix: string }
  | undefined {
  if (runtime === "crio") {
    const files = facts.crioConfig ?? [];
    const paths = files.map((f) => f.path).join(", ") || "/etc/crio/crio.conf";
    const verdict = crioCgroup(files);
    return verdict.ok
      ? { ...verdict, files: paths }
      : { ...verdict, files: paths, restart: "systemctl restart crio", fix: "`crio config` prints a valid configuration" };
  }
  const config = containerdOf(facts);
  if (!config) return undefined;
  const path = facts.containerdConfig?.path ?? (config.ok ? config.files[0] : config.path) ?? "containerd's config";
  const fix = "`containerd config dump` shows what containerd reads; `containerd config default` prints a valid one";
  const verdict = containerdCgroupOf(config, path);
  if (!verdict.ok) return { ...verdict, files: config.ok ? path : config.path, restart: "systemctl restart containerd", fix };
  if ("criDisabled" in verdict) return undefined;
  return { ...verdict, files: config.ok && config.files.length > 0 ? config.files.join(", ") : path };
}

/** containerd's config as the gatherer read it (imports followed), else the single file the facts hold. */
function containerdOf(facts: KubeletConfigFacts): ContainerdConfig | undefined {
  if (facts.containerd) return facts.containerd;
  const file = facts.containerdConfig;
  if (!file) return undefined;
  if (file.state === "unreadable") return { ok: false, path: file.path, problem: `${file.path} cannot be read: ${file.problem}` };
  return containerdConfigFromText(file.path, file.state === "ok" ? file.text : undefined);
}

export function judgeCgroupDriver(facts: KubeletConfigFacts): Finding[] {
  const runtime = kubeletRuntime(facts);
  if (!runtime) return [];
  const name = runtime === "crio" ? "CRI-O" : "containerd";
  const driver = runtimeDriver(facts, runtime);
  if (!driver) return [];
  if (!driver.ok) {
    // A version node-doctor does not know, or a file the running runtime accepted: node-doctor's reading failed, not the runtime.
    const notKnown = /node-doctor reads containerd config versions/.test(driver.problem);
    // Only a runtime known not to answer is refusing the file; while nobody has said, it may be running on it.
    if (notKnown || facts.runtimeAnswers !== false) {
      const answers =
        facts.runtimeAnswers === true
          ? `; ${name} answers over CRI, so it accepted the file`
          : facts.runtimeAnswers === undefined
            ? `; whether ${name} answers over CRI is not known (the runtime check has not said), so it is not claimed to refuse the file`
            : "";
      return [
        finding(
          "unknown",
          R.RuntimeConfigUnreadable,
          `node-doctor could not read ${name}'s config: ${driver.problem}${answers}; kubelet's cgroup driver was not compared with ${name}'s.`,
          `Nothing to fix on the node if ${name} runs; check the drivers by hand: \`${runtime === "crio" ? "crio config | grep cgroup_manager" : "containerd config dump | grep SystemdCgroup"}\` against kubelet's cgroupDriver.`,
          { runtime, files: driver.files, problem: driver.problem },
        ),
      ];
    }
    return [
      finding(
        "warning",
        R.RuntimeConfigInvalid,
        `${name}'s config is unusable: ${driver.problem}; ${name} refuses to start with an invalid file, and kubelet's cgroup driver cannot be compared with ${name}'s.`,
        `Fix ${driver.files} (${driver.fix}), then \`${driver.restart}\`.`,
        { runtime, files: driver.files, problem: driver.problem },
      ),
    ];
  }
  const kubeletDriver = stringSetting(facts, "cgroup-driver", "cgroupDriver") ?? { value: "cgroupfs", source: "kubelet's default", from: "default" as const };
  const runtimeValue = driver.systemd ? "systemd" : "cgroupfs";
  if (kubeletDriver.value === runtimeValue) return [];
  const version = facts.version?.version;
  // kubelet 1.31+ asks a runtime that supports it (containerd 2.0+) for its driver (KubeletCgroupDriverFromCRI) and then ignores its own setting.
  const mayAskRuntime = version !== undefined && atLeast(version, 1, 31);
  const kubeletWhere =
    kubeletDriver.from === "flag" ? `--cgroup-driver ${flagWhere(facts, "cgroup-driver")}` : `cgroupDriver in ${configAt(facts, "cgroupDriver")}`;
  const runtimeFix =
    runtime === "crio"
      ? `\`cgroup_manager = "systemd"\` under [crio.runtime] in ${driver.setIn ?? driver.files}`
      : `\`SystemdCgroup = true\` under the runc runtime's options in ${driver.files}`;
  return [
    finding(
      mayAskRuntime ? "warning" : "critical",
      R.CgroupDriverMismatch,
      `kubelet uses the ${kubeletDriver.value} cgroup driver (${kubeletDriver.source}) but ${name} uses ${runtimeValue} (${driver.detail}); pods fail to start or run outside kubelet's resource accounting${mayAskRuntime ? (runtime === "containerd" ? " (unless containerd is 2.0 or later, which tells kubelet 1.31+ its driver)" : " (unless CRI-O tells kubelet 1.31+ its driver)") : ""}.`,
      `Use the same driver on both, systemd on systemd hosts: set ${runtimeFix} and \`cgroupDriver: systemd\` via ${kubeletWhere}, then \`systemctl restart ${runtime} kubelet\`.`,
      { kubelet: kubeletDriver.value, kubeletSource: kubeletDriver.source, runtime, runtimeDriver: runtimeValue, runtimeSource: driver.detail },
    ),
  ];
}

// ---------------------------------------------------------------------------
// Swap

/** Active swap areas from /proc/swaps (a header line, then one line per area). */
export function parseProcSwaps(text: string): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => name !== "");
}

export function judgeSwap(facts: KubeletConfigFacts): Finding[] {
  if (!facts.swaps?.ok || facts.swaps.active.length === 0) return [];
  const failSwapOn = boolSetting(facts, "fail-swap-on", "failSwapOn", true);
  if (!failSwapOn.value) return [];
  const where =
    failSwapOn.from === "flag"
      ? `--fail-swap-on=false ${flagWhere(facts, "fail-swap-on")}`
      : `\`failSwapOn: false\` and \`memorySwap: {swapBehavior: LimitedSwap}\` (kubelet 1.28+) in ${configAt(facts, "failSwapOn")}`;
  return [
    finding(
      "critical",
      R.SwapEnabledWithFailSwapOn,
      `Swap is on (${facts.swaps.active.join(", ")} in /proc/swaps) while kubelet has failSwapOn true (${failSwapOn.source}); kubelet exits at start with "running with swap on is not supported, please disable swap".`,
      `Turn swap off: \`swapoff -a\`, comment out the swap lines in /etc/fstab and mask swap units (\`systemctl mask <name>.swap\`, zram-generator) so it stays off after reboot. Or, to run with swap, set ${where}, ${RESTART}.`,
      { swaps: facts.swaps.active, failSwapOn: failSwapOn.source },
    ),
  ];
}

// ---------------------------------------------------------------------------
// Where kubelet's logs go (the unregistered node, docs/incidents.md: the decisive warning was in a file, not the journal)

const KLOG_SEVERITY_NAMES = ["INFO", "WARNING", "ERROR", "FATAL"];

export function judgeLogLocation(facts: KubeletConfigFacts): Finding[] {
  const flags = facts.flags.values;
  const logFlags = ["logtostderr", "log-dir", "log-file", "alsologtostderr", "stderrthreshold"].filter((f) => flags.has(f));
  if (logFlags.length === 0) return [];
  const version = facts.version?.version;
  if (version && atLeast(version, 1, 26)) return []; // removed flags: KubeletFlagRemoved says so
  const quoted = logFlags.map((f) => `--${f}=${flags.get(f)}`).join(" ");
  const toStderr = parseFlagBool(flags.get("logtostderr") ?? "true") ?? true;
  const alsoStderr = parseFlagBool(flags.get("alsologtostderr") ?? "false") ?? false;
  const evidence: Record<string, unknown> = { flags: Object.fromEntries(logFlags.map((f) => [f, flags.get(f)])) };
  if (toStderr) {
    const ignored = ["log-dir", "log-file"].filter((f) => flags.has(f));
    evidence["destination"] = "stderr";
    return [
      finding(
        "ok",
        R.KubeletLogLocation,
        `kubelet logs to stderr, which systemd keeps in the journal (${quoted})${ignored.length > 0 ? `; ${ignored.map((f) => `--${f}`).join(" and ")} ${ignored.length > 1 ? "are" : "is"} ignored because --logtostderr is true (the default)` : ""}.`,
        "Read kubelet's logs with `journalctl -u kubelet --since -1h`.",
        evidence,
      ),
    ];
  }
  const threshold = Number(flags.get("stderrthreshold") ?? 2);
  const stderrPart = alsoStderr
    ? "every line is also copied to stderr (the journal) because of --alsologtostderr"
    : `only ${KLOG_SEVERITY_NAMES[threshold] ?? "ERROR"} and worse reach stderr (\`journalctl -u kubelet\`), so warnings such as "No api server defined" appear only in the files`;
  const file = flags.get("log-file");
  if (file) {
    evidence["destination"] = file;
    return [
      finding(
        "ok",
        R.KubeletLogLocation,
        `kubelet logs to the file ${file}, not the journal (${quoted}); ${stderrPart}.`,
        `Read kubelet's logs in ${file}: \`tail -n 200 ${file}\`.`,
        evidence,
      ),
    ];
  }
  const dir = flags.get("log-dir") || "/tmp";
  evidence["destination"] = dir;
  return [
    finding(
      "ok",
      R.KubeletLogLocation,
      `kubelet logs to files in ${dir}${flags.get("log-dir") ? "" : " (the default when --log-dir is not set)"}, not the journal (${quoted}): ${dir}/kubelet.INFO, kubelet.WARNING and kubelet.ERROR point at the current files; ${stderrPart}.`,
      `Read the warnings first: \`tail -n 200 ${dir}/kubelet.WARNING\`; everything is in \`${dir}/kubelet.INFO\`. To get them in the journal, set --logtostderr=true ${flagWhere(facts, "logtostderr")}.`,
      evidence,
    ),
  ];
}

// ---------------------------------------------------------------------------

/** One row per rule: tests walk this table. */
export const RULES: ReadonlyArray<{ name: string; reasons: readonly string[]; judge(facts: KubeletConfigFacts): Finding[] }> = [
  { name: "config file", reasons: [R.KubeletConfigFileInvalid], judge: judgeConfigFile },
  { name: "node labels", reasons: [R.NodeLabelNotAllowed, R.NodeLabelInvalid], judge: judgeNodeLabels },
  { name: "node status max images", reasons: [R.NodeStatusMaxImagesInvalid], judge: judgeNodeStatusMaxImages },
  { name: "dynamic config dir", reasons: [R.DynamicConfigDirWithoutFeatureGate], judge: judgeDynamicConfigDir },
  { name: "removed flags", reasons: [R.KubeletFlagRemoved], judge: judgeRemovedFlags },
  { name: "kubeconfig ignored", reasons: [R.KubeconfigIgnored], judge: judgeKubeconfigIgnored },
  { name: "kubeconfig", reasons: [R.KubeconfigMissing, R.KubeconfigUnreadable, R.KubeconfigInvalid, R.KubeconfigNoServer], judge: judgeKubeconfig },
  { name: "cgroup driver", reasons: [R.CgroupDriverMismatch, R.RuntimeConfigInvalid, R.RuntimeConfigUnreadable], judge: judgeCgroupDriver },
  { name: "swap", reasons: [R.SwapEnabledWithFailSwapOn], judge: judgeSwap },
  { name: "log location", reasons: [R.KubeletLogLocation], judge: judgeLogLocation },
];

function cgroupSummary(facts: KubeletConfigFacts): string | undefined {
  const runtime = kubeletRuntime(facts);
  if (!runtime) return undefined;
  const driver = runtimeDriver(facts, runtime);
  if (driver?.ok) return `cgroup driver matches ${driver.files}`;
  const visible = runtime === "crio" ? facts.crioConfig : containerdOf(facts);
  if (!visible) return `cgroup driver not compared (${runtime === "crio" ? "CRI-O" : "containerd"}'s config directory is not visible to node-doctor)`;
  return undefined;
}

/** Runs every rule; adds the version note and, when nothing is wrong, one ok summary. */
export function judgeKubeletConfig(facts: KubeletConfigFacts): Finding[] {
  const findings: Finding[] = [];
  if (facts.cmdlineEmpty) {
    findings.push(
      finding(
        "unknown",
        R.KubeletCmdlineUnreadable,
        `/proc/${facts.pid}/cmdline of kubelet (pid ${facts.pid}) holds only NUL bytes, so its flags cannot be read; flag rules were skipped${facts.configFiles?.file ? ` and only ${facts.configFiles.file.path} was checked` : ""}.`,
        `Look at the command line kubelet was started with: \`systemctl cat kubelet\` and \`cat /proc/${facts.pid}/status\` (a zombie or exiting process has no command line).`,
        { pid: facts.pid },
      ),
    );
  }
  for (const rule of RULES) {
    for (const found of rule.judge(facts)) {
      // Not running (crash-looping, or stopped): say where the flags were read and that this is what the next start gets.
      if (facts.unitFiles && found.severity !== "ok") {
        const files = facts.unitFiles.join(", ");
        found.message =
          facts.pid > 0
            ? `${found.message.replace(/\.$/, "")} (not yet in effect: kubelet pid ${facts.pid} runs with other flags, but its unit now starts it with these, from ${files}, at its next restart).`
            : `${found.message.replace(/\.$/, "")} (kubelet is not running; flags read from ${files}, which systemd starts it with${facts.unitUnseen ? `; ${facts.unitUnseen.join(", ")} could not be seen and may add flags` : ""}).`;
        found.evidence = { ...found.evidence, flagsFrom: facts.unitFiles };
      }
      const remedy = forDistribution(facts, found);
      if (remedy) found.remedy = remedy;
      findings.push(found);
    }
  }
  if (!facts.version) {
    findings.push(
      finding(
        "ok",
        R.KubeletVersionUnknown,
        "kubelet's version is not known (no kubelet package in dpkg's or RPM's database, no distribution record, no version stamp readable in the kubelet binary, no Node object to read nodeInfo.kubeletVersion from, no checks.kubelet-config.kubeletVersion setting); version-dependent rules assumed a current kubelet.",
        'Set checks.kubelet-config.kubeletVersion (e.g. "1.30.4") in node-doctor\'s config on hosts where kubelet was installed without a package.',
        {},
      ),
    );
  }
  if (!findings.some((f) => f.severity !== "ok")) {
    const checked = [
      facts.cmdlineEmpty ? undefined : facts.unitFiles ? `flags in ${facts.unitFiles.join(", ")}` : `flags of pid ${facts.pid}`,
      facts.configFiles?.file?.ok ? facts.configFiles.file.path : undefined,
      ...(facts.configFiles?.dropIns ?? []).filter((d) => d.ok).map((d) => d.path),
      facts.kubeconfig?.state === "ok" ? facts.kubeconfig.path : undefined,
      facts.swaps?.ok
        ? `swap ${facts.swaps.active.length > 0 ? "on (failSwapOn false)" : "off"}`
        : `swap not checked (${facts.swaps?.problem ?? "/proc/swaps not read"})`,
      cgroupSummary(facts),
    ].filter((s): s is string => s !== undefined);
    findings.push(
      finding("ok", R.KubeletConfigOk, `${versionText(facts)}: ${checked.join(", ")} pass node-doctor's configuration rules.`, undefined, {
        pid: facts.pid,
        ...(facts.version ? { version: facts.version.version.text, versionSource: facts.version.source } : {}),
      }),
    );
  }
  return findings;
}

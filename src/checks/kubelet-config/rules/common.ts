/**
 * What every kubelet-config rule shares: the facts read from the node, and
 * the words of a finding (where a flag is set, how a fix lasts on this
 * distribution).
 *
 * Precedence is kubelet's own: a command-line flag beats the same setting in
 * a --config-dir drop-in, which beats the --config file, which beats
 * kubelet's default.
 */
import type { ContainerdConfig } from "../../../node/containerd-config.js";
import type { Distribution } from "../../../node/distro/index.js";
import {
  boolSetting as sharedBoolSetting,
  configAt as sharedConfigAt,
  configSource,
  stringSetting as sharedStringSetting,
  topLevelKeyLines,
} from "../../../node/kubelet/config.js";
import type { KubeletConfigFiles, Setting } from "../../../node/kubelet/config.js";
import { parseBool } from "../../../node/kubelet/flags.js";
import type { KubeletFlags } from "../../../node/kubelet/flags.js";
import type { VersionFact } from "../../../node/kubelet/version.js";
import { shortVersion } from "../../../node/kubelet/version.js";
import type { Finding, Severity } from "../../../types.js";
import { REASONS } from "../reasons.js";

export const KUBELET_CONFIG_REASONS = REASONS.names;

export const R = KUBELET_CONFIG_REASONS;

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
export const RESTART = "then `systemctl daemon-reload && systemctl restart kubelet`";

/** "in /etc/default/kubelet" when the file setting the flag is known, else where flags live on this distribution. */
export function flagWhere(facts: KubeletConfigFacts, flag: string): string {
  const file = facts.flagFiles?.[flag];
  return file ? `in ${file}` : `(${managed(facts) ? (facts.distribution as Distribution).flagsAdvice : FLAGS_WHERE})`;
}

/** A distribution whose installer owns kubelet's files: a hand edit does not last there. */
function managed(facts: KubeletConfigFacts): boolean {
  return facts.distribution !== undefined && facts.distribution.id !== "kubeadm" && facts.distribution.id !== "unknown";
}

const RUNTIME_REASONS: ReadonlySet<string> = new Set([R.CgroupDriverMismatch, R.RuntimeConfigInvalid]);

/** The remedy as it must read on this distribution: its restart command, and how a fix is made to last there. */
export function forDistribution(facts: KubeletConfigFacts, found: Finding): string | undefined {
  const distribution = facts.distribution;
  if (!found.remedy || !distribution || !managed(facts)) return found.remedy;
  let remedy = found.remedy.replaceAll("`systemctl daemon-reload && systemctl restart kubelet`", `\`${distribution.restartKubelet}\``);
  const advice = RUNTIME_REASONS.has(found.reason) ? distribution.runtimeConfigAdvice : distribution.flagsAdvice;
  if (!remedy.includes(advice)) remedy = `${remedy.replace(/\.?$/, ".")} On ${distribution.name}: ${advice}.`;
  return remedy;
}

const CHECK = "kubelet-config";

export function finding(severity: Severity, reason: string, message: string, remedy: string | undefined, evidence: Record<string, unknown>): Finding {
  return { check: CHECK, condition: "KubeletConfigInvalid", severity, reason, message, ...(remedy ? { remedy } : {}), evidence };
}

/** pflag's strconv.ParseBool, under the name the rules' tests know. */
export const parseFlagBool = parseBool;
export { topLevelKeyLines };

export function configValue(facts: KubeletConfigFacts, key: string): unknown {
  return configSource(facts.configFiles, key)?.value;
}

export function configAt(facts: KubeletConfigFacts, key: string): string {
  return sharedConfigAt(facts.configFiles, key);
}

export function boolSetting(facts: KubeletConfigFacts, flag: string, key: string | undefined, fallback: boolean): Setting<boolean> {
  return sharedBoolSetting(facts.flags, facts.configFiles, flag, key, fallback);
}

export function stringSetting(facts: KubeletConfigFacts, flag: string, key: string | undefined): Setting<string> | undefined {
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

export function versionText(facts: KubeletConfigFacts): string {
  return facts.version ? `kubelet ${shortVersion(facts.version.version)} (from ${facts.version.source})` : "kubelet (version unknown)";
}

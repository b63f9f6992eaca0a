/**
 * What kubelet was told about tasks, read through the one kubelet reader:
 * podPidsLimit (--pod-max-pids), the pids.max kubelet writes on every pod's
 * cgroup, and the pid.available eviction thresholds (evictionHard/evictionSoft,
 * --eviction-hard/--eviction-soft; a flag replaces the config's map, as in
 * kubelet). pid.available has no default: kubelet reports PIDPressure only
 * when one is set.
 */
import { configSource, type KubeletConfigFiles } from "./config.js";
import { thresholdsFromFlag, thresholdsFromMap, type Threshold } from "./eviction.js";
import type { KubeletFlags } from "./flags.js";

export interface KubeletPidSettings {
  /** podPidsLimit when kubelet limits pods (a positive number); absent when it does not (-1, the default, or 0). */
  podPidsLimit?: number;
  /** Where podPidsLimit was set, or "kubelet's default (no limit)". */
  podPidsLimitSource: string;
  hard?: Threshold;
  soft?: Threshold;
  /** Where the hard and the soft threshold were read, for messages. */
  evictionSource: string;
  softSource: string;
  /** A podPidsLimit kubelet itself would refuse, naming where (the disk check reports broken eviction maps). */
  problems: string[];
}

export function kubeletPidSettings(setup: { flags: KubeletFlags; configFiles?: KubeletConfigFiles; configPath?: string }): KubeletPidSettings {
  const problems: string[] = [];
  let podPidsLimit: number | undefined;
  let podPidsLimitSource = "kubelet's default (no limit)";
  const flag = setup.flags.values.get("pod-max-pids");
  const fromConfig = configSource(setup.configFiles, "podPidsLimit");
  if (flag !== undefined) {
    if (!/^-?\d{1,19}$/.test(flag.trim())) problems.push(`--pod-max-pids=${flag}: not an integer`);
    else {
      podPidsLimitSource = `--pod-max-pids=${flag}`;
      if (Number(flag) > 0) podPidsLimit = Number(flag);
    }
  } else if (fromConfig) {
    const value = fromConfig.value;
    if (typeof value !== "number" || !Number.isInteger(value))
      problems.push(`${fromConfig.path} podPidsLimit: expected an integer, got ${JSON.stringify(value)}`);
    else {
      podPidsLimitSource = `podPidsLimit: ${value} in ${fromConfig.path}`;
      if (value > 0) podPidsLimit = value;
    }
  }

  const config = setup.configFiles?.merged;
  const configPath = setup.configPath ?? "kubelet's config";
  let hard: Threshold | undefined;
  let soft: Threshold | undefined;
  let evictionSource = "kubelet's defaults (no pid.available threshold)";
  let softSource = evictionSource;
  const read = (value: unknown, origin: string) => thresholdsFromMap(value, origin).pidAvailable;
  if (config?.["evictionHard"] !== undefined && config["evictionHard"] !== null) {
    hard = read(config["evictionHard"], `${configPath} evictionHard`);
    if (hard) evictionSource = `evictionHard in ${configPath}`;
  }
  if (config?.["evictionSoft"] !== undefined && config["evictionSoft"] !== null) {
    soft = read(config["evictionSoft"], `${configPath} evictionSoft`);
    if (soft) softSource = `evictionSoft in ${configPath}`;
  }
  const hardFlag = setup.flags.values.get("eviction-hard");
  if (hardFlag !== undefined) {
    hard = thresholdsFromFlag(hardFlag, "--eviction-hard").pidAvailable;
    evictionSource = "kubelet's --eviction-hard flag";
  }
  const softFlag = setup.flags.values.get("eviction-soft");
  if (softFlag !== undefined) {
    soft = thresholdsFromFlag(softFlag, "--eviction-soft").pidAvailable;
    softSource = "kubelet's --eviction-soft flag";
  }
  return {
    ...(podPidsLimit !== undefined ? { podPidsLimit } : {}),
    podPidsLimitSource,
    ...(hard ? { hard } : {}),
    ...(soft ? { soft } : {}),
    evictionSource,
    softSource,
    problems,
  };
}

/** Rule: --dynamic-config-dir without its feature gate. */
import { atLeast } from "../../../node/kubelet/version.js";
import type { KubeVersion } from "../../../node/kubelet/version.js";
import type { Finding } from "../../../types.js";
import { featureGates, finding, flagWhere, type KubeletConfigFacts, R, RESTART, versionText } from "./common.js";

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

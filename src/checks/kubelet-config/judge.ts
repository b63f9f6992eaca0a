/**
 * The kubelet-config rules run together: pure functions from what was read on
 * the node (kubelet's flags, its KubeletConfiguration and drop-ins, its
 * kubeconfig, /proc/swaps, containerd's or CRI-O's config, kubelet's version)
 * to findings. Each rule, one file under rules/, validates what makes kubelet
 * refuse to start, or start and misbehave, the way kubelet itself would — so
 * the operator hears about it before the next restart does.
 */
import type { Finding } from "../../types.js";
import { containerdOf, judgeCgroupDriver, kubeletRuntime, runtimeDriver } from "./rules/cgroup-driver.js";
import { finding, forDistribution, type KubeletConfigFacts, R, versionText } from "./rules/common.js";
import { judgeConfigFile } from "./rules/config-file.js";
import { judgeDynamicConfigDir } from "./rules/dynamic-config-dir.js";
import { judgeKubeconfigIgnored } from "./rules/kubeconfig-ignored.js";
import { judgeKubeconfig } from "./rules/kubeconfig.js";
import { judgeLogLocation } from "./rules/log-location.js";
import { judgeNodeLabels } from "./rules/node-labels.js";
import { judgeNodeStatusMaxImages } from "./rules/node-status-max-images.js";
import { judgeRemovedFlags } from "./rules/removed-flags.js";
import { judgeSwap } from "./rules/swap.js";

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

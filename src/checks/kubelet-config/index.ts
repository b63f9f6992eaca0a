/**
 * KubeletConfigInvalid: kubelet's flags, its KubeletConfiguration and its
 * kubeconfig, validated the way kubelet validates them at start, plus the
 * node facts they must agree with (swap, containerd's cgroup driver). The
 * rules live one a file in rules/, run together by judge.ts; gather.ts reads
 * what they judge.
 *
 * With no kubelet process the check says nothing: the kubelet check reports
 * that once (KubeletNotRunning or NotAKubernetesNode).
 *
 * kubelet's version decides several rules. The binary's version is not
 * readable without running it, so it comes from, in order: the
 * `kubeletVersion` setting (an operator's override), the host's package
 * database (the binary kubelet runs at its next start, even after an upgrade
 * that has not restarted it yet), and the Node's status.nodeInfo.kubeletVersion
 * (what the running kubelet reported; absent when it never registered, as in
 * the unregistered node, docs/incidents.md). The Node is read at most once per kubelet process.
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, optional, string, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { parseKubeVersion } from "../../node/kubelet/version.js";
import type { Check, Finding } from "../../types.js";
import { defineCheck } from "../define.js";
import { gatherKubeletConfig, newKubeletConfigMemory } from "./gather.js";
import { judgeKubeletConfig } from "./judge.js";
import { REASONS } from "./reasons.js";
import { KUBELET_CONFIG_REASONS } from "./rules/common.js";

export { KUBELET_CONFIG_REASONS };

function versionCheck(value: string): string | undefined {
  return parseKubeVersion(value) ? undefined : `expected a Kubernetes version such as "1.30.4", got ${JSON.stringify(value)}`;
}

export const kubeletConfigSettings = checkSettings(
  { intervalSeconds: 60, timeoutSeconds: 10 },
  {
    /** kubelet's version when neither the package database nor the Node says it (kubelet installed from a tarball). */
    kubeletVersion: optional(string({ check: versionCheck })),
    /** containerd's configuration, compared with kubelet's cgroup driver; by default the distribution's (/etc/containerd/config.toml, k3s's under /var/lib/rancher). */
    containerdConfigPath: optional(string({ check: absolutePath })),
    /** CRI-O's configuration; drop-ins are read from "<path>.d". */
    crioConfigPath: withDefault(string({ check: absolutePath }), "/etc/crio/crio.conf"),
  },
);

export type KubeletConfigSettings = Infer<typeof kubeletConfigSettings>;

export interface KubeletConfigCheckDeps {
  kubelet: KubeletLocator;
}

export function createKubeletConfigCheck(settings: KubeletConfigSettings, deps: KubeletConfigCheckDeps): Check {
  const memory = newKubeletConfigMemory(settings);

  return {
    name: "kubelet-config",
    conditions: ["KubeletConfigInvalid"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx): Promise<Finding[]> {
      const gathered = await gatherKubeletConfig(ctx, settings, deps.kubelet, memory);
      if (!gathered) return [];
      const findings = judgeKubeletConfig(gathered.running);
      if (!gathered.pending) return findings;
      // The unit was edited since kubelet started: what its next start gets may fail where the running one passed.
      const known = new Set(findings.map((f) => f.reason));
      const pending = judgeKubeletConfig(gathered.pending).filter((f) => f.severity !== "ok" && !known.has(f.reason));
      if (pending.length === 0) return findings;
      return [...findings.filter((f) => f.reason !== KUBELET_CONFIG_REASONS.KubeletConfigOk), ...pending];
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const kubeletConfigCheck = defineCheck({ settings: kubeletConfigSettings, create: createKubeletConfigCheck, reasons: REASONS });

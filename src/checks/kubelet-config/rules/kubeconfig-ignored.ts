/** Rule: a --kubeconfig that an old kubelet ignores without --require-kubeconfig (the unregistered node, docs/incidents.md). */
import { atLeast } from "../../../node/kubelet/version.js";
import type { Finding } from "../../../types.js";
import { finding, flagWhere, type KubeletConfigFacts, parseFlagBool, R, RESTART, versionText } from "./common.js";
import { shellQuote } from "../../../text/shell.js";

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
      `Add --require-kubeconfig to kubelet's flags, next to --kubeconfig ${flagWhere(facts, "kubeconfig")}, ${RESTART}; the node then registers (\`kubectl get node ${facts.nodeName === undefined ? "<node>" : shellQuote(facts.nodeName)}\`). Better, upgrade kubelet to 1.8 or later, where --kubeconfig alone is enough.`,
      { flag: "kubeconfig", value: facts.kubeconfig.path, version: version.text, versionSource: facts.version?.source },
    ),
  ];
}

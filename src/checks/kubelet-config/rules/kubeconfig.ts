/** Rule: kubelet's kubeconfig: present, readable, valid, with a server. */
import { readKubeconfigText } from "../../../node/kubelet/kubeconfig.js";
import type { Finding } from "../../../types.js";
import { type FileFact, finding, flagWhere, type KubeletConfigFacts, R, RESTART } from "./common.js";
import { sh } from "../../../text/shell.js";

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
        `Make ${file.path} a readable file for root (\`${sh`ls -l ${file.path}`}\`), ${RESTART}.`,
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

/** Rule: the KubeletConfiguration file itself parses, and the keys the rules read have the type kubelet insists on. */
import type { LoadedDocument } from "../../../node/kubelet/config.js";
import type { Finding } from "../../../types.js";
import { finding, type KubeletConfigFacts, R, RESTART } from "./common.js";
import { sh } from "../../../text/shell.js";

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
        `Mount ${dir} read-only into the node-doctor pod (the chart mounts the node's / unless hostRootFsMount.enabled is false; then add it to hostPaths), or check on the node: \`${sh`ls -l ${file.path}`}\`.`,
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

/** Rule: --node-labels: kubelet refuses labels outside its allowed namespaces, and invalid ones. */
import { atLeast } from "../../../node/kubelet/version.js";
import type { Finding } from "../../../types.js";
import { finding, flagWhere, type KubeletConfigFacts, R, RESTART, versionText } from "./common.js";
import { shellQuote } from "../../../text/shell.js";

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
    // <node> stays a placeholder to fill in; a value read from the node is one quoted word.
    const node = facts.nodeName === undefined ? "<node>" : shellQuote(facts.nodeName);
    const labelCommands = forbidden.map((l) => `\`kubectl label node ${node} ${shellQuote(`${l.key}=${l.value}`)}\``).join(", ");
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

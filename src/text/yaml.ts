/**
 * YAML from files node-doctor does not control (kubelet's config, kubeconfigs,
 * its own config): aliases bounded so a "billion laughs" document cannot
 * expand, and the library's warnings kept off stderr — a problem with the
 * document is reported by the caller, naming the path, or not at all.
 */
import { parse } from "yaml";

export function parseUntrustedYaml(text: string): unknown {
  return parse(text, { maxAliasCount: 100, logLevel: "error" });
}

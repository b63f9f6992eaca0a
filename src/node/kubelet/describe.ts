/**
 * What `node-doctor check` says about the node before its findings: which
 * installer built it and which kubelet it runs, each with where that was
 * read, so a reader can tell a wrong guess from a wrong node.
 */
import type { KubeletLocator } from "./locator.js";

export interface NodeDescription {
  distribution: { id: string; name: string; evidence: string[] };
  kubelet: { version?: string; source?: string; pid?: number; embedded?: boolean };
}

export async function describeNode(locator: KubeletLocator, signal?: AbortSignal): Promise<NodeDescription> {
  const setup = await locator.locate(signal);
  const version = await locator.localVersion(setup, signal);
  const { id, name, evidence } = setup.distribution;
  return {
    distribution: { id, name, evidence },
    kubelet: {
      ...(version ? { version: version.version.text, source: version.source } : {}),
      ...(setup.process ? { pid: setup.process.pid } : {}),
      ...(setup.embedded ? { embedded: true } : {}),
    },
  };
}

/** One line for the text report's header. */
export function describeLine(about: NodeDescription): string {
  const d = about.distribution;
  const where = d.evidence.length > 0 ? ` (from ${d.evidence.slice(0, 2).join(", ")})` : " (no installer's files found)";
  const k = about.kubelet;
  const kubelet = k.version
    ? `kubelet ${k.version} (from ${k.source})`
    : "kubelet version unknown (no package, distribution record or version stamp in the binary)";
  return `distribution: ${d.name}${where}; ${kubelet}`;
}

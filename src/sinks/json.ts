/** `node-doctor check --output json`: `{"node": {...}, "findings": Finding[]}`, worst first. */
import type { Finding } from "../types.js";
import { sortFindings } from "../engine/state.js";
import type { NodeDescription } from "../node/kubelet/describe.js";

export function renderJson(findings: readonly Finding[], extra: { node?: NodeDescription & { name: string } } = {}): string {
  return JSON.stringify({ ...extra, findings: sortFindings(findings) }, null, 2) + "\n";
}

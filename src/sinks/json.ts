/** `node-doctor check --output json`: `{"findings": Finding[]}`, worst first. */
import type { Finding } from "../types.js";
import { sortFindings } from "../engine/state.js";

export function renderJson(findings: readonly Finding[]): string {
  return JSON.stringify({ findings: sortFindings(findings) }, null, 2) + "\n";
}

/**
 * node-doctor's own Prometheus registry (no global registry), with
 * the `node` label on every series so a fleet's series stay apart.
 */
import { Registry } from "./prometheus.js";
import type { Finding } from "../types.js";

export function createRegistry(nodeName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeName });
  return registry;
}

/** Updates the series of one check's evidence; owned by the metrics sink. */
export interface CheckMetrics {
  readonly check: string;
  update(findings: readonly Finding[]): void;
}

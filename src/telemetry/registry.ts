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

/** A check's own series (its folder's metrics.ts), updated from each run that could look. */
export interface CheckMetrics {
  update(findings: readonly Finding[]): void;
}

/** Registers a check's series on the agent's registry; listed beside the check in checks/index.ts. */
export type CheckMetricsFactory = (registry: Registry) => CheckMetrics;

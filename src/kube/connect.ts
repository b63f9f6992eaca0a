/**
 * Connects to the API server when the agent has credentials (a kubeconfig, or
 * the in-cluster service account) and returns what the rest of the agent
 * needs from it. Without credentials the agent runs locally: checks that need
 * the API report unknown and the API sinks are off. Connecting sends nothing:
 * the agent starts the same whether the API server is up or not.
 */
import type { Registry } from "../telemetry/prometheus.js";
import type { ClusterReader, Clock, Log, Sink } from "../types.js";
import { KubeClient } from "./client.js";
import { inClusterCredentials, kubeconfigCredentials } from "./credentials.js";
import { createApiMetrics } from "./metrics.js";
import { KubeClusterReader } from "./reader.js";
import { Transport, type Credentials } from "./transport.js";
import { DEFAULT_KUBERNETES_SETTINGS, type KubernetesSettings } from "../config/config.js";

export interface ClusterConnection {
  reader?: ClusterReader;
  /** The client, for sinks and commands that write. */
  client?: KubeClient;
  sinks: Sink[];
  close(): Promise<void>;
}

export interface ConnectOptions {
  kubeconfig?: string;
  nodeName?: string;
  log: Log;
  /** Where the API metrics go; none without it. */
  registry?: Registry;
  clock?: Clock;
  settings?: KubernetesSettings;
  /** Builds the sinks that write to the API (conditions, events); none without it. */
  sinks?: (client: KubeClient, nodeName: string) => Sink[];
  /** For tests: the environment and service account directory in-cluster config reads. */
  env?: NodeJS.ProcessEnv;
  serviceAccountDir?: string;
}

/** Credentials from --kubeconfig, else in-cluster, else undefined (local mode). */
export async function resolveCredentials(options: {
  kubeconfig?: string;
  env?: NodeJS.ProcessEnv;
  serviceAccountDir?: string;
}): Promise<Credentials | undefined> {
  if (options.kubeconfig) return kubeconfigCredentials(options.kubeconfig);
  return inClusterCredentials(options.env, options.serviceAccountDir);
}

export function createClient(credentials: Credentials, options: { timeoutMs: number; registry?: Registry; now?: () => number }): KubeClient {
  const metrics = options.registry ? createApiMetrics(options.registry) : undefined;
  return new KubeClient(
    new Transport(credentials, {
      timeoutMs: options.timeoutMs,
      ...(options.now ? { now: options.now } : {}),
      ...(metrics ? { observe: metrics.observe } : {}),
    }),
  );
}

export async function connectToCluster(options: ConnectOptions): Promise<ClusterConnection> {
  const credentials = await resolveCredentials(options);
  if (!credentials) {
    options.log.info({}, "no API server configured (no --kubeconfig, not in a pod): running locally; NodeConditions and Events are off");
    return { sinks: [], close: async () => undefined };
  }
  const nodeName = options.nodeName;
  if (!nodeName) throw new Error("the node's name is unknown: set NODE_NAME (downward API) or --node-name");
  const settings = options.settings ?? DEFAULT_KUBERNETES_SETTINGS;
  const clock = options.clock;
  const client = createClient(credentials, {
    timeoutMs: settings.requestTimeoutSeconds * 1000,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(clock ? { now: () => clock.now() } : {}),
  });
  options.log.info({ server: credentials.server, credentials: credentials.origin, node: nodeName }, "using the API server");
  const sinks = options.sinks?.(client, nodeName) ?? [];
  return {
    reader: new KubeClusterReader(client, nodeName),
    client,
    sinks,
    async close() {
      client.close();
    },
  };
}

/**
 * The real client and ClusterReader, pointed at a FakeApiServer through a
 * kubeconfig it wrote: what checks' tests pass as `ctx.cluster`.
 *
 *   const api = await FakeApiServer.start();
 *   api.seedNode("node-1");
 *   const { reader, close } = await kubeReaderFor(api, "node-1");   // after(close)
 *   await checkOnce(checkContext(root, { cluster: reader }));
 */
import type { Registry } from "../../src/telemetry/prometheus.js";
import type { KubeClient } from "../../src/kube/client.js";
import { createClient } from "../../src/kube/connect.js";
import { kubeconfigCredentials } from "../../src/kube/credentials.js";
import { KubeClusterReader } from "../../src/kube/reader.js";
import type { ClusterReader } from "../../src/types.js";
import type { FakeApiServer } from "./fake-apiserver.js";

export async function kubeClientFor(
  api: FakeApiServer,
  options: { auth?: "token" | "cert"; timeoutMs?: number; registry?: Registry; now?: () => number } = {},
): Promise<{ client: KubeClient; kubeconfig: string; close: () => void }> {
  const kubeconfig = await api.writeKubeconfig(await api.scratchDir(), { auth: options.auth ?? "token" });
  const client = createClient(await kubeconfigCredentials(kubeconfig), {
    timeoutMs: options.timeoutMs ?? 5_000,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { client, kubeconfig, close: () => client.close() };
}

export async function kubeReaderFor(
  api: FakeApiServer,
  nodeName: string,
  options: { auth?: "token" | "cert"; timeoutMs?: number } = {},
): Promise<{ reader: ClusterReader; client: KubeClient; close: () => void }> {
  const { client, close } = await kubeClientFor(api, options);
  return { reader: new KubeClusterReader(client, nodeName), client, close };
}

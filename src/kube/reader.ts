/**
 * ClusterReader (src/types.ts) on the small client: what checks read about
 * their own node. Methods throw ApiError when the API server could not be
 * asked; the engine turns that into an unknown finding.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { ApiTiming, ClusterReader } from "../types.js";
import type { KubeClient } from "./client.js";

export const NODE_LEASE_NAMESPACE = "kube-node-lease";

export class KubeClusterReader implements ClusterReader {
  constructor(
    private readonly client: KubeClient,
    readonly nodeName: string,
  ) {}

  // Checks read periodically from every node: from the API server's watch cache, not etcd.
  getNode(signal: AbortSignal): Promise<{ node: Node | null; timing: ApiTiming }> {
    return this.client.getNode(this.nodeName, signal, { fromCache: true });
  }

  getLease(signal: AbortSignal): Promise<{ lease: Lease | null; timing: ApiTiming }> {
    return this.client.getLease(NODE_LEASE_NAMESPACE, this.nodeName, signal, { fromCache: true });
  }

  async probeTime(signal: AbortSignal): Promise<ApiTiming> {
    return (await this.client.version(signal)).timing;
  }

  async getKubernetesService(signal: AbortSignal): Promise<{ service: Service; endpointSlices: EndpointSlice[] } | null> {
    // The API servers write both themselves, named "kubernetes": two GETs by name, which RBAC can grant by resourceNames.
    const [service, slice] = await Promise.all([
      this.client.getService("default", "kubernetes", signal, { fromCache: true }),
      this.client.getEndpointSlice("default", "kubernetes", signal, { fromCache: true }),
    ]);
    if (!service) return null;
    return { service, endpointSlices: slice ? [slice] : [] };
  }
}

/**
 * The few API calls node-doctor makes, typed with kubernetes-types and
 * checked at the edge: a response whose shape is wrong is an ApiError, never
 * a cast that fails later.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Event as CoreEvent, Node, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { ApiTiming } from "../types.js";
import { FIELD_MANAGER } from "./ownership.js";
import { ApiError, type ApiVerb, type Transport } from "./transport.js";
import { isRecord } from "../types.js";

export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
export const MERGE_PATCH = "application/merge-patch+json";

/** Every write names node-doctor's field manager, so managedFields tell its fields from anyone else's. */
const WRITE_QUERY = { fieldManager: FIELD_MANAGER };

function hasMetadataName(value: unknown): value is { metadata: { name: string } } {
  return isRecord(value) && isRecord(value["metadata"]) && typeof value["metadata"]["name"] === "string";
}

/** A Node: metadata.name, and status.conditions (when present) a list of {type, status} objects. */
export function isNode(value: unknown): value is Node {
  if (!hasMetadataName(value)) return false;
  const status = (value as Record<string, unknown>)["status"];
  if (status === undefined) return true;
  if (!isRecord(status)) return false;
  const conditions = status["conditions"];
  if (conditions === undefined || conditions === null) return true;
  return Array.isArray(conditions) && conditions.every((c) => isRecord(c) && typeof c["type"] === "string" && typeof c["status"] === "string");
}

export function isLease(value: unknown): value is Lease {
  if (!hasMetadataName(value)) return false;
  const spec = (value as Record<string, unknown>)["spec"];
  return spec === undefined || isRecord(spec);
}

export function isEvent(value: unknown): value is CoreEvent {
  return hasMetadataName(value) && isRecord((value as Record<string, unknown>)["involvedObject"]);
}

/** A Service: metadata.name and a spec (clusterIP and ports, when present, of the right kinds). */
export function isService(value: unknown): value is Service {
  if (!hasMetadataName(value)) return false;
  const spec = (value as Record<string, unknown>)["spec"];
  if (spec === undefined) return true;
  if (!isRecord(spec)) return false;
  const ports = spec["ports"];
  return (
    (spec["clusterIP"] === undefined || typeof spec["clusterIP"] === "string") &&
    (ports === undefined || (Array.isArray(ports) && ports.every((p) => isRecord(p) && typeof p["port"] === "number")))
  );
}

/** An EndpointSlice: addressType and an endpoints list whose entries carry address lists. */
export function isEndpointSlice(value: unknown): value is EndpointSlice {
  if (!hasMetadataName(value)) return false;
  const slice = value as Record<string, unknown>;
  const endpoints = slice["endpoints"];
  return (
    typeof slice["addressType"] === "string" &&
    (endpoints === undefined || endpoints === null || (Array.isArray(endpoints) && endpoints.every((e) => isRecord(e) && Array.isArray(e["addresses"]))))
  );
}

function expect<T>(body: unknown, guard: (v: unknown) => v is T, what: string, verb: ApiVerb, resource: string): T {
  if (guard(body)) return body;
  throw new ApiError(0, "InvalidResponse", `the API server's answer is not a valid ${what}`, verb, resource);
}

export interface ListOptions {
  limit?: number;
  continueToken?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export class KubeClient {
  private readonly nodeReaders = new Set<(node: Node) => void>();

  constructor(readonly transport: Transport) {}

  /** Tells `listener` about every Node a GET returns (the conditions sink notices tampering in the checks' reads). */
  onNodeRead(listener: (node: Node) => void): void {
    this.nodeReaders.add(listener);
  }

  /**
   * GET a Node. `fromCache` asks with resourceVersion=0: the API server answers
   * from its watch cache instead of a quorum read of etcd — what periodic reads
   * from every node should cost, at the price of milliseconds of staleness.
   */
  async getNode(name: string, signal?: AbortSignal, options: { fromCache?: boolean } = {}): Promise<{ node: Node | null; timing: ApiTiming }> {
    try {
      const res = await this.transport.request({
        verb: "get",
        resource: "nodes",
        method: "GET",
        path: `/api/v1/nodes/${encodeURIComponent(name)}`,
        ...(options.fromCache ? { query: { resourceVersion: "0" } } : {}),
        ...(signal ? { signal } : {}),
      });
      const node = expect(res.body, isNode, "Node", "get", "nodes");
      for (const listener of this.nodeReaders) listener(node);
      return { node, timing: res.timing };
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { node: null, timing: error.timing ?? { sentAtMs: 0, receivedAtMs: 0 } };
      throw error;
    }
  }

  async listNodes(options: ListOptions = {}, signal?: AbortSignal): Promise<{ items: Node[]; continueToken?: string; remainingItemCount?: number }> {
    const query: Record<string, string> = {};
    if (options.limit) query["limit"] = String(options.limit);
    if (options.continueToken) query["continue"] = options.continueToken;
    if (options.labelSelector) query["labelSelector"] = options.labelSelector;
    if (options.fieldSelector) query["fieldSelector"] = options.fieldSelector;
    const res = await this.transport.request({ verb: "list", resource: "nodes", method: "GET", path: "/api/v1/nodes", query, ...(signal ? { signal } : {}) });
    const body = res.body;
    if (!isRecord(body) || !Array.isArray(body["items"]) || !body["items"].every(isNode)) {
      throw new ApiError(0, "InvalidResponse", "the API server's answer is not a valid NodeList", "list", "nodes");
    }
    const meta = isRecord(body["metadata"]) ? body["metadata"] : {};
    const next = typeof meta["continue"] === "string" && meta["continue"] ? meta["continue"] : undefined;
    const remaining = meta["remainingItemCount"];
    return {
      items: body["items"] as Node[],
      ...(next ? { continueToken: next } : {}),
      ...(typeof remaining === "number" && Number.isInteger(remaining) && remaining >= 0 ? { remainingItemCount: remaining } : {}),
    };
  }

  /** PATCH nodes/<name>/status; a strategic merge patch unless told otherwise. */
  async patchNodeStatus(name: string, patch: unknown, options: { signal?: AbortSignal; contentType?: string } = {}): Promise<Node> {
    const res = await this.transport.request({
      verb: "patch",
      resource: "nodes/status",
      method: "PATCH",
      path: `/api/v1/nodes/${encodeURIComponent(name)}/status`,
      query: WRITE_QUERY,
      body: patch,
      contentType: options.contentType ?? STRATEGIC_MERGE_PATCH,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return expect(res.body, isNode, "Node", "patch", "nodes/status");
  }

  async createEvent(namespace: string, event: CoreEvent, signal?: AbortSignal): Promise<CoreEvent> {
    const res = await this.transport.request({
      verb: "create",
      resource: "events",
      method: "POST",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      query: WRITE_QUERY,
      body: event,
      ...(signal ? { signal } : {}),
    });
    return expect(res.body, isEvent, "Event", "create", "events");
  }

  async patchEvent(namespace: string, name: string, patch: unknown, signal?: AbortSignal): Promise<CoreEvent> {
    const res = await this.transport.request({
      verb: "patch",
      resource: "events",
      method: "PATCH",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events/${encodeURIComponent(name)}`,
      query: WRITE_QUERY,
      body: patch,
      contentType: STRATEGIC_MERGE_PATCH,
      ...(signal ? { signal } : {}),
    });
    return expect(res.body, isEvent, "Event", "patch", "events");
  }

  async listEvents(namespace: string | undefined, fieldSelector: string | undefined, signal?: AbortSignal): Promise<CoreEvent[]> {
    const res = await this.transport.request({
      verb: "list",
      resource: "events",
      method: "GET",
      path: namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/events` : "/api/v1/events",
      ...(fieldSelector ? { query: { fieldSelector } } : {}),
      ...(signal ? { signal } : {}),
    });
    const body = res.body;
    if (!isRecord(body) || !Array.isArray(body["items"]) || !body["items"].every(isEvent)) {
      throw new ApiError(0, "InvalidResponse", "the API server's answer is not a valid EventList", "list", "events");
    }
    return body["items"] as CoreEvent[];
  }

  /** GET a Lease; `fromCache` as for getNode. */
  async getLease(
    namespace: string,
    name: string,
    signal?: AbortSignal,
    options: { fromCache?: boolean } = {},
  ): Promise<{ lease: Lease | null; timing: ApiTiming }> {
    try {
      const res = await this.transport.request({
        verb: "get",
        resource: "leases",
        method: "GET",
        path: `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`,
        ...(options.fromCache ? { query: { resourceVersion: "0" } } : {}),
        ...(signal ? { signal } : {}),
      });
      return { lease: expect(res.body, isLease, "Lease", "get", "leases"), timing: res.timing };
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { lease: null, timing: error.timing ?? { sentAtMs: 0, receivedAtMs: 0 } };
      throw error;
    }
  }

  private leasePath(namespace: string, name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** The Leases of a namespace, by label selector (a quorum read: slots are counted from it). */
  async listLeases(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<Lease[]> {
    const res = await this.transport.request({
      verb: "list",
      resource: "leases",
      method: "GET",
      path: this.leasePath(namespace),
      query: { labelSelector },
      ...(signal ? { signal } : {}),
    });
    const body = res.body;
    if (!isRecord(body) || !Array.isArray(body["items"]) || !body["items"].every(isLease)) {
      throw new ApiError(0, "InvalidResponse", "the API server's answer is not a valid LeaseList", "list", "leases");
    }
    return body["items"] as Lease[];
  }

  /** POST a Lease: 409 AlreadyExists (an ApiError) when the name is taken, which is how a slot is found held. */
  async createLease(namespace: string, lease: Lease, signal?: AbortSignal): Promise<Lease> {
    const res = await this.transport.request({
      verb: "create",
      resource: "leases",
      method: "POST",
      path: this.leasePath(namespace),
      query: WRITE_QUERY,
      body: lease,
      ...(signal ? { signal } : {}),
    });
    return expect(res.body, isLease, "Lease", "create", "leases");
  }

  /** PUT a Lease with its metadata.resourceVersion: 409 Conflict when someone else wrote it since it was read. */
  async updateLease(namespace: string, lease: Lease & { metadata: { name: string } }, signal?: AbortSignal): Promise<Lease> {
    const res = await this.transport.request({
      verb: "update",
      resource: "leases",
      method: "PUT",
      path: this.leasePath(namespace, lease.metadata.name),
      query: WRITE_QUERY,
      body: lease,
      ...(signal ? { signal } : {}),
    });
    return expect(res.body, isLease, "Lease", "update", "leases");
  }

  /** DELETE a Lease only if it is still at `resourceVersion` (409 otherwise); a Lease already gone is not an error. */
  async deleteLease(namespace: string, name: string, resourceVersion: string | undefined, signal?: AbortSignal): Promise<void> {
    try {
      await this.transport.request({
        verb: "delete",
        resource: "leases",
        method: "DELETE",
        path: this.leasePath(namespace, name),
        body: { kind: "DeleteOptions", apiVersion: "v1", ...(resourceVersion ? { preconditions: { resourceVersion } } : {}) },
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return;
      throw error;
    }
  }

  /** GET a Service; null when it does not exist. `fromCache` as for getNode. */
  async getService(namespace: string, name: string, signal?: AbortSignal, options: { fromCache?: boolean } = {}): Promise<Service | null> {
    try {
      const res = await this.transport.request({
        verb: "get",
        resource: "services",
        method: "GET",
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`,
        ...(options.fromCache ? { query: { resourceVersion: "0" } } : {}),
        ...(signal ? { signal } : {}),
      });
      return expect(res.body, isService, "Service", "get", "services");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** GET an EndpointSlice; null when it does not exist. `fromCache` as for getNode. */
  async getEndpointSlice(namespace: string, name: string, signal?: AbortSignal, options: { fromCache?: boolean } = {}): Promise<EndpointSlice | null> {
    try {
      const res = await this.transport.request({
        verb: "get",
        resource: "endpointslices",
        method: "GET",
        path: `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices/${encodeURIComponent(name)}`,
        ...(options.fromCache ? { query: { resourceVersion: "0" } } : {}),
        ...(signal ? { signal } : {}),
      });
      return expect(res.body, isEndpointSlice, "EndpointSlice", "get", "endpointslices");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** GET /version: cheap, cacheable by nobody, and its Date header is the server's clock. */
  async version(signal?: AbortSignal): Promise<{ gitVersion?: string; timing: ApiTiming }> {
    const res = await this.transport.request({ verb: "get", resource: "version", method: "GET", path: "/version", ...(signal ? { signal } : {}) });
    const gitVersion = isRecord(res.body) && typeof res.body["gitVersion"] === "string" ? res.body["gitVersion"] : undefined;
    return { ...(gitVersion ? { gitVersion } : {}), timing: res.timing };
  }

  close(): void {
    this.transport.close();
  }
}

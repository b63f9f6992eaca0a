/**
 * A faithful stand-in for kube-apiserver, for tests and benches (no
 * kube-apiserver binary exists on these machines). Real HTTPS on 127.0.0.1
 * with a CA minted by openssl at start, bearer-token and client-certificate
 * authentication, and the resources node-doctor and kubectl use, answered the
 * way the real API server answers them.
 *
 * Usage:
 *
 *   const api = await FakeApiServer.start();            // after(() => api.close())
 *   api.seedNode("node-1");                             // a Node with kubelet's own conditions
 *   api.seedLease("node-1", { renewTime: new Date() }); // kube-node-lease/node-1
 *   api.seedKubernetesService({ clusterIP: "10.96.0.1", endpoints: ["10.0.0.5"] }); // default/kubernetes and its EndpointSlice
 *   const kubeconfig = await api.writeKubeconfig(await api.scratchDir()); // token auth; { auth: "cert" } for a client cert
 *   const reader = await kubeReaderFor(api, "node-1");   // test/support: a real ClusterReader
 *   api.fault({ resource: "nodes/status", verb: "patch" }, { status: 429, retryAfterSeconds: 7, times: 1 });
 *   api.setDown(true);                                   // every connection is reset
 *   api.clockSkewMs = 5_000;                             // the Date header runs 5 s ahead
 *   api.requests                                         // what was asked, in order, with the answer's status
 *   api.node("node-1")                                   // the stored Node (a copy)
 *   api.patchStatusAs("node-problem-detector", "node-1", patch) // another client writes the Node's status
 *   api.admission = (node) => node;                     // a mutating webhook: the Node stored instead
 *   api.proxy = (body, request) => body;                 // a proxy rewriting every successful answer
 *
 * Served:
 *   GET  /version, /api, /apis, /api/v1, /apis/<group>/<version> (discovery; /openapi/* is 404)
 *   GET  /api/v1/nodes (limit/continue paging, labelSelector, fieldSelector metadata.name)
 *   GET  /api/v1/nodes/<name>, GET|PATCH /api/v1/nodes/<name>/status (and PATCH /api/v1/nodes/<name>)
 *   GET  /api/v1/events, /api/v1/namespaces/<ns>/events (fieldSelector, e.g. involvedObject.name=node-1)
 *   POST /api/v1/namespaces/<ns>/events, GET|PATCH /api/v1/namespaces/<ns>/events/<name>
 *   GET  /apis/coordination.k8s.io/v1/namespaces/<ns>/leases/<name> (and the list, labelSelector)
 *   POST /apis/coordination.k8s.io/v1/namespaces/<ns>/leases (409 AlreadyExists when the name is taken),
 *   PUT  …/leases/<name> (409 Conflict when metadata.resourceVersion is not the stored one; none: unconditional,
 *        as Leases allow), DELETE …/leases/<name> (DeleteOptions preconditions.resourceVersion/uid: 409 when stale)
 *   GET  /api/v1/namespaces/<ns>/services/<name>, /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices[/<name>] (labelSelector)
 *   GET  /api/v1/pods, /api/v1/namespaces/<ns>/pods (labelSelector, fieldSelector spec.nodeName; kubectl describe node asks)
 *   GET  /api/v1/namespaces/<ns>/pods/<name>:<port>/proxy/<path> (answered by `podProxy`; 503 as the real proxy when it is unset)
 *
 * PATCH accepts application/strategic-merge-patch+json (lists with a merge key,
 * such as status.conditions by `type`, are merged per key; `$patch: delete`
 * removes an element; `$setElementOrder/…` directives are accepted; null
 * deletes a field), application/merge-patch+json (RFC 7386) and
 * application/json-patch+json (RFC 6902). Every write bumps the object's
 * resourceVersion; a patch naming an older resourceVersion gets 409. Times in
 * conditions are stored at one-second precision, as the real server stores
 * them. Errors are metav1.Status bodies.
 *
 * Node writes keep metadata.managedFields as the API server's field manager
 * does for Update operations (updateManagedFields): one entry per manager
 * (`?fieldManager=`, else the User-Agent up to its first "/"), operation and
 * subresource; a condition's "." belongs to whoever added it; changed fields
 * move to the writer. Seeded Nodes carry kubelet's entry, and one per other
 * condition writer (seedNode's `managers`).
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Event as CoreEvent, Node, NodeCondition, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { ManagedFieldsEntry } from "kubernetes-types/meta/v1.js";

// ---------------------------------------------------------------- certificates

export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA: the server must reject it. */
  strangerCert: string;
  strangerKey: string;
}

let pkiCache: TestPki | undefined;

/** Mints (once per process) a CA, a server cert for 127.0.0.1/localhost and client certs, with openssl. */
export function testPki(): TestPki {
  if (pkiCache) return pkiCache;
  const dir = mkdtempSync(join(tmpdir(), "nd-pki-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    run(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=fake-kubernetes-ca"]);
    run(["req", "-x509", ...ec, "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "3650", "-subj", "/CN=stranger-ca"]);
    writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n");
    writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
    const leaf = (name: string, subject: string, ca: string, ext: string) => {
      run(["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
      run([
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${ca}.crt`,
        "-CAkey",
        `${ca}.key`,
        "-CAcreateserial",
        "-out",
        `${name}.crt`,
        "-days",
        "3650",
        "-extfile",
        ext,
      ]);
    };
    leaf("server", "/CN=kube-apiserver", "ca", "server.ext");
    leaf("client", "/O=system:nodes/CN=system:node:node-doctor-test", "ca", "client.ext");
    leaf("stranger", "/O=system:nodes/CN=system:node:stranger", "other-ca", "client.ext");
    const read = (file: string) => readFileSync(join(dir, file), "utf8");
    pkiCache = {
      caCert: read("ca.crt"),
      serverCert: read("server.crt"),
      serverKey: read("server.key"),
      clientCert: read("client.crt"),
      clientKey: read("client.key"),
      strangerCert: read("stranger.crt"),
      strangerKey: read("stranger.key"),
    };
    return pkiCache;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl could not mint the fake API server's certificates (is openssl installed? scripts/test-setup.sh): ${stderr || String(error)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- types

export type Verb = "get" | "list" | "create" | "patch" | "update" | "delete";
/** Resource names as the client's metrics label them: "nodes", "nodes/status", "events", "leases", "version", "discovery", "pods". */
export type Resource = string;

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  verb: Verb;
  resource: Resource;
  namespace?: string;
  name?: string;
  contentType?: string;
  /** The parsed JSON body of writes. */
  body?: unknown;
  /** "token" or the client certificate's CN; undefined when unauthenticated. */
  user?: string;
  /** Impersonate-User and Impersonate-Group, when the client acts as another user (kubeconfig `as`). */
  impersonating?: { user: string; groups: string[] };
  /** Writes: the field manager the server recorded (`?fieldManager=`, else from the User-Agent). */
  fieldManager?: string;
  status: number;
  /** Date.now() when the request arrived. */
  atMs: number;
}

export interface RouteMatch {
  verb?: Verb;
  resource?: Resource;
  name?: string;
}

export interface Fault {
  /** Answer with this status and a metav1.Status body. */
  status?: 401 | 403 | 404 | 409 | 429 | 500 | 503;
  /** Sent as Retry-After (seconds) with 429/503. */
  retryAfterSeconds?: number;
  /** Wait this long (real time) before answering (normally or with `status`). */
  delayMs?: number;
  /** Never answer; the connection stays open until the client gives up. */
  hang?: boolean;
  /** Answer 200 with this text as the body, whatever it is (a hostile server or proxy: garbage, a deeply nested document). */
  rawBody?: string;
  /** How many matching requests it applies to (default: all, until clearFaults). */
  times?: number;
}

export interface FakeApiServerOptions {
  /** Bearer token accepted (default "fake-token"). */
  token?: string;
  /** The server's idea of now (default Date.now); the Date header adds clockSkewMs. */
  now?: () => number;
}

interface StoredFault extends Fault {
  match: RouteMatch;
  remaining: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

/** Merge keys of the lists node-doctor and kubectl patch (from the Kubernetes API's patchMergeKey tags). */
const MERGE_KEYS: Record<string, string> = {
  "status.conditions": "type",
  "status.addresses": "type",
  "status.images": "names",
  "status.volumesAttached": "name",
  "spec.taints": "key",
  "metadata.ownerReferences": "uid",
};

// ---------------------------------------------------------------- patches

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Like isObject, without narrowing a typed value to Json. */
function isPlainObject(value: unknown): boolean {
  return isObject(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** RFC 7386. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key] ?? null, value);
  }
  return out;
}

/** Strategic merge patch, for the list merge keys in MERGE_KEYS (other lists are replaced). */
export function strategicMergePatch(target: Json, patch: Json, path = ""): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch["$patch"] === "delete") return null;
  if (patch["$patch"] === "replace") {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$setElementOrder/") || key === "$retainKeys" || key === "$patch") continue;
    if (key.startsWith("$deleteFromPrimitiveList/")) continue;
    const childPath = path ? `${path}.${key}` : key;
    if (value === null) {
      delete out[key];
      continue;
    }
    const mergeKey = MERGE_KEYS[childPath];
    if (mergeKey && Array.isArray(value)) {
      const current = Array.isArray(out[key]) ? (clone(out[key]) as Json[]) : [];
      for (const element of value) {
        if (!isObject(element)) throw new HttpError(422, "Invalid", `${childPath}: expected objects with merge key ${mergeKey}`);
        const id = element[mergeKey];
        if (id === undefined) throw new HttpError(422, "Invalid", `${childPath}: element has no ${mergeKey}`);
        const index = current.findIndex((e) => isObject(e) && JSON.stringify(e[mergeKey]) === JSON.stringify(id));
        if (element["$patch"] === "delete") {
          if (index >= 0) current.splice(index, 1);
          continue;
        }
        if (index >= 0) current[index] = strategicMergePatch(current[index] ?? null, element, childPath);
        else {
          const { $patch: _, ...rest } = element;
          current.push(clone(rest));
        }
      }
      out[key] = current;
    } else if (isObject(value)) {
      const merged = strategicMergePatch(out[key] ?? null, value, childPath);
      if (merged === null) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = clone(value);
    }
  }
  return out;
}

/** RFC 6902: add, remove, replace, test. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new HttpError(400, "BadRequest", "a JSON patch is a list of operations");
  let doc = clone(target);
  for (const op of ops) {
    if (!isObject(op) || typeof op["op"] !== "string" || typeof op["path"] !== "string")
      throw new HttpError(400, "BadRequest", "each JSON patch operation needs op and path");
    const parts = op["path"]
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop();
    if (last === undefined) throw new HttpError(422, "Invalid", "cannot patch the root");
    let parent: Json = doc;
    for (const part of parts) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(part)] : isObject(parent) ? parent[part] : undefined;
      if (next === undefined) throw new HttpError(422, "Invalid", `path ${op["path"]} does not exist`);
      parent = next;
    }
    const get = (): Json | undefined => (Array.isArray(parent) ? parent[Number(last)] : isObject(parent) ? parent[last] : undefined);
    switch (op["op"]) {
      case "test":
        if (JSON.stringify(get()) !== JSON.stringify(op["value"])) throw new HttpError(422, "Invalid", `test failed at ${op["path"]}`);
        break;
      case "remove":
        if (get() === undefined) throw new HttpError(422, "Invalid", `remove: ${op["path"]} does not exist`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else if (isObject(parent)) delete parent[last];
        break;
      case "add":
      case "replace":
        if (op["op"] === "replace" && get() === undefined) throw new HttpError(422, "Invalid", `replace: ${op["path"]} does not exist`);
        if (Array.isArray(parent)) {
          const index = last === "-" ? parent.length : Number(last);
          if (op["op"] === "add") parent.splice(index, 0, clone(op["value"] ?? null));
          else parent[index] = clone(op["value"] ?? null);
        } else if (isObject(parent)) parent[last] = clone(op["value"] ?? null);
        break;
      default:
        throw new HttpError(422, "Invalid", `unsupported JSON patch op ${String(op["op"])}`);
    }
    doc = doc ?? null;
  }
  return doc;
}

// ---------------------------------------------------------------- managed fields

/** Separates the parts of a field path in a flat key ("f:status", "k:{\"type\":\"Ready\"}", "."). */
const PATH_SEPARATOR = "\u0000";

/** Every leaf field of `value` under `path` (fieldsV1 path parts), with its value serialized. */
function fieldLeaves(value: Json, path: string[], dotted: string, out: Map<string, string>): void {
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) out.set(path.join(PATH_SEPARATOR), "{}");
    for (const key of keys) fieldLeaves(value[key] ?? null, [...path, `f:${key}`], dotted ? `${dotted}.${key}` : key, out);
    return;
  }
  const mergeKey = MERGE_KEYS[dotted];
  if (Array.isArray(value) && mergeKey && value.every((e) => isObject(e) && e[mergeKey] !== undefined)) {
    for (const element of value as JsonObject[]) {
      // The element itself is a field ("."): whoever added it owns it until it is removed.
      const elementPath = [...path, `k:${JSON.stringify({ [mergeKey]: element[mergeKey] })}`];
      out.set([...elementPath, "."].join(PATH_SEPARATOR), "");
      for (const [key, child] of Object.entries(element)) fieldLeaves(child, [...elementPath, `f:${key}`], `${dotted}.${key}`, out);
    }
    return;
  }
  out.set(path.join(PATH_SEPARATOR), JSON.stringify(value)); // scalars and atomic lists
}

/** The fields managedFields track on a Node: labels, annotations, spec and status (not server-set metadata). */
function trackedLeaves(node: Node): Map<string, string> {
  const out = new Map<string, string>();
  const metadata = node.metadata ?? {};
  const tracked: JsonObject = {};
  for (const key of ["labels", "annotations"] as const) if (metadata[key]) tracked[key] = clone(metadata[key]) as Json;
  if (Object.keys(tracked).length > 0) fieldLeaves(tracked, ["f:metadata"], "metadata", out);
  if (node.spec) fieldLeaves(node.spec as unknown as Json, ["f:spec"], "spec", out);
  if (node.status) fieldLeaves(node.status as unknown as Json, ["f:status"], "status", out);
  return out;
}

function fieldSetOf(fieldsV1: Json | undefined, path: string[] = [], out = new Set<string>()): Set<string> {
  if (!isObject(fieldsV1)) return out;
  const keys = Object.keys(fieldsV1);
  if (keys.length === 0 && path.length > 0) out.add(path.join(PATH_SEPARATOR));
  for (const key of keys) fieldSetOf(fieldsV1[key], [...path, key], out);
  return out;
}

function fieldsV1Of(set: Set<string>): JsonObject {
  const root: JsonObject = {};
  for (const key of [...set].sort()) {
    let node = root;
    for (const part of key.split(PATH_SEPARATOR)) {
      const next = node[part];
      node = isObject(next) ? next : (node[part] = {});
    }
  }
  return root;
}

/**
 * managedFields after `manager` changed `before` into `after` with an Update
 * (a PATCH or PUT), as the API server's field manager computes them: fields
 * the write added or changed move to the writer (taken from everyone else),
 * fields it removed leave every manager, fields it left alone keep their
 * owners. A manager is one entry per (manager, operation, subresource); an
 * entry left owning nothing disappears; `time` changes only when the
 * writer's own set does.
 */
export function updateManagedFields(
  entries: readonly ManagedFieldsEntry[],
  before: Node,
  after: Node,
  writer: { manager: string; subresource?: string; time: string },
): ManagedFieldsEntry[] {
  const old = trackedLeaves(before);
  const next = trackedLeaves(after);
  const changed = [...next].filter(([path, value]) => old.get(path) !== value).map(([path]) => path);
  const removed = [...old.keys()].filter((path) => !next.has(path));
  const isWriter = (e: ManagedFieldsEntry) => e.manager === writer.manager && e.operation === "Update" && (e.subresource ?? "") === (writer.subresource ?? "");
  const out: ManagedFieldsEntry[] = [];
  let mine: ManagedFieldsEntry | undefined;
  for (const entry of entries) {
    const set = fieldSetOf(entry.fieldsV1 as Json | undefined);
    if (isWriter(entry)) {
      mine = entry;
      continue;
    }
    for (const path of [...changed, ...removed]) set.delete(path);
    if (set.size > 0) out.push({ ...clone(entry), fieldsV1: fieldsV1Of(set) });
  }
  const own = fieldSetOf(mine?.fieldsV1 as Json | undefined);
  const size = own.size;
  for (const path of removed) own.delete(path);
  for (const path of changed) own.add(path);
  if (own.size > 0) {
    const touched = changed.length > 0 || own.size !== size;
    out.push({
      manager: writer.manager,
      operation: "Update",
      apiVersion: "v1",
      time: touched || !mine ? writer.time : mine.time,
      fieldsType: "FieldsV1",
      fieldsV1: fieldsV1Of(own),
      ...(writer.subresource ? { subresource: writer.subresource } : {}),
    });
  }
  return out;
}

/** The field manager of a write: `?fieldManager=`, else the User-Agent up to its first "/", as the API server derives it. */
function fieldManagerOf(query: Record<string, string>, userAgent: string | undefined): string {
  const named = query["fieldManager"];
  if (named !== undefined) {
    if (named.length > 128) throw new HttpError(422, "Invalid", `fieldManager: Too long: may not be more than 128 bytes`);
    if (!/^[\x20-\x7e]+$/.test(named)) throw new HttpError(422, "Invalid", `fieldManager: Invalid value: ${JSON.stringify(named)}: must be printable ASCII`);
    return named;
  }
  return (userAgent ?? "").split("/")[0]?.slice(0, 128) ?? "";
}

// ---------------------------------------------------------------- selectors

function lookup(object: unknown, dotted: string): string | undefined {
  let value: unknown = object;
  for (const part of dotted.split(".")) {
    if (!isObject(value)) return undefined;
    value = value[part];
  }
  if (value === undefined || value === null) return undefined;
  return String(value);
}

/** fieldSelector: `a=b,c==d,e!=f` on dotted paths; a missing field compares as "". */
function matchesFieldSelector(object: unknown, selector: string | undefined): boolean {
  if (!selector) return true;
  for (const term of selector.split(",")) {
    const match = /^([^!=]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!match) throw new HttpError(400, "BadRequest", `invalid field selector term ${JSON.stringify(term)}`);
    const [, key, op, expected] = match as unknown as [string, string, string, string];
    const actual = lookup(object, key) ?? "";
    if (op === "!=" ? actual === expected : actual !== expected) return false;
  }
  return true;
}

/** labelSelector: `a=b`, `a==b`, `a!=b`, `a`, `!a`. */
function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  for (const raw of selector.split(",")) {
    const term = raw.trim();
    if (!term) continue;
    const match = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (match) {
      const [, key, op, expected] = match as unknown as [string, string, string, string];
      const actual = have[key];
      if (op === "!=" ? actual === expected : actual !== expected) return false;
    } else if (term.startsWith("!")) {
      if (term.slice(1) in have) return false;
    } else if (!(term in have)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- discovery

const CORE_RESOURCES = [
  { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list", "patch", "update", "watch"], shortNames: ["no"] },
  { name: "nodes/status", singularName: "", namespaced: false, kind: "Node", verbs: ["get", "patch", "update"] },
  { name: "events", singularName: "event", namespaced: true, kind: "Event", verbs: ["create", "get", "list", "patch", "watch"], shortNames: ["ev"] },
  { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list", "watch"], shortNames: ["po"] },
  { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", verbs: ["get", "list"], shortNames: ["ns"] },
  { name: "services", singularName: "service", namespaced: true, kind: "Service", verbs: ["get", "list", "watch"], shortNames: ["svc"] },
];
const GROUPS: Record<string, { version: string; resources: Array<Record<string, unknown>> }> = {
  "coordination.k8s.io": {
    version: "v1",
    resources: [{ name: "leases", singularName: "lease", namespaced: true, kind: "Lease", verbs: ["create", "delete", "get", "list", "update", "watch"] }],
  },
  "discovery.k8s.io": {
    version: "v1",
    resources: [{ name: "endpointslices", singularName: "endpointslice", namespaced: true, kind: "EndpointSlice", verbs: ["get", "list", "watch"] }],
  },
};

// ---------------------------------------------------------------- the server

const KUBELET_CONDITION_TYPES = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] as const;

/** metav1.Time: RFC 3339 at one-second precision. */
function apiTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** node-doctor's condition types: seeded conditions of these types are an earlier node-doctor's unless told otherwise. */
const NODE_DOCTOR_TYPES = new Set([
  "KubeletUnhealthy",
  "KubeletConfigInvalid",
  "KubeletCertificateInvalid",
  "ClockSkewed",
  "DiskSpaceLow",
  "ContainerRuntimeUnhealthy",
  "NodeNetworkUnhealthy",
  "KernelUnhealthy",
  "FilesystemErrors",
  "HardwareErrors",
  "NodeResourceExhausted",
]);

/** kubelet registers the Node and writes its conditions; every other seeded condition is written by its own manager after. */
function seededManagedFields(node: Node, at: string, managers: Record<string, string>): ManagedFieldsEntry[] {
  const all = node.status?.conditions ?? [];
  const managerOf = (type: string) =>
    managers[type] ??
    ((KUBELET_CONDITION_TYPES as readonly string[]).includes(type) ? "kubelet" : NODE_DOCTOR_TYPES.has(type) ? "node-doctor" : "vendor-agent");
  const done = new Set(["kubelet"]);
  const withConditions = (): Node => ({ ...clone(node), status: { ...clone(node.status ?? {}), conditions: all.filter((c) => done.has(managerOf(c.type))) } });
  let current = withConditions();
  let entries = updateManagedFields([], { metadata: {} }, current, { manager: "kubelet", time: at });
  for (const manager of new Set(all.map((c) => managerOf(c.type)))) {
    if (done.has(manager)) continue;
    done.add(manager);
    const next = withConditions();
    entries = updateManagedFields(entries, current, next, { manager, subresource: "status", time: at });
    current = next;
  }
  return entries;
}

function secondPrecision(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export class FakeApiServer {
  readonly pki: TestPki;
  readonly token: string;
  /** Every request, in arrival order, with the status it got. */
  readonly requests: RequestRecord[] = [];
  /** Added to the server's now() in the Date header (the clock check's reference). */
  clockSkewMs = 0;
  url = "";
  port = 0;

  private readonly server: Server;
  private readonly nowFn: () => number;
  private readonly nodes = new Map<string, Node>();
  private readonly leases = new Map<string, Lease>();
  private readonly events = new Map<string, CoreEvent>();
  private readonly pods = new Map<string, Pod>();
  private readonly services = new Map<string, Service>();
  private readonly endpointSlices = new Map<string, EndpointSlice>();
  /**
   * A mutating admission webhook on Node writes: gets the Node about to be
   * stored, returns the one to store instead (or nothing to keep it). The
   * write succeeds and the answer is what was stored.
   */
  admission: ((node: Node, write: { manager: string; subresource: string | undefined }) => Node | void) | undefined;
  /** A proxy between client and server: rewrites every successful answer's body on its way out. */
  proxy: ((body: unknown, request: RequestRecord) => unknown) | undefined;
  /** Answers pod proxy requests: what the pod's port would serve at `path`, or undefined for a 404. */
  podProxy: ((pod: Pod, port: string, path: string) => unknown) | undefined;
  private faults: StoredFault[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();
  private down = false;
  private resourceVersion = 1000;

  private constructor(options: FakeApiServerOptions) {
    this.pki = testPki();
    this.token = options.token ?? "fake-token";
    this.nowFn = options.now ?? Date.now;
    this.server = createServer(
      { key: this.pki.serverKey, cert: this.pki.serverCert, ca: this.pki.caCert, requestCert: true, rejectUnauthorized: false },
      (req, res) => void this.handle(req, res),
    );
    this.server.keepAliveTimeout = 60_000;
    this.server.on("secureConnection", (socket: TLSSocket) => {
      if (this.down) socket.destroy();
    });
    this.server.on("connection", (socket: Socket) => {
      if (this.down) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.server.on("tlsClientError", () => undefined);
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const api = new FakeApiServer(options);
    await new Promise<void>((resolve, reject) => {
      api.server.once("error", reject);
      api.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = api.server.address();
    if (!address || typeof address === "string") throw new Error("fake API server has no port");
    api.port = address.port;
    api.url = `https://127.0.0.1:${address.port}`;
    return api;
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const dir of this.scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  private readonly scratchDirs: string[] = [];

  /** A temp dir for kubeconfigs and the like, removed by close(). */
  async scratchDir(prefix = "nd-kubeconfig-"): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.scratchDirs.push(dir);
    return dir;
  }

  // ------------------------------------------------------------ seeding and inspection

  /** Stores a running Pod on a node (e.g. the node-doctor agent, for the pod proxy). */
  seedPod(options: { namespace: string; name: string; nodeName: string; labels?: Record<string, string>; phase?: string }): Pod {
    const pod: Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: options.name,
        namespace: options.namespace,
        uid: randomUUID(),
        resourceVersion: String(++this.resourceVersion),
        labels: { ...options.labels },
      },
      spec: { nodeName: options.nodeName, containers: [{ name: "agent", image: "node-doctor" }] },
      status: { phase: options.phase ?? "Running" },
    };
    this.pods.set(`${options.namespace}/${options.name}`, pod);
    return pod;
  }

  /**
   * default/kubernetes as the API server maintains it: a ClusterIP Service with
   * port "https" 443 → targetPort 6443, and the EndpointSlice "kubernetes"
   * listing each API server's address (no selector: the API servers write it
   * themselves). Seeding again replaces both.
   */
  seedKubernetesService(options: { clusterIP: string; endpoints: string[]; port?: number; targetPort?: number }): { service: Service; slice: EndpointSlice } {
    const ipv6 = options.clusterIP.includes(":");
    const service: Service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "kubernetes",
        namespace: "default",
        uid: randomUUID(),
        resourceVersion: String(++this.resourceVersion),
        labels: { component: "apiserver", provider: "kubernetes" },
      },
      spec: {
        type: "ClusterIP",
        clusterIP: options.clusterIP,
        clusterIPs: [options.clusterIP],
        ipFamilies: [ipv6 ? "IPv6" : "IPv4"],
        ipFamilyPolicy: "SingleStack",
        sessionAffinity: "None",
        ports: [{ name: "https", port: options.port ?? 443, protocol: "TCP", targetPort: options.targetPort ?? 6443 }],
      },
    };
    const slice: EndpointSlice = {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "kubernetes",
        namespace: "default",
        uid: randomUUID(),
        resourceVersion: String(++this.resourceVersion),
        labels: { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
      },
      addressType: ipv6 ? "IPv6" : "IPv4",
      endpoints: options.endpoints.map((address) => ({ addresses: [address], conditions: { ready: true } })),
      ports: [{ name: "https", port: options.targetPort ?? 6443, protocol: "TCP" }],
    };
    this.services.set("default/kubernetes", service);
    this.endpointSlices.set("default/kubernetes", slice);
    return { service, slice };
  }

  /**
   * Stores a Node as kubelet would have registered it, with kubelet's own
   * conditions (Ready True), and managedFields as the API server would show
   * them: kubelet owns what it registers and its conditions; any other
   * condition is owned by `managers[type]`, by default "node-doctor" for
   * node-doctor's types (as written by an earlier agent) and "vendor-agent"
   * for the rest.
   */
  seedNode(name: string, options: { labels?: Record<string, string>; conditions?: NodeCondition[]; at?: Date; managers?: Record<string, string> } = {}): Node {
    const at = new Date(Math.floor((options.at?.getTime() ?? this.nowFn()) / 1000) * 1000).toISOString().replace(".000Z", "Z");
    const kubelet: Record<(typeof KUBELET_CONDITION_TYPES)[number], [string, string, string]> = {
      MemoryPressure: ["False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
      DiskPressure: ["False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
      PIDPressure: ["False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
      Ready: ["True", "KubeletReady", "kubelet is posting ready status"],
    };
    const node: Node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        uid: randomUUID(),
        resourceVersion: String(++this.resourceVersion),
        creationTimestamp: at,
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", ...options.labels },
      },
      spec: { podCIDR: "10.244.0.0/24" },
      status: {
        conditions:
          options.conditions ??
          KUBELET_CONDITION_TYPES.map((type) => ({
            type,
            status: kubelet[type][0],
            reason: kubelet[type][1],
            message: kubelet[type][2],
            lastHeartbeatTime: at,
            lastTransitionTime: at,
          })),
        addresses: [
          { type: "InternalIP", address: "10.0.0.10" },
          { type: "Hostname", address: name },
        ],
        capacity: { cpu: "2", memory: "4026376Ki", pods: "110", "ephemeral-storage": "30830568Ki" },
        allocatable: { cpu: "2", memory: "3923976Ki", pods: "110", "ephemeral-storage": "28413217573" },
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: "0123456789abcdef0123456789abcdef",
          systemUUID: "00000000-0000-0000-0000-000000000000",
          bootID: randomUUID(),
          kernelVersion: "6.1.0-27-amd64",
          osImage: "Debian GNU/Linux 12 (bookworm)",
          containerRuntimeVersion: "containerd://1.6.20",
          kubeletVersion: "v1.32.4",
          kubeProxyVersion: "v1.32.4",
          operatingSystem: "linux",
          architecture: "amd64",
        },
      },
    };
    node.metadata = { ...node.metadata, managedFields: seededManagedFields(node, at, options.managers ?? {}) };
    this.nodes.set(name, node);
    return clone(node);
  }

  /** Stores kube-node-lease/<name>. */
  seedLease(name: string, options: { renewTime?: Date; durationSeconds?: number; holder?: string } = {}): Lease {
    const renew = options.renewTime ?? new Date(this.nowFn());
    const lease: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name,
        namespace: "kube-node-lease",
        uid: randomUUID(),
        resourceVersion: String(++this.resourceVersion),
        creationTimestamp: renew.toISOString(),
      },
      spec: {
        holderIdentity: options.holder ?? name,
        leaseDurationSeconds: options.durationSeconds ?? 40,
        renewTime: renew.toISOString().replace("Z", "000Z"),
      },
    };
    this.leases.set(`kube-node-lease/${name}`, lease);
    return clone(lease);
  }

  /** Stores a Lease in any namespace, as another client would have written it (a repair slot another node holds). */
  seedLeaseIn(
    namespace: string,
    name: string,
    options: { holder: string; renewTime?: Date; durationSeconds?: number; labels?: Record<string, string> },
  ): Lease {
    return this.createLease(namespace, {
      metadata: { name, ...(options.labels ? { labels: options.labels } : {}) },
      spec: {
        holderIdentity: options.holder,
        leaseDurationSeconds: options.durationSeconds ?? 300,
        renewTime: (options.renewTime ?? new Date(this.nowFn())).toISOString().replace("Z", "000Z"),
      },
    });
  }

  /** Deletes a Lease as another client would. */
  deleteLeaseAs(namespace: string, name: string): void {
    this.leases.delete(`${namespace}/${name}`);
    ++this.resourceVersion;
  }

  /** The Leases of a namespace as stored (copies). */
  leasesIn(namespace: string): Lease[] {
    return [...this.leases.values()].filter((l) => l.metadata?.namespace === namespace).map((l) => clone(l));
  }

  private leaseConflict(name: string): HttpError {
    return new HttpError(
      409,
      "Conflict",
      `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  }

  private validLease(body: unknown, namespace: string): Lease & { metadata: { name: string } } {
    if (!isObject(body) || (body["kind"] !== undefined && body["kind"] !== "Lease")) throw new HttpError(400, "BadRequest", "the body is not a Lease");
    const meta = body["metadata"];
    if (!isObject(meta) || typeof meta["name"] !== "string" || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(meta["name"])) {
      throw new HttpError(
        422,
        "Invalid",
        "Lease.coordination.k8s.io is invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
      );
    }
    if (meta["namespace"] !== undefined && meta["namespace"] !== namespace) {
      throw new HttpError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    }
    const spec = body["spec"];
    if (spec !== undefined && !isObject(spec)) throw new HttpError(400, "BadRequest", "Lease.spec must be an object");
    if (
      isObject(spec) &&
      spec["leaseDurationSeconds"] !== undefined &&
      !(Number.isInteger(spec["leaseDurationSeconds"]) && (spec["leaseDurationSeconds"] as number) > 0)
    ) {
      throw new HttpError(422, "Invalid", "Lease.coordination.k8s.io is invalid: spec.leaseDurationSeconds: Invalid value: must be greater than 0");
    }
    return clone(body) as unknown as Lease & { metadata: { name: string } };
  }

  /** Stores a Lease with the server's fields (`kept`: uid and creation time, kept from before or new) and a new resourceVersion. */
  private storeLease(namespace: string, lease: Lease & { metadata: { name: string } }, kept: { uid?: string; creationTimestamp?: string }): Lease {
    const stored: Lease = {
      ...lease,
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { ...lease.metadata, namespace, ...kept, resourceVersion: String(++this.resourceVersion) },
    };
    this.leases.set(`${namespace}/${lease.metadata.name}`, stored);
    return clone(stored);
  }

  private createLease(namespace: string, body: unknown): Lease {
    const lease = this.validLease(body, namespace);
    const key = `${namespace}/${lease.metadata.name}`;
    if (this.leases.has(key)) throw new HttpError(409, "AlreadyExists", `leases.coordination.k8s.io "${lease.metadata.name}" already exists`);
    return this.storeLease(namespace, lease, {
      uid: randomUUID(),
      creationTimestamp: new Date(Math.floor(this.nowFn() / 1000) * 1000).toISOString().replace(".000Z", "Z"),
    });
  }

  private updateLease(namespace: string, name: string, body: unknown): Lease {
    const lease = this.validLease(body, namespace);
    if (lease.metadata.name !== name) throw new HttpError(400, "BadRequest", "the name of the object does not match the name on the URL");
    const current = this.leases.get(`${namespace}/${name}`);
    if (!current) throw new HttpError(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
    const wanted = lease.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata?.resourceVersion) throw this.leaseConflict(name);
    return this.storeLease(namespace, lease, {
      ...(current.metadata?.uid ? { uid: current.metadata.uid } : {}),
      ...(current.metadata?.creationTimestamp ? { creationTimestamp: current.metadata.creationTimestamp } : {}),
    });
  }

  private deleteLease(namespace: string, name: string, body: unknown): unknown {
    const current = this.leases.get(`${namespace}/${name}`);
    if (!current) throw new HttpError(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
    const pre = isObject(body) && isObject(body["preconditions"]) ? body["preconditions"] : {};
    if (typeof pre["resourceVersion"] === "string" && pre["resourceVersion"] !== current.metadata?.resourceVersion) throw this.leaseConflict(name);
    if (typeof pre["uid"] === "string" && pre["uid"] !== current.metadata?.uid) {
      throw new HttpError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": Precondition failed: UID in precondition: ${pre["uid"]}, UID in object meta: ${current.metadata?.uid ?? ""}`,
      );
    }
    this.leases.delete(`${namespace}/${name}`);
    ++this.resourceVersion;
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name, group: "coordination.k8s.io", kind: "leases", uid: current.metadata?.uid },
    };
  }

  deleteNode(name: string): void {
    this.nodes.delete(name);
  }

  /** A copy of the stored Node. */
  node(name: string): Node | undefined {
    const node = this.nodes.get(name);
    return node ? clone(node) : undefined;
  }

  /** Copies of the stored Events, optionally only those about one object. */
  storedEvents(involvedName?: string): CoreEvent[] {
    return [...this.events.values()].filter((e) => involvedName === undefined || e.involvedObject.name === involvedName).map(clone);
  }

  /** Requests matching a route (e.g. `{ verb: "patch", resource: "nodes/status" }`). */
  requestsTo(match: RouteMatch): RequestRecord[] {
    return this.requests.filter((r) => matches(r, match));
  }

  // ------------------------------------------------------------ faults

  /** Makes matching requests fail, stall or hang; later faults take precedence. */
  fault(match: RouteMatch, fault: Fault): void {
    this.faults.unshift({ ...fault, match, remaining: fault.times ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(): void {
    this.faults = [];
    for (const res of this.hung) res.destroy();
    this.hung.clear();
  }

  /** While down, every connection (new or kept alive) is reset: like an API server that is not running. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const socket of this.sockets) socket.destroy();
  }

  // ------------------------------------------------------------ kubeconfig

  /**
   * Writes a kubeconfig pointing at this server and returns its path.
   * auth "token" (default) or "cert" (the client certificate signed by the CA);
   * files: true writes the CA and client credentials as separate files.
   */
  async writeKubeconfig(dir: string, options: { auth?: "token" | "cert" | "none"; files?: boolean; name?: string } = {}): Promise<string> {
    await mkdir(dir, { recursive: true });
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const auth = options.auth ?? "token";
    let clusterCa: string;
    let user: string;
    if (options.files) {
      await writeFile(join(dir, "ca.crt"), this.pki.caCert);
      await writeFile(join(dir, "client.crt"), this.pki.clientCert);
      await writeFile(join(dir, "client.key"), this.pki.clientKey, { mode: 0o600 });
      await writeFile(join(dir, "token"), `${this.token}\n`, { mode: 0o600 });
      clusterCa = `    certificate-authority: ${join(dir, "ca.crt")}`;
      user =
        auth === "token"
          ? `    tokenFile: ${join(dir, "token")}`
          : auth === "cert"
            ? `    client-certificate: ${join(dir, "client.crt")}\n    client-key: ${join(dir, "client.key")}`
            : "    {}";
    } else {
      clusterCa = `    certificate-authority-data: ${b64(this.pki.caCert)}`;
      user =
        auth === "token"
          ? `    token: ${this.token}`
          : auth === "cert"
            ? `    client-certificate-data: ${b64(this.pki.clientCert)}\n    client-key-data: ${b64(this.pki.clientKey)}`
            : "    {}";
    }
    const text = `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${this.url}
${clusterCa}
users:
- name: fake-user
  user:
${user}
contexts:
- name: fake
  context:
    cluster: fake
    user: fake-user
current-context: fake
preferences: {}
`;
    const path = join(dir, options.name ?? "kubeconfig");
    await writeFile(path, text, { mode: 0o600 });
    return path;
  }

  // ------------------------------------------------------------ request handling

  private now(): number {
    return this.nowFn();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const query = Object.fromEntries(url.searchParams);
    const route = classify(req.method ?? "GET", url.pathname);
    const record: RequestRecord = { method: req.method ?? "GET", path: url.pathname, query, ...route, status: 0, atMs: Date.now() };
    const contentType = req.headers["content-type"];
    if (contentType) record.contentType = contentType.split(";")[0]?.trim() ?? contentType;
    this.requests.push(record);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    try {
      if (raw) {
        try {
          record.body = JSON.parse(raw) as unknown;
        } catch {
          throw new HttpError(400, "BadRequest", "the request body is not JSON");
        }
      }
      const user = this.authenticate(req);
      if (user) record.user = user;
      const as = req.headers["impersonate-user"];
      if (typeof as === "string") {
        const groups = req.headersDistinct["impersonate-group"] ?? [];
        record.impersonating = { user: as, groups };
      }
      if (["PATCH", "POST", "PUT"].includes(record.method)) record.fieldManager = fieldManagerOf(query, req.headers["user-agent"]);
      const fault = this.takeFault(record);
      if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault?.hang) {
        this.hung.add(res);
        res.on("close", () => this.hung.delete(res));
        return;
      }
      if (fault?.status) {
        const headers: Record<string, string> = {};
        if (fault.retryAfterSeconds !== undefined) headers["Retry-After"] = String(fault.retryAfterSeconds);
        throw Object.assign(
          new HttpError(fault.status, STATUS_REASONS[fault.status] ?? "Unknown", `injected ${fault.status} for ${record.verb} ${record.resource}`),
          { headers },
        );
      }
      if (fault?.rawBody !== undefined) {
        record.status = 200;
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(fault.rawBody) }).end(fault.rawBody);
        return;
      }
      // /version and discovery are readable without credentials on a real cluster (system:public-info-viewer).
      if (!user && route.resource !== "version") throw new HttpError(401, "Unauthorized", "Unauthorized");
      let body = this.route(req.method ?? "GET", url, record, contentType ?? "");
      if (this.proxy) body = this.proxy(clone(body), record);
      const wantsTable = (req.method ?? "GET") === "GET" && /as=Table/.test(req.headers.accept ?? "");
      this.send(
        res,
        record,
        route.verb === "create" ? 201 : 200,
        wantsTable ? asTable(body, this.now(), url.searchParams.get("includeObject") === "Object") : body,
      );
    } catch (error) {
      if (error instanceof HttpError) {
        const extra = (error as HttpError & { headers?: Record<string, string> }).headers ?? {};
        this.sendError(res, record, error, extra);
      } else {
        this.sendError(res, record, new HttpError(500, "InternalError", error instanceof Error ? error.message : String(error)), {});
      }
    }
  }

  private authenticate(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization;
    if (header) return header === `Bearer ${this.token}` ? "token" : undefined;
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const cn = socket.getPeerCertificate().subject?.CN;
      return typeof cn === "string" ? cn : "cert";
    }
    return undefined;
  }

  private takeFault(record: RequestRecord): StoredFault | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0 || !matches(record, fault.match)) continue;
      fault.remaining--;
      return fault;
    }
    return undefined;
  }

  private dateHeader(): string {
    return new Date(this.now() + this.clockSkewMs).toUTCString();
  }

  private send(res: ServerResponse, record: RecordStatus, status: number, body: unknown): void {
    record.status = status;
    res.sendDate = false;
    res.writeHead(status, { "Content-Type": "application/json", Date: this.dateHeader(), "Audit-Id": randomUUID() });
    res.end(JSON.stringify(body));
  }

  private sendError(res: ServerResponse, record: RecordStatus, error: HttpError, headers: Record<string, string>): void {
    record.status = error.status;
    res.sendDate = false;
    const body = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: error.message,
      reason: error.reason,
      code: error.status,
      ...(error.status === 429 && headers["Retry-After"] ? { details: { retryAfterSeconds: Number(headers["Retry-After"]) } } : {}),
    };
    res.writeHead(error.status, { "Content-Type": "application/json", Date: this.dateHeader(), ...headers });
    res.end(JSON.stringify(body));
  }

  private route(method: string, url: URL, record: RequestRecord, contentType: string): unknown {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const q = (key: string) => url.searchParams.get(key) ?? undefined;
    if (method === "GET") {
      if (path === "/version") {
        return {
          major: "1",
          minor: "32",
          gitVersion: "v1.32.4-fake",
          gitCommit: "0000000",
          gitTreeState: "clean",
          buildDate: "2026-01-01T00:00:00Z",
          goVersion: "go1.23",
          compiler: "gc",
          platform: "linux/amd64",
        };
      }
      if (path === "/api")
        return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${this.port}` }] };
      if (path === "/apis") {
        return {
          kind: "APIGroupList",
          apiVersion: "v1",
          groups: Object.entries(GROUPS).map(([name, g]) => ({
            name,
            versions: [{ groupVersion: `${name}/${g.version}`, version: g.version }],
            preferredVersion: { groupVersion: `${name}/${g.version}`, version: g.version },
          })),
        };
      }
      if (path === "/api/v1") return { kind: "APIResourceList", groupVersion: "v1", resources: CORE_RESOURCES };
      const groupMatch = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
      if (groupMatch) {
        const group = GROUPS[groupMatch[1] as string];
        if (group && group.version === groupMatch[2])
          return { kind: "APIResourceList", apiVersion: "v1", groupVersion: `${groupMatch[1]}/${group.version}`, resources: group.resources };
      }
    }
    const { resource, name, namespace } = record;
    if (resource === "nodes" && method === "GET" && !name) return this.listNodes(q("limit"), q("continue"), q("labelSelector"), q("fieldSelector"));
    if ((resource === "nodes" || resource === "nodes/status") && name) {
      const node = this.nodes.get(name);
      if (!node) throw new HttpError(404, "NotFound", `nodes "${name}" not found`);
      if (method === "GET") return node;
      if (method === "PATCH") return this.patchNode(node, resource === "nodes/status", record.body, contentType, record.fieldManager ?? "");
    }
    if (resource === "events") {
      if (method === "GET" && !name) return this.listEvents(namespace, q("fieldSelector"));
      if (method === "GET" && name) {
        const event = this.events.get(`${namespace}/${name}`);
        if (!event) throw new HttpError(404, "NotFound", `events "${name}" not found`);
        return event;
      }
      if (method === "POST" && namespace && !name) return this.createEvent(namespace, record.body);
      if (method === "PATCH" && namespace && name) return this.patchEvent(namespace, name, record.body, contentType);
    }
    if (resource === "leases" && method === "GET") {
      if (name) {
        const lease = this.leases.get(`${namespace}/${name}`);
        if (!lease) throw new HttpError(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
        return lease;
      }
      const items = [...this.leases.values()].filter(
        (l) => (namespace === undefined || l.metadata?.namespace === namespace) && matchesLabelSelector(l.metadata?.labels, q("labelSelector")),
      );
      return { kind: "LeaseList", apiVersion: "coordination.k8s.io/v1", metadata: { resourceVersion: String(this.resourceVersion) }, items };
    }
    if (resource === "leases" && method === "POST" && namespace && !name) return this.createLease(namespace, record.body);
    if (resource === "leases" && method === "PUT" && namespace && name) return this.updateLease(namespace, name, record.body);
    if (resource === "leases" && method === "DELETE" && namespace && name) return this.deleteLease(namespace, name, record.body);
    if (resource === "pods" && method === "GET" && !name) {
      const items = [...this.pods.values()].filter(
        (p) =>
          (namespace === undefined || p.metadata?.namespace === namespace) &&
          matchesLabelSelector(p.metadata?.labels, q("labelSelector")) &&
          matchesFieldSelector(p, q("fieldSelector")),
      );
      return { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: String(this.resourceVersion) }, items };
    }
    if (resource === "pods/proxy" && method === "GET" && namespace && name) {
      const [podName = "", port = ""] = name.split(":");
      const pod = this.pods.get(`${namespace}/${podName}`);
      if (!pod) throw new HttpError(404, "NotFound", `pods "${podName}" not found`);
      const proxied = path.split("/proxy")[1] ?? "/";
      if (!this.podProxy)
        throw new HttpError(503, "ServiceUnavailable", `error trying to reach service: dial tcp 10.244.0.9:${port}: connect: connection refused`);
      const answer = this.podProxy(pod, port, proxied);
      if (answer === undefined) throw new HttpError(404, "NotFound", "404 page not found");
      return answer;
    }
    if (resource === "services" && method === "GET" && namespace && name) {
      const service = this.services.get(`${namespace}/${name}`);
      if (!service) throw new HttpError(404, "NotFound", `services "${name}" not found`);
      return service;
    }
    if (resource === "endpointslices" && method === "GET" && namespace && name) {
      const slice = this.endpointSlices.get(`${namespace}/${name}`);
      if (!slice) throw new HttpError(404, "NotFound", `endpointslices.discovery.k8s.io "${name}" not found`);
      return slice;
    }
    if (resource === "endpointslices" && method === "GET" && !name) {
      const items = [...this.endpointSlices.values()].filter(
        (e) => (namespace === undefined || e.metadata?.namespace === namespace) && matchesLabelSelector(e.metadata?.labels, q("labelSelector")),
      );
      return { kind: "EndpointSliceList", apiVersion: "discovery.k8s.io/v1", metadata: { resourceVersion: String(this.resourceVersion) }, items };
    }
    if (resource === "namespaces" && method === "GET") {
      if (name) return { kind: "Namespace", apiVersion: "v1", metadata: { name }, status: { phase: "Active" } };
      return {
        kind: "NamespaceList",
        apiVersion: "v1",
        metadata: {},
        items: ["default", "kube-node-lease", "kube-system"].map((n) => ({ metadata: { name: n } })),
      };
    }
    throw new HttpError(404, "NotFound", "the server could not find the requested resource");
  }

  private listNodes(limit?: string, cont?: string, labelSelector?: string, fieldSelector?: string): unknown {
    const all = [...this.nodes.values()]
      .filter((n) => matchesLabelSelector(n.metadata?.labels, labelSelector) && matchesFieldSelector(n, fieldSelector))
      .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
    let start = 0;
    if (cont) {
      const decoded = Number(Buffer.from(cont, "base64url").toString("utf8"));
      if (!Number.isInteger(decoded) || decoded < 0) throw new HttpError(400, "BadRequest", "invalid continue token");
      start = decoded;
    }
    const size = limit ? Number(limit) : 0;
    const items = size > 0 ? all.slice(start, start + size) : all.slice(start);
    const end = start + items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(this.resourceVersion) };
    if (end < all.length) {
      metadata["continue"] = Buffer.from(String(end)).toString("base64url");
      metadata["remainingItemCount"] = all.length - end;
    }
    return { kind: "NodeList", apiVersion: "v1", metadata, items };
  }

  private applyPatch(current: Json, body: unknown, contentType: string): Json {
    const type = contentType.split(";")[0]?.trim();
    if (body === undefined) throw new HttpError(400, "BadRequest", "empty patch");
    const patch = body as Json;
    if (type === "application/strategic-merge-patch+json") return strategicMergePatch(current, patch);
    if (type === "application/merge-patch+json") return mergePatch(current, patch);
    if (type === "application/json-patch+json") return jsonPatch(current, patch);
    throw new HttpError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
    );
  }

  private checkResourceVersion(body: unknown, current: string | undefined): void {
    if (!isObject(body) || !isObject(body["metadata"])) return;
    const wanted = body["metadata"]["resourceVersion"];
    if (typeof wanted === "string" && wanted !== current) {
      throw new HttpError(
        409,
        "Conflict",
        "Operation cannot be fulfilled on nodes: the object has been modified; please apply your changes to the latest version and try again",
      );
    }
  }

  private patchNode(node: Node, statusOnly: boolean, body: unknown, contentType: string, manager: string): Node {
    if (contentType.split(";")[0]?.trim() !== "application/json-patch+json") this.checkResourceVersion(body, node.metadata?.resourceVersion);
    const patched = this.applyPatch(node as unknown as Json, body, contentType);
    if (!isObject(patched)) throw new HttpError(422, "Invalid", "the patched Node is not an object");
    const result = patched as unknown as Node;
    // The status subresource takes only status; the main resource ignores status.
    let next: Node = statusOnly ? { ...clone(node), status: result.status ?? {} } : { ...result, status: clone(node.status ?? {}) };
    if (this.admission) next = this.admission(clone(next), { manager, subresource: statusOnly ? "status" : undefined }) ?? next;
    for (const condition of next.status?.conditions ?? []) {
      if (typeof condition.type !== "string" || !condition.type) throw new HttpError(422, "Invalid", "status.conditions[].type: Required value");
      if (!["True", "False", "Unknown"].includes(condition.status))
        throw new HttpError(422, "Invalid", `status.conditions[${condition.type}].status: Unsupported value: ${JSON.stringify(condition.status)}`);
      condition.lastHeartbeatTime = secondPrecision(condition.lastHeartbeatTime) as string | undefined;
      condition.lastTransitionTime = secondPrecision(condition.lastTransitionTime) as string | undefined;
      if (condition.lastHeartbeatTime === undefined) delete condition.lastHeartbeatTime;
      if (condition.lastTransitionTime === undefined) delete condition.lastTransitionTime;
    }
    const managedFields = updateManagedFields(node.metadata?.managedFields ?? [], node, next, {
      manager,
      ...(statusOnly ? { subresource: "status" } : {}),
      time: apiTime(this.now()),
    });
    next.metadata = {
      ...(next.metadata ?? {}),
      name: node.metadata?.name ?? "",
      uid: node.metadata?.uid ?? "",
      resourceVersion: String(++this.resourceVersion),
      ...(node.metadata?.creationTimestamp ? { creationTimestamp: node.metadata.creationTimestamp } : {}),
      managedFields,
    };
    if (managedFields.length === 0) delete next.metadata.managedFields;
    this.nodes.set(node.metadata?.name ?? "", next);
    return next;
  }

  /**
   * Another client writing this Node's status in-process (no HTTP), as field
   * manager `manager`: node-problem-detector patching its conditions, an
   * operator's `kubectl patch`. The same merge, validation and managedFields
   * as a PATCH of nodes/<name>/status.
   */
  patchStatusAs(manager: string, name: string, patch: unknown, contentType = "application/strategic-merge-patch+json"): Node {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`patchStatusAs: no node ${name}`);
    return clone(this.patchNode(node, true, clone(patch), contentType, manager));
  }

  private listEvents(namespace: string | undefined, fieldSelector?: string): unknown {
    const items = [...this.events.values()]
      .filter((e) => (namespace === undefined || e.metadata.namespace === namespace) && matchesFieldSelector(e, fieldSelector))
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    return { kind: "EventList", apiVersion: "v1", metadata: { resourceVersion: String(this.resourceVersion) }, items };
  }

  private createEvent(namespace: string, body: unknown): CoreEvent {
    if (!isObject(body)) throw new HttpError(400, "BadRequest", "an Event is an object");
    const event = clone(body) as unknown as CoreEvent;
    if (!isPlainObject(event.metadata)) throw new HttpError(422, "Invalid", "metadata: Required value");
    if (event.metadata.namespace && event.metadata.namespace !== namespace)
      throw new HttpError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    if (!isPlainObject(event.involvedObject)) throw new HttpError(422, "Invalid", "involvedObject: Required value");
    const involvedNs = event.involvedObject.namespace ?? "";
    if (involvedNs === "" ? namespace !== "default" && namespace !== "" : involvedNs !== namespace) {
      throw new HttpError(422, "Invalid", `involvedObject.namespace: Invalid value: "${involvedNs}": does not match event.namespace`);
    }
    if (!event.reason) throw new HttpError(422, "Invalid", "reason: Required value");
    if (!event.source?.component && !event.reportingComponent) throw new HttpError(422, "Invalid", "source.component: Required value");
    let name: string | undefined = event.metadata.name;
    if (!name) {
      if (!event.metadata.generateName) throw new HttpError(422, "Invalid", "metadata.name: Required value: name or generateName is required");
      name = `${event.metadata.generateName}${randomUUID().slice(0, 5)}`;
    }
    if (this.events.has(`${namespace}/${name}`)) throw new HttpError(409, "AlreadyExists", `events "${name}" already exists`);
    event.metadata = {
      ...event.metadata,
      name,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(++this.resourceVersion),
      creationTimestamp: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    };
    this.events.set(`${namespace}/${name}`, event);
    return event;
  }

  private patchEvent(namespace: string, name: string, body: unknown, contentType: string): CoreEvent {
    const current = this.events.get(`${namespace}/${name}`);
    if (!current) throw new HttpError(404, "NotFound", `events "${name}" not found`);
    this.checkResourceVersion(body, current.metadata.resourceVersion);
    const patched = this.applyPatch(current as unknown as Json, body, contentType) as unknown as CoreEvent;
    patched.metadata = { ...patched.metadata, name, namespace, uid: current.metadata.uid ?? "", resourceVersion: String(++this.resourceVersion) };
    this.events.set(`${namespace}/${name}`, patched);
    return patched;
  }
}

type RecordStatus = { status: number };

// ---------------------------------------------------------------- server-side printing (kubectl get)

/** Like the API server's duration.HumanDuration, for "Age" and "Last Seen" cells. */
function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  return `${d}d`;
}

const column = (name: string, priority = 0, type = "string") => ({ name, type, format: name === "Name" ? "name" : "", description: name, priority });

/**
 * Answers `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what
 * `kubectl get` asks for) for Nodes and Events with the columns the real
 * server prints; other kinds get NAME and AGE.
 */
function asTable(body: unknown, nowMs: number, includeObject: boolean): unknown {
  if (!isObject(body)) return body;
  const kind = typeof body["kind"] === "string" ? body["kind"] : "";
  const items: JsonObject[] = kind.endsWith("List") ? ((body["items"] as Json[] | undefined) ?? []).filter(isObject) : [body];
  const itemKind = kind.endsWith("List") ? kind.slice(0, -4) : kind;
  const age = (o: JsonObject) => {
    const created = isObject(o["metadata"]) ? o["metadata"]["creationTimestamp"] : undefined;
    return typeof created === "string" ? humanDuration(nowMs - Date.parse(created)) : "<unknown>";
  };
  const name = (o: JsonObject) => (isObject(o["metadata"]) && typeof o["metadata"]["name"] === "string" ? o["metadata"]["name"] : "");
  let columnDefinitions;
  let cells: (o: JsonObject) => Json[];
  if (itemKind === "Event") {
    columnDefinitions = ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"].map((n) =>
      column(n, ["Subobject", "Source", "First Seen", "Count", "Name"].includes(n) ? 1 : 0),
    );
    cells = (o) => {
      const e = o as unknown as CoreEvent;
      const last = e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
      const first = e.firstTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
      return [
        last ? humanDuration(nowMs - Date.parse(last)) : "<unknown>",
        e.type ?? "",
        e.reason ?? "",
        `${(e.involvedObject.kind ?? "").toLowerCase()}/${e.involvedObject.name ?? ""}`,
        e.involvedObject.fieldPath ?? "",
        [e.source?.component, e.source?.host].filter(Boolean).join(", "),
        (e.message ?? "").trim(),
        first ? humanDuration(nowMs - Date.parse(first)) : "<unknown>",
        e.count ?? 1,
        e.metadata.name ?? "",
      ];
    };
  } else if (itemKind === "Node") {
    columnDefinitions = ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"].map(
      (n) => column(n, ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"].includes(n) ? 1 : 0),
    );
    cells = (o) => {
      const n = o as unknown as Node;
      const ready = n.status?.conditions?.find((c) => c.type === "Ready");
      const status = ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown";
      const roles = Object.keys(n.metadata?.labels ?? {})
        .filter((l) => l.startsWith("node-role.kubernetes.io/"))
        .map((l) => l.slice("node-role.kubernetes.io/".length));
      const address = (type: string) => n.status?.addresses?.find((a) => a.type === type)?.address ?? "<none>";
      const info = n.status?.nodeInfo;
      return [
        name(o),
        n.spec?.unschedulable ? `${status},SchedulingDisabled` : status,
        roles.join(",") || "<none>",
        age(o),
        info?.kubeletVersion ?? "",
        address("InternalIP"),
        address("ExternalIP"),
        info?.osImage ?? "",
        info?.kernelVersion ?? "",
        info?.containerRuntimeVersion ?? "",
      ];
    };
  } else {
    columnDefinitions = [column("Name"), column("Age")];
    cells = (o) => [name(o), age(o)];
  }
  const listMeta = isObject(body["metadata"]) && kind.endsWith("List") ? body["metadata"] : {};
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions,
    rows: items.map((o) => ({
      cells: cells(o),
      object: includeObject ? o : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o["metadata"] ?? {} },
    })),
  };
}

function matches(record: { verb: Verb; resource: Resource; name?: string }, match: RouteMatch): boolean {
  return (
    (match.verb === undefined || match.verb === record.verb) &&
    (match.resource === undefined || match.resource === record.resource) &&
    (match.name === undefined || match.name === record.name)
  );
}

/** Verb and resource of a request, named as the client's metrics name them. */
export function classify(method: string, pathname: string): { verb: Verb; resource: Resource; name?: string; namespace?: string } {
  const parts = pathname
    .split("/")
    .filter(Boolean)
    .map((part) => decodeURIComponent(part));
  const verbFor = (named: boolean): Verb => {
    switch (method) {
      case "POST":
        return "create";
      case "PATCH":
        return "patch";
      case "PUT":
        return "update";
      case "DELETE":
        return "delete";
      default:
        return named ? "get" : "list";
    }
  };
  if (pathname === "/version") return { verb: "get", resource: "version" };
  let rest: string[];
  if (parts[0] === "api" && parts[1] === "v1") rest = parts.slice(2);
  else if (parts[0] === "apis" && parts.length >= 3) rest = parts.slice(3);
  else return { verb: "get", resource: "discovery" };
  if (rest.length === 0) return { verb: "get", resource: "discovery" };
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource = "", name, sub] = rest;
  const out: { verb: Verb; resource: Resource; name?: string; namespace?: string } = {
    verb: verbFor(name !== undefined),
    resource: sub ? `${resource}/${sub}` : resource,
  };
  if (name !== undefined) out.name = name;
  if (namespace !== undefined) out.namespace = namespace;
  return out;
}

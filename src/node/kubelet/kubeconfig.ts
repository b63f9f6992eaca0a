/**
 * kubelet's kubeconfig, read once the way kubelet's client (client-go's
 * clientcmd) reads it: every list well-formed, then `current-context` → its
 * context → the cluster's `server` and CA and the user's client certificate
 * and key (paths relative to the kubeconfig's directory, or inline `-data`).
 * Without a current-context kubelet has no API server, whatever single
 * entry the file holds; every check gets that same answer from here, and so
 * does the agent's own --kubeconfig (kube/credentials.ts reads its
 * credentials from the entries this resolves).
 */
import * as path from "node:path";
import type { Host } from "../../types.js";
import { loadYamlMapping, parseYamlMapping, type LoadedDocument } from "./config.js";
import { isRecord } from "../../types.js";

export type PemSource = { kind: "file"; path: string } | { kind: "inline"; label: string; bytes: Buffer };

export function sourceLabel(source: PemSource): string {
  return source.kind === "file" ? source.path : source.label;
}

export interface Kubeconfig {
  path: string;
  context: string;
  cluster: string;
  server: string;
  certificateAuthority?: PemSource;
  clientCertificate?: PemSource;
  /** Absent when the key shares the certificate's file. */
  clientKey?: PemSource;
}

/**
 * `invalid`: not YAML, not a mapping, or a key of the wrong shape (client-go refuses to load it).
 * `no-server`: it loads, but names no usable API server (no current-context, a dangling name, no server URL).
 */
export type KubeconfigRead = { ok: true; kubeconfig: Kubeconfig } | { ok: false; kind: "invalid" | "no-server"; problem: string; missing?: boolean };

/** The entries the current context (or the one asked for) resolves to, for readers of the fields kubelet does not use. */
export interface ResolvedKubeconfig {
  kubeconfig: Kubeconfig;
  /** The cluster's and the user's mappings as written (`{}` when the context names no user). */
  clusterEntry: Record<string, unknown>;
  userEntry: Record<string, unknown>;
  /** The user the context names, if any. */
  userName?: string;
  /** The user the context names, when no entry of that name exists. */
  missingUser?: string;
}

export type KubeconfigResolve = ({ ok: true } & ResolvedKubeconfig) | { ok: false; kind: "invalid" | "no-server"; problem: string };

class ShapeError extends Error {}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

type Entry = { index: number; name: string; value: Record<string, unknown> };

/** Validates one of clusters/contexts/users and returns its entries. */
function entries(doc: Record<string, unknown>, listKey: string, innerKey: string): Entry[] {
  const list = doc[listKey];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ShapeError(`${listKey}: expected a list, got ${describe(list)}`);
  return list.map((item, index) => {
    if (!isRecord(item)) throw new ShapeError(`${listKey}[${index}]: expected a mapping, got ${describe(item)}`);
    if (typeof item["name"] !== "string") throw new ShapeError(`${listKey}[${index}].name: expected a string, got ${describe(item["name"])}`);
    const inner = item[innerKey] ?? {};
    if (!isRecord(inner)) throw new ShapeError(`${listKey}[${index}].${innerKey}: expected a mapping, got ${describe(inner)}`);
    return { index, name: item["name"], value: inner };
  });
}

function stringField(value: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = value[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ShapeError(`${where}.${key}: expected a string, got ${describe(v)}`);
  return v === "" ? undefined : v;
}

function pemSource(kubeconfigPath: string, value: Record<string, unknown>, key: string, where: string): PemSource | undefined {
  const data = stringField(value, `${key}-data`, where);
  if (data !== undefined) {
    const compact = data.replace(/\s+/g, "");
    if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new ShapeError(`${where}.${key}-data: is not valid base64`);
    return { kind: "inline", label: `${kubeconfigPath} (${where}.${key}-data)`, bytes: Buffer.from(compact, "base64") };
  }
  const file = stringField(value, key, where);
  if (file === undefined) return undefined;
  // client-go resolves relative paths against the kubeconfig's directory.
  return { kind: "file", path: path.posix.resolve(path.posix.dirname(kubeconfigPath), file) };
}

/** Reads a parsed kubeconfig document. Pure. */
export function readKubeconfigDocument(kubeconfigPath: string, doc: Record<string, unknown>): KubeconfigRead {
  const resolved = resolveKubeconfig(kubeconfigPath, doc);
  if (!resolved.ok) return { ok: false, kind: resolved.kind, problem: `${kubeconfigPath}: ${resolved.problem}` };
  return { ok: true, kubeconfig: resolved.kubeconfig };
}

/**
 * Resolves `context` (default: the current-context) of a parsed kubeconfig to its cluster and
 * user, validating every entry as client-go does. Problems do not name the path. Pure.
 */
export function resolveKubeconfig(kubeconfigPath: string, doc: Record<string, unknown>, options: { context?: string } = {}): KubeconfigResolve {
  const noServer = (problem: string): KubeconfigResolve => ({ ok: false, kind: "no-server", problem });
  let clusters: Entry[], contexts: Entry[], users: Entry[], current: string | undefined;
  try {
    clusters = entries(doc, "clusters", "cluster");
    contexts = entries(doc, "contexts", "context");
    users = entries(doc, "users", "user");
    current = stringField(doc, "current-context", "kubeconfig");
    // client-go decodes every entry, used or not: a wrong type or bad base64 anywhere fails the whole file.
    for (const c of clusters) {
      stringField(c.value, "server", `clusters[${c.index}].cluster`);
      pemSource(kubeconfigPath, c.value, "certificate-authority", `clusters[${c.index}].cluster`);
    }
    for (const c of contexts) for (const key of ["cluster", "user"]) stringField(c.value, key, `contexts[${c.index}].context`);
    for (const u of users) for (const key of ["client-certificate", "client-key"]) pemSource(kubeconfigPath, u.value, key, `users[${u.index}].user`);
  } catch (error) {
    if (error instanceof ShapeError) return { ok: false, kind: "invalid", problem: error.message };
    throw error;
  }
  current = options.context ?? current;
  if (current === undefined) return noServer("current-context is not set, so it names no API server");
  const context = contexts.find((c) => c.name === current);
  if (!context) return noServer(`contexts: no entry named ${JSON.stringify(current)} (the current-context)`);
  try {
    const contextWhere = `contexts[${context.index}].context`;
    const clusterName = stringField(context.value, "cluster", contextWhere);
    const userName = stringField(context.value, "user", contextWhere);
    const cluster = clusters.find((c) => c.name === clusterName);
    if (!cluster) return noServer(`context ${JSON.stringify(current)} names cluster ${JSON.stringify(clusterName ?? "")}, which is not among its clusters`);
    const clusterWhere = `clusters[${cluster.index}].cluster`;
    const server = stringField(cluster.value, "server", clusterWhere);
    if (server === undefined || server.trim() === "") return noServer(`cluster ${JSON.stringify(cluster.name)} has no server`);
    let url: URL | undefined;
    try {
      url = new URL(server);
    } catch {
      return noServer(`cluster ${JSON.stringify(cluster.name)} has server ${JSON.stringify(server)}, which is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return noServer(`server ${JSON.stringify(server)} is not an http(s) URL`);
    const kubeconfig: Kubeconfig = { path: kubeconfigPath, context: current, cluster: cluster.name, server };
    const ca = pemSource(kubeconfigPath, cluster.value, "certificate-authority", clusterWhere);
    if (ca) kubeconfig.certificateAuthority = ca;
    const user = users.find((u) => u.name === userName);
    const resolved: ResolvedKubeconfig = { kubeconfig, clusterEntry: cluster.value, userEntry: user?.value ?? {} };
    if (userName !== undefined) resolved.userName = userName;
    if (userName !== undefined && !user) resolved.missingUser = userName;
    if (user) {
      const userWhere = `users[${user.index}].user`;
      const cert = pemSource(kubeconfigPath, user.value, "client-certificate", userWhere);
      const key = pemSource(kubeconfigPath, user.value, "client-key", userWhere);
      if (cert) kubeconfig.clientCertificate = cert;
      if (key && !(cert?.kind === "file" && key.kind === "file" && key.path === cert.path)) kubeconfig.clientKey = key;
    }
    return { ok: true, ...resolved };
  } catch (error) {
    if (error instanceof ShapeError) return { ok: false, kind: "invalid", problem: error.message };
    throw error;
  }
}

function fromDocument(loaded: LoadedDocument): KubeconfigRead {
  if (!loaded.ok) return { ok: false, kind: "invalid", problem: loaded.problem, ...(loaded.missing ? { missing: true } : {}) };
  return readKubeconfigDocument(loaded.path, loaded.value);
}

/** A kubeconfig's text, as read. Pure. */
export function readKubeconfigText(kubeconfigPath: string, text: string): KubeconfigRead {
  if (text.includes("\0")) return { ok: false, kind: "invalid", problem: `${kubeconfigPath}: binary data, not a kubeconfig` };
  return fromDocument(parseYamlMapping(kubeconfigPath, text));
}

/** Reads and parses the kubeconfig at a node path. */
export async function readKubeconfig(host: Host, kubeconfigPath: string, signal?: AbortSignal): Promise<KubeconfigRead> {
  return fromDocument(await loadYamlMapping(host, kubeconfigPath, signal));
}

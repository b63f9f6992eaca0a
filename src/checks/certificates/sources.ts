/**
 * Which certificates kubelet actually uses, worked out the way kubelet does:
 * its flags override its KubeletConfiguration; the kubeconfig names the
 * client certificate, its key and the cluster CA (as paths relative to the
 * kubeconfig, or inline `-data`); with neither, kubelet's own defaults under
 * its cert dir (`kubelet-client-current.pem`, `kubelet.crt`/`kubelet.key`).
 */
import * as path from "node:path";
import { loadYamlMapping, type KubeletSetup } from "../../node/kubelet/locator.js";
import type { Host } from "../../types.js";

/** Where kubeadm and the cloud installers put kubelet's kubeconfig, tried in order when no flag names one. */
export const DEFAULT_KUBECONFIG_PATHS = ["/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/kubeconfig"];
export const DEFAULT_BOOTSTRAP_KUBECONFIG = "/etc/kubernetes/bootstrap-kubelet.conf";

export type PemSource = { kind: "file"; path: string } | { kind: "inline"; label: string; bytes: Buffer };

export function sourceLabel(source: PemSource): string {
  return source.kind === "file" ? source.path : source.label;
}

export interface KubeconfigCredentials {
  /** The user's client certificate, when it authenticates with one. */
  clientCertificate?: PemSource;
  /** The user's key; absent when the key shares the certificate's file. */
  clientKey?: PemSource;
  certificateAuthority?: PemSource;
}

export type KubeconfigParse = { ok: true; credentials: KubeconfigCredentials } | { ok: false; problem: string };

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class ShapeError extends Error {}

function named(
  doc: Record<string, unknown>,
  listKey: string,
  innerKey: string,
  wanted: string | undefined,
): { index: number; value: Record<string, unknown> } | undefined {
  const list = doc[listKey];
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw new ShapeError(`${listKey}: expected a list, got ${describe(list)}`);
  const entries = list.map((item, index) => {
    if (!isMapping(item)) throw new ShapeError(`${listKey}[${index}]: expected a mapping, got ${describe(item)}`);
    if (typeof item["name"] !== "string") throw new ShapeError(`${listKey}[${index}].name: expected a string, got ${describe(item["name"])}`);
    const inner = item[innerKey];
    if (!isMapping(inner)) throw new ShapeError(`${listKey}[${index}].${innerKey}: expected a mapping, got ${describe(inner)}`);
    return { index, name: item["name"], value: inner };
  });
  if (wanted !== undefined) {
    const found = entries.find((e) => e.name === wanted);
    if (!found) throw new ShapeError(`${listKey}: no entry named ${JSON.stringify(wanted)}`);
    return found;
  }
  // kubelet's kubeconfigs hold one user and one cluster; with several and no context, none is "the" one.
  return entries.length === 1 ? entries[0] : undefined;
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

/** Validates the parts of a kubeconfig kubelet uses and picks out its credentials. Pure. */
export function parseKubeconfig(kubeconfigPath: string, doc: Record<string, unknown>): KubeconfigParse {
  try {
    const currentContext = stringField(doc, "current-context", "kubeconfig");
    let contextUser: string | undefined;
    let contextCluster: string | undefined;
    if (currentContext !== undefined) {
      const context = named(doc, "contexts", "context", currentContext);
      if (!context) throw new ShapeError(`contexts: no entry named ${JSON.stringify(currentContext)} (the current-context)`);
      const where = `contexts[${context.index}].context`;
      contextUser = stringField(context.value, "user", where);
      contextCluster = stringField(context.value, "cluster", where);
    }
    const credentials: KubeconfigCredentials = {};
    const user = named(doc, "users", "user", contextUser);
    if (user) {
      const where = `users[${user.index}].user`;
      const cert = pemSource(kubeconfigPath, user.value, "client-certificate", where);
      const key = pemSource(kubeconfigPath, user.value, "client-key", where);
      if (cert) credentials.clientCertificate = cert;
      if (key && !(cert?.kind === "file" && key.kind === "file" && key.path === cert.path)) credentials.clientKey = key;
    }
    const cluster = named(doc, "clusters", "cluster", contextCluster);
    if (cluster) {
      const ca = pemSource(kubeconfigPath, cluster.value, "certificate-authority", `clusters[${cluster.index}].cluster`);
      if (ca) credentials.certificateAuthority = ca;
    }
    return { ok: true, credentials };
  } catch (error) {
    if (error instanceof ShapeError) return { ok: false, problem: `${kubeconfigPath}: ${error.message}` };
    throw error;
  }
}

export interface CertificateSources {
  certDir: string;
  kubeconfigPath?: string;
  /** The kubeconfig could not be used: names the path and the problem. */
  kubeconfigProblem?: string;
  bootstrapKubeconfigPath: string;
  client?: { certificate: PemSource; key?: PemSource; origin: string };
  ca?: { source: PemSource; origin: string };
  serving?: { certificate: PemSource; key?: PemSource; origin: string; selfSigned: boolean };
  /** kubelet renews these itself (rotateCertificates / serverTLSBootstrap). */
  rotateClient: boolean;
  rotateServing: boolean;
  /** --hostname-override: the node name when the API server is not there to say. */
  hostnameOverride?: string;
  kubeletRunning: boolean;
}

function configString(setup: KubeletSetup, key: string): string | undefined {
  const value = setup.config?.ok ? setup.config.value[key] : undefined;
  return typeof value === "string" && value !== "" ? value : undefined;
}

function configBoolean(setup: KubeletSetup, key: string): boolean | undefined {
  const value = setup.config?.ok ? setup.config.value[key] : undefined;
  return typeof value === "boolean" ? value : undefined;
}

function flagBoolean(setup: KubeletSetup, name: string): boolean | undefined {
  const value = setup.flags.values.get(name);
  return value === undefined ? undefined : value === "true" || value === "1";
}

async function lexists(host: Host, nodePath: string): Promise<boolean> {
  try {
    await host.lstat(nodePath);
    return true;
  } catch {
    return false;
  }
}

/** Parsed kubeconfigs by path, reparsed only when the file's stat changes. */
export class KubeconfigCache {
  private entry?: { path: string; signature: string; parse: KubeconfigParse };
  parses = 0;

  async load(host: Host, kubeconfigPath: string, signal: AbortSignal): Promise<KubeconfigParse> {
    let signature: string | undefined;
    try {
      const st = await host.stat(kubeconfigPath);
      signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // unreadable: loadYamlMapping below says why
    }
    if (signature && this.entry?.path === kubeconfigPath && this.entry.signature === signature) return this.entry.parse;
    this.parses++;
    const loaded = await loadYamlMapping(host, kubeconfigPath, signal);
    const parse = loaded.ok ? parseKubeconfig(kubeconfigPath, loaded.value) : { ok: false as const, problem: loaded.problem };
    if (signature) this.entry = { path: kubeconfigPath, signature, parse };
    else delete this.entry;
    return parse;
  }
}

/** Finds the certificates kubelet uses; a problem with the kubeconfig is data, not an exception. */
export async function locateCertificates(
  host: Host,
  setup: KubeletSetup,
  signal: AbortSignal,
  kubeconfigs = new KubeconfigCache(),
): Promise<CertificateSources> {
  const flags = setup.flags.values;
  const certDir = path.posix.resolve("/", flags.get("cert-dir") || path.posix.join(setup.rootDir, "pki"));
  const sources: CertificateSources = {
    certDir,
    bootstrapKubeconfigPath: flags.get("bootstrap-kubeconfig") || DEFAULT_BOOTSTRAP_KUBECONFIG,
    rotateClient: flagBoolean(setup, "rotate-certificates") ?? configBoolean(setup, "rotateCertificates") ?? false,
    rotateServing: flagBoolean(setup, "rotate-server-certificates") ?? configBoolean(setup, "serverTLSBootstrap") ?? false,
    kubeletRunning: setup.process !== undefined,
  };
  const hostnameOverride = flags.get("hostname-override");
  if (hostnameOverride) sources.hostnameOverride = hostnameOverride.trim().toLowerCase();

  let kubeconfigPath = flags.get("kubeconfig") || undefined;
  if (!kubeconfigPath) {
    for (const candidate of DEFAULT_KUBECONFIG_PATHS) {
      if (await host.exists(candidate)) {
        kubeconfigPath = candidate;
        break;
      }
    }
  }
  let credentials: KubeconfigCredentials = {};
  if (kubeconfigPath) {
    sources.kubeconfigPath = kubeconfigPath;
    const parsed = await kubeconfigs.load(host, kubeconfigPath, signal);
    if (parsed.ok) credentials = parsed.credentials;
    else sources.kubeconfigProblem = parsed.problem;
  }

  const current = path.posix.join(certDir, "kubelet-client-current.pem");
  if (credentials.clientCertificate) {
    sources.client = {
      certificate: credentials.clientCertificate,
      ...(credentials.clientKey ? { key: credentials.clientKey } : {}),
      origin: `the kubeconfig ${kubeconfigPath}`,
    };
  } else if (await lexists(host, current)) {
    sources.client = { certificate: { kind: "file", path: current }, origin: `kubelet's cert dir ${certDir}` };
  }
  if (credentials.certificateAuthority) sources.ca = { source: credentials.certificateAuthority, origin: `the kubeconfig ${kubeconfigPath}` };

  const tlsCert = flags.get("tls-cert-file") || configString(setup, "tlsCertFile");
  const tlsKey = flags.get("tls-private-key-file") || configString(setup, "tlsPrivateKeyFile");
  if (tlsCert) {
    sources.serving = {
      certificate: { kind: "file", path: tlsCert },
      ...(tlsKey ? { key: { kind: "file" as const, path: tlsKey } } : {}),
      origin: flags.get("tls-cert-file") ? "kubelet's --tls-cert-file" : `tlsCertFile in ${setup.configPath}`,
      selfSigned: false,
    };
  } else if (sources.rotateServing) {
    sources.serving = {
      certificate: { kind: "file", path: path.posix.join(certDir, "kubelet-server-current.pem") },
      origin: "serverTLSBootstrap",
      selfSigned: false,
    };
  } else {
    const crt = path.posix.join(certDir, "kubelet.crt");
    // kubelet writes the self-signed pair at its first start; before that there is nothing to judge.
    if (sources.kubeletRunning || (await lexists(host, crt))) {
      sources.serving = {
        certificate: { kind: "file", path: crt },
        key: { kind: "file", path: path.posix.join(certDir, "kubelet.key") },
        origin: "kubelet's self-signed default",
        selfSigned: true,
      };
    }
  }
  return sources;
}

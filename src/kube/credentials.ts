/**
 * Where the API server and its credentials come from:
 *
 * - in-cluster (the default in a pod): KUBERNETES_SERVICE_HOST/PORT and the
 *   service account's token and CA under
 *   /var/run/secrets/kubernetes.io/serviceaccount. The token is projected and
 *   rotated by kubelet (about hourly), so it is re-read every minute and at
 *   once after a 401, like client-go does;
 * - a kubeconfig (--kubeconfig): the current context's cluster and user.
 *   Client certificates and tokens (inline or in files), the cluster's
 *   proxy-url (HTTP CONNECT) and the user's impersonation (`as`, …) are
 *   handled here;
 *   exec and auth-provider users need @kubernetes/client-node's breadth, which
 *   is imported only then (it is heavy; the resident agent never loads it).
 *
 * Errors are KubeConfigError: one line naming the file and the key.
 */
import { HostPathError, readOwnFile } from "../node/host.js";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseUntrustedYaml, YamlLimitError } from "../text/yaml.js";
import type { Credentials } from "./transport.js";
import { resolveKubeconfig, type PemSource } from "../node/kubelet/kubeconfig.js";
import { errorLine, errorText } from "../text/format.js";
import { isRecord } from "../types.js";

export class KubeConfigError extends Error {
  constructor(
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${where}: ${problem}`);
    this.name = "KubeConfigError";
  }
}

/** A bearer token is a few KiB at most (a projected service account token is about 1 KiB). */
const MAX_TOKEN_BYTES = 64 * 1024;

function problemOf(error: unknown): string {
  return error instanceof HostPathError ? error.problem : errorText(error);
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** client-go re-reads a projected token file at most once a minute. */
export const TOKEN_REREAD_MS = 60_000;

/** A token file read lazily, re-read after TOKEN_REREAD_MS or after the server said 401. */
export function fileToken(path: string, monotonic: () => number = () => performance.now()): { token: () => Promise<string>; invalidate: () => void } {
  let cached: { value: string; atMs: number } | undefined;
  return {
    async token() {
      if (cached && monotonic() - cached.atMs < TOKEN_REREAD_MS) return cached.value;
      let text: string;
      try {
        text = await readOwnFile(path, MAX_TOKEN_BYTES);
      } catch (error) {
        // A rotation in flight can briefly hide the file: keep the last token rather than send none.
        if (cached) return cached.value;
        throw new KubeConfigError(path, `cannot read the token: ${problemOf(error)}`);
      }
      const value = text.trim();
      if (!value) throw new KubeConfigError(path, "the token file is empty");
      cached = { value, atMs: monotonic() };
      return value;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

/** In-cluster credentials, or undefined when not running in a pod (no service env or no token). */
export async function inClusterCredentials(env: NodeJS.ProcessEnv = process.env, dir: string = SERVICE_ACCOUNT_DIR): Promise<Credentials | undefined> {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (!host || !port) return undefined;
  const tokenPath = `${dir}/token`;
  try {
    await readOwnFile(tokenPath, MAX_TOKEN_BYTES);
  } catch (error) {
    if (error instanceof HostPathError && error.code === "ENOENT") return undefined;
    throw new KubeConfigError(tokenPath, `cannot read the service account token: ${problemOf(error)}`);
  }
  let ca: string;
  try {
    ca = await readOwnFile(`${dir}/ca.crt`);
  } catch (error) {
    throw new KubeConfigError(`${dir}/ca.crt`, `cannot read the service account CA: ${problemOf(error)}`);
  }
  const token = fileToken(tokenPath);
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return { server: `https://${hostPart}:${port}`, ca, token: token.token, onUnauthorized: token.invalidate, origin: "in-cluster service account" };
}

// ---------------------------------------------------------------- kubeconfig

function optionalString(object: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new KubeConfigError(where, `${key}: expected a string, got ${typeof value}`);
  return value;
}

/** A PEM the kubeconfig names (`key`) or holds inline (`key-data`), as text. */
async function readPem(source: PemSource, entry: string, key: string): Promise<string> {
  const where = `${entry}.${key}${source.kind === "inline" ? "-data" : ""}`;
  if (source.kind === "inline") {
    const text = source.bytes.toString("utf8");
    if (!text.includes("-----BEGIN")) throw new KubeConfigError(where, "is not base64-encoded PEM");
    return text;
  }
  try {
    return await readOwnFile(source.path);
  } catch (error) {
    // The code first (ENOENT, ENOTFILE, EFBIG), as kubectl users know it, then what it means.
    throw new KubeConfigError(where, `cannot read ${source.path}: ${error instanceof HostPathError ? `${error.code}: ${error.problem}` : problemOf(error)}`);
  }
}

/**
 * Reads a kubeconfig file as YAML; errors name the path and the problem. An
 * empty file is null (kubectl treats it as an empty config).
 */
export async function readKubeconfigDocument(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readOwnFile(path);
  } catch (error) {
    throw new KubeConfigError(`kubeconfig ${path}`, problemOf(error));
  }
  let doc: unknown;
  try {
    doc = parseUntrustedYaml(text);
  } catch (error) {
    if (error instanceof YamlLimitError) throw new KubeConfigError(`kubeconfig ${path}`, error.message);
    throw new KubeConfigError(`kubeconfig ${path}`, `invalid YAML: ${errorLine(error)}`);
  }
  if (doc === null || doc === undefined) return null;
  if (!isRecord(doc)) throw new KubeConfigError(`kubeconfig ${path}`, "expected a mapping at the top level");
  return doc;
}

/**
 * Reads a kubeconfig's current context (or `context`) into Credentials. Which cluster and user
 * that is comes from the one kubeconfig reader (node/kubelet/kubeconfig.ts), so a missing
 * current-context or a dangling name answers here as it does for kubelet's kubeconfig.
 */
export async function kubeconfigCredentials(path: string, options: { context?: string } = {}): Promise<Credentials> {
  const doc = await readKubeconfigDocument(path);
  if (!doc) throw new KubeConfigError(`kubeconfig ${path}`, "is empty");
  const where = `kubeconfig ${path}`;
  const resolved = resolveKubeconfig(path, doc, options);
  if (!resolved.ok) throw new KubeConfigError(where, resolved.problem);
  const { kubeconfig, clusterEntry: cluster, userEntry: user } = resolved;
  if (resolved.missingUser !== undefined) throw new KubeConfigError(where, `users: no entry named ${JSON.stringify(resolved.missingUser)}`);
  const cw = `${where}: clusters[${kubeconfig.cluster}]`;
  const uw = `${where}: users[${resolved.userName ?? ""}]`;

  const server = kubeconfig.server;
  if (new URL(server).protocol !== "https:") throw new KubeConfigError(cw, `server ${server}: only https:// API servers are supported`);
  const routing = { ...proxyOf(cluster, cw), ...impersonationOf(user, uw) };

  if (user["exec"] !== undefined || user["auth-provider"] !== undefined) return { ...(await pluginCredentials(path, kubeconfig.context, where)), ...routing };

  const credentials: Credentials = { server: server.replace(/\/+$/, ""), origin: `kubeconfig ${path}`, ...routing };
  if (kubeconfig.certificateAuthority) credentials.ca = await readPem(kubeconfig.certificateAuthority, cw, "certificate-authority");
  if (cluster["insecure-skip-tls-verify"] === true) credentials.insecureSkipTlsVerify = true;
  const serverName = optionalString(cluster, "tls-server-name", cw);
  if (serverName) credentials.tlsServerName = serverName;

  if (kubeconfig.clientCertificate) credentials.cert = await readPem(kubeconfig.clientCertificate, uw, "client-certificate");
  // The reader leaves out a key that shares the certificate's file: then the file holds both.
  const keySource =
    kubeconfig.clientKey ?? (kubeconfig.clientCertificate?.kind === "file" && user["client-key"] !== undefined ? kubeconfig.clientCertificate : undefined);
  if (keySource) credentials.key = await readPem(keySource, uw, "client-key");
  if (Boolean(credentials.cert) !== Boolean(credentials.key)) throw new KubeConfigError(uw, "a client certificate needs both the certificate and its key");

  const token = optionalString(user, "token", uw);
  const tokenFile = optionalString(user, "tokenFile", uw);
  if (token) credentials.token = async () => token;
  else if (tokenFile) {
    const full = isAbsolute(tokenFile) ? tokenFile : resolve(dirname(path), tokenFile);
    const reader = fileToken(full);
    credentials.token = reader.token;
    credentials.onUnauthorized = reader.invalidate;
  }
  if (user["username"] !== undefined || user["password"] !== undefined)
    throw new KubeConfigError(uw, "basic authentication (username/password) is not supported; use a token or a client certificate");
  return credentials;
}

/** A cluster's `proxy-url`, as client-go honours it: http:// or https:// CONNECT proxies; others are refused, never ignored. */
function proxyOf(cluster: Record<string, unknown>, where: string): Pick<Credentials, "proxyUrl"> {
  const value = optionalString(cluster, "proxy-url", where);
  if (value === undefined) return {};
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new KubeConfigError(where, `proxy-url ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new KubeConfigError(where, `proxy-url ${url.protocol}//…: only http:// and https:// (CONNECT) proxies are supported`);
  }
  return { proxyUrl: url.href };
}

/** A user's `as`, `as-uid`, `as-groups` and `as-user-extra`: impersonation, as kubectl --as does it. */
function impersonationOf(user: Record<string, unknown>, where: string): Pick<Credentials, "impersonate"> {
  const as = optionalString(user, "as", where);
  const uid = optionalString(user, "as-uid", where);
  const groups = user["as-groups"];
  const extra = user["as-user-extra"];
  if (as === undefined) {
    if (uid !== undefined || (Array.isArray(groups) && groups.length > 0) || (isRecord(extra) && Object.keys(extra).length > 0)) {
      throw new KubeConfigError(where, "as-uid, as-groups and as-user-extra need `as` (the user to impersonate)");
    }
    return {};
  }
  let groupList: string[] = [];
  if (groups !== undefined && groups !== null) {
    if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === "string"))
      throw new KubeConfigError(where, "as-groups: expected a list of strings");
    groupList = groups;
  }
  const extras: Record<string, string[]> = {};
  if (extra !== undefined && extra !== null) {
    if (!isRecord(extra)) throw new KubeConfigError(where, "as-user-extra: expected a mapping of lists of strings");
    for (const [key, values] of Object.entries(extra)) {
      if (!Array.isArray(values) || !values.every((v) => typeof v === "string"))
        throw new KubeConfigError(where, `as-user-extra.${key}: expected a list of strings`);
      extras[key] = values;
    }
  }
  return {
    impersonate: {
      user: as,
      ...(uid ? { uid } : {}),
      ...(groupList.length > 0 ? { groups: groupList } : {}),
      ...(Object.keys(extras).length > 0 ? { extra: extras } : {}),
    },
  };
}

/** The shape of @kubernetes/client-node this file uses, checked at runtime. */
interface ClientNodeKubeConfig {
  loadFromFile(path: string): void;
  setCurrentContext(name: string): void;
  getCurrentCluster(): { server: string; skipTLSVerify?: boolean } | null;
  applyToHTTPSOptions(options: Record<string, unknown>): Promise<void>;
}

/**
 * exec / auth-provider users: @kubernetes/client-node runs the plugin and
 * yields headers and TLS material; the token is asked for on every request
 * (the library caches it until it expires).
 */
async function pluginCredentials(path: string, context: string, where: string): Promise<Credentials> {
  const specifier = "@kubernetes/client-node";
  let module: unknown;
  try {
    module = await import(specifier);
  } catch {
    throw new KubeConfigError(
      where,
      `the user of context ${JSON.stringify(context)} uses an exec or auth-provider plugin, which needs the optional package @kubernetes/client-node (npm install @kubernetes/client-node), or use a kubeconfig with a token or client certificate`,
    );
  }
  const KubeConfig = isRecord(module) ? module["KubeConfig"] : undefined;
  if (typeof KubeConfig !== "function") throw new KubeConfigError(where, "@kubernetes/client-node has no KubeConfig export");
  const kc = new (KubeConfig as new () => ClientNodeKubeConfig)();
  try {
    kc.loadFromFile(path);
    kc.setCurrentContext(context);
  } catch (error) {
    throw new KubeConfigError(where, errorText(error));
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError(where, `context ${JSON.stringify(context)} has no cluster`);
  const resolveOptions = async () => {
    const options: Record<string, unknown> = { headers: {} };
    await kc.applyToHTTPSOptions(options);
    return options;
  };
  const first = await resolveOptions().catch((error: unknown) => {
    throw new KubeConfigError(where, `the credential plugin failed: ${errorText(error)}`);
  });
  const pem = (value: unknown) => (typeof value === "string" ? value : Buffer.isBuffer(value) ? value.toString("utf8") : undefined);
  const credentials: Credentials = { server: cluster.server.replace(/\/+$/, ""), origin: `kubeconfig ${path} (credential plugin)` };
  const ca = pem(first["ca"]);
  const cert = pem(first["cert"]);
  const key = pem(first["key"]);
  if (ca) credentials.ca = ca;
  if (cert) credentials.cert = cert;
  if (key) credentials.key = key;
  if (cluster.skipTLSVerify) credentials.insecureSkipTlsVerify = true;
  credentials.token = async () => {
    const options = await resolveOptions();
    const headers = isRecord(options["headers"]) ? options["headers"] : {};
    const auth = headers["Authorization"] ?? headers["authorization"];
    return typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice("Bearer ".length) : undefined;
  };
  return credentials;
}

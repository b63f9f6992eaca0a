/**
 * Which certificates kubelet actually uses, worked out the way kubelet does:
 * its flags override its KubeletConfiguration; the kubeconfig names the
 * client certificate, its key and the cluster CA (as paths relative to the
 * kubeconfig, or inline `-data`); with neither, kubelet's own defaults under
 * its cert dir (`kubelet-client-current.pem`, `kubelet.crt`/`kubelet.key`).
 */
import * as path from "node:path";
import { boolSetting, stringSetting } from "../../node/kubelet/config.js";
import { readKubeconfigDocument, sourceLabel, type PemSource } from "../../node/kubelet/kubeconfig.js";
import type { KubeletLocator, KubeletSetup } from "../../node/kubelet/locator.js";
import type { Host } from "../../types.js";

export { sourceLabel, type PemSource };

/** Where kubeadm and the cloud installers put kubelet's kubeconfig, tried in order when no flag names one. */
export const DEFAULT_KUBECONFIG_PATHS = ["/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/kubeconfig"];
export const DEFAULT_BOOTSTRAP_KUBECONFIG = "/etc/kubernetes/bootstrap-kubelet.conf";

export interface KubeconfigCredentials {
  clientCertificate?: PemSource;
  clientKey?: PemSource;
  certificateAuthority?: PemSource;
}

export type KubeconfigParse = { ok: true; credentials: KubeconfigCredentials } | { ok: false; problem: string };

/** The credentials kubelet uses from a parsed kubeconfig: the one kubeconfig reader's answer. Pure. */
export function parseKubeconfig(kubeconfigPath: string, doc: Record<string, unknown>): KubeconfigParse {
  const read = readKubeconfigDocument(kubeconfigPath, doc);
  if (!read.ok) return { ok: false, problem: read.problem };
  const { clientCertificate, clientKey, certificateAuthority } = read.kubeconfig;
  return {
    ok: true,
    credentials: {
      ...(clientCertificate ? { clientCertificate } : {}),
      ...(clientKey ? { clientKey } : {}),
      ...(certificateAuthority ? { certificateAuthority } : {}),
    },
  };
}

export interface CertificateSources {
  certDir: string;
  kubeconfigPath?: string;
  /** The kubeconfig could not be used: names the path and the problem. */
  kubeconfigProblem?: string;
  bootstrapKubeconfigPath: string;
  client?: { certificate: PemSource; key?: PemSource; origin: string };
  ca?: { source: PemSource; origin: string };
  /** The distribution's client CA, when it signs kubelet's client certificate apart from the cluster CA (k3s, RKE2). */
  clientCa?: string;
  serving?: { certificate: PemSource; key?: PemSource; origin: string; selfSigned: boolean };
  /** kubelet renews these itself (rotateCertificates / serverTLSBootstrap). */
  rotateClient: boolean;
  rotateServing: boolean;
  /** --hostname-override: the node name when the API server is not there to say. */
  hostnameOverride?: string;
  kubeletRunning: boolean;
}

async function lexists(host: Host, nodePath: string): Promise<boolean> {
  try {
    await host.lstat(nodePath);
    return true;
  } catch {
    return false;
  }
}

/** Finds the certificates kubelet uses; a problem with the kubeconfig is data, not an exception. */
export async function locateCertificates(
  host: Host,
  setup: KubeletSetup,
  signal: AbortSignal,
  documents: Pick<KubeletLocator, "load">,
): Promise<CertificateSources> {
  const flags = setup.flags.values;
  const certDir = path.posix.resolve("/", flags.get("cert-dir") || path.posix.join(setup.rootDir, "pki"));
  const sources: CertificateSources = {
    certDir,
    bootstrapKubeconfigPath: flags.get("bootstrap-kubeconfig") || DEFAULT_BOOTSTRAP_KUBECONFIG,
    rotateClient: boolSetting(setup.flags, setup.configFiles, "rotate-certificates", "rotateCertificates", false).value,
    rotateServing: boolSetting(setup.flags, setup.configFiles, "rotate-server-certificates", "serverTLSBootstrap", false).value,
    kubeletRunning: setup.process !== undefined,
  };
  const hostnameOverride = flags.get("hostname-override");
  if (hostnameOverride) sources.hostnameOverride = hostnameOverride.trim().toLowerCase();

  let kubeconfigPath = setup.kubeconfigPath ?? (flags.get("kubeconfig") || undefined);
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
    const loaded = await documents.load(kubeconfigPath, signal);
    const parsed = loaded.ok ? parseKubeconfig(kubeconfigPath, loaded.value) : { ok: false as const, problem: loaded.problem };
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
  } else if (setup.distribution.clientCertificate && (await lexists(host, setup.distribution.clientCertificate))) {
    sources.client = { certificate: { kind: "file", path: setup.distribution.clientCertificate }, origin: `${setup.distribution.name}'s agent directory` };
  }
  if (setup.distribution.clientCa && (await lexists(host, setup.distribution.clientCa))) sources.clientCa = setup.distribution.clientCa;
  if (credentials.certificateAuthority) sources.ca = { source: credentials.certificateAuthority, origin: `the kubeconfig ${kubeconfigPath}` };

  const tlsCert = stringSetting(setup.flags, setup.configFiles, "tls-cert-file", "tlsCertFile");
  const tlsKey = stringSetting(setup.flags, setup.configFiles, "tls-private-key-file", "tlsPrivateKeyFile");
  if (tlsCert) {
    sources.serving = {
      certificate: { kind: "file", path: tlsCert.value },
      ...(tlsKey ? { key: { kind: "file" as const, path: tlsKey.value } } : {}),
      origin: tlsCert.from === "flag" ? "kubelet's --tls-cert-file" : `tlsCertFile in ${tlsCert.path}`,
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

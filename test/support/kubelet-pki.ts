/**
 * kubelet's client PKI on a fixture node, as kubeadm lays it out: the
 * cluster CA at /etc/kubernetes/pki/ca.crt, rotated client certificates in
 * /var/lib/kubelet/pki, kubelet-client-current.pem pointing at one of them,
 * and /etc/kubernetes/kubelet.conf naming the CA and the current certificate.
 */
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

const CA_PATH = "/etc/kubernetes/pki/ca.crt";
const CURRENT = "/var/lib/kubelet/pki/kubelet-client-current.pem";

/** A kubeconfig as kubeadm writes kubelet.conf: one cluster, context and user with the given entries. */
export function kubeletKubeconfig(
  user: Record<string, string> = { "client-certificate": CURRENT, "client-key": CURRENT },
  cluster: Record<string, string> = { "certificate-authority": CA_PATH },
): string {
  const lines = (o: Record<string, string>, indent: string) =>
    Object.entries(o)
      .map(([k, v]) => `${indent}${k}: ${v}`)
      .join("\n");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: default-cluster",
    "  cluster:",
    "    server: https://10.0.0.1:6443",
    lines(cluster, "    "),
    "contexts:",
    "- name: default-context",
    "  context:",
    "    cluster: default-cluster",
    "    user: default-auth",
    "current-context: default-context",
    "users:",
    "- name: default-auth",
    "  user:",
    lines(user, "    "),
    "",
  ].join("\n");
}

export async function writeKubeletClientPki(
  root: string,
  pki: {
    caPem: string;
    /** File name in /var/lib/kubelet/pki → certificate and key PEM. */
    clients: Record<string, string>;
    /** The client file kubelet-client-current.pem points at. */
    current: string;
  },
): Promise<void> {
  const dir = join(root, "var/lib/kubelet/pki");
  await mkdir(dir, { recursive: true });
  await mkdir(join(root, "etc/kubernetes/pki"), { recursive: true });
  await writeFile(join(root, "etc/kubernetes/pki/ca.crt"), pki.caPem);
  for (const [name, pem] of Object.entries(pki.clients)) await writeFile(join(dir, name), pem, { mode: 0o600 });
  await symlink(`/var/lib/kubelet/pki/${pki.current}`, join(dir, "kubelet-client-current.pem"));
  await writeFile(join(root, "etc/kubernetes/kubelet.conf"), kubeletKubeconfig());
}

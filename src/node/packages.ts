/**
 * Installed package versions from dpkg's status file, read as text (no
 * dpkg child): Debian and Ubuntu keep it in /var/lib/dpkg/status; kubeadm's
 * apt packages are named kubelet, kubeadm, kubectl. RPM's database is read in
 * kubelet/version-sources.ts, which caches both by the file's identity.
 */
export const DPKG_STATUS_PATH = "/var/lib/dpkg/status";

/** Finds an installed package's version in a dpkg status file's text. */
export function dpkgPackageVersion(statusText: string, name: string): string | undefined {
  for (const paragraph of statusText.split(/\n\s*\n/)) {
    if (!new RegExp(`^Package: ${name.replace(/[.+]/g, "\\$&")}$`, "m").test(paragraph)) continue;
    // Removed packages keep a paragraph ("deinstall ok config-files").
    if (!/^Status: .* installed$/m.test(paragraph)) continue;
    const version = /^Version: (\S+)$/m.exec(paragraph)?.[1];
    if (version) return version;
  }
  return undefined;
}
